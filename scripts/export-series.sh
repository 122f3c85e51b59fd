#!/usr/bin/env bash
# Regenerate patches/, the new files under kernel/ and include/ and the
# selftests in tests/kernel/ from a kernel git tree that carries the series
# as commits on top of BASE.
#
#   scripts/export-series.sh KERNEL_TREE BASE
#
# The usual maintenance loop: `git am patches/*.patch` on a pristine tree
# tagged BASE, rework the commits (rebase -i, commit --amend), then export.
# A patch keeps its file name when its number already exists in patches/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:?usage: $0 KERNEL_TREE BASE}
base=${2:?usage: $0 KERNEL_TREE BASE}

# The kernel's .gitattributes (*.[ch] diff=cpp) names each hunk's function;
# without it git names a label instead, and release-suffix.sh, which hashes
# the hunks, would give the same code a new kernel release.
if ! grep -q 'diff=cpp' "$tree/.gitattributes" 2>/dev/null; then
	echo "export-series: $tree/.gitattributes lacks the kernel's '*.[ch] diff=cpp'" >&2
	exit 1
fi

out=$(mktemp -d /tmp/agentns-export.XXXXXX)
trap 'rm -rf "$out"' EXIT
git -C "$tree" format-patch -q --no-signature -o "$out" "$base..HEAD"

declare -A keep
for p in "$top"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	[[ -e $p ]] && keep[$(basename "$p" | cut -c1-4)]=$(basename "$p")
done
rm -f "$top"/patches/[0-9][0-9][0-9][0-9]-*.patch
for p in "$out"/*.patch; do
	n=$(basename "$p" | cut -c1-4)
	cp "$p" "$top/patches/${keep[$n]:-$(basename "$p")}"
done

for f in kernel/agent_namespaces.c include/linux/agent_namespaces.h \
	include/uapi/linux/agent_namespaces.h include/trace/events/agent_ns.h; do
	git -C "$tree" show "HEAD:$f" >"$top/$f"
done
# The selftests the series creates are kept in tests/kernel/ (which also
# holds repository-only files such as run.sh: those are left alone).
sel=tools/testing/selftests/agent_ns
while read -r mode _ _ path; do
	f=$top/tests/kernel/${path#"$sel"/}
	git -C "$tree" show "HEAD:$path" >"$f"
	if [[ $mode == 100755 ]]; then chmod 755 "$f"; else chmod 644 "$f"; fi
done < <(git -C "$tree" ls-tree HEAD "$sel/")
"$top/scripts/apply-agentns.py" --check
