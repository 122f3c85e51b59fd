#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2154 # helper and tmp are set by lib.sh
#
# kernel.agent_ns.enabled=0 stops the reaper from acting: a namespace with
# a SIGKILL budget of 5 s of elapsed time (the clock runs on while the
# counter hooks are off) goes over it while enabled=0 and must still be
# alive after a full reaper interval. Waits ~70 s for the reaper: keep it
# out of quick runs.

. "$(dirname "$0")/lib.sh"

require_agentns
require_root
require_helper
make_tmp

enabled=/proc/sys/kernel/agent_ns/enabled
pid=
cleanup() {
	echo 1 >"$enabled"
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	wait
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

"$helper" budget -e 5000000000 -a 2 -t 85 >"$tmp/out" 2>&1 &
i=0
while ! grep -q '^ready' "$tmp/out" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -le 10 ] || fail "helper not ready: $(cat "$tmp/out")"
	sleep 1
done
echo 0 >"$enabled"
t0=$(date +%s)
pid=$(sed -n 's/^ready pid=//p' "$tmp/out")
check "helper printed no pid: $(cat "$tmp/out")" [ -n "$pid" ]
note "helper $pid over a 5 s elapsed budget from now on, enabled=0"

# Our child: killed, it would stay a zombie, which kill -0 still finds.
alive() {
	grep -q '^State:[[:space:]]*[^Z]' "/proc/$1/status" 2>/dev/null
}

# Over the limit after 5 s; some walk comes within 60 s of creation and
# the next one 60 s later: 70 s covers a walk with the namespace over.
while [ $(($(date +%s) - t0)) -lt 70 ]; do
	alive "$pid" ||
		fail "the reaper killed $pid $(($(date +%s) - t0)) s after enabled=0"
	sleep 2
done
check "helper $pid gone after 70 s with enabled=0" alive "$pid"
pass
