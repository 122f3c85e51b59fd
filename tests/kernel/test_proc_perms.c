// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/agent_counters follows the rule of /proc/PID/io: another
 * user cannot read a root process's counters (EACCES), a process can
 * read its own, /proc/PID/agent_session stays readable by everybody.
 * PR_GET_AGENT_INTENT_TAG writes all 64 bytes: the tag, then zeros, so
 * a short tag read after a long one carries no stale bytes.
 */
#include "agentns_test.h"

static pid_t target;

static void as_nobody(struct __test_metadata *_metadata)
{
	char path[64], buf[512], hex[SID_HEX_LEN + 1];
	ssize_t n;

	become_nobody(_metadata);
	snprintf(path, sizeof(path), "/proc/%d/agent_counters", target);
	n = read_text(path, buf, sizeof(buf));
	CHECK(n == -EACCES || n == -EPERM,
	      "nobody read root's %s: %zd '%s', want EACCES", path, n,
	      n > 0 ? buf : "");
	n = read_text("/proc/self/agent_counters", buf, sizeof(buf));
	CHECK(n > 0 && strstr(buf, "\"total_syscalls\":"),
	      "own /proc/self/agent_counters as nobody: %zd %s", n,
	      n < 0 ? strerror((int)-n) : buf);
	proc_session(_metadata, target, hex);
	CHECK(!is_zero_hex(hex), "root's agent_session reads as zero");
}

static void intent_padding(struct __test_metadata *_metadata)
{
	char long_tag[64], out[AGENT_NS_INTENT_TAG_LEN];
	size_t i;

	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS: %s", strerror(errno));
	memset(long_tag, 'L', 63);
	long_tag[63] = '\0';
	CHECK(agent_prctl(PR_SET_AGENT_INTENT_TAG, (unsigned long)long_tag,
			  0, 0, 0) == 0, "set 63-byte tag: %s", strerror(errno));
	CHECK(agent_prctl(PR_SET_AGENT_INTENT_TAG, (unsigned long)"ab",
			  0, 0, 0) == 0, "set 2-byte tag: %s", strerror(errno));
	memset(out, 0xa5, sizeof(out));
	CHECK(agent_prctl(PR_GET_AGENT_INTENT_TAG, (unsigned long)out,
			  0, 0, 0) == 0, "get tag: %s", strerror(errno));
	CHECK(!strcmp(out, "ab"), "tag reads '%.64s', want 'ab'", out);
	for (i = 3; i < sizeof(out); i++)
		CHECK(out[i] == 0,
		      "byte %zu after the 2-byte tag is %#x, want 0 (stale bytes of the old tag)",
		      i, (unsigned char)out[i]);
}

/* A process in a namespace of its own, for others to read. */
TEST(agent_counters_need_ptrace_read)
{
	int p[2];
	char c;

	require_agentns(_metadata);
	require_root(_metadata);
	require_cap_sys_admin(_metadata);

	CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
	fflush(NULL);
	target = fork();
	CHECK(target >= 0, "fork: %s", strerror(errno));
	if (target == 0) {
		close(p[0]);
		if (agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
			_exit(1);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], &c, 1) == 1, "target did not create its namespace");
	run_in_child(_metadata, "reading agent_counters as nobody", as_nobody);
	kill(target, SIGKILL);
	wait_exit(_metadata, target);
}

TEST(intent_tag_zero_padded)
{
	require_agentns(_metadata);
	require_root(_metadata);
	require_cap_sys_admin(_metadata);
	run_in_child(_metadata, "intent tag padding", intent_padding);
}

TEST_HARNESS_MAIN
