#!/usr/bin/env bash
# The main job: start a small local QEMU fleet (Debian 12 VMs on the stock
# kernel), roll the agentns kernel out to it with deploy.yml, exactly as on a
# real fleet but with the test-sized kernel config, print each host's kernel,
# a fresh agent session id and the sysctls, then stop the VMs again.
#
#   scripts/deploy-local.sh [--keep] [--count N] [--state-dir DIR] [-- ANSIBLE-PLAYBOOK-ARGS...]
#
#   --keep           leave the VMs running (reach them with
#                    scripts/fleet/fleet.py ssh --state-dir DIR NAME)
#   --count N        number of VMs (default 2)
#   --state-dir DIR  fleet state, inventory and console logs
#                    (default build/deploy-local; VMs already running there
#                    from an earlier --keep run are reused)
#   -- ARGS          passed on to ansible-playbook (e.g. -- --tags config --check --diff)
#
# Environment: AGENTNS_SKIP_BOOTSTRAP=1 skips scripts/bootstrap.sh;
# AGENTNS_FLEET_SSH_TIMEOUT (default 600) bounds the wait for SSH.
# The kernel packages and the VM image are cached under ~/.cache/agentns/
# ($AGENTNS_CACHE_DIR), so only the first run builds them.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
state_dir=$top/build/deploy-local
count=2
keep=0
playbook_args=()
while (($#)); do
	case $1 in
	--keep) keep=1 ;;
	--count)
		count=$2
		shift
		;;
	--state-dir)
		state_dir=$2
		shift
		;;
	--)
		shift
		playbook_args=("$@")
		break
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "deploy-local: unknown argument: $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
[[ $count =~ ^[1-9][0-9]*$ ]] || {
	echo "deploy-local: --count needs a positive number" >&2
	exit 2
}
mkdir -p "$state_dir"
state_dir=$(cd "$state_dir" && pwd)

log() { printf '[deploy-local %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
start=$SECONDS

if [[ ${AGENTNS_SKIP_BOOTSTRAP:-0} != 1 ]]; then
	log "bootstrap"
	"$top/scripts/bootstrap.sh"
fi
export PATH=$top/.venv/bin:$PATH
fleet=("$top/.venv/bin/python" "$top/scripts/fleet/fleet.py")

stop_fleet() {
	if ((keep)); then
		log "VMs left running (--keep): ${fleet[*]} status --state-dir $state_dir"
	else
		log "stopping the VMs"
		"${fleet[@]}" down --state-dir "$state_dir" || true
	fi
}
trap stop_fleet EXIT

log "starting $count VMs (state: $state_dir)"
# fleet.py's own waits: slow boots are given time while the console makes
# progress (AGENTNS_FLEET_BOOT_TIMEOUT, AGENTNS_FLEET_STALL_TIMEOUT).
"${fleet[@]}" up --count "$count" --name agentns --state-dir "$state_dir"
"${fleet[@]}" inventory --state-dir "$state_dir" --group agentns_local >"$state_dir/hosts.yml"
# The test-sized kernel: tinyconfig plus kernel/configs/agentns_qemu_debian.config.
# The fleet's "BMC": QEMU's monitor resets a hung VM, its serial log is the console.
cat >"$state_dir/vars.yml" <<EOF
agentns_build_config: minimal
agentns_build_tree: $top
agentns_install_trial_timeout: 600
agentns_install_power_cycle_command:
  [${fleet[0]}, ${fleet[1]}, reset, "{{ inventory_hostname }}", --wait, --state-dir, $state_dir]
# reset --wait returns once the host is back (up to fleet.py's 900 s).
agentns_install_hook_timeout: 960
agentns_install_console_command:
  [${fleet[0]}, ${fleet[1]}, console, "{{ inventory_hostname }}", --lines, "3000", --state-dir, $state_dir]
EOF

log "ansible-playbook deploy.yml -i $state_dir/hosts.yml ${playbook_args[*]}"
cd "$top"
ANSIBLE_CONFIG=$top/ansible.cfg ansible-playbook deploy.yml -i "$state_dir/hosts.yml" \
	-e "@$state_dir/vars.yml" "${playbook_args[@]}"

log "fleet after $((SECONDS - start)) s:"
names=$("${fleet[@]}" status --state-dir "$state_dir" --json |
	python3 -c 'import json, sys; print("\n".join(vm["name"] for vm in json.load(sys.stdin)))')
for name in $names; do
	# shellcheck disable=SC2016 # expanded on the VM
	"${fleet[@]}" ssh --state-dir "$state_dir" "$name" '
		session=$(/usr/local/bin/agentns-unshare cat /proc/self/agent_session 2>&1) || session="none ($session)"
		d=/proc/sys/kernel/agent_ns
		printf "%s: kernel %s, session %s, enabled=%s max_lifetime=%s\n" "$(hostname)" "$(uname -r)" \
			"$session" "$(cat $d/enabled 2>/dev/null || echo -)" "$(cat $d/max_lifetime 2>/dev/null || echo -)"'
done
