#!/usr/bin/env bash
# Tests of tests/vm/vmtest.sh's verdicts, with QEMU faked at the process
# boundary (a qemu-system-x86_64 on PATH that writes a chosen console log)
# and a fake bzImage whose boot header names a release. Each case is one a
# real run has produced or could: the verdict must not be fooled by it.
#
#   tests/vm/test_vmtest.sh      # prints "N passed, N failed"
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/agentns-test-vmtest.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"

# A file that file(1) reads as an x86 bzImage of release $2.
fake_bzimage() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
path, release = sys.argv[1], sys.argv[2]
img = bytearray(0x600)
img[0x1FE:0x200] = b"\x55\xaa"
img[0x202:0x206] = b"HdrS"
struct.pack_into("<H", img, 0x206, 0x20F)
struct.pack_into("<H", img, 0x20E, 0x400 - 0x200)
version = f"{release} (test@agentns) #1 SMP".encode()
img[0x400:0x400 + len(version)] = version
open(path, "wb").write(img)
PY
}

# The fake QEMU: FAKE_QEMU_MODE says what it writes to the -serial file,
# and how it exits.
cat >"$work/bin/qemu-system-x86_64" <<'FAKE'
#!/usr/bin/env bash
console= initrd=
[[ -n ${FAKE_QEMU_ARGV:-} ]] && echo "$*" >"$FAKE_QEMU_ARGV"
while (($#)); do
	case $1 in
	-serial) console=${2#file:}; shift ;;
	-initrd) initrd=$2; shift ;;
	esac
	shift
done
nonce=$(gzip -dc "$initrd" | cpio -i --to-stdout init 2>/dev/null | sed -n 's/^echo "AGENTNS-VM-END \([0-9a-f]*\) .*/\1/p')
case $FAKE_QEMU_MODE in
# SeaBIOS leaves escape codes on the line the guest's first output joins.
good | good-exit1) printf 'Booting from ROM..\033[?7l\033[2JAGENTNS-VM-BEGIN %s %s\nok 1 x\nAGENTNS-VM-END %s rc=0\n' "$nonce" "$FAKE_RELEASE" "$nonce" >"$console" ;;
old-marker) printf 'AGENTNS-VM-BEGIN %s\nAGENTNS-VM-END rc=0\n' "$FAKE_RELEASE" >"$console" ;;
crash) exit 1 ;;
other-kernel) printf 'AGENTNS-VM-BEGIN %s 6.1.0-stock\nAGENTNS-VM-END %s rc=0\n' "$nonce" "$nonce" >"$console" ;;
kunit-fail) printf 'AGENTNS-VM-BEGIN %s %s\nKUNIT:     # agent_ns: pass:8 fail:1 skip:0 total:9\nAGENTNS-VM-END %s rc=0\n' "$nonce" "$FAKE_RELEASE" "$nonce" >"$console" ;;
splat) printf 'AGENTNS-VM-BEGIN %s %s\nBUG: KASAN: use-after-free\nAGENTNS-VM-END %s rc=0\n' "$nonce" "$FAKE_RELEASE" "$nonce" >"$console" ;;
# A guest that never ends, in one process (its pid in FAKE_QEMU_PID) like QEMU.
hang) echo $$ >"$FAKE_QEMU_PID" && exec sleep 600 ;;
esac
# A good console, and then QEMU fails.
[[ $FAKE_QEMU_MODE != good-exit1 ]] || exit 1
FAKE
chmod +x "$work/bin/qemu-system-x86_64"
release=7.3.4-agentns-test
fake_bzimage "$work/bzImage" "$release"

# The suite needs kselftest_harness.h from the pristine source: the
# cache's own unpack (the kernel builds share it), not one of its own per
# run in $work/cache (measured under a cold run's load: 105 s of CPU and
# 258 s for this script before, 90 s and 196 s after). The suite itself is
# built by the first case into $work/cache and reused by the others.
ksrc=$("$top/scripts/build.sh" --source) || exit 1

# What every run of vmtest.sh here gets (FAKE_QEMU_MODE aside): the fake
# QEMU, the fake kernel, and logs and cache of its own.
fake_env=(PATH="$work/bin:$PATH" FAKE_RELEASE="$release" VMTEST_LOG_DIR="$work/logs"
	AGENTNS_CACHE_DIR="$work/cache" KSRC="$ksrc" VMTEST_KERNEL="$work/bzImage")

passed=0 failed=0
# report OK WHAT [FILE...]: tally one check; on failure show FILEs.
report() {
	local ok=$1 what=$2
	shift 2
	if ((ok)); then
		passed=$((passed + 1))
		echo "ok - $what"
	else
		failed=$((failed + 1))
		echo "not ok - $what"
		sed 's/^/# /' "$@" 2>/dev/null
	fi
}

# expect PASS|FAIL MODE DESCRIPTION
expect() {
	local want=$1 mode=$2 what=$3 rc=0 got
	env "${fake_env[@]}" FAKE_QEMU_MODE="$mode" "$top/tests/vm/vmtest.sh" >"$work/out" 2>&1 || rc=$?
	got=PASS
	((rc == 0)) || got=FAIL
	if [[ $got == "$want" ]]; then
		report 1 "$what"
	else
		report 0 "$what (vmtest said $got, rc=$rc)" "$work/out"
	fi
}

