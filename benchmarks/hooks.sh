#!/usr/bin/env bash
# Cost of the agent namespace hooks, measured under QEMU (TCG) in one boot
# per kernel: the agentns kernel (modes init, init-keyon, agent,
# agent-disabled) and the same tree built with CONFIG_AGENT_NS=n (nons).
# Prints per-call medians and the ratios against nons; writes
# benchmarks/results/hooks.txt. TCG timings are noisy: read the spread.
#
#   benchmarks/hooks.sh          # BENCH_RUNS=9 BENCH_ITERS=50000 by default
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/benchmarks/results/hooks.txt
runs=${BENCH_RUNS:-9}
iters=${BENCH_ITERS:-50000}
cmd="BENCH_RUNS=$runs BENCH_ITERS=$iters sh /suite/bench/run.sh"

"$top/tests/vm/vmtest.sh" --cmd "$cmd"
"$top/tests/vm/vmtest.sh" --agent-ns-n --cmd "$cmd"

mkdir -p "$(dirname "$out")"
{
	echo "# benchmarks/hooks.sh, $(date -u +%F), $runs runs x $iters calls per mode (openat: $((iters / 4)))"
	echo "# ns per call: median (min..max over runs); ratio = median / nons median"
	cat "$top"/build/vmtest/console-normal.log "$top"/build/vmtest/console-agentns-n.log |
		tr -d '\r' | grep -E '^(init|init-keyon|agent|agent-disabled|nons) ' |
		awk '
		{ med[$1" "$2] = $3; lo[$1" "$2] = $4; hi[$1" "$2] = $5; ops[$2] = 1 }
		END {
			split("init init-keyon agent agent-disabled nons", modes, " ")
			printf "%-15s %-13s %10s %22s %8s\n", "mode", "op", "median_ns", "spread_ns", "ratio"
			for (op in ops) for (i = 1; i <= 5; i++) {
				k = modes[i] " " op
				if (!(k in med)) continue
				base = med["nons " op]
				printf "%-15s %-13s %10.1f %10.1f..%-10.1f %8.3f\n", modes[i], op, med[k], lo[k], hi[k], base ? med[k] / base : 0
			}
		}'
} | tee "$out"
