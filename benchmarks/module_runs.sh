#!/usr/bin/env bash
# What a module run costs a TCG guest: boots one fleet VM and runs
# benchmarks/module_runs.yml (20 module runs) under Ansible's own linear
# strategy and under the Mitogen strategy scripts/test.sh gives the Molecule
# scenarios, twice each, printing wall time and the QEMU process's CPU time
# (utime + stime from /proc, which is what the guest cost the machine).
#
# Usage: benchmarks/module_runs.sh   (about 6 minutes on 2 cores)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=$top/.venv/bin:$PATH
tmp=$(mktemp -d /tmp/agentns-bench.XXXXXX)
fleet=(python3 "$top/scripts/fleet/fleet.py")
cleanup() {
	"${fleet[@]}" down --state-dir "$tmp/state" >/dev/null 2>&1 || true
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

"${fleet[@]}" up --state-dir "$tmp/state" --host bench1 >&2
"${fleet[@]}" inventory --state-dir "$tmp/state" >"$tmp/inventory.yml"
qemu_pid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["vms"]["bench1"]["pid"])' "$tmp/state/state.json")
ticks_per_s=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$qemu_pid/stat"; }

# One line per run: strategy, wall seconds, guest CPU seconds.
run() {
	local name=$1 start ticks
	shift
	start=$(date +%s.%N) ticks=$(cpu_ticks)
	env "$@" ansible-playbook -i "$tmp/inventory.yml" "$top/benchmarks/module_runs.yml" >"$tmp/$name.log" 2>&1 ||
		{ cat "$tmp/$name.log" >&2; return 1; }
	awk -v n="$name" -v a="$start" -v b="$(date +%s.%N)" -v t="$(($(cpu_ticks) - ticks))" -v hz="$ticks_per_s" \
		'BEGIN { printf "%-18s wall %6.1f s  guest CPU %6.1f s\n", n, b - a, t / hz }'
}

# The environment scripts/test.sh gives a scenario under Mitogen.
mapfile -t mitogen < <(AGENTNS_MOLECULE_MITOGEN=bench "$top/scripts/test.sh" --molecule-env bench)
for round in 1 2; do
	run "linear-$round" ANSIBLE_STRATEGY=linear
	run "mitogen-$round" "${mitogen[@]}"
done
