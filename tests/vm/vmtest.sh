#!/usr/bin/env bash
# The kernel VM test loop: build the patched kernel with the fleet VMs'
# minimal config (cached by input hash, and the same build the agentns_build
# role installs on the test fleet), boot it under QEMU with a busybox
# initramfs holding the shim and the kernel suite, run the suite inside, and
# print its tally.
#
#   tests/vm/vmtest.sh            # normal kernel
#   tests/vm/vmtest.sh --debug    # KASAN/lockdep/kmemleak kernel; any splat fails
#   tests/vm/vmtest.sh --stock    # kernel without the series: all must skip (exit 4, KSFT_SKIP)
#   tests/vm/vmtest.sh --cmd 'sh /suite/bench/run.sh'     # run something else
#   tests/vm/vmtest.sh --bench[-n] --icount --cmd ...     # hook benchmark guests
#   VMTEST_KERNEL=path/to/bzImage tests/vm/vmtest.sh      # boot a kernel built elsewhere
#   tests/vm/vmtest.sh [--debug] --build-only   # build (or find cached) only, print its dir
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
variant=normal
guest_cmd=
icount=
build_only=
while (($#)); do
	case $1 in
	--debug) variant=debug ;;
	--stock) variant=stock ;;
	--bench) variant=bench ;;
	--bench-n) variant=bench-n ;;
	--icount) icount=1 ;;
	--build-only) build_only=1 ;;
	--cmd) guest_cmd=$2; shift ;;
	*) echo "usage: $0 [--debug|--stock|--bench|--bench-n] [--icount] [--cmd CMD] [--build-only]" >&2; exit 2 ;;
	esac
	shift
done

qemu_pid=
log() { printf '[vmtest %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
# shellcheck source=tests/vm/lib.sh
. "$top/tests/vm/lib.sh"

# normal boots the fleet's kernel config: the very build the agentns_build
# role installs on the test fleet (same release suffix, same cache entry),
# so one build serves both. bench and bench-n (CONFIG_AGENT_NS=n) are the
# hook benchmark's guests: the test config plus what its peers need.
fleet_config=$top/kernel/configs/agentns_qemu_debian.config
bench_config="$top/kernel/configs/agentns_vmtest.config $top/kernel/configs/agentns_bench.config"
build_kernel() {
	local -a env
	case $variant in
	normal) env=(TARGET=bindeb-pkg FRAGMENTS="$fleet_config"
		LOCALVERSION="-agentns-$(FRAGMENTS=$fleet_config "$top/scripts/release-suffix.sh")") ;;
	debug) env=(FRAGMENTS="$top/kernel/configs/agentns_vmtest.config $top/kernel/configs/agentns_debug.config") ;;
	stock) env=(FRAGMENTS="$top/kernel/configs/agentns_vmtest.config" PATCHES=0 LOCALVERSION=-stock) ;;
	bench) env=(FRAGMENTS="$bench_config" LOCALVERSION=-bench) ;;
	bench-n) env=(FRAGMENTS="$bench_config" AGENT_NS=n LOCALVERSION=-bench-n) ;;
	esac
	env "${env[@]}" "$top/scripts/build.sh" | sed -n 's/^BUILD_OUT=//p'
}

# The bzImage of a build: as built, or out of its linux-image package.
kernel_image() {
	local out=$1 deb
	if [[ -f $out/bzImage ]]; then
		echo "$out/bzImage"
		return
	fi
	deb=$(find "$out" -maxdepth 1 -name 'linux-image-*.deb' ! -name '*-dbg_*' | head -n 1)
	[[ -n $deb ]] || return 1
	dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './boot/vmlinuz-*' >"$stage/bzImage"
	echo "$stage/bzImage"
}

# Static binaries: the initramfs has busybox and nothing else.
compile_suite() {
	local dir=$1 ksft=$2
	mkdir -p "$dir/include"
	cp -r "$top/userspace" "$top/tests/kernel" "$dir/"
	cp -r "$top/include/uapi" "$dir/include/"
	make -s -C "$dir/userspace" UAPI_INCLUDE="$dir/include/uapi" >&2 &&
		make -s -C "$dir/kernel" UAPI_INCLUDE="$dir/include/uapi" KSFT_DIR="$ksft" >&2 || return 1
	[[ -d $top/benchmarks/guest ]] || return 0
	cp -r "$top/benchmarks/guest" "$dir/bench" &&
		make -s -C "$dir/bench" UAPI_INCLUDE="$dir/include/uapi" >&2
}

