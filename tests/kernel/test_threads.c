// SPDX-License-Identifier: GPL-2.0
/*
 * All threads of a process share one agent namespace: in a process with
 * a second thread, PR_SET_AGENT_NS and setns(agent fd, 0) fail with
 * EINVAL and leave the namespace alone; clone3(CLONE_THREAD |
 * CLONE_NEWAGENT) fails with EINVAL. Once the thread is gone,
 * PR_SET_AGENT_NS works again.
 */
#include "agentns_test.h"

#include <pthread.h>

/* A second thread: sleeps until cancelled. */
static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void multithreaded(struct __test_metadata *_metadata)
{
	char before[SID_HEX_LEN + 1], after[SID_HEX_LEN + 1];
	pthread_t th;
	long rc;
	int fd;

	/* A namespace to try to enter by fd: our own parent's is fine. */
	fd = open("/proc/self/ns/agent", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open /proc/self/ns/agent: %s", strerror(errno));
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS single-threaded: %s", strerror(errno));
	prctl_session(_metadata, before);

	CHECK(pthread_create(&th, NULL, idle_thread, NULL) == 0,
	      "pthread_create failed");

	rc = agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0);
	CHECK(rc == -1 && errno == EINVAL,
	      "PR_SET_AGENT_NS with two threads: rc=%ld errno=%s, want EINVAL",
	      rc, strerror(errno));
	prctl_session(_metadata, after);
	CHECK(!strcmp(before, after), "namespace changed to %s", after);

	rc = setns(fd, 0);
	CHECK(rc == -1 && errno == EINVAL,
	      "setns(agent fd, 0) with two threads: rc=%ld errno=%s, want EINVAL",
	      rc, strerror(errno));
	prctl_session(_metadata, after);
	CHECK(!strcmp(before, after), "namespace changed to %s by setns",
	      after);

	CHECK(pthread_cancel(th) == 0, "pthread_cancel");
	CHECK(pthread_join(th, NULL) == 0, "pthread_join");
	wait_single_threaded(_metadata);
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS single-threaded again: %s", strerror(errno));
	close(fd);
}

/*
 * clone3(CLONE_THREAD | CLONE_NEWAGENT) must be refused before anything
 * is created. Run in a child: on a kernel that accepts it, the new thread
 * returns on a bogus stack and takes the child down, not the test.
 */
static void clone3_thread(struct __test_metadata *_metadata)
{
	static char stack[64 * 1024];
	struct agentns_clone_args args;
	long rc;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
		     CLONE_THREAD | CLONE_NEWAGENT;
	args.stack = (__u64)(unsigned long)stack;
	args.stack_size = sizeof(stack);
	rc = syscall(__NR_clone3, &args, sizeof(args));
	CHECK(rc == -1 && errno == EINVAL,
	      "clone3(CLONE_THREAD|CLONE_NEWAGENT): rc=%ld errno=%s, want EINVAL",
	      rc, strerror(errno));
}

TEST(multithreaded_creation_einval)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	run_in_child(_metadata,
		     "PR_SET_AGENT_NS and setns in a multithreaded process",
		     multithreaded);
}

TEST(clone3_thread_newagent_einval)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	run_in_child(_metadata, "clone3(CLONE_THREAD | CLONE_NEWAGENT)",
		     clone3_thread);
}

TEST_HARNESS_MAIN
