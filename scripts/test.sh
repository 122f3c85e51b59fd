#!/usr/bin/env bash
# The project's test command (README, .ci/run): set up a fresh Debian 12
# machine, then run every check and print a tally: the long molecule stage
# starts first, the quick stages run beside it (--plan shows the order).
#
#   scripts/test.sh              # everything
#   scripts/test.sh lint unit    # only the named stages
#   scripts/test.sh --plan       # the order, and what runs beside what
#
# Stages: lint sanity unit package infra vm vm-debug molecule
# AGENTNS_TEST_PREBUILD=0: start no image or kernel build ahead of the
# stages (each builds what it needs when it needs it).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export PATH=$top/.venv/bin:$PATH
# Every VM this run starts carries this id (scripts/fleet/fleet.py), so an
# interrupt can stop all of them, whichever scenario started them.
export AGENTNS_RUN_ID=${AGENTNS_RUN_ID:-test-$(date +%s)-$$}

log() { printf '\n[test %(%H:%M:%S)T] %s\n' -1 "$*"; }

stage_lint() {
	ruff check . && ruff format --check . &&
		git ls-files -z '*.sh' | xargs -0 shellcheck -S warning &&
		ansible-lint --profile production --offline &&
		antsibull-changelog lint &&
		scripts/apply-agentns.py --check &&
		scripts/checkpatch.sh
}

stage_sanity() { scripts/ansible-test-sanity.sh; }

# pytest exits 5 when it collects nothing: that is a broken suite here. The
# ten slowest tests are listed: the stage is a good part of a run's CPU.
# test_vmtest.sh: the VM loop's verdicts against a faked QEMU. It mostly
# waits on its fakes, so it runs beside pytest (its output after pytest's).
stage_unit() {
	local log pid rc=0
	log=$(mktemp) || return 1
	tests/vm/test_vmtest.sh >"$log" 2>&1 &
	pid=$!
	python -m pytest -q --durations=10 tests/unit || rc=1
	wait "$pid" || rc=1
	cat "$log"
	rm -f "$log"
	return "$rc"
}

# The collection as Galaxy and AWX get it: the tarball builds and installs, and
# ansible-builder makes an execution environment's build context from it (the
# image itself needs podman or docker). The requirements the context's
# introspection finds in the collection must hold no development tool.
stage_package() {
	local work tarball deps rc=0
	work=$(mktemp -d) || return 1
	ansible-galaxy collection build --output-path "$work" . &&
		tarball=$(cd "$work" && echo agentns-fleet-*.tar.gz) &&
		ANSIBLE_COLLECTIONS_PATH=$work/installed ansible-galaxy collection install -p "$work/installed" "$work/$tarball" &&
		printf '%s\n' '---' 'version: 3' 'images:' '  base_image:' '    name: quay.io/ansible/awx-ee:latest' \
			'dependencies:' '  galaxy:' '    collections:' "      - name: collections/$tarball" '        type: file' \
			'additional_build_files:' "  - src: $tarball" '    dest: collections' >"$work/execution-environment.yml" &&
		(cd "$work" && ansible-builder create) &&
		deps=$(python3 "$work/context/_build/scripts/introspect.py" introspect "$work/installed") &&
		printf '%s\n' "$deps" &&
		! grep -Eiq 'ansible-lint|molecule|pytest|ruff|antsibull|ansible-builder' <<<"$deps" || rc=1
	rm -rf "$work"
	return "$rc"
}

# Real interrupted fleet and Molecule runs: nothing of them may be left (about 50 s).
stage_infra() { tests/infra/interrupt.sh; }

# The 64-bit VM loop, then the KUnit suite on a 32-bit SMP kernel (built
# niced: it yields the CPU to the debug kernel's build, the cold run's tail).
stage_vm() { tests/vm/vmtest.sh && tests/vm/kunit32.sh; }
stage_vm_debug() { tests/vm/vmtest.sh --debug; }

