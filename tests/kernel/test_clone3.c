// SPDX-License-Identifier: GPL-2.0
/*
 * clone3(CLONE_NEWAGENT): the child starts in a fresh agent namespace whose
 * parent id is the caller's session, while the caller stays where it was.
 * Without the flag the child shares the caller's namespace.
 */
#include "agentns_test.h"

struct child_view {
	char proc[SID_HEX_LEN + 1];	/* child's own /proc/self view */
	char prctl[SID_HEX_LEN + 1];	/* child's PR_GET_AGENT_SESSION_ID */
	char parent[SID_HEX_LEN + 1];	/* child's PR_GET_AGENT_PARENT_ID */
	char outside[SID_HEX_LEN + 1];	/* /proc/CHILD read by the caller */
};

static void child_report(struct __test_metadata *_metadata, int out, int hold)
{
	struct child_view v;
	char c;

	memset(&v, 0, sizeof(v));
	proc_session(_metadata, 0, v.proc);
	prctl_session(_metadata, v.prctl);
	prctl_parent(_metadata, v.parent);
	if (write(out, &v, sizeof(v)) != sizeof(v))
		_exit(1);
	/* Stay alive until the caller has read our /proc entry. */
	if (read(hold, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

static void clone3_view(struct __test_metadata *_metadata, __u64 flags,
			struct child_view *v)
{
	int out[2], hold[2];
	pid_t pid;

	CHECK(pipe(out) == 0 && pipe(hold) == 0, "pipe: %s", strerror(errno));
	pid = sys_clone3(flags);
	CHECK(pid >= 0, "clone3(%#llx): %s", (unsigned long long)flags,
	      strerror(errno));
	if (pid == 0) {
		close(out[0]);
		close(hold[1]);
		child_report(_metadata, out[1], hold[0]);
	}
	close(out[1]);
	close(hold[0]);
	CHECK(read(out[0], v, sizeof(*v)) == sizeof(*v),
	      "clone3 child sent no report");
	proc_session(_metadata, pid, v->outside);
	close(hold[1]);
	close(out[0]);
	CHECK(wait_exit(_metadata, pid) == 0, "clone3 child failed");
	CHECK(!strcmp(v->proc, v->prctl) && !strcmp(v->proc, v->outside),
	      "child views disagree: /proc/self %s prctl %s /proc/%d %s",
	      v->proc, v->prctl, pid, v->outside);
}

static void test_from(struct __test_metadata *_metadata, const char *where)
{
	char mine[SID_HEX_LEN + 1], after[SID_HEX_LEN + 1];
	struct child_view plain, a, b;

	own_session(_metadata, mine);
	note("%s: session %s", where, mine);

	clone3_view(_metadata, 0, &plain);
	CHECK(!strcmp(plain.proc, mine),
	      "%s: clone3 without CLONE_NEWAGENT: child session %s, want %s",
	      where, plain.proc, mine);

	clone3_view(_metadata, CLONE_NEWAGENT, &a);
	CHECK(!is_zero_hex(a.proc), "%s: CLONE_NEWAGENT child has zero session",
	      where);
	CHECK(strcmp(a.proc, mine),
	      "%s: CLONE_NEWAGENT child shares the caller's session %s",
	      where, mine);
	CHECK(!strcmp(a.parent, mine),
	      "%s: CLONE_NEWAGENT child parent id %s, want caller's %s",
	      where, a.parent, mine);

	clone3_view(_metadata, CLONE_NEWAGENT, &b);
	CHECK(strcmp(a.proc, b.proc),
	      "%s: two CLONE_NEWAGENT children got the same session %s",
	      where, a.proc);

	own_session(_metadata, after);
	CHECK(!strcmp(mine, after), "%s: caller's session moved %s -> %s",
	      where, mine, after);
}

static void newagent_without_cap(struct __test_metadata *_metadata)
{
	pid_t pid;

	drop_cap_sys_admin(_metadata);
	pid = sys_clone3(CLONE_NEWAGENT);
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		wait_exit(_metadata, pid);
	CHECK(pid == -1, "clone3(CLONE_NEWAGENT) without CAP_SYS_ADMIN succeeded");
	note("clone3(CLONE_NEWAGENT) without CAP_SYS_ADMIN: %s",
	     strerror(errno));
}

TEST(from_callers_namespace)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	test_from(_metadata, "caller's namespace");
}

TEST(newagent_needs_cap_sys_admin)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	run_in_child(_metadata, "clone3(CLONE_NEWAGENT) without CAP_SYS_ADMIN",
		     newagent_without_cap);
}

/* Again from a created namespace: the parent id must be non-zero. */
TEST(from_created_namespace)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	ASSERT_EQ(0, agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
		TH_LOG("PR_SET_AGENT_NS: %s", strerror(errno));
	test_from(_metadata, "created namespace");
}

TEST_HARNESS_MAIN
