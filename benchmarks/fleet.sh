#!/usr/bin/env bash
# Time the test fleet: base image build (cold, in a throw-away cache, and
# cached), QEMU start to SSH ready (booted, and restored from a booted-state
# snapshot), a reboot and a hard power-cycle round trip, and a full `molecule
# test -s smoke`. Prints a table and writes it to benchmarks/results/fleet.txt.
#
# Usage: benchmarks/fleet.sh [--skip-cold] [--skip-molecule]
# Takes 15-25 minutes on a 2-core machine (TCG only).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fleet=(python3 "$top/scripts/fleet/fleet.py")
build=$top/scripts/fleet/build-image.sh
out=$top/benchmarks/results/fleet.txt
skip_cold=0
skip_molecule=0
for arg in "$@"; do
	case $arg in
	--skip-cold) skip_cold=1 ;;
	--skip-molecule) skip_molecule=1 ;;
	*)
		echo "usage: $0 [--skip-cold] [--skip-molecule]" >&2
		exit 2
		;;
	esac
done

tmp=$(mktemp -d /tmp/agentns-bench.XXXXXX)
state=$tmp/state
cleanup() {
	"${fleet[@]}" down --state-dir "$state" >/dev/null 2>&1 || true
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

rows=()
row() { rows+=("$(printf '%-40s %10s' "$1" "$2")"); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
log() { echo "bench: $*" >&2; }
ssh_vm() { "${fleet[@]}" ssh --state-dir "$state" vm-1 "$@"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

if ((!skip_cold)); then
	log "cold image build (cache dir $tmp/cache)"
	t=$(now)
	AGENTNS_CACHE_DIR=$tmp/cache bash "$build" >/dev/null
	row "image build, cold" "$(since "$t")"
	t=$(now)
	AGENTNS_CACHE_DIR=$tmp/cache bash "$build" >/dev/null
	row "image build, cached" "$(since "$t")"
	rm -rf --one-file-system "$tmp/cache"
fi

# The rest runs on the default cache, the one molecule uses.
log "making sure the default image cache is built"
image=$(bash "$build" | tail -n 1)
t=$(now)
bash "$build" >/dev/null
if ((skip_cold)); then row "image build, cached" "$(since "$t")"; fi
row "image size (qcow2 on disk)" "$(du -m "$image/base.qcow2" | cut -f1) MiB"

ready() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vms"][sys.argv[2]]["ssh_ready_seconds"])' "$state/state.json" "$1"; }

log "one VM: QEMU start to SSH ready (a boot through BIOS and GRUB)"
AGENTNS_FLEET_BOOT=cold "${fleet[@]}" up --count 1 --name vm --state-dir "$state" --image "$image" >/dev/null
row "QEMU start -> SSH login (boot)" "$(ready vm-1) s"

log "one more VM: QEMU start to SSH ready (restored from the booted-state snapshot, made first if missing)"
"${fleet[@]}" up --host restored --state-dir "$state" --image "$image" >/dev/null
row "QEMU start -> SSH login (restored)" "$(ready restored) s"
"${fleet[@]}" down --state-dir "$state" restored >/dev/null

log "reboot round trip (systemctl reboot -> new boot id over SSH)"
boot_id=$(ssh_vm cat /proc/sys/kernel/random/boot_id)
t=$(now)
ssh_vm sudo systemctl reboot || true
deadline=$((SECONDS + 600))
while :; do
	now_id=$(ssh_vm cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)
	[[ -n $now_id && $now_id != "$boot_id" ]] && break
	if ((SECONDS > deadline)); then
		log "VM did not come back from the reboot"
		exit 1
	fi
	sleep 1
done
row "reboot round trip" "$(since "$t")"

log "power-cycle round trip (QMP system_reset -> SSH)"
t=$(now)
"${fleet[@]}" reset --state-dir "$state" vm-1 --wait >/dev/null
row "power-cycle round trip (QMP reset)" "$(since "$t")"
"${fleet[@]}" down --state-dir "$state" >/dev/null

if ((!skip_molecule)); then
	log "molecule test -s smoke"
	t=$(now)
	result=passed
	(cd "$top" && PATH=$top/.venv/bin:$PATH molecule test -s smoke >"$tmp/molecule.log" 2>&1) || result=FAILED
	row "molecule test -s smoke ($result)" "$(since "$t")"
	[[ $result == passed ]] || tail -n 40 "$tmp/molecule.log" >&2
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$(dirname "$out")"
{
	echo "agentns test fleet benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB," \
		"$(qemu-system-x86_64 --version | head -n 1), TCG"
	# Other work on the machine (kernel builds, other VMs) slows TCG down a lot.
	echo "load average (1/5/15 min): before $load_before, after $load_after"
	echo "guest: $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print("Debian", m["suite"], m["kernel"], "recipe", m["recipe"])' "$image/manifest.json"), -smp 1 -m 1536"
	echo
	printf '%-40s %10s\n' "what" "time"
	printf '%s\n' "${rows[@]}"
} | tee "$out"