# The scenarios run two at a time: their VMs spend much of a scenario
# waiting (reboots, SSH, the fallback's timeouts), so two scenarios on 2
# cores take well under the sum. Each one's output goes to
# build/molecule/NAME.log, shown when it fails. (smoke tests the fleet
# itself; its checks of the fleet run in every scenario, from
# molecule/resources/tests/test_fleet.py, so it runs by hand only.)
# Starting fallback (the longer one) first was slower once measured
# (docs/benchmarks.md): their package installs then overlap.
# AGENTNS_MOLECULE_SCENARIOS="fallback" runs a subset (a developer's loop).
read -ra molecule_scenarios <<<"${AGENTNS_MOLECULE_SCENARIOS:-default fallback}"
molecule_parallel=${AGENTNS_MOLECULE_PARALLEL:-2}

# Under TCG each module run costs its host about 4 s of CPU, nearly all of it
# starting Python and importing Ansible's module_utils; Mitogen
# (requirements-dev.txt) keeps one interpreter per host for the whole run
# (20 module runs: 82 s of guest CPU with Ansible's own strategy, 11 s with
# Mitogen's; docs/benchmarks.md). The scenarios named here run under
# molecule/resources/strategy/mitogen_unpinned.py (Mitogen's linear strategy,
# its CPU pinning off; a play that asks for the free strategy takes Mitogen's
# from AGENTNS_MOLECULE_FREE_STRATEGY); the others, and every run of the
# collection outside this script, under Ansible's own. Mitogen's SSH checks host keys itself (the
# VMs' keys are new each boot). AGENTNS_MOLECULE_MITOGEN="" runs all of them
# without it.
molecule_mitogen=${AGENTNS_MOLECULE_MITOGEN-default fallback}
molecule_env() {
	[[ " $molecule_mitogen " == *" $1 "* ]] || return 0
	printf '%s\n' "ANSIBLE_STRATEGY_PLUGINS=$top/molecule/resources/strategy" \
		ANSIBLE_STRATEGY=mitogen_unpinned ANSIBLE_HOST_KEY_CHECKING=False \
		AGENTNS_MOLECULE_FREE_STRATEGY=mitogen_free_unpinned
}

# A cold run builds the VM images (Debian 12 and 13: the default scenario's
# fleet is mixed) while the kernels compile (mostly downloads and dpkg);
# warm, they are cache hits. build-image.sh takes a lock, so a scenario's
# create never builds one a second time.
image_pid=
build_images() {
	local suite child=
	# stop_scenarios TERMs this job: pass it on, so build-image.sh cleans up.
	trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null && wait "$child"; exit 143' TERM
	for suite in bookworm trixie; do
		AGENTNS_IMAGE_SUITE=$suite scripts/fleet/build-image.sh &
		child=$!
		wait "$child" || return
	done
}
start_image_build() {
	mkdir -p "$top/build"
	build_images >"$top/build/image.log" 2>&1 &
	image_pid=$!
}

# A cold run builds three kernels (the fleet's, the debug one, the 32-bit
# KUnit one) and the machine is busy from the first minute, so it ends when
# the work is done, unless one guest runs alone at the end with a core idle.
# That was vm-debug: its kernel build started only with its stage. So every
# kernel the stages need is built from the start, one after the other (the
# fleet's first: both scenarios wait for it), and each stage finds its build
# in the cache or waits on its lock (scripts/build.sh). Warm, these are cache
# hits.
kernel_builds() {
	[[ " $* " == *" molecule "* || " $* " == *" vm "* ]] && echo "tests/vm/vmtest.sh --build-only"
	[[ " $* " == *" vm-debug "* ]] && echo "tests/vm/vmtest.sh --debug --build-only"
	[[ " $* " == *" vm "* ]] && echo "tests/vm/kunit32.sh --build-only"
	return 0
}

