#!/usr/bin/env bash
# checkpatch.pl --strict over the series and the new files, using the
# pristine kernel tree's checkpatch. Fails on any ERROR or WARNING; the
# CHECKs the TRACE_EVENT() macro layout always draws are reported only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
src=$("$top/scripts/build.sh" --source)
cp=("$src/scripts/checkpatch.pl" --strict --no-tree --quiet --show-types)

status=0
run() {
	local out
	out=$("${cp[@]}" "$@" 2>&1) || true
	[[ -z $out ]] && return 0
	echo "$out"
	grep -Eq '^(ERROR|WARNING):' <<<"$out" && status=1
	return 0
}
for p in "$top"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	# A selftests-only patch leaves MAINTAINERS alone: scripts/build.sh keys
	# the kernels on every patch hunk outside tools/testing/, so an F: line
	# there would rebuild both kernels for a test-only change. ENOSYS is
	# checkpatch's rule for kernel code returning it; a test reads it from
	# the kernel (a syscall compiled out).
	if grep '^+++ b/' "$p" | grep -qv '^+++ b/tools/testing/'; then
		run "$p"
	else
		run --ignore FILE_PATH_CHANGES,ENOSYS "$p"
	fi
done
run -f "$top"/kernel/agent_namespaces.c "$top"/include/linux/agent_namespaces.h \
	"$top"/include/uapi/linux/agent_namespaces.h "$top"/include/trace/events/agent_ns.h
if ((status)); then
	echo "checkpatch: errors or warnings above"
else
	echo "checkpatch: no errors, no warnings"
fi
exit "$status"
