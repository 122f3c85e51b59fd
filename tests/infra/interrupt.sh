#!/usr/bin/env bash
# A real interrupted run of the test fleet, scripted: start `fleet.py up`
# (or `scripts/test.sh molecule`) with a fresh AGENTNS_RUN_ID as a job of its own (as a shell runs a
# foreground command), wait until it is busy, send SIGINT to its process
# group the way Ctrl-C does, and check that within a bounded time nothing of
# that run is left: no QEMU carrying the run id, no overlay disk, no registry
# record, no image work directory, no process still using it.
#
# Usage: tests/infra/interrupt.sh [--image DIR] [--skip-build]
#
# Case "boot": two VMs booted cold (AGENTNS_FLEET_BOOT=cold), interrupted
# right after QEMU of the run started. By default they boot a blank disk (the
# signal comes long before a guest would reach SSH), so the case is cheap and
# needs no cached image; --image DIR boots that image (e.g.
# ~/.cache/agentns/images/<hash>) instead. The run's
# repository server (`fleet.py serve`, as Molecule's prepare starts it) is
# not `up`'s: after the interrupt, `down` and `reap --run-id` (as
# scripts/test.sh's stop_scenarios) must leave none of it either.
# Case "snapshot": `up` makes the booted-state snapshot its VMs start from
# (the first boot of that shape), interrupted while its VM boots: no work
# directory, snapshot or lock may be left in the image directory (a blank
# disk of its own, whatever --image says).
# Case "scenario": `scripts/test.sh molecule` running the smoke scenario, as
# a developer or CI starts it, interrupted (SIGINT to its process group, as
# Ctrl-C) once the scenario's create has started its VMs: test.sh must stop
# Molecule and every VM of its run. The VMs boot a blank disk
# (AGENTNS_FLEET_IMAGE), nothing is built ahead (AGENTNS_TEST_PREBUILD=0).
# Case "build": no image yet, so `up` runs build-image.sh (into a private
# AGENTNS_CACHE_DIR), interrupted while debootstrap downloads. Needs root
# and the Debian mirror; skipped otherwise or with --skip-build.
#
# Prints one PASS/FAIL line per case and exits 0 only if every case passed.
# INTERRUPT_DEADLINE (default 60) bounds the wait for the cleanup, seconds.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
fleet=$top/scripts/fleet/fleet.py
deadline=${INTERRUPT_DEADLINE:-60}
image=
skip_build=0
while (($#)); do
	case $1 in
	--image)
		image=$(readlink -f "$2")
		shift
		;;
	--skip-build) skip_build=1 ;;
	-h | --help)
		sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "interrupt: unknown argument: $1" >&2
		exit 2
		;;
	esac
	shift
done

# Job control: each background job gets a process group of its own and
# SIGINT is not ignored in it, as for a command typed at a terminal.
set -m

