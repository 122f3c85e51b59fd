#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the agent namespace kernel tests and report TAP version 13.
#
#   run.sh [TEST...]
#
# Without arguments every test_* program or test_*.sh script in this
# directory runs, in name order. Exit code 4 (kselftest's KSFT_SKIP; 77,
# the Automake code, is accepted too) from a test is a skip, and so is a
# kselftest_harness program that exits 0 after skipping some of its
# tests ("ok N name # SKIP reason" in its output).
# Environment:
#   AGENTNS_TIMEOUT=SECS   per-test timeout (default: timeout= of the
#                          kselftest settings file beside this script, 180)
#   AGENTNS_NO_SKIP=1      report skips as failures (the VM loop uses it)
#   AGENTNS_VERBOSE=1      show the output of passing tests too
# The last line is always "N passed, N failed, N skipped"; the exit code
# is 1 when anything failed, 0 otherwise.
#
# POSIX sh only: this runs under busybox ash in the test initramfs.

suite_dir=$(cd "$(dirname "$0")" && pwd)
# kselftest's runner reads the same file: one timeout for both ways in.
settings_timeout=$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' "$suite_dir/settings" 2>/dev/null)
timeout_s=${AGENTNS_TIMEOUT:-${settings_timeout:-180}}
tmp_base=${TMPDIR:-/tmp}
[ -d "$tmp_base" ] && [ -w "$tmp_base" ] || tmp_base=$suite_dir
out_file=$tmp_base/agentns-run.$$.out

cleanup() {
	rm -f "$out_file"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# coreutils and busybox >= 1.30 take "timeout SECS PROG"; old busybox
# wanted "timeout -t SECS PROG". Without either, a watchdog subshell.
timeout_style=
if command -v timeout >/dev/null 2>&1; then
	if timeout 10 true >/dev/null 2>&1; then
		timeout_style=plain
	elif timeout -t 10 true >/dev/null 2>&1; then
		timeout_style=dash_t
	fi
fi

# Test paths are kept one per line, so split on newlines only.
nl='
'
IFS=$nl
set -f

is_test() {
	case $1 in
	*.c | *.h | *.o | *.d | *.txt | *.md | *.orig | *.rej | *~) return 1 ;;
	*.sh) [ -f "$1" ] ;;
	*) [ -f "$1" ] && [ -x "$1" ] ;;
	esac
}

# A C test whose binary was never built must not vanish from the plan.
list_tests() {
	set +f
	for f in "$suite_dir"/test_*; do
		[ -e "$f" ] || continue
		case $f in
		*.c)
			[ -e "${f%.c}" ] || echo "${f%.c}"
			;;
		*)
			is_test "$f" && echo "$f"
			;;
		esac
	done
	set -f
}

resolve() {
	case $1 in
	*/*) echo "$1" ;;
	*)
		if [ -e "$suite_dir/$1" ]; then
			echo "$suite_dir/$1"
		elif [ -e "$suite_dir/$1.sh" ]; then
			echo "$suite_dir/$1.sh"
		else
			echo "$suite_dir/$1"
		fi
		;;
	esac
}

if [ $# -gt 0 ]; then
	tests=
	for t in "$@"; do
		tests="$tests$nl$(resolve "$t")"
	done
else
	tests=$(list_tests)
fi

total=0
for t in $tests; do
	total=$((total + 1))
done

# Runs one test with the timeout; output to $out_file; sets rc.
run_one() {
	case $1 in
	*.sh) set -- sh "$1" ;;
	esac
	case $timeout_style in
	plain)
		timeout "$timeout_s" "$@" >"$out_file" 2>&1 </dev/null
		rc=$?
		return
		;;
	dash_t)
		timeout -t "$timeout_s" "$@" >"$out_file" 2>&1 </dev/null
		rc=$?
		return
		;;
	esac
	"$@" >"$out_file" 2>&1 </dev/null &
	pid=$!
	(
		sleep "$timeout_s"
		kill -TERM "$pid" 2>/dev/null
		sleep 5
		kill -KILL "$pid" 2>/dev/null
	) >/dev/null 2>&1 &
	watchdog=$!
	wait "$pid"
	rc=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
}

show_output() {
	[ -s "$out_file" ] || return 0
	sed 's/^/# /' "$out_file"
}

echo "TAP version 13"
echo "1..$total"

n=0
passed=0
failed=0
skipped=0
for t in $tests; do
	n=$((n + 1))
	name=${t##*/}
	if ! is_test "$t"; then
		echo "not ok $n - $name # not found or not built (run make)"
		failed=$((failed + 1))
		continue
	fi
	start=$(date +%s)
	run_one "$t"
	elapsed=$(($(date +%s) - start))
	# Any failure at the timeout is one: busybox's timeout returns the
	# test's own status, and a shell test traps TERM into exit 1.
	if [ "$rc" -eq 124 ] || { [ "$rc" -ne 0 ] && [ "$elapsed" -ge "$timeout_s" ]; }; then
		echo "not ok $n - $name # TIMEOUT after ${timeout_s}s"
		show_output
		failed=$((failed + 1))
	elif [ "$rc" -eq 0 ] && ! grep -q '^ok [0-9][0-9]* .* # SKIP' "$out_file"; then
		echo "ok $n - $name"
		[ "${AGENTNS_VERBOSE:-0}" = 1 ] && show_output
		passed=$((passed + 1))
	elif [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || [ "$rc" -eq 4 ]; then
		# lib.sh says "SKIP: why"; the harness "1..0 # SKIP why" for a
		# whole program, "ok N name # SKIP why" for one of its tests.
		reason=$(sed -n -e 's/^SKIP: *//p' -e 's/^1\.\.0 # SKIP *//p' \
			-e 's/^ok [0-9][0-9]* \(.*\) # SKIP *\(.*\)/\1: \2/p' \
			"$out_file" | head -n 1)
		[ -n "$reason" ] || reason="exit code $rc"
		if [ "${AGENTNS_NO_SKIP:-0}" = 1 ]; then
			echo "not ok $n - $name # skipped but AGENTNS_NO_SKIP=1: $reason"
			show_output
			failed=$((failed + 1))
		else
			echo "ok $n - $name # SKIP $reason"
			skipped=$((skipped + 1))
		fi
	else
		echo "not ok $n - $name # exit code $rc"
		show_output
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
