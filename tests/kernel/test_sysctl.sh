#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2154 # shim, helper, tmp, zero_sid and end_* are set by lib.sh
#
# kernel.agent_ns.enabled and kernel.agent_ns.max_lifetime: defaults, the
# accepted range, enabled=0 making creation fail with EOPNOTSUPP, and both
# values restored afterwards whatever happens.

. "$(dirname "$0")/lib.sh"

dir=/proc/sys/kernel/agent_ns
enabled=$dir/enabled
lifetime=$dir/max_lifetime

if [ ! -d "$dir" ]; then
	[ -e /proc/self/agent_session ] &&
		fail "agent namespaces present but $dir is missing"
	skip "kernel has no agent namespaces (no $dir)"
fi
require_root
require_helper
check "$enabled missing" [ -f "$enabled" ]
check "$lifetime missing" [ -f "$lifetime" ]

saved_enabled=$(cat "$enabled")
saved_lifetime=$(cat "$lifetime")
restore() {
	echo "$saved_enabled" >"$enabled"
	echo "$saved_lifetime" >"$lifetime"
}
trap restore EXIT
trap 'exit 1' INT TERM HUP
note "enabled=$saved_enabled max_lifetime=$saved_lifetime"

is_uint() {
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	esac
	return 0
}

is_bool() {
	[ "$1" = 0 ] || [ "$1" = 1 ]
}

check "enabled='$saved_enabled' is not 0 or 1" is_bool "$saved_enabled"
check "max_lifetime='$saved_lifetime' is not a positive integer" \
	is_uint "$saved_lifetime"
check "max_lifetime is 0" [ "$saved_lifetime" -gt 0 ]

# Defaults, unless the host persists its own values (then they are not
# defaults any more, and the VM/initramfs runs still check them).
persisted=$(grep -s -l 'agent_ns' /etc/sysctl.conf /etc/sysctl.d/*.conf \
	/run/sysctl.d/*.conf /usr/lib/sysctl.d/*.conf /proc/cmdline)
if [ -z "$persisted" ]; then
	check "default enabled is $saved_enabled, want 1" [ "$saved_enabled" = 1 ]
	check "default max_lifetime is $saved_lifetime, want 86400" \
		[ "$saved_lifetime" = 86400 ]
else
	# shellcheck disable=SC2086,SC2116 # squashes the file list onto one line
	note "agent_ns set in $(echo $persisted): defaults not checked"
fi

# write FILE VALUE: 0 when the kernel accepted the write.
write() {
	(echo "$2" >"$1") 2>/dev/null
}

check "enabled=1 refused" write "$enabled" 1
# shellcheck disable=SC2016 # expanded by eval, on purpose
check "enabled=2 accepted (want EINVAL)" eval '! write "$enabled" 2'
check "enabled=2 changed the value to $(cat "$enabled")" \
	[ "$(cat "$enabled")" = 1 ]

check "enabled=0 refused" write "$enabled" 0
check "enabled reads $(cat "$enabled") after writing 0" [ "$(cat "$enabled")" = 0 ]
out=$("$helper" create 2>&1)
rc=$?
check "creation with enabled=0: exit $rc ($out), want 5 (EOPNOTSUPP)" [ "$rc" = 5 ]
find_shim_quiet() {
	(find_shim >/dev/null && echo "$shim")
}
shim_path=$(find_shim_quiet)
if [ -n "$shim_path" ]; then
	"$shim_path" -- true 2>/dev/null
	rc=$?
	check "agentns-unshare with enabled=0: exit $rc, want 5" [ "$rc" = 5 ]
fi

check "enabled=1 refused" write "$enabled" 1
out=$("$helper" create 2>&1)
rc=$?
check "creation after re-enabling: exit $rc ($out), want 0" [ "$rc" = 0 ]

check "max_lifetime=3600 refused" write "$lifetime" 3600
check "max_lifetime reads $(cat "$lifetime") after writing 3600" \
	[ "$(cat "$lifetime")" = 3600 ]

restore
check "enabled not restored" [ "$(cat "$enabled")" = "$saved_enabled" ]
check "max_lifetime not restored" [ "$(cat "$lifetime")" = "$saved_lifetime" ]
pass