expect PASS good "a finished run of the kernel built passes"
# A stale log from an earlier run must not make a crashed QEMU pass.
console=$work/logs/console-normal.log
mkdir -p "$(dirname "$console")"
printf 'AGENTNS-VM-BEGIN x %s\nAGENTNS-VM-END rc=0\n' "$release" >"$console"
expect FAIL crash "QEMU failing before it writes a console fails, whatever an old log says"
expect FAIL good-exit1 "QEMU failing after a good console fails"
expect FAIL old-marker "a console without this run's marker fails"
expect FAIL other-kernel "a guest running another kernel than the one built fails"
expect FAIL kunit-fail "a failed KUnit case fails"
ok=0
grep -qs 'agent_ns: pass:8 fail:1' "$work"/cache/logs/vmtest-normal-*.log && ok=1
report "$ok" "a failed KUnit run keeps its console" "$work/out"
rm -f "$work"/cache/logs/vmtest-normal-*.log
expect FAIL splat "a kernel splat fails the run"
# CI's output keeps only a tail and its clone is deleted: the last lines
# name the splat, and the whole console is kept in the cache.
ok=0
tail -n 2 "$work/out" | grep -q "kernel splat.*BUG: KASAN: use-after-free" &&
	grep -qs 'BUG: KASAN' "$work"/cache/logs/vmtest-normal-*.log && ok=1
report "$ok" "a splat is named last and its console kept" "$work/out"
rm -f "$console"

# --icount (benchmarks/hooks.sh): one vCPU whose clock counts instructions,
# or the benchmark's ns per call are not instructions per call.
argv_file=$work/qemu-argv ok=0
env "${fake_env[@]}" FAKE_QEMU_MODE=good FAKE_QEMU_ARGV="$argv_file" \
	"$top/tests/vm/vmtest.sh" --bench --icount --cmd true >"$work/out" 2>&1 &&
	grep -q -- '-smp 1 -icount shift=0,sleep=off' "$argv_file" && ok=1
report "$ok" "--icount boots one vCPU with an instruction-counting clock" "$work/out" "$argv_file"

# --debug: 4-level paging, or an early interrupt in identify_cpu() trips a
# false KASAN wild-memory-access (see boot() in vmtest.sh).
ok=0
env "${fake_env[@]}" FAKE_QEMU_MODE=good FAKE_QEMU_ARGV="$argv_file" \
	"$top/tests/vm/vmtest.sh" --debug --cmd true >"$work/out" 2>&1 &&
	grep -q -- 'loglevel=5 no5lvl' "$argv_file" && ok=1
report "$ok" "the debug guest boots with 4-level paging" "$work/out" "$argv_file"

# Every guest runs its vCPUs in one host thread (QEMU's thread per vCPU let
# one run another's finished text patch: "Oops: int3").
ok=0
grep -q -- '-accel tcg,thread=single ' "$argv_file" &&
	env "${fake_env[@]}" FAKE_QEMU_MODE=good FAKE_QEMU_ARGV="$argv_file" \
		"$top/tests/vm/vmtest.sh" --cmd true >"$work/out" 2>&1 &&
	grep -q -- '-accel tcg,thread=single -machine' "$argv_file" && ok=1
report "$ok" "the debug and the normal guest run their vCPUs in one thread" "$work/out" "$argv_file"

# An interrupt (^C, or a timeout around the stage) stops the guest too:
# QEMU runs in the background, where no ^C reaches it, and only
# vmtest.sh's trap can stop it. env: an asynchronous command starts with
# SIGINT ignored, and a shell cannot trap a signal ignored at its start.
qemu_pid_file=$work/qemu-pid
for sig in INT TERM; do
	rm -f "$qemu_pid_file"
	env --default-signal=INT "${fake_env[@]}" FAKE_QEMU_MODE=hang FAKE_QEMU_PID="$qemu_pid_file" \
		"$top/tests/vm/vmtest.sh" >"$work/out" 2>&1 &
	vm=$! left='' rc=0 ok=0
	# The guest boots after the suite and the initramfs: slow on a loaded machine.
	deadline=$((SECONDS + 300))
	until [[ -s $qemu_pid_file ]] || ! kill -0 "$vm" 2>/dev/null || ((SECONDS > deadline)); do
		sleep 0.2
	done
	qemu=$(cat "$qemu_pid_file" 2>/dev/null)
	if [[ -n $qemu ]]; then
		kill -s "$sig" "$vm"
		deadline=$((SECONDS + 30))
		while { kill -0 "$vm" || kill -0 "$qemu"; } 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.2
		done
	fi
	kill -0 "$vm" 2>/dev/null && left+=" vmtest.sh" && kill -KILL "$vm"
	[[ -n $qemu ]] && kill -0 "$qemu" 2>/dev/null && left+=" QEMU" && kill "$qemu"
	wait "$vm" || rc=$?
	[[ -n $qemu && -z $left ]] && ((rc != 0)) && ok=1
	what="SIG$sig stops vmtest.sh and its QEMU"
	if [[ -z $qemu ]]; then
		what+=" (QEMU never started, rc=$rc)"
	elif ((!ok)); then
		what+=" (rc=$rc, still running 30 s after the signal:${left:- nothing})"
	fi
	report "$ok" "$what" "$work/out"
done

# Every case above booted the same suite: built once, then taken from the cache.
ok=0
[[ $(find "$work/cache/suites" -mindepth 1 -maxdepth 1 | wc -l) == 1 ]] && ok=1
report "$ok" "the suite is built once for the same sources and reused"

echo "$passed passed, $failed failed"
((failed == 0))
