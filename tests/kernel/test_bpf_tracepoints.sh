#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2154 # shim, helper, tmp, tracing, inst... are set by lib.sh
#
# The agent_ns tracepoints fire with the right fields: agent_session_start
# on creation, agent_intent_set with the tag, agent_session_end when the
# last task exits, with the final counters. Read through tracefs (a private
# trace instance, so nobody else's tracing is disturbed); through bpftrace
# as well where it is installed.

. "$(dirname "$0")/lib.sh"

require_agentns
require_root
require_helper

require_tracefs
events=$tracing/events/agent_ns
check "$events missing on a kernel with agent namespaces" [ -d "$events" ]
for ev in agent_session_start agent_intent_set agent_session_end; do
	check "$events/$ev/format missing" [ -f "$events/$ev/format" ]
	check "$ev has no sid field" grep -q 'sid' "$events/$ev/format"
done

make_tmp
bt=
cleanup() {
	[ -n "$bt" ] && kill "$bt" 2>/dev/null
	trace_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
trace_instance agentns_test agent_ns

tag=tp-intent-$$
out=$("$helper" create -i "$tag" -o 7 -w 1000) ||
	fail "agentns_helper create failed: $out"
sid=${out#session=}
check "helper printed '$out', not a session" is_sid "$sid"
note "session $sid"

# The namespace dies with the helper; give the event a moment to land.
i=0
while ! grep -q "agent_session_end: sid=$sid" "$inst/trace"; do
	i=$((i + 1))
	[ "$i" -le 10 ] || break
	sleep 1
done
echo 0 >"$inst/tracing_on"
trace=$(grep "sid=$sid" "$inst/trace")
[ -n "$trace" ] || fail "no agent_ns event for sid=$sid; trace: $(cat "$inst/trace")"

# line_of EVENT: the trace line number of EVENT for our session.
line_of() {
	echo "$trace" | grep -n "$1: sid=$sid" | head -n 1 | cut -d: -f1
}
start=$(line_of agent_session_start)
intent=$(line_of agent_intent_set)
end=$(line_of agent_session_end)
check "agent_session_start missing for $sid: $trace" [ -n "$start" ]
check "agent_intent_set missing for $sid: $trace" [ -n "$intent" ]
check "agent_session_end missing for $sid: $trace" [ -n "$end" ]
in_order() {
	[ "$1" -lt "$2" ] && [ "$2" -lt "$3" ]
}
check "events out of order (start $start, intent $intent, end $end)" \
	in_order "$start" "$intent" "$end"
# shellcheck disable=SC2016 # expanded by eval, on purpose
intent_re='agent_intent_set: sid=$sid id=[1-9][0-9]* parent_id=[0-9]* tag=$tag\$'
# shellcheck disable=SC2016 # expanded by eval, on purpose
check "agent_intent_set does not show tag=$tag: $trace" \
	eval 'echo "$trace" | grep -q "'"$intent_re"'"'
start_line=$(echo "$trace" | grep "agent_session_start: sid=$sid")
# shellcheck disable=SC2016 # expanded by eval, on purpose
check "agent_session_start has no pid, id and parent_id: $start_line" \
	eval 'echo "$start_line" | grep -q " pid=[1-9][0-9]* id=[1-9][0-9]* parent_id=[0-9]*\$"'

end_line=$(echo "$trace" | grep "agent_session_end: sid=$sid")
value() {
	echo "$end_line" | sed -n "s/.* $1=\([0-9][0-9]*\).*/\1/p"
}
for key in total_syscalls openat_count write_bytes connect_count \
	   unlink_count fork_count elapsed_ns; do
	v=$(value "$key")
	check "agent_session_end has no numeric $key: $end_line" [ -n "$v" ]
	eval "end_$key=\$v"
done
# The helper opened /dev/null 8 times and wrote 1000 bytes plus its output.
check "final openat_count $end_openat_count < 8" [ "$end_openat_count" -ge 8 ]
check "final write_bytes $end_write_bytes < 1000" [ "$end_write_bytes" -ge 1000 ]
check "final total_syscalls $end_total_syscalls < 10" [ "$end_total_syscalls" -ge 10 ]
check "final fork_count $end_fork_count, the helper never forks" [ "$end_fork_count" = 0 ]
check "final connect_count $end_connect_count, want 0" [ "$end_connect_count" = 0 ]
check "final unlink_count $end_unlink_count, want 0" [ "$end_unlink_count" = 0 ]
check "final elapsed_ns is 0" [ "$end_elapsed_ns" != 0 ]

if command -v bpftrace >/dev/null 2>&1; then
	bt_out=$tmp/bpftrace.out
	bt_prog='tracepoint:agent_ns:agent_intent_set { printf("BT tag=%s\n", str(args->tag)); }'
	bpftrace -e "$bt_prog" \
		>"$bt_out" 2>&1 &
	bt=$!
	i=0
	while ! grep -q Attaching "$bt_out" && [ "$i" -lt 60 ]; do
		kill -0 "$bt" 2>/dev/null || break
		i=$((i + 1))
		sleep 1
	done
	if grep -q Attaching "$bt_out"; then
		"$helper" create -i "bt-$tag" >/dev/null ||
			fail "agentns_helper create failed under bpftrace"
		sleep 2
		kill -INT "$bt" 2>/dev/null
		wait "$bt"
		bt=
		check "bpftrace did not see tag bt-$tag: $(cat "$bt_out")" \
			grep -q "BT tag=bt-$tag" "$bt_out"
	else
		note "bpftrace could not attach, bpftrace check skipped: $(head -n 3 "$bt_out")"
	fi
else
	note "bpftrace not installed: tracefs checks only"
fi
pass
