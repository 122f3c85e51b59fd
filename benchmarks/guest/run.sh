#!/bin/sh
# Runs inside the VM (benchmarks/hooks.sh): every mode of one kernel in one
# boot, one "LABEL OP median min max runs" line per mode and operation.
#   CONFIG_AGENT_NS=n kernel: nons, and its peers in the same boot,
#     nons-seccomp (an allow-all seccomp filter on the task) and nons-bpf
#     (an eBPF per-cgroup syscall counter, which every task pays);
#   CONFIG_AGENT_NS=y kernel: none (no agent namespace anywhere yet),
#     outside (a task outside while a namespace exists elsewhere), inside1
#     and inside8 (nesting depth), inside-disabled (kernel.agent_ns.enabled=0).
# Any failed set-up stops the run (set -e): no row for a mode not measured.
set -e
here=$(dirname "$0")
runs=${BENCH_RUNS:-9}
iters=${BENCH_ITERS:-50000}
b="$here/bench"
if [ ! -e /proc/self/agent_session ]; then
	"$b" nons "$runs" "$iters"
	# Each peer in a child of its own: neither can be undone in a task.
	"$b" -s nons-seccomp "$runs" "$iters"
	"$b" -b nons-bpf "$runs" "$iters"
	exit
fi
"$b" none "$runs" "$iters"
agentns-unshare sleep 100000 &
keeper=$!
sleep 1
"$b" outside "$runs" "$iters"
"$b" -n 1 inside1 "$runs" "$iters"
"$b" -n 8 inside8 "$runs" "$iters"
"$b" -n 1 -D inside-disabled "$runs" "$iters"
kill "$keeper"