# The suite of these inputs (its sources, the uapi headers, kselftest's
# harness) is built once and kept in the cache: test_vmtest.sh alone boots
# ten fake guests. Built in the stage (an interrupt leaves nothing), then
# put in the cache under a temporary name and renamed.
build_suite() {
	local stage=$1 ksft key cache
	# kselftest_harness.h comes from the pristine 7.3 source (unpacked once).
	ksft=$("$top/scripts/build.sh" --source)/tools/testing/selftests
	key=$({
		tar -C "$top" -cf - --sort=name --mtime=@0 --owner=0 --group=0 \
			userspace tests/kernel include/uapi benchmarks/guest 2>/dev/null
		cat "$ksft/kselftest_harness.h" "$ksft/kselftest.h"
	} | sha256sum | cut -c1-16)
	cache=${AGENTNS_CACHE_DIR:-$HOME/.cache/agentns}/suites/$key
	if [[ -d $cache ]]; then
		cp -a "$cache" "$stage/suite"
		return
	fi
	compile_suite "$stage/suite" "$ksft" || return 1
	mkdir -p "${cache%/*}"
	# A run beside this one may have put it there first: either will do.
	if ! cp -a "$stage/suite" "$cache.tmp.$$" || ! mv -T "$cache.tmp.$$" "$cache" 2>/dev/null; then
		rm -rf "$cache.tmp.$$"
	fi
	# Each is some 20 MB of static binaries: keep the newest few.
	find "${cache%/*}" -mindepth 1 -maxdepth 1 -type d ! -name '*.tmp.*' -printf '%T@ %p\n' |
		sort -rn | tail -n +5 | cut -d' ' -f2- | xargs -r rm -rf
	return 0
}

make_initramfs() {
	local stage=$1 out=$2 cmd=$3 nonce=$4
	local root=$stage/root
	mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc,root}
	cp /bin/busybox "$root/bin/busybox"
	mv "$stage/suite" "$root/suite"
	cat >"$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
ip link set lo up 2>/dev/null
export PATH=/suite/userspace:/bin:/sbin AGENTNS_UNSHARE=/suite/userspace/agentns-unshare
echo "AGENTNS-VM-BEGIN $nonce \$(uname -r)"
$cmd
rc=\$?
# KUnit runs at boot and logs below the console's loglevel: copy its KTAP
# lines (the agent_ns suite's) to the console for the host to count.
dmesg | sed -n 's/^\[[^]]*\] //p' | grep -E '^ *(KTAP|# Subtest: agent_ns|(not )?ok [0-9]+ |# agent_ns:)' |
	sed 's/^/KUNIT: /'
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak; sleep 6; echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
echo "AGENTNS-VM-END $nonce rc=\$rc"
reboot -f
INIT
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
}

boot() {
	local kernel=$1 initrd=$2 console=$3 mem=1024 cmdline="console=ttyS0 panic=-1 loglevel=5"
	local -a cpu=(-smp 2)
	# 4-level paging for the KASAN kernel: with -cpu max's LA57, 7.3's
	# identify_cpu() clears the boot CPU's feature bits with interrupts on,
	# and an interrupt in that window reads 4-level KASAN bounds, so its
	# spinlock write in the 5-level direct map is reported as a
	# "wild-memory-access" (seen twice in CI, at 0.013-0.016 s of boot).
	[[ $variant == debug ]] && mem=2048 cmdline+=" no5lvl"
	# --icount: one vCPU whose clock advances 1 ns per instruction, so a
	# guest's ns per call is its instructions per call, the same each boot.
	[[ -n $icount ]] && cpu=(-smp 1 -icount "shift=0,sleep=off")
	log "booting $kernel under QEMU (TCG)"
	local start=$SECONDS rc=0
	# One host thread for both vCPUs. With QEMU 7.2's thread per vCPU a
	# vCPU now and then ran a static key's site another vCPU had finished
	# patching and died on the int3 text_poke_bp() had put there ("Oops:
	# int3"): the KASAN guest in trace_sched_wakeup and
	# process_scheduled_works as test_reaper_idle.sh enabled an event (2 of
	# 3 runs on 2026-12-06), the normal guest in sched_clock_stable 2.5 s
	# into boot, as the kernel switched the key off on finding the TSC
	# unstable. A guest loop switching an event on and off hit it in ~160 s,
	# single-threaded not in 300 s. The guests wait on the reaper more than
	# they compute (the KASAN one: 514 s, 242 s of CPU, measured).
	# In the background so that an interrupt of this script, which a
	# timeout(1) in its own process group would not see, can stop QEMU.
	timeout --foreground "${VMTEST_TIMEOUT:-1800}" qemu-system-x86_64 -accel tcg,thread=single -machine q35 \
		-cpu max "${cpu[@]}" -m "$mem" -kernel "$kernel" -initrd "$initrd" \
		-append "$cmdline" \
		-nographic -no-reboot -monitor none -serial "file:$console" </dev/null >/dev/null &
	qemu_pid=$!
	wait "$qemu_pid" || rc=$?
	qemu_pid=
	log "guest ran for $((SECONDS - start)) s; console log: $console"
	if ((rc)); then
		((rc == 124)) && log "FAIL: the guest did not finish within ${VMTEST_TIMEOUT:-1800} s"
		log "FAIL: qemu exited with $rc"
		return 1
	fi
}

