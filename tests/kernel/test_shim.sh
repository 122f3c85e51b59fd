#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2154 # shim, helper, tmp, zero_sid and end_* are set by lib.sh
#
# agentns-unshare on a kernel with agent namespaces: exit codes, the
# intent from -i and $AGENT_INTENT, CAP_SYS_ADMIN gone after exec (the
# agent can neither create another namespace nor leave), and, where setcap
# and setpriv exist, use by a non-root user through a file capability.

. "$(dirname "$0")/lib.sh"

require_agentns
require_root
require_helper
find_shim
note "shim: $shim"
make_tmp
enabled_file=/proc/sys/kernel/agent_ns/enabled
saved_enabled=
capdir=
cleanup() {
	[ -n "$saved_enabled" ] && echo "$saved_enabled" >"$enabled_file"
	rm -rf "$tmp" ${capdir:+"$capdir"}
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

outer=$(session_of $$)
unset AGENT_INTENT

# Whether the file system holding $1 is mounted nosuid, where exec ignores
# file capabilities (Debian 13 mounts /tmp so).
mount_is_nosuid() {
	mnt=$(df -P "$1" 2>/dev/null | awk 'NR == 2 { print $6 }')
	[ -n "$mnt" ] || return 1
	awk -v m="$mnt" '$2 == m { o = $4 } END { exit !(o ~ /(^|,)nosuid(,|$)/) }' \
		/proc/self/mounts
}

# expect_rc WANT DESCRIPTION COMMAND...
expect_rc() {
	want=$1
	what=$2
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	checks=$((checks + 1))
	[ "$rc" = "$want" ] || fail "$what: exit $rc, want $want: $out"
}

expect_rc 0 "--help" "$shim" --help
expect_rc 0 "--version" "$shim" --version
expect_rc 2 "no command" "$shim"
expect_rc 2 "-i without a value" "$shim" -i
expect_rc 2 "unknown option" "$shim" --no-such-option true
expect_rc 0 "true" "$shim" -- true
expect_rc 7 "command's exit status" "$shim" -- sh -c 'exit 7'
expect_rc 127 "missing command" "$shim" -- "$tmp/no-such-command"
printf 'not a program\n' >"$tmp/not-exec"
chmod 644 "$tmp/not-exec"
expect_rc 126 "non-executable command" "$shim" -- "$tmp/not-exec"
# Options after COMMAND belong to COMMAND.
expect_rc 0 "COMMAND's own options" "$shim" sh -c 'exit 0' -i x

# intent_of ARGS...: the intent tag the command sees.
intent_of() {
	shown=$("$@" "$helper" show) || fail "helper show failed under: $*"
	echo "${shown#*intent=}"
}

check "-i tag not applied" [ "$(intent_of "$shim" -i flag-tag --)" = flag-tag ]
check "\$AGENT_INTENT not applied" \
	[ "$(intent_of env AGENT_INTENT=env-tag "$shim" --)" = env-tag ]
check "-i must win over \$AGENT_INTENT" \
	[ "$(intent_of env AGENT_INTENT=env-tag "$shim" --intent flag-tag --)" = flag-tag ]
check "no intent: tag not empty" [ -z "$(intent_of "$shim" --)" ]
long=0123456789012345678901234567890123456789012345678901234567890123456789
check "long intent not cut to 63 bytes" \
	[ "$(intent_of "$shim" -i "$long" --)" = "$(echo "$long" | cut -c1-63)" ]

shown=$("$shim" -- "$helper" show) || fail "helper show failed"
check "parent id in '$shown' is not the caller's $outer" \
	[ "${shown#*parent="$outer"}" != "$shown" ]
check "session in '$shown' equals the caller's" \
	[ "${shown#session="$outer"}" = "$shown" ]

# CAP_SYS_ADMIN (bit 21) must be gone from every set after exec.
status=$("$shim" -- cat /proc/self/status) || fail "cat under the shim failed"
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
	hex=$(echo "$status" | sed -n "s/^$set:[[:space:]]*//p")
	[ -n "$hex" ] || continue
	check "$set=$hex still has CAP_SYS_ADMIN" [ $((0x$hex & 0x200000)) -eq 0 ]
done
expect_rc 4 "re-creating from inside the shim" "$shim" -- "$helper" create
expect_rc 4 "setting a budget from inside the shim" \
	"$shim" -- "$helper" budget -n -s 1000 -a 2

# kernel.agent_ns.enabled=0 is exit code 5.
saved_enabled=$(cat "$enabled_file")
echo 0 >"$enabled_file" || fail "cannot write $enabled_file"
expect_rc 5 "enabled=0" "$shim" -- true
echo "$saved_enabled" >"$enabled_file"
saved_enabled=
expect_rc 0 "re-enabled" "$shim" -- true

# A non-root user: refused plainly, allowed through the file capability.
# util-linux setpriv, not busybox's (which cannot change uids).
# shellcheck disable=SC2086 # $as_nobody is a command prefix, split on purpose
if command -v setcap >/dev/null 2>&1 &&
   setpriv --reuid=65534 --regid=65534 --clear-groups -- true 2>/dev/null; then
	# The copies go where a file capability takes effect: next to the
	# suite when the temporary directory is on a nosuid mount.
	capdir=$tmp
	if mount_is_nosuid "$tmp"; then
		capdir=$suite_dir/shim-caps.$$
		mkdir -p "$capdir" || fail "cannot create $capdir"
	fi
	chmod 755 "$capdir"
	cp "$shim" "$capdir/agentns-unshare"
	cp "$helper" "$capdir/agentns_helper"
	chmod 755 "$capdir/agentns-unshare" "$capdir/agentns_helper"
	as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups --"
	expect_rc 4 "non-root without the file capability" \
		$as_nobody "$capdir/agentns-unshare" -- true
	case $out in
	*"setcap cap_sys_admin+ep"*) ;;
	*) fail "EPERM message does not suggest setcap: $out" ;;
	esac
	if mount_is_nosuid "$capdir"; then
		note "$capdir is on a nosuid mount: file-capability run not checked"
	elif setcap cap_sys_admin+ep "$capdir/agentns-unshare" 2>/dev/null; then
		expect_rc 0 "non-root with cap_sys_admin+ep" \
			$as_nobody "$capdir/agentns-unshare" -i nobody -- \
			"$capdir/agentns_helper" show
		case $out in
		*"session=$zero_sid"* | *"session=$outer"*)
			fail "non-root run did not get a new session: $out" ;;
		*"intent=nobody"*) ;;
		*) fail "non-root run lost its intent: $out" ;;
		esac
		expect_rc 4 "non-root agent re-creating" \
			$as_nobody "$capdir/agentns-unshare" -- "$capdir/agentns_helper" create
	else
		note "setcap failed on $capdir (no xattrs?): file-capability run not checked"
	fi
else
	note "setcap or util-linux setpriv missing: non-root checks skipped"
fi
pass
