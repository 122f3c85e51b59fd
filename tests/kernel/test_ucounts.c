// SPDX-License-Identifier: GPL-2.0
/*
 * Agent namespaces are bounded like every other type:
 * /proc/sys/user/max_agent_namespaces, per user namespace through
 * ucounts (an unprivileged user sets 1 in its own user namespace: the
 * first creation works, the second fails with ENOSPC), and nesting
 * stops at 32 levels with ENOSPC.
 */
#include "agentns_test.h"

#define MAX_NS	"/proc/sys/user/max_agent_namespaces"
#define MAX_LEVEL	32

static void limited_user(void)
{
	char buf[32];
	long rc;

	become_nobody();
	enter_new_userns();
	check(write_text(MAX_NS, "1") == 0,
	      "write 1 to %s in our own user namespace", MAX_NS);
	check(read_text(MAX_NS, buf, sizeof(buf)) > 0 && atoi(buf) == 1,
	      "%s reads '%s' after writing 1", MAX_NS, buf);
	check(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "first PR_SET_AGENT_NS under max 1: %s", strerror(errno));
	/* The first one stays alive: the new one would be its child. */
	rc = agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0);
	check(rc == -1 && errno == ENOSPC,
	      "second PR_SET_AGENT_NS under max 1: rc=%ld errno=%s, want ENOSPC",
	      rc, strerror(errno));
	rc = sys_clone3(CLONE_NEWAGENT);
	if (rc == 0)
		_exit(0);
	check(rc == -1 && errno == ENOSPC,
	      "clone3(CLONE_NEWAGENT) under max 1: rc=%ld errno=%s, want ENOSPC",
	      rc, strerror(errno));
}

static void depth(void)
{
	char hex[SID_HEX_LEN + 1];
	int from_init, n = 0;
	long rc;

	proc_session(0, hex);
	from_init = is_zero_hex(hex);
	for (;;) {
		rc = agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0);
		if (rc)
			break;
		n++;
		check(n <= MAX_LEVEL, "more than %d nested agent namespaces",
		      MAX_LEVEL);
	}
	check(errno == ENOSPC, "nesting stopped after %d with %s, want ENOSPC",
	      n, strerror(errno));
	if (from_init)
		check(n == MAX_LEVEL, "nesting from init stopped at %d, want %d",
		      n, MAX_LEVEL);
	note("nested %d levels, then ENOSPC", n);
}

int main(void)
{
	char buf[32];

	test_init("test_ucounts");
	require_agentns();
	require_root();
	require_cap_sys_admin();

	check(read_text(MAX_NS, buf, sizeof(buf)) > 0 && atoi(buf) > 0,
	      "%s missing or zero", MAX_NS);
	run_in_child("max_agent_namespaces in a user namespace", limited_user);
	run_in_child("nesting depth", depth);
	return test_done();
}
