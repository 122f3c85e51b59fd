#!/usr/bin/env bash
# Report, per patch, whether the agentns series applies to a kernel tree:
# "clean", "fuzz" (applies with offset or fuzz) or "CONFLICT".
#
#   scripts/rebase-check.sh [KERNEL_TREE]
#
# Without an argument it checks the pristine Debian linux-source that
# scripts/build.sh unpacks (downloading it if needed). The tree itself is
# never modified: the series is applied to a hard-linked copy.
# Exit status: 0 all clean, 1 some patch needed fuzz, 2 some patch conflicts.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:-}
if [[ -z $tree ]]; then
	tree=$("$top/scripts/build.sh" --source)
fi
[[ -f $tree/Makefile ]] || { echo "not a kernel tree: $tree" >&2; exit 2; }

scratch=$(mktemp -d /tmp/agentns-rebase.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp -al "$tree/." "$scratch/tree"

worst=0
printf '%-55s %s\n' "patch" "result"
for p in "$top"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	name=$(basename "$p")
	if ! out=$(patch -d "$scratch/tree" -p1 --forward --dry-run <"$p" 2>&1); then
		printf '%-55s %s\n' "$name" "CONFLICT"
		grep -E 'FAILED|malformed|can.t find' <<<"$out" | sed 's/^/    /' || true
		worst=2
		# Apply what does apply so the next patches are judged on their own.
		patch -d "$scratch/tree" -p1 --forward -s -r - <"$p" >/dev/null 2>&1 || true
		continue
	fi
	if grep -Eq 'with fuzz|offset' <<<"$out"; then
		printf '%-55s %s\n' "$name" "fuzz"
		grep -E 'with fuzz|offset' <<<"$out" | sed 's/^/    /'
		((worst < 1)) && worst=1
	else
		printf '%-55s %s\n' "$name" "clean"
	fi
	patch -d "$scratch/tree" -p1 --forward -s <"$p"
done
exit "$worst"
