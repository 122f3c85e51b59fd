#!/usr/bin/env bash
# The project's test command (README, .ci/run): set up a fresh Debian 12
# machine, then run every check, fastest first, and print a tally.
#
#   scripts/test.sh              # everything
#   scripts/test.sh lint unit    # only the named stages
#
# Stages: lint sanity unit vm vm-debug molecule
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export PATH=$top/.venv/bin:$PATH

log() { printf '\n[test %(%H:%M:%S)T] %s\n' -1 "$*"; }

stage_lint() {
	ruff check . && ruff format --check . &&
		ansible-lint --profile production --offline &&
		scripts/apply-agentns.py --check &&
		scripts/checkpatch.sh
}

stage_sanity() { scripts/ansible-test-sanity.sh; }

# pytest exits 5 when it collects nothing: that is a broken suite here.
stage_unit() { python -m pytest -q tests/unit; }

stage_vm() { tests/vm/vmtest.sh; }
stage_vm_debug() { tests/vm/vmtest.sh --debug; }

stage_molecule() {
	local scenario rc=0
	# default and drift join once they have passed here end to end.
	local -a scenarios=(smoke)
	for scenario in "${scenarios[@]}"; do
		[[ -d molecule/$scenario ]] || continue
		molecule test -s "$scenario" || rc=1
	done
	return "$rc"
}

main() {
	local -a stages=("$@")
	((${#stages[@]})) || stages=(lint sanity unit vm vm-debug molecule)
	log "bootstrap"
	"$top/scripts/bootstrap.sh" || { echo "0 passed, 1 failed"; exit 1; }

	local passed=0 failed=0 s start
	local -a report=()
	for s in "${stages[@]}"; do
		log "stage $s"
		start=$SECONDS
		if "stage_${s//-/_}"; then
			passed=$((passed + 1))
			report+=("ok     $s ($((SECONDS - start)) s)")
		else
			failed=$((failed + 1))
			report+=("FAILED $s ($((SECONDS - start)) s)")
		fi
	done
	printf '\n'
	printf '%s\n' "${report[@]}"
	echo "$passed passed, $failed failed"
	((failed == 0))
}

main "$@"
