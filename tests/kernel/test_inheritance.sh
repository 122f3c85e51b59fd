#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2154 # shim, helper, tmp, zero_sid and end_* are set by lib.sh
#
# Children inherit the agent namespace: a shell started by agentns-unshare,
# its child, its grandchild and a background job all show one session,
# different from the caller's; a second (sibling) shim run gets another.

. "$(dirname "$0")/lib.sh"

# Re-invoked through the shim: print this level, then recurse one deeper.
if [ "${1:-}" = --inside ]; then
	level=$2
	echo "level$level $(session_of $$)"
	if [ "$level" = 0 ]; then
		sleep 30 &
		echo "background $(session_of $!)"
		kill $! 2>/dev/null
		echo "cat $(cat /proc/self/agent_session)"
	fi
	if [ "$level" -lt 2 ]; then
		sh "$0" --inside $((level + 1)) || exit 1
	fi
	exit 0
fi

require_agentns
find_shim
note "shim: $shim"

outer=$(session_of $$)
check "caller's session '$outer' is not 32 hex digits" is_sid "$outer"

# run_shim: runs this script inside a new namespace; sets $out.
run_shim() {
	out=$("$shim" -- sh "$0" --inside 0 2>&1)
	rc=$?
	case $rc in
	0) ;;
	4) skip "the shim lacks CAP_SYS_ADMIN: $out" ;;
	*) fail "shim exited $rc: $out" ;;
	esac
}

field() {
	echo "$out" | sed -n "s/^$1 //p"
}

run_shim
s0=$(field level0)
note "first shim session: $s0"
check "level0 session '$s0' is not 32 hex digits" is_sid "$s0"
check "level0 session is all zero" [ "$s0" != "$zero_sid" ]
check "level0 shares the caller's session $outer" [ "$s0" != "$outer" ]
check "child session '$(field level1)' != $s0" [ "$(field level1)" = "$s0" ]
check "grandchild session '$(field level2)' != $s0" [ "$(field level2)" = "$s0" ]
check "background job session '$(field background)' != $s0" [ "$(field background)" = "$s0" ]
check "cat's /proc/self session '$(field cat)' != $s0" [ "$(field cat)" = "$s0" ]

run_shim
s1=$(field level0)
note "sibling shim session: $s1"
check "sibling session '$s1' is not 32 hex digits" is_sid "$s1"
check "sibling session is all zero" [ "$s1" != "$zero_sid" ]
check "sibling run reused the session $s0" [ "$s1" != "$s0" ]
check "sibling's grandchild '$(field level2)' != $s1" [ "$(field level2)" = "$s1" ]

# The caller itself never moved.
check "caller's session changed to $(session_of $$)" [ "$(session_of $$)" = "$outer" ]

# The namespace's parent id is the caller's session (needs the helper).
if [ -x "$helper" ]; then
	shown=$("$shim" -- "$helper" show) || fail "helper show inside the shim failed"
	check "parent id in '$shown' is not the caller's $outer" \
		[ "${shown#*parent="$outer"}" != "$shown" ]
else
	note "agentns_helper not built: parent id not checked"
fi
pass
