#!/usr/bin/env bash
# Cost of the agent namespace hooks, measured under QEMU (TCG): the agentns
# kernel (modes init, init-keyon, agent, agent-disabled) and the same tree
# built with CONFIG_AGENT_NS=n (nons), booted alternately BENCH_BOOTS times
# each. Every boot runs BENCH_RUNS loops per mode and reports their median;
# the table gives the median of those per-boot medians, their spread, and the
# ratio against nons. Code layout differs per boot and per kernel under TCG,
# so the spread across boots is the noise floor: read it before the ratio.
# Writes benchmarks/results/hooks.txt; the raw console logs stay in
# build/bench/.
#
#   benchmarks/hooks.sh          # BENCH_BOOTS=5 BENCH_RUNS=15 BENCH_ITERS=50000
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/benchmarks/results/hooks.txt
raw=$top/build/bench
boots=${BENCH_BOOTS:-5}
runs=${BENCH_RUNS:-15}
iters=${BENCH_ITERS:-50000}
cmd="BENCH_RUNS=$runs BENCH_ITERS=$iters sh /suite/bench/run.sh"

rm -rf "$raw"
mkdir -p "$raw" "$(dirname "$out")"
for i in $(seq "$boots"); do
	"$top/tests/vm/vmtest.sh" --cmd "$cmd"
	cp "$top/build/vmtest/console-normal.log" "$raw/boot$i-agentns.log"
	"$top/tests/vm/vmtest.sh" --agent-ns-n --cmd "$cmd"
	cp "$top/build/vmtest/console-agentns-n.log" "$raw/boot$i-nons.log"
done

{
	echo "# benchmarks/hooks.sh, $(date -u +%F), $boots boots per kernel x $runs runs x $iters calls per mode (openat: $((iters / 4)))"
	echo "# ns per call: median over boots of each boot's median (min..max of the boot medians); ratio = median / nons median"
	cat "$raw"/boot*.log | tr -d '\r' | grep -E '^(init|init-keyon|agent|agent-disabled|nons) ' |
		awk '
		function median(k,   n, a, i, j, t) {
			n = split(vals[k], a, " ")
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
					t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
				}
			lo[k] = a[1]; hi[k] = a[n]
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ k = $1 " " $2; vals[k] = vals[k] " " $3; ops[$2] = 1 }
		END {
			split("init init-keyon agent agent-disabled nons", modes, " ")
			printf "%-15s %-13s %10s %22s %8s\n", "mode", "op", "median_ns", "spread_ns", "ratio"
			for (op in ops) {
				base = ("nons " op) in vals ? median("nons " op) : 0
				for (i = 1; i <= 5; i++) {
					k = modes[i] " " op
					if (!(k in vals)) continue
					m = median(k)
					printf "%-15s %-13s %10.1f %10.1f..%-10.1f %8.3f\n", modes[i], op, m, lo[k], hi[k], base ? m / base : 0
				}
			}
		}'
} | tee "$out"