# A debug run that lost its debug options would pass for the wrong reason.
check_debug_config() {
	local config=$1 opt missing=0
	while read -r opt; do
		grep -qx "$opt" "$config" || { log "debug kernel lacks $opt"; missing=1; }
	done < <(grep -E '^CONFIG_[A-Z0-9_]+=y' "$top/kernel/configs/agentns_debug.config")
	((missing == 0)) || exit 1
}

# The release a bzImage carries (its boot header's version string).
image_release() {
	file -bL "$1" | sed -n 's/.*, version \([^ ]*\) .*/\1/p'
}

check_console() {
	local console=$1 nonce=$2 release=$3 got first
	sed -n '/AGENTNS-VM-BEGIN/,/AGENTNS-VM-END/p' "$console" | grep -v '^AGENTNS-VM\|^KUNIT: ' || true
	# Not anchored: the firmware's last escape codes share the marker's line.
	got=$(sed -n "s/.*AGENTNS-VM-BEGIN $nonce //p" "$console" | tr -d '\r')
	if [[ -n $release && $got != "$release" ]]; then
		log "FAIL: the guest ran kernel '${got:-none}', not the one built ($release)"
		return 1
	fi
	if ! grep -q "AGENTNS-VM-END $nonce rc=0" "$console"; then
		grep -q 'AGENTNS-VM-END' "$console" || tail -n 30 "$console" >&2
		log "FAIL: the run inside the guest did not finish with rc=0"
		return 1
	fi
	first=$(grep -Em1 "$kernel_splat" "$console" | tr -d '\r' || true)
	if [[ -n $first ]]; then
		grep -En -A12 "$kernel_splat" "$console" | head -n 60 >&2
		# Last, so a log cut to its tail still names the splat.
		log "FAIL: kernel splat in the console log: $first"
		return 1
	fi
	return 0
}

# A failed run's console outlives the checkout (CI's clone is deleted):
# the whole log, where the output shows only a part.
keep_console() {
	local keep
	keep=${AGENTNS_CACHE_DIR:-$HOME/.cache/agentns}/logs/vmtest-$variant-$(date -u +%Y%m%d-%H%M%S)-$$.log
	mkdir -p "$(dirname "$keep")" && cp "$1" "$keep" 2>/dev/null && log "console log kept as $keep"
	return 0
}

main() {
	local out console nonce kernel=${VMTEST_KERNEL:-}
	if [[ -n $build_only ]]; then
		out=$(build_kernel)
		[[ -n $out ]] || { log "kernel build failed"; exit 1; }
		echo "$out"
		return
	fi
	stage=$(mktemp -d /tmp/agentns-vmtest.XXXXXX)
	trap 'rm -rf "$stage"' EXIT
	trap '[[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null; log interrupted; exit 130' INT TERM
	if [[ -z $kernel ]]; then
		out=$(build_kernel)
		[[ -n $out ]] && kernel=$(kernel_image "$out") || kernel=
	fi
	[[ -f $kernel ]] || { log "kernel build failed"; exit 1; }
	[[ $variant != debug || -z ${out:-} ]] || check_debug_config "$out/config"
	build_suite "$stage"
	local cmd=${guest_cmd:-"sh /suite/kernel/run.sh"}
	[[ $variant == stock || -n $guest_cmd ]] || cmd="AGENTNS_NO_SKIP=1 $cmd"
	# A marker only this run knows: a console left by an earlier run (or
	# by anything else) can never pass for this one.
	nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	make_initramfs "$stage" "$stage/initramfs.gz" "$cmd" "$nonce"
	# VMTEST_LOG_DIR: where the console log goes (test_vmtest.sh points it
	# away from the checkout's, which a real run may be writing).
	local log_dir=${VMTEST_LOG_DIR:-$top/build/vmtest}
	mkdir -p "$log_dir"
	console=$log_dir/console-$variant.log
	rm -f "$console"
	boot "$kernel" "$stage/initramfs.gz" "$console" || { tail -n 30 "$console" >&2 2>/dev/null; keep_console "$console"; exit 1; }
	if ! check_console "$console" "$nonce" "$(image_release "$kernel")" ||
		{ [[ -z $guest_cmd ]] && ! check_kunit "$console" "${out:+$out/config}"; }; then
		keep_console "$console"
		exit 1
	fi
}

main
