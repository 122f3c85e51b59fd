#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2154 # helper, tmp and inst are set by lib.sh
#
# The reaper sleeps while no agent namespace exists: creating one queues a
# walk, that walk finds nothing alive and queues no other. A reaper that
# re-armed itself every interval forever woke every idle host once a
# minute. Watched through the workqueue tracepoint in a private trace
# instance. Needs a host where no other agent namespace lives (it skips
# otherwise) and waits up to ~230 s for the reaper: keep it out of quick runs.

. "$(dirname "$0")/lib.sh"

require_agentns
require_root
require_helper
require_tracefs

# Interval 60 s. A walk came 15-20 s late in a debug guest beside the
# rest of the suite: wait long for the first one. A reaper that re-arms
# walks again 60 s after a walk, give or take the same lateness.
first_walk_max=150
quiet_after=80

busy=$(agent_tasks | tr '\n' ' ')
[ -z "$busy" ] ||
	skip "agent namespaces alive (in $busy): the reaper rightly stays armed"

make_tmp
cleanup() {
	trace_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
trace_instance agentns_idle workqueue/workqueue_execute_start

walks() {
	grep -c 'function agent_ns_reap$' "$inst/trace"
}

# A namespace that is gone as soon as the helper exits; creating it
# queues a walk (unless one was queued already).
out=$("$helper" create) || fail "agentns_helper create failed: $out"
t0=$(date +%s)
note "namespace created and gone: ${out#session=}"

while [ "$(walks)" -eq 0 ]; do
	[ $(($(date +%s) - t0)) -lt "$first_walk_max" ] ||
		fail "no reaper walk within $first_walk_max s of creating a namespace"
	sleep 2
done
t1=$(date +%s)
note "first walk $((t1 - t0)) s after the creation"

while [ $(($(date +%s) - t1)) -lt "$quiet_after" ]; do
	n=$(walks)
	[ "$n" -le 1 ] ||
		fail "$n walks: one $(($(date +%s) - t1)) s after a walk that found nothing"
	sleep 2
done
busy=$(agent_tasks | tr '\n' ' ')
check "agent namespaces appeared during the test (in $busy): inconclusive" [ -z "$busy" ]
check "walks after $quiet_after s of idle: $(walks), want 1" [ "$(walks)" -eq 1 ]
pass
