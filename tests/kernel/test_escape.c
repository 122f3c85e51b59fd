// SPDX-License-Identifier: GPL-2.0
/*
 * An unprivileged process in an agent namespace must not get out of it:
 * it tries what an escaping agent would, as nobody from inside a fresh
 * user namespace (where it holds CAP_SYS_ADMIN):
 *  - prctl(PR_SET_AGENT_NS), clone3(CLONE_NEWUSER | CLONE_NEWAGENT) and a
 *    nested namespace below that: each lands in a child of its namespace,
 *    whose counters keep growing with everything the escapee does;
 *  - setns(fd, 0) into the initial namespace or a sibling: EPERM.
 * Counting is checked through a sentinel that stays in the namespace.
 * The reaper killing the escapees is test_reaper_escape.
 */
#include "agentns_test.h"

#define BURST	2000

static int to_parent[2], to_child[2];

static void send_word(struct __test_metadata *_metadata, int fd,
		      unsigned long v)
{
	CHECK(write(fd, &v, sizeof(v)) == sizeof(v), "pipe write: %s",
	      strerror(errno));
}

static unsigned long recv_word(struct __test_metadata *_metadata, int fd)
{
	unsigned long v;

	CHECK(read(fd, &v, sizeof(v)) == sizeof(v), "pipe read: %s",
	      strerror(errno));
	return v;
}

static void burst(void)
{
	int i;

	for (i = 0; i < BURST; i++)
		syscall(SYS_getppid);
}

/*
 * In the escapee: tell the parent we are ready, wait for "go", spend
 * BURST syscalls, report done. Our own view of the parent id must be
 * the namespace we tried to leave.
 */
static void escaped(struct __test_metadata *_metadata, const char *how,
		    const char *from_sid)
{
	char parent[SID_HEX_LEN + 1], own[SID_HEX_LEN + 1];

	prctl_parent(_metadata, parent);
	prctl_session(_metadata, own);
	CHECK(strcmp(own, from_sid), "%s: still in %s", how, from_sid);
	CHECK(!strcmp(parent, from_sid),
	      "%s: new namespace's parent is %s, not %s", how, parent,
	      from_sid);
	send_word(_metadata, to_parent[1], 1);
	recv_word(_metadata, to_child[0]);
	burst();
	send_word(_metadata, to_parent[1], 2);
	/* Stay (and keep the sentinel alive) until the parent has read. */
	recv_word(_metadata, to_child[0]);
}

/* Parent side: the namespace of sentinel must see the escapee's burst. */
static void expect_charged(struct __test_metadata *_metadata, const char *how,
			   pid_t sentinel)
{
	unsigned long long before, after;

	CHECK(recv_word(_metadata, to_parent[0]) == 1, "%s: escapee failed", how);
	before = proc_syscalls(_metadata, sentinel);
	send_word(_metadata, to_child[1], 1);
	CHECK(recv_word(_metadata, to_parent[0]) == 2, "%s: escapee failed", how);
	after = proc_syscalls(_metadata, sentinel);
	send_word(_metadata, to_child[1], 3);
	CHECK(after - before >= BURST,
	      "%s: the namespace left behind counted %llu syscalls of a burst of %d: the escapee is not charged",
	      how, after - before, BURST);
	note("%s: charged %llu syscalls to the namespace left behind", how,
	     after - before);
}

static void escape_prctl(struct __test_metadata *_metadata, const char *from)
{
	become_nobody(_metadata);
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == -1 && errno == EPERM,
	      "PR_SET_AGENT_NS as nobody without a user namespace: want EPERM");
	enter_new_userns(_metadata);
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS in a user namespace: %s", strerror(errno));
	escaped(_metadata, "unshare(CLONE_NEWUSER)+PR_SET_AGENT_NS", from);
}

static void escape_nested(struct __test_metadata *_metadata, const char *from)
{
	char mid[SID_HEX_LEN + 1];

	become_nobody(_metadata);
	enter_new_userns(_metadata);
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS: %s", strerror(errno));
	prctl_session(_metadata, mid);
	{
		char parent[SID_HEX_LEN + 1];

		prctl_parent(_metadata, parent);
		CHECK(!strcmp(parent, from), "first level's parent is %s, not %s",
		      parent, from);
	}
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "second PR_SET_AGENT_NS: %s", strerror(errno));
	escaped(_metadata, "two levels down", mid);
}

static void escape_clone3(struct __test_metadata *_metadata, const char *from)
{
	pid_t pid;

	become_nobody(_metadata);
	pid = sys_clone3(CLONE_NEWUSER | CLONE_NEWAGENT);
	if (pid < 0 && errno != EINVAL)
		SKIP_EXIT("clone3(CLONE_NEWUSER|CLONE_NEWAGENT) as nobody: %s",
			  strerror(errno));
	CHECK(pid >= 0, "clone3(CLONE_NEWUSER|CLONE_NEWAGENT): %s",
	      strerror(errno));
	if (pid == 0) {
		escaped(_metadata, "clone3(CLONE_NEWUSER|CLONE_NEWAGENT)", from);
		fflush(NULL);
		_exit(0);
	}
	CHECK(wait_exit(_metadata, pid) == 0, "clone3 child failed");
}

