#!/usr/bin/env bash
# The agent_ns KUnit suite on a 32-bit SMP kernel: build the series for
# ARCH=i386 with kernel/configs/agentns_kunit32.config (cached by input hash
# like every kernel of scripts/build.sh), boot it under qemu-system-i386
# with two CPUs, and read the suite's tally from the console. 32-bit is
# where a u64 counter read in two halves tears (agent_ns_test_counter_tear)
# and where a 64-bit constant truncates to an unsigned long; the 64-bit VM
# loop (tests/vm/vmtest.sh) cannot see either.
#
#   tests/vm/kunit32.sh
#   tests/vm/kunit32.sh --build-only    # build (or find cached) only, print its dir
#
# KUnit reboots the guest when it is done (kunit_shutdown=reboot) and QEMU
# exits on that reboot, so a run takes about a minute once the kernel is built.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
timeout_s=${KUNIT32_TIMEOUT:-600}

log() { printf '[kunit32 %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
# shellcheck source=tests/vm/lib.sh
. "$top/tests/vm/lib.sh"

# Niced: in a cold scripts/test.sh run this build goes on beside the debug
# kernel's, whose build and guest are the run's tail, while its own guest
# boots in a minute. Only the build: the guest's waits keep their share.
out=$(ARCH=i386 FRAGMENTS="$top/kernel/configs/agentns_kunit32.config" LOCALVERSION=-kunit32 \
	nice -n 10 "$top/scripts/build.sh" | sed -n 's/^BUILD_OUT=//p')
[[ -f $out/bzImage ]] || { log "FAIL: no bzImage from scripts/build.sh"; exit 1; }
grep -qx 'CONFIG_X86_32=y' "$out/config" || { log "FAIL: $out is not a 32-bit build"; exit 1; }
if [[ ${1:-} == --build-only ]]; then
	echo "$out"
	exit 0
fi

console=$(mktemp "${TMPDIR:-/tmp}/agentns-kunit32.XXXXXX")
keep=
cleanup() { [[ -n $keep ]] || rm -f "$console"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log "booting $out/bzImage under qemu-system-i386 (TCG, 2 CPUs)"
rc=0
# In the foreground of this script's process group: an interrupt reaches it.
timeout --foreground "$timeout_s" qemu-system-i386 -nographic -no-reboot -smp 2 -m 256 \
	-kernel "$out/bzImage" -append "console=ttyS0 kunit_shutdown=reboot" \
	-serial "file:$console" -monitor none </dev/null || rc=$?

# The suite's KTAP lines (each after printk's timestamp).
grep -E '(^|\] )\s*(# |ok |not ok |Expected |e\.g\. )' "$console" | grep -vE 'Subtest|^\S*\s*1\.\.' | sed 's/^\[[^]]*\] //' | head -n 40 || true
verdict=
if ((rc != 0)); then
	verdict="QEMU exited with $rc (124: the guest ran out of its $timeout_s s)"
elif ! check_kunit "$console" "$out/config"; then
	verdict="the agent_ns KUnit suite on i386"
elif grep -qE "$kernel_splat" "$console"; then
	verdict="kernel splat: $(grep -Em1 "$kernel_splat" "$console")"
fi
if [[ -n $verdict ]]; then
	keep=1
	tail -n 30 "$console" >&2
	log "console kept: $console"
	log "FAIL: $verdict"
	exit 1
fi
