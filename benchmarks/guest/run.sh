#!/bin/sh
# Runs inside the VM (benchmarks/hooks.sh): every mode in one boot.
# Modes: init (no agent namespace exists, hooks patched out), init-keyon
# (an agent namespace exists elsewhere, so the hooks are live), agent
# (inside an agent namespace), agent-disabled (inside one, with
# kernel.agent_ns.enabled=0), nons (a kernel built with CONFIG_AGENT_NS=n).
here=$(dirname "$0")
runs=${BENCH_RUNS:-9}
iters=${BENCH_ITERS:-50000}
b="$here/bench"
if [ ! -e /proc/self/agent_session ]; then
	"$b" nons "$runs" "$iters"
	exit
fi
"$b" init "$runs" "$iters"
agentns-unshare sleep 100000 &
keeper=$!
sleep 1
"$b" init-keyon "$runs" "$iters"
agentns-unshare "$b" agent "$runs" "$iters"
agentns-unshare sh -c "echo 0 >/proc/sys/kernel/agent_ns/enabled; \"$b\" agent-disabled $runs $iters; echo 1 >/proc/sys/kernel/agent_ns/enabled"
kill "$keeper"
