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

static void limited_user(struct __test_metadata *_metadata)
{
	char buf[32];
	long rc;

	become_nobody(_metadata);
	enter_new_userns(_metadata);
	CHECK(write_text(MAX_NS, "1") == 0,
	      "write 1 to %s in our own user namespace", MAX_NS);
	CHECK(read_text(MAX_NS, buf, sizeof(buf)) > 0 && atoi(buf) == 1,
	      "%s reads '%s' after writing 1", MAX_NS, buf);
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "first PR_SET_AGENT_NS under max 1: %s", strerror(errno));
	/* The first one stays alive: the new one would be its child. */
	rc = agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0);
	CHECK(rc == -1 && errno == ENOSPC,
	      "second PR_SET_AGENT_NS under max 1: rc=%ld errno=%s, want ENOSPC",
	      rc, strerror(errno));
	rc = sys_clone3(CLONE_NEWAGENT);
	if (rc == 0)
		_exit(0);
	CHECK(rc == -1 && errno == ENOSPC,
	      "clone3(CLONE_NEWAGENT) under max 1: rc=%ld errno=%s, want ENOSPC",
	      rc, strerror(errno));
}

static void depth(struct __test_metadata *_metadata)
{
	char hex[SID_HEX_LEN + 1];
	int from_init, n = 0;
	long rc;

	proc_session(_metadata, 0, hex);
	from_init = is_zero_hex(hex);
	for (;;) {
		rc = agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0);
		if (rc)
			break;
		n++;
		CHECK(n <= MAX_LEVEL, "more than %d nested agent namespaces",
		      MAX_LEVEL);
	}
	CHECK(errno == ENOSPC, "nesting stopped after %d with %s, want ENOSPC",
	      n, strerror(errno));
	if (from_init)
		CHECK(n == MAX_LEVEL, "nesting from init stopped at %d, want %d",
		      n, MAX_LEVEL);
	note("nested %d levels, then ENOSPC", n);
}

TEST(max_agent_namespaces_in_userns)
{
	char buf[32];

	require_agentns(_metadata);
	require_root(_metadata);
	require_cap_sys_admin(_metadata);

	CHECK(read_text(MAX_NS, buf, sizeof(buf)) > 0 && atoi(buf) > 0,
	      "%s missing or zero", MAX_NS);
	run_in_child(_metadata, "max_agent_namespaces in a user namespace",
		     limited_user);
}

TEST(nesting_depth)
{
	require_agentns(_metadata);
	require_root(_metadata);
	require_cap_sys_admin(_metadata);
	run_in_child(_metadata, "nesting depth", depth);
}

TEST_HARNESS_MAIN