log() { echo "interrupt: $*" >&2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/agentns-interrupt.XXXXXX")
failed=0

# Pids of live QEMU processes whose command line carries this run id.
qemu_of_run() {
	local f argv pid
	for f in /proc/[0-9]*/cmdline; do
		argv=$(tr '\0' '\n' 2>/dev/null <"$f") || continue
		[[ ${argv%%$'\n'*} == qemu-system-* && $argv == *"agentns-run=$1,"* ]] || continue
		pid=${f#/proc/}
		echo "${pid%/cmdline}"
	done
}

# Pids of live processes (other than this script's) whose command line mentions $1.
processes_using() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$1" && echo "$pid"
	done
}

# Pids of live repository servers (fleet.py serve's children) of run $1.
server_of_run() {
	local f argv pid
	for f in /proc/[0-9]*/cmdline; do
		argv=$(tr '\0' '\n' 2>/dev/null <"$f") || continue
		[[ $argv == *$'\n_serve-repo\n--run-id\n'"$1"$'\n'* ]] || continue
		pid=${f#/proc/}
		echo "${pid%/cmdline}"
	done
}

# At least $2 QEMU processes of run $1 are running.
# shellcheck disable=SC2317 # called through wait_until
qemu_running() { (($(qemu_of_run "$1" | wc -l) >= $2)); }

# Some process works in a directory whose path starts with $1.
# shellcheck disable=SC2317 # called through wait_until
build_busy() { [[ -n $(processes_using "$1") ]]; }

# Process $1 has ended.
# shellcheck disable=SC2317 # called through wait_until
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# Wait up to $1 seconds for the command "$2..." to succeed.
wait_until() {
	local limit=$1 start=$SECONDS
	shift
	until "$@"; do
		((SECONDS - start >= limit)) && return 1
		sleep 0.5
	done
}

# Send SIGINT to the job's process group and wait for the job to end.
interrupt_job() {
	local pid=$1 start=$SECONDS
	kill -INT -- "-$pid" 2>/dev/null
	if ! wait_until "$deadline" pid_gone "$pid"; then
		log "job $pid still running ${deadline}s after SIGINT"
		return 1
	fi
	wait "$pid"
	log "job $pid exited with status $? $((SECONDS - start))s after SIGINT"
}

# An image directory whose disk is blank: QEMU starts, no guest ever answers.
blank_image() {
	mkdir -p "$1" && qemu-img create -q -f qcow2 "$1/base.qcow2" 256M && : >"$1/id_ed25519"
}

result() {
	local case=$1 started=$2
	shift 2
	if (($#)); then
		failed=1
		echo "interrupt: FAIL: case $case ($((SECONDS - started))s): $*"
	else
		echo "interrupt: PASS: case $case ($((SECONDS - started))s): nothing of the run left"
	fi
}

case_boot() {
	local started=$SECONDS run_id state=$work/boot/state cache=$work/boot/cache pid left server problems=()
	run_id=interrupt-boot-$(date +%s)-$$
	if [[ -z $image ]]; then
		image=$work/boot/image
		blank_image "$image" || {
			result boot "$started" "qemu-img create failed"
			return
		}
	fi
	mkdir -p "$work/boot/repo"
	AGENTNS_RUN_ID=$run_id AGENTNS_CACHE_DIR=$cache python3 "$fleet" serve \
		--state-dir "$state" "$work/boot/repo" >"$work/serve.json" 2>>"$work/boot.log" ||
		problems+=("fleet.py serve failed")
	server=$(server_of_run "$run_id" | xargs)
	[[ -n $server ]] || problems+=("no repository server of run $run_id running")
	AGENTNS_FLEET_BOOT=cold AGENTNS_RUN_ID=$run_id AGENTNS_CACHE_DIR=$cache python3 "$fleet" up --count 2 --name intr \
		--image "$image" --state-dir "$state" >>"$work/boot.log" 2>&1 &
	pid=$!
	if ! wait_until 60 qemu_running "$run_id" 2; then
		problems+=("QEMU of run $run_id did not start within 60s")
	fi
	sleep 2 # a little into the wait for SSH
	interrupt_job "$pid" || problems+=("fleet.py did not exit within ${deadline}s")
	# Bounded: the cleanup had to be done when fleet.py exited.
	left=$(qemu_of_run "$run_id" | xargs)
	[[ -n $left ]] && problems+=("QEMU of run $run_id still running: pids $left")
	left=$(find "$state" -name '*.qcow2' -printf '%p ' 2>/dev/null)
	[[ -n $left ]] && problems+=("overlays left: $left")
	# The server's record stays until down or reap.
	left=$(find "$cache/fleet/registry" -name '*.json' ! -name "${server:-none}.json" -printf '%p ' 2>/dev/null)
	[[ -n $left ]] && problems+=("registry records left: $left")
	grep -q "interrupted" "$work/boot.log" || problems+=("fleet.py did not report the interrupt")
	# What scripts/test.sh's stop_scenarios does next.
	AGENTNS_CACHE_DIR=$cache python3 "$fleet" down --state-dir "$state" >>"$work/boot.log" 2>&1
	AGENTNS_CACHE_DIR=$cache python3 "$fleet" reap --run-id "$run_id" >>"$work/boot.log" 2>&1
	left=$(server_of_run "$run_id" | xargs)
	[[ -n $left ]] && problems+=("repository server of run $run_id still running: pids $left")
	[[ -e $state/repo-server.json ]] && problems+=("$state/repo-server.json left")
	left=$(find "$cache/fleet/registry" -name '*.json' -printf '%p ' 2>/dev/null)
	[[ -n $left ]] && problems+=("registry records left after down and reap: $left")
	if ((${#problems[@]})); then
		sed 's/^/  | /' "$work/boot.log" >&2
		# Leave nothing running, whatever went wrong.
		AGENTNS_CACHE_DIR=$cache python3 "$fleet" reap --run-id "$run_id" >/dev/null 2>&1
	fi
	result boot "$started" "${problems[@]}"
}

# Some snapshot of the image in $1 is being made: its work directory exists.
# shellcheck disable=SC2317 # called through wait_until
snapshot_busy() { compgen -G "$1/.booted-*.work-*/console.log" >/dev/null; }

case_snapshot() {
	local started=$SECONDS run_id image=$work/snapshot/image cache=$work/snapshot/cache pid left lock problems=()
	run_id=interrupt-snapshot-$(date +%s)-$$
	blank_image "$image" || {
		result snapshot "$started" "qemu-img create failed"
		return
	}
	AGENTNS_FLEET_BOOT=snapshot AGENTNS_RUN_ID=$run_id AGENTNS_CACHE_DIR=$cache python3 "$fleet" up --count 2 --name intr \
		--image "$image" --state-dir "$work/snapshot/state" >"$work/snapshot.log" 2>&1 &
	pid=$!
	if ! wait_until 60 qemu_running "$run_id" 1 || ! wait_until 30 snapshot_busy "$image"; then
		problems+=("the snapshot's VM of run $run_id did not start within 60s")
	fi
	sleep 2
	interrupt_job "$pid" || problems+=("fleet.py did not exit within ${deadline}s")
	left=$(qemu_of_run "$run_id" | xargs)
	[[ -n $left ]] && problems+=("QEMU of run $run_id still running: pids $left")
	left=$(find "$image" -mindepth 1 -maxdepth 1 ! -name base.qcow2 ! -name id_ed25519 ! -name '*.lock' -printf '%f ')
	[[ -n $left ]] && problems+=("left in the image directory: $left")
	for lock in "$image"/*.lock; do
		[[ -e $lock ]] || continue
		flock -n "$lock" true || problems+=("the snapshot lock $lock is still held")
	done
	left=$(find "$cache/fleet/registry" -name '*.json' -printf '%p ' 2>/dev/null)
	[[ -n $left ]] && problems+=("registry records left: $left")
	grep -q "interrupted" "$work/snapshot.log" || problems+=("fleet.py did not report the interrupt")
	if ((${#problems[@]})); then
		sed 's/^/  | /' "$work/snapshot.log" >&2
		AGENTNS_CACHE_DIR=$cache python3 "$fleet" reap --run-id "$run_id" >/dev/null 2>&1
	fi
	result snapshot "$started" "${problems[@]}"
}

case_scenario() {
	local started=$SECONDS run_id image=$work/scenario/image cache=$work/scenario/cache pid left molecule='' problems=()
	local state=$top/build/molecule/smoke
	run_id=interrupt-scenario-$(date +%s)-$$
	blank_image "$image" || {
		result scenario "$started" "qemu-img create failed"
		return
	}
	# As from a terminal: SIGINT not ignored, whoever started this script
	# (a shell's background job starts with it ignored, and bash cannot trap
	# a signal ignored on entry).
	AGENTNS_FLEET_IMAGE=$image AGENTNS_FLEET_BOOT=cold AGENTNS_RUN_ID=$run_id AGENTNS_CACHE_DIR=$cache \
		AGENTNS_TEST_PREBUILD=0 AGENTNS_MOLECULE_SCENARIOS=smoke env --default-signal=INT "$top/scripts/test.sh" molecule >"$work/scenario.log" 2>&1 &
	pid=$!
	# Bootstrap, Molecule's destroy and syntax steps come first: minutes under load.
	if wait_until 300 qemu_running "$run_id" 2; then
		molecule=$(cat "$top/build/molecule/smoke.pid" 2>/dev/null)
	else
		problems+=("QEMU of run $run_id did not start within 300s")
	fi
	sleep 2
	interrupt_job "$pid" || problems+=("scripts/test.sh did not exit within ${deadline}s")
	left=$(qemu_of_run "$run_id" | xargs)
	[[ -n $left ]] && problems+=("QEMU of run $run_id still running: pids $left")
	# test.sh TERMs Molecule's session and does not wait for it: give it the deadline.
	[[ -n $molecule ]] && ! wait_until "$deadline" pid_gone "$molecule" &&
		problems+=("Molecule (pid $molecule) still running ${deadline}s after test.sh exited")
	left=$(find "$state" -name '*.qcow2' -printf '%p ' 2>/dev/null)
	[[ -n $left ]] && problems+=("overlays left: $left")
	left=$(find "$cache/fleet/registry" -name '*.json' -printf '%p ' 2>/dev/null)
	[[ -n $left ]] && problems+=("registry records left: $left")
	grep -q "interrupted: stopping what this run started" "$work/scenario.log" ||
		problems+=("scripts/test.sh did not report the interrupt")
	if ((${#problems[@]})); then
		sed 's/^/  | /' "$work/scenario.log" "$top/build/molecule/smoke.log" >&2
		AGENTNS_CACHE_DIR=$cache python3 "$fleet" reap --run-id "$run_id" >/dev/null 2>&1
		[[ -n $molecule ]] && kill -KILL -- "-$molecule" 2>/dev/null
	fi
	result scenario "$started" "${problems[@]}"
}

case_build() {
	local started=$SECONDS run_id cache=$work/build/cache pid left problems=()
	if [[ $(id -u) != 0 ]] || ! command -v debootstrap >/dev/null; then
		echo "interrupt: SKIP: case build (needs root and debootstrap)"
		return
	fi
	run_id=interrupt-build-$(date +%s)-$$
	AGENTNS_RUN_ID=$run_id AGENTNS_CACHE_DIR=$cache python3 "$fleet" up --count 1 --name intr \
		--state-dir "$work/build/state" >"$work/build.log" 2>&1 &
	pid=$!
	# Busy: the work directory exists and debootstrap is working in it.
	if ! wait_until 60 build_busy "$cache/images/.build-"; then
		problems+=("the image build did not get going within 60s")
	fi
	sleep 3
	interrupt_job "$pid" || problems+=("fleet.py did not exit within ${deadline}s")
	left=$(find "$cache/images" -maxdepth 1 -name '.build-*' -printf '%p ' 2>/dev/null)
	[[ -n $left ]] && problems+=("work directories left: $left")
	left=$(processes_using "$cache/" | xargs)
	[[ -n $left ]] && problems+=("processes of the build left: $left")
	if [[ -f $cache/images/.lock ]] && ! flock -n "$cache/images/.lock" true; then
		problems+=("the image lock is still held")
	fi
	if ((${#problems[@]})); then
		sed 's/^/  | /' "$work/build.log" >&2
		for pid in $(processes_using "$cache/"); do
			kill -KILL "$pid" 2>/dev/null
		done
	fi
	result build "$started" "${problems[@]}"
}

case_boot
case_snapshot
case_scenario
((skip_build)) || case_build
if ((failed)); then
	log "logs kept in $work"
	exit 1
fi
rm -rf "$work"
exit 0
