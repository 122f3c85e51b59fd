// SPDX-License-Identifier: GPL-2.0
/*
 * The legacy path: an early design used 0x100 as CLONE_NEWAGENT, but 0x100
 * is CLONE_VM. unshare(0x100) therefore must behave exactly as mainline's
 * unshare(CLONE_VM): 0 and no effect from a single-threaded caller, EINVAL
 * from a multi-threaded one, and in no case a new agent namespace. The real
 * CLONE_NEWAGENT bit (1 << 38) is clone3-only: unshare(2) must refuse it.
 *
 * What is asserted is "no namespace was created", checked through /proc,
 * prctl and the nsfs inode; a positive control (prctl creation) proves the
 * same probe does notice a change.
 */
#include "agentns_test.h"

#include <pthread.h>
#include <time.h>

#define LEGACY_CLONE_NEWAGENT	0x100UL	/* == CLONE_VM */

struct ns_state {
	char session[SID_HEX_LEN + 1];
	char link[64];
};

static void snapshot(struct __test_metadata *_metadata, struct ns_state *s)
{
	own_session(_metadata, s->session);
	ns_link(_metadata, 0, s->link, sizeof(s->link));
}

static void expect_same(struct __test_metadata *_metadata,
			const struct ns_state *before, const char *what)
{
	struct ns_state now;

	snapshot(_metadata, &now);
	CHECK(!strcmp(before->session, now.session),
	      "%s created an agent namespace: session %s -> %s", what,
	      before->session, now.session);
	CHECK(!strcmp(before->link, now.link),
	      "%s moved the task: ns link %s -> %s", what, before->link,
	      now.link);
}

static int release_fd[2];

static void *parked_thread(void *arg)
{
	char c;

	(void)arg;
	/* Keep the thread group at two tasks until the main thread is done. */
	if (read(release_fd[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

static void legacy_checks(struct __test_metadata *_metadata, const char *where)
{
	struct ns_state before;
	pthread_t thread;
	long rc;

	snapshot(_metadata, &before);
	note("%s: session %s", where, before.session);

	/* Single-threaded: mainline unshare(CLONE_VM) is a successful no-op. */
	rc = syscall(SYS_unshare, LEGACY_CLONE_NEWAGENT);
	CHECK(rc == 0, "%s: single-threaded unshare(0x100): rc=%ld errno=%s, want 0 like mainline",
	      where, rc, strerror(errno));
	expect_same(_metadata, &before, "unshare(0x100)");

	/* The real bit does not fit unshare's CLONE_NS_ALL on purpose. */
	rc = syscall(SYS_unshare, (unsigned long)CLONE_NEWAGENT);
	CHECK(rc == -1 && errno == EINVAL,
	      "%s: unshare(1 << 38): rc=%ld errno=%s, want EINVAL",
	      where, rc, strerror(errno));
	expect_same(_metadata, &before, "unshare(1 << 38)");

	CHECK(pipe(release_fd) == 0, "pipe: %s", strerror(errno));
	CHECK(pthread_create(&thread, NULL, parked_thread, NULL) == 0,
	      "pthread_create failed");
	rc = syscall(SYS_unshare, LEGACY_CLONE_NEWAGENT);
	CHECK(rc == -1 && errno == EINVAL,
	      "%s: multi-threaded unshare(0x100): rc=%ld errno=%s, want EINVAL",
	      where, rc, strerror(errno));
	expect_same(_metadata, &before, "multi-threaded unshare(0x100)");
	close(release_fd[1]);
	pthread_join(thread, NULL);
	close(release_fd[0]);
	wait_single_threaded(_metadata);
}

/* None of this needs privileges: unprivileged callers are covered too. */
TEST(legacy_unshare_creates_nothing)
{
	require_agentns(_metadata);
	legacy_checks(_metadata, "caller's namespace");
}

TEST(legacy_unshare_in_created_namespace)
{
	struct ns_state before, after;

	require_agentns(_metadata);
	if (!has_cap(CAP_SYS_ADMIN))
		SKIP(return, "no CAP_SYS_ADMIN: checks from inside a created namespace skipped");

	/* Positive control: a real creation must be visible to the probe. */
	snapshot(_metadata, &before);
	ASSERT_EQ(0, agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
		TH_LOG("PR_SET_AGENT_NS: %s", strerror(errno));
	snapshot(_metadata, &after);
	CHECK(strcmp(before.session, after.session) &&
	      strcmp(before.link, after.link),
	      "PR_SET_AGENT_NS changed neither session nor ns link");

	legacy_checks(_metadata, "created namespace");
}

TEST_HARNESS_MAIN
