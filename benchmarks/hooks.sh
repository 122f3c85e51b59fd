#!/usr/bin/env bash
# Cost of the agent namespace hooks against the kernel without them and
# against the peers a user would pick instead (a seccomp filter, an eBPF
# per-cgroup syscall counter), on two tinyconfig guests built from the same
# tree: CONFIG_AGENT_NS=y (tests/vm/vmtest.sh --bench) and =n (--bench-n).
# benchmarks/guest/run.sh lists the modes.
#
# Table 1, exact: QEMU's -icount shift=0,sleep=off on one vCPU advances the
# guest clock one nanosecond per executed instruction, so ns per call is
# instructions per call, the same on every boot and machine (each kernel is
# booted BENCH_ICOUNT_BOOTS times to show it). Table 2, wall clock under
# TCG (no icount, BENCH_BOOTS boots per kernel): what the host's time says,
# with its noise; read the spread before the ratio.
# Writes benchmarks/results/hooks.txt and its chart hooks.svg
# (benchmarks/plot_hooks.py); the raw console logs stay in build/bench/.
#
#   benchmarks/hooks.sh     # BENCH_ICOUNT_BOOTS=2 BENCH_BOOTS=3
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/benchmarks/results/hooks.txt
raw=$top/build/bench
icount_boots=${BENCH_ICOUNT_BOOTS:-2}
wall_boots=${BENCH_BOOTS:-3}

rm -rf "$raw"
mkdir -p "$raw" "$(dirname "$out")"

# boot KIND N LABEL [vmtest options...]: one boot, its console kept as
# $raw/LABEL-N-KIND.log.
boot() {
	local kind=$1 n=$2 label=$3
	shift 3
	VMTEST_LOG_DIR=$raw/tmp "$top/tests/vm/vmtest.sh" "$@"
	cp "$raw"/tmp/console-*.log "$raw/$label-$n-$kind.log"
	rm -rf "$raw/tmp"
}

# Runs and calls per mode and boot (openat+close: a quarter of the calls).
icount_runs=3 icount_iters=200000 wall_runs=15 wall_iters=50000
icount_cmd="BENCH_RUNS=$icount_runs BENCH_ITERS=$icount_iters sh /suite/bench/run.sh"
wall_cmd="BENCH_RUNS=$wall_runs BENCH_ITERS=$wall_iters sh /suite/bench/run.sh"
for i in $(seq "$icount_boots"); do
	boot y "$i" icount --bench --icount --cmd "$icount_cmd"
	boot n "$i" icount --bench-n --icount --cmd "$icount_cmd"
done
for i in $(seq "$wall_boots"); do
	boot y "$i" wall --bench --cmd "$wall_cmd"
	boot n "$i" wall --bench-n --cmd "$wall_cmd"
done

# table LABEL UNIT: median over boots of each boot's median per mode and
# operation, the boot medians' range, the difference from nons and the ratio.
table() {
	cat "$raw/$1"-*.log | tr -d '\r' |
		grep -E '^(nons|nons-seccomp|nons-bpf|none|outside|inside1|inside8|inside-disabled) ' |
		awk -v unit="$2" '
		function median(k,   n, a, i, j, t) {
			n = split(vals[k], a, " ")
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
					t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
				}
			lo[k] = a[1]; hi[k] = a[n]
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ k = $1 " " $2; vals[k] = vals[k] " " $3 }
		END {
			split("nons nons-seccomp nons-bpf none outside inside1 inside8 inside-disabled", modes, " ")
			split("getppid write1 openat_close", ops, " ")
			printf "%-16s %-13s %12s %24s %10s %7s\n", "mode", "op", unit, "range_over_boots", "vs_nons", "ratio"
			for (o = 1; o <= 3; o++) {
				op = ops[o]
				base = ("nons " op) in vals ? median("nons " op) : 0
				for (i = 1; i <= 8; i++) {
					k = modes[i] " " op
					if (!(k in vals)) continue
					m = median(k)
					printf "%-16s %-13s %12.3f %11.3f..%-11.3f %+10.3f %7.3f\n", modes[i], op, m, lo[k], hi[k], m - base, base ? m / base : 0
				}
			}
		}'
}

{
	echo "# benchmarks/hooks.sh, $(date -u +%F), tinyconfig guests (tests/vm/vmtest.sh --bench, --bench-n)"
	echo "# 1. exact: -icount shift=0,sleep=off, 1 vCPU; $icount_boots boots per kernel x $icount_runs runs x $icount_iters calls (openat: $((icount_iters / 4)))"
	echo "#    instructions per call; vs_nons = extra instructions per call against the CONFIG_AGENT_NS=n kernel"
	table icount instr/call
	echo
	echo "# 2. wall clock under TCG: $wall_boots boots per kernel x $wall_runs runs x $wall_iters calls (openat: $((wall_iters / 4)))"
	echo "#    ns per call: median of the boots' medians (their range); noisy, see table 1"
	table wall ns/call
} | tee "$out"
"$top/benchmarks/plot_hooks.py" "$out" -o "${out%.txt}.svg"
