#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2154 # shim, helper, tmp, zero_sid and end_* are set by lib.sh
#
# Budget enforcement by the reaper, whose first walk comes 60 s after the
# first namespace is created: namespaces over a nonzero limit get their
# action (2 = SIGKILL, 1 = SIGTERM) within 100 s (the first walk, with room
# for a loaded TCG guest: 78 s was seen beside another VM; the second walk,
# at 120 s, would be too late);
# namespaces without a budget, with all-zero limits (no limit) or with the
# log action survive the same reaper pass. Invalid budgets are refused.
# Takes up to ~100 s by design.

. "$(dirname "$0")/lib.sh"

require_agentns
require_root
require_helper
make_tmp

limit_s=${AGENTNS_BUDGET_LIMIT:-100}
cleanup() {
	for f in "$tmp"/*.out; do
		[ -f "$f" ] || continue
		p=$(sed -n 's/^ready pid=//p' "$f")
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	wait
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# expect_rc WANT DESCRIPTION ARGS...: agentns_helper budget ARGS...
expect_rc() {
	want=$1
	what=$2
	shift 2
	out=$("$helper" budget "$@" 2>&1)
	rc=$?
	checks=$((checks + 1))
	[ "$rc" = "$want" ] || fail "$what: exit $rc, want $want: $out"
}

# Helper exit codes: 3 EINVAL, 4 EPERM.
expect_rc 0 "valid budget (syscalls 1000, SIGKILL)" -s 1000 -a 2
expect_rc 3 "action 3" -s 1000 -a 3
expect_rc 3 "nonzero reserved" -s 1000 -a 2 -r 1
expect_rc 4 "budget without CAP_SYS_ADMIN" -D -s 1000 -a 2
if [ "$(session_of $$)" = "$zero_sid" ]; then
	expect_rc 4 "budget in the init namespace" -n -s 1000 -a 2
else
	note "not in the init agent namespace: init-namespace EPERM not checked"
fi

# start NAME ARGS...: a spinning helper in the background; its exit code
# lands in NAME.rc, "ready pid=N" in NAME.out once the budget is set.
start() {
	name=$1
	shift
	(
		"$helper" budget "$@" -t 100 >"$tmp/$name.out" 2>&1
		echo $? >"$tmp/$name.rc"
	) &
}

t0=$(date +%s)
start none -N
start zero -s 0 -w 0 -e 0 -a 2
start log -s 1000 -a 0
start kill -s 1000 -a 2
start term -s 1000 -a 1
start kill_write -w 4096 -a 2 -m write
all="none zero log kill term kill_write"
doomed="kill term kill_write"

for name in $all; do
	i=0
	while ! grep -q '^ready' "$tmp/$name.out" 2>/dev/null; do
		[ -f "$tmp/$name.rc" ] &&
			fail "$name exited $(cat "$tmp/$name.rc") before ready:" \
				"$(cat "$tmp/$name.out")"
		i=$((i + 1))
		[ "$i" -le 30 ] || fail "$name not ready after 30 s"
		sleep 1
	done
done
note "all spinners ready after $(($(date +%s) - t0)) s; waiting for the reaper"

all_dead() {
	for name in $doomed; do
		[ -f "$tmp/$name.rc" ] || return 1
	done
	return 0
}
while ! all_dead; do
	[ $(($(date +%s) - t0)) -le "$limit_s" ] || break
	sleep 1
done
elapsed=$(($(date +%s) - t0))
note "reaper acted after ${elapsed} s"

# Survivors first: the pass that killed the others looked at them too.
for name in none zero log; do
	check "$name (no effective budget) died: rc $(cat "$tmp/$name.rc" 2>/dev/null)" \
		[ ! -f "$tmp/$name.rc" ]
done

# rc_of NAME: the exit status, 128 + signal for a killed helper.
rc_of() {
	cat "$tmp/$1.rc" 2>/dev/null || echo "none (still running after ${elapsed} s)"
}
check "over max_syscalls with SIGKILL: $(rc_of kill), want 137" [ "$(rc_of kill)" = 137 ]
check "over max_syscalls with SIGTERM: $(rc_of term), want 143" [ "$(rc_of term)" = 143 ]
check "over max_write_bytes with SIGKILL: $(rc_of kill_write), want 137" \
	[ "$(rc_of kill_write)" = 137 ]
check "reaper took ${elapsed} s, limit ${limit_s} s" [ "$elapsed" -le "$limit_s" ]
pass
