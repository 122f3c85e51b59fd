# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Shared helpers for the shell tests; sourced, never run on its own.
# POSIX sh: runs under busybox ash in the test initramfs and dash on Debian.

suite_dir=$(cd "$(dirname "$0")" && pwd)
helper=$suite_dir/agentns_helper
checks=0

skip() {
	echo "SKIP: $*"
	exit 4
}

fail() {
	echo "FAIL: $*"
	exit 1
}

note() {
	echo "# $*"
}

# check DESCRIPTION COMMAND...: run COMMAND, fail with DESCRIPTION unless 0.
check() {
	what=$1
	shift
	checks=$((checks + 1))
	"$@" || fail "$what"
}

pass() {
	echo "PASS: ${0##*/} ($checks checks)"
	exit 0
}

# shellcheck disable=SC2034 # used by the tests that source this file
zero_sid=00000000000000000000000000000000

# 32 lowercase hex digits, without relying on grep -E intervals.
is_sid() {
	[ ${#1} -eq 32 ] || return 1
	case $1 in
	*[!0-9a-f]*) return 1 ;;
	esac
	return 0
}

session_of() {
	cat "/proc/$1/agent_session" 2>/dev/null
}

require_agentns() {
	[ -e /proc/self/agent_session ] ||
		skip "kernel has no agent namespaces (no /proc/self/agent_session)"
	if [ -r /proc/sys/kernel/agent_ns/enabled ] &&
	   [ "$(cat /proc/sys/kernel/agent_ns/enabled)" = 0 ]; then
		skip "kernel.agent_ns.enabled=0: agent namespaces are switched off"
	fi
}

require_root() {
	[ "$(id -u 2>/dev/null)" = 0 ] || skip "needs root"
}

require_helper() {
	[ -x "$helper" ] || fail "$helper missing: run make first"
}

# The shim: $AGENTNS_UNSHARE, the tree's build, or one on PATH.
find_shim() {
	if [ -n "${AGENTNS_UNSHARE:-}" ]; then
		[ -x "$AGENTNS_UNSHARE" ] ||
			fail "AGENTNS_UNSHARE=$AGENTNS_UNSHARE is not executable"
		shim=$AGENTNS_UNSHARE
	elif [ -x "$suite_dir/../../userspace/agentns-unshare" ]; then
		shim=$suite_dir/../../userspace/agentns-unshare
	elif command -v agentns-unshare >/dev/null 2>&1; then
		# shellcheck disable=SC2034 # used by the tests that source this file
		shim=$(command -v agentns-unshare)
	else
		skip "agentns-unshare not found (build userspace/ or set AGENTNS_UNSHARE)"
	fi
}

# Scratch directory; a bare initramfs may lack /tmp.
make_tmp() {
	base=${TMPDIR:-/tmp}
	[ -d "$base" ] && [ -w "$base" ] || base=$suite_dir
	tmp=$base/agentns-test.$$
	rm -rf "$tmp"
	mkdir -p "$tmp" || fail "cannot create $tmp"
}

# tracefs at $tracing, mounted here if it was not ($mounted_here is then 1:
# unmount it when done).
require_tracefs() {
	tracing=/sys/kernel/tracing
	mounted_here=
	if [ ! -d "$tracing/events" ]; then
		if [ -d "$tracing" ] && mount -t tracefs nodev "$tracing" 2>/dev/null; then
			mounted_here=1
		fi
		[ -d "$tracing/events" ] ||
			skip "tracefs not available at $tracing (kernel without CONFIG_TRACING?)"
	fi
}

# A private trace instance, $inst, with EVENTS enabled (a directory under
# events/: a system such as agent_ns, or one event such as
# workqueue/workqueue_execute_start), so nobody else's tracing is disturbed.
# Skips where tracefs has no instances or no such events. trace_cleanup
# removes it and unmounts what require_tracefs mounted.
trace_instance() {
	inst=$tracing/instances/$1_$$
	inst_events=$2
	mkdir "$inst" 2>/dev/null ||
		skip "cannot create a trace instance under $tracing/instances"
	[ -e "$inst/events/$inst_events/enable" ] || skip "no $inst_events events"
	echo 1 >"$inst/events/$inst_events/enable" ||
		fail "cannot enable $inst_events"
	echo 1 >"$inst/tracing_on"
}

trace_cleanup() {
	if [ -n "${inst:-}" ] && [ -d "$inst" ]; then
		echo 0 >"$inst/events/$inst_events/enable" 2>/dev/null
		rmdir "$inst" 2>/dev/null
	fi
	if [ -n "${mounted_here:-}" ]; then
		umount "$tracing" 2>/dev/null
	fi
	return 0
}

# The processes in some agent namespace other than the initial one.
agent_tasks() {
	for f in /proc/[0-9]*/agent_session; do
		s=$(cat "$f" 2>/dev/null) || continue
		[ -n "$s" ] && [ "$s" != "$zero_sid" ] && echo "${f%/agent_session}"
	done
}