/* setns(2) out of the subtree: to init's namespace and to a sibling's. */
static void escape_setns(struct __test_metadata *_metadata, const char *from,
			 pid_t sibling)
{
	char path[64];
	int fd_init, fd_sib;

	(void)from;
	fd_init = open("/proc/1/ns/agent", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/agent", sibling);
	fd_sib = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd_init >= 0 && fd_sib >= 0, "open ns files: %s",
	      strerror(errno));
	become_nobody(_metadata);
	enter_new_userns(_metadata);
	CHECK(setns(fd_init, 0) == -1 && errno == EPERM,
	      "setns into pid 1's agent namespace from a user namespace: want EPERM, got %s",
	      strerror(errno));
	CHECK(setns(fd_sib, 0) == -1 && errno == EPERM,
	      "setns into a sibling agent namespace from a user namespace: want EPERM, got %s",
	      strerror(errno));
	send_word(_metadata, to_parent[1], 3);
}

enum { E_PRCTL, E_NESTED, E_CLONE3, E_SETNS };

static int how;
static pid_t sibling;
static char sid[SID_HEX_LEN + 1];

static void escapee(struct __test_metadata *_metadata)
{
	switch (how) {
	case E_PRCTL:
		escape_prctl(_metadata, sid);
		break;
	case E_NESTED:
		escape_nested(_metadata, sid);
		break;
	case E_CLONE3:
		escape_clone3(_metadata, sid);
		break;
	case E_SETNS:
		escape_setns(_metadata, sid, sibling);
		break;
	}
}

/* Child: a fresh namespace, a sentinel in it, then the escape. */
static void run(struct __test_metadata *_metadata)
{
	pid_t sentinel;
	int rc;

	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS: %s", strerror(errno));
	prctl_session(_metadata, sid);
	sentinel = fork_run(_metadata, wait_forever);
	send_word(_metadata, to_parent[1], (unsigned long)sentinel);
	rc = wait_exit(_metadata, fork_run(_metadata, escapee));
	kill(sentinel, SIGKILL);
	wait_exit(_metadata, sentinel);
	if (rc == KSFT_SKIP)
		exit(KSFT_SKIP);
	CHECK(rc == 0, "escapee exited with %d", rc);
}

static void one(struct __test_metadata *_metadata, const char *what, int way)
{
	pid_t pid, sentinel;
	int rc;

	CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0, "pipe: %s",
	      strerror(errno));
	how = way;
	pid = fork_run(_metadata, run);
	sentinel = (pid_t)recv_word(_metadata, to_parent[0]);
	if (how == E_SETNS)
		CHECK(recv_word(_metadata, to_parent[0]) == 3, "%s: escapee failed", what);
	else
		expect_charged(_metadata, what, sentinel);
	rc = wait_exit(_metadata, pid);
	if (rc == KSFT_SKIP)
		SKIP_EXIT("%s: no unprivileged user namespaces here", what);
	CHECK(rc == 0, "%s: child exited with %d", what, rc);
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
}

/* The sibling: a namespace of its own next to the escapee's. */
static void sibling_ns(struct __test_metadata *_metadata)
{
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "sibling PR_SET_AGENT_NS: %s", strerror(errno));
	send_word(_metadata, to_parent[1], 4);
	wait_forever(_metadata);
}

#define REQUIRE_ESCAPE_SETUP()					\
	do {							\
		require_agentns(_metadata);			\
		require_root(_metadata);			\
		require_cap_sys_admin(_metadata);		\
	} while (0)

TEST(userns_prctl_stays_inside)
{
	REQUIRE_ESCAPE_SETUP();
	one(_metadata, "unshare(CLONE_NEWUSER) + PR_SET_AGENT_NS", E_PRCTL);
}

TEST(nested_prctl_stays_inside)
{
	REQUIRE_ESCAPE_SETUP();
	one(_metadata, "nested PR_SET_AGENT_NS", E_NESTED);
}

TEST(userns_clone3_stays_inside)
{
	REQUIRE_ESCAPE_SETUP();
	one(_metadata, "clone3(CLONE_NEWUSER | CLONE_NEWAGENT)", E_CLONE3);
}

TEST(setns_out_of_subtree_eperm)
{
	REQUIRE_ESCAPE_SETUP();

	/* A sibling namespace to try to setns into. */
	CHECK(pipe(to_parent) == 0, "pipe: %s", strerror(errno));
	sibling = fork_run(_metadata, sibling_ns);
	CHECK(recv_word(_metadata, to_parent[0]) == 4,
	      "sibling has no namespace");
	close(to_parent[0]);
	close(to_parent[1]);
	one(_metadata, "setns out of the subtree", E_SETNS);
	kill(sibling, SIGKILL);
	wait_exit(_metadata, sibling);
}

TEST_HARNESS_MAIN