kernels_pid=
start_kernel_builds() {
	local -a builds
	mapfile -t builds < <(kernel_builds "$@")
	((${#builds[@]})) || return 0
	mkdir -p "$top/build"
	setsid bash -c "$(printf '%s; ' "${builds[@]}")" >"$top/build/kernels.log" 2>&1 &
	kernels_pid=$!
}

# A stage whose build failed has run it again and said so: nothing to report.
stop_kernel_builds() {
	[[ -n $kernels_pid ]] && kill -TERM -- "-$kernels_pid" 2>/dev/null
	return 0
}

run_scenario() {
	local scenario=$1 log=$top/build/molecule/$1.log start=$SECONDS rc=0
	local -a strategy
	mapfile -t strategy < <(molecule_env "$scenario")
	rm -f "$top/build/molecule/$scenario.ansible.log"
	# A session of its own: a background job ignores SIGINT, so an
	# interrupt reaches Molecule only through stop_scenarios.
	# Ansible's own log (every ansible-playbook of the scenario, nested runs
	# too) stamps each task with the time: where a run spends it.
	env "${strategy[@]}" ANSIBLE_LOG_PATH="$top/build/molecule/$scenario.ansible.log" \
		setsid molecule test -s "$scenario" >"$log" 2>&1 &
	echo "$!" >"$top/build/molecule/$scenario.pid"
	wait "$!" || rc=$?
	rm -f "$top/build/molecule/$scenario.pid"
	if ((rc)); then
		tail -n 80 "$log"
		echo "molecule $scenario: FAILED after $((SECONDS - start)) s (log: $log)"
	else
		echo "molecule $scenario: passed in $((SECONDS - start)) s"
	fi
	return "$rc"
}

# On an interrupt: stop every scenario's process group, then their VMs
# (Molecule never ran destroy), so nothing of this run is left behind.
stop_scenarios() {
	local pid scenario pidfile
	for scenario in "${molecule_scenarios[@]}"; do
		pidfile=$top/build/molecule/$scenario.pid
		[[ -f $pidfile ]] || continue
		pid=$(cat "$pidfile")
		# setsid made Molecule the leader of its own session and group.
		[[ $(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ') == "$pid" ]] &&
			kill -TERM -- "-$pid" 2>/dev/null
		python3 scripts/fleet/fleet.py down --state-dir "$top/build/molecule/$scenario" >/dev/null 2>&1
	done
	[[ -n $image_pid ]] && kill "$image_pid" 2>/dev/null
	python3 scripts/fleet/fleet.py reap --run-id "$AGENTNS_RUN_ID" >/dev/null 2>&1
	return 0
}

stage_molecule() {
	local scenario done_pid rc=0
	local -a running=()
	if [[ -n $image_pid ]] && ! wait "$image_pid"; then
		tail -n 40 "$top/build/image.log"
		echo "VM image build failed (log: $top/build/image.log)"
		return 1
	fi
	mkdir -p "$top/build/molecule"
	for scenario in "${molecule_scenarios[@]}"; do
		if ((${#running[@]} >= molecule_parallel)); then
			wait -n -p done_pid "${running[@]}" || rc=1
			mapfile -t running < <(printf '%s\n' "${running[@]}" | grep -vx "$done_pid")
		fi
		run_scenario "$scenario" &
		running+=("$!")
		sleep 20 # stagger the VM boots
	done
	for done_pid in "${running[@]}"; do
		wait "$done_pid" || rc=1
	done
	return "$rc"
}

# A stage started early in the background (its own session, so an
# interrupt can stop it whole); its output is shown when its turn comes.
declare -A side_pids=() side_starts=()
start_side_stage() {
	local s=$1
	mkdir -p "$top/build"
	setsid "$top/scripts/test.sh" --run-stage "$s" >"$top/build/stage-$s.log" 2>&1 &
	side_pids[$s]=$!
	side_starts[$s]=$SECONDS
}

stop_side_stages() {
	local pid
	for pid in "${side_pids[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null
	done
	return 0
}

# Which stages run beside which. The molecule stage is by far the longest:
# it starts first, in the background, and the quick stages (lint .. infra,
# about one core's worth) run beside it (measured: docs/benchmarks.md). vm
# and vm-debug are one QEMU guest each: they start when the quick stages are
# done, beside the molecule stage, or without it beside each other. A
# background stage is reported in its own turn. No stage named: every stage.
all_stages=(lint sanity unit package infra vm vm-debug molecule)
plan_stages() {
	local s anchor=
	local -a side=() quick=()
	(($#)) || set -- "${all_stages[@]}"
	if [[ " $* " == *" molecule "* ]]; then
		anchor=molecule
	elif [[ " $* " == *" vm "* ]]; then
		anchor=vm
	fi
	for s in "$@"; do
		if [[ $s == vm || $s == vm-debug ]] && [[ $s != "$anchor" && -n $anchor ]]; then
			side+=("$s")
		elif [[ $s != "$anchor" ]]; then
			quick+=("$s")
		fi
	done
	[[ $anchor == molecule && ${#quick[@]} -gt 0 ]] && echo "start:molecule"
	for s in "$@"; do
		[[ " ${side[*]} " == *" $s "* ]] && continue
		echo "$s"
		[[ $s == "$anchor" && ${#side[@]} -gt 0 ]] && printf 'side:%s\n' "${side[@]}"
	done
	return 0
}

main() {
	local -a stages=() plan=()
	mapfile -t plan < <(plan_stages "$@")
	stages=("${plan[@]#side:}")
	stages=("${stages[@]#start:}")
	log "bootstrap"
	"$top/scripts/bootstrap.sh" || { echo "0 passed, 1 failed"; exit 1; }

	trap 'log "interrupted: stopping what this run started"; stop_kernel_builds; stop_side_stages; stop_scenarios; exit 130' INT TERM
	if [[ ${AGENTNS_TEST_PREBUILD:-1} != 0 ]]; then
		[[ " ${stages[*]} " == *" molecule "* ]] && start_image_build
		start_kernel_builds "${stages[@]}"
	fi

	local passed=0 failed=0 s start rc
	local -a report=()
	local i j
	for i in "${!plan[@]}"; do
		s=${plan[i]#side:}
		if [[ $s == start:* ]]; then
			log "stage ${s#start:} (started, runs beside the next ones)"
			start_side_stage "${s#start:}"
			continue
		fi
		# An anchor starts the side stages listed after it.
		if [[ ${plan[i]} != side:* ]]; then
			for ((j = i + 1; j < ${#plan[@]}; j++)); do
				[[ ${plan[j]} == side:* ]] || break
				start_side_stage "${plan[j]#side:}"
			done
		fi
		start=$SECONDS rc=0
		if [[ -n ${side_pids[$s]:-} ]]; then
			log "stage $s (ran beside the previous one)"
			wait "${side_pids[$s]}" || rc=$?
			cat "$top/build/stage-$s.log"
			start=${side_starts[$s]}
		else
			log "stage $s"
			"stage_${s//-/_}" || rc=$?
		fi
		if ((rc == 0)); then
			passed=$((passed + 1))
			report+=("ok     $s ($((SECONDS - start)) s)")
		else
			failed=$((failed + 1))
			report+=("FAILED $s ($((SECONDS - start)) s)")
		fi
	done
	stop_kernel_builds
	printf '\n'
	printf '%s\n' "${report[@]}"
	echo "$passed passed, $failed failed"
	((failed == 0))
}

# The order stages would run in, side stages marked (nothing is run).
if [[ ${1:-} == --plan ]]; then
	shift
	plan_stages "$@"
	exit
fi
# The environment a scenario's Molecule run gets (nothing is run).
if [[ ${1:-} == --molecule-env ]]; then
	molecule_env "$2"
	exit
fi
# The kernel builds a run of these stages starts first (nothing is run).
if [[ ${1:-} == --kernel-builds ]]; then
	shift
	(($#)) || set -- "${all_stages[@]}"
	kernel_builds "$@"
	exit
fi
# One stage alone, nothing set up (start_side_stage).
if [[ ${1:-} == --run-stage ]]; then
	"stage_${2//-/_}"
	exit
fi
main "$@"
