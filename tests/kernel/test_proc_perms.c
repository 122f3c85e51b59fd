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

static void as_nobody(void)
{
	char path[64], buf[512], hex[SID_HEX_LEN + 1];
	ssize_t n;

	become_nobody();
	snprintf(path, sizeof(path), "/proc/%d/agent_counters", target);
	n = read_text(path, buf, sizeof(buf));
	check(n == -EACCES || n == -EPERM,
	      "nobody read root's %s: %zd '%s', want EACCES", path, n,
	      n > 0 ? buf : "");
	n = read_text("/proc/self/agent_counters", buf, sizeof(buf));
	check(n > 0 && strstr(buf, "\"total_syscalls\":"),
	      "own /proc/self/agent_counters as nobody: %zd %s", n,
	      n < 0 ? strerror((int)-n) : buf);
	proc_session(target, hex);
	check(!is_zero_hex(hex), "root's agent_session reads as zero");
}

static void intent_padding(void)
{
	char long_tag[64], out[AGENT_NS_INTENT_TAG_LEN];
	size_t i;

	check(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS: %s", strerror(errno));
	memset(long_tag, 'L', 63);
	long_tag[63] = '\0';
	check(agent_prctl(PR_SET_AGENT_INTENT_TAG, (unsigned long)long_tag,
			  0, 0, 0) == 0, "set 63-byte tag: %s", strerror(errno));
	check(agent_prctl(PR_SET_AGENT_INTENT_TAG, (unsigned long)"ab",
			  0, 0, 0) == 0, "set 2-byte tag: %s", strerror(errno));
	memset(out, 0xa5, sizeof(out));
	check(agent_prctl(PR_GET_AGENT_INTENT_TAG, (unsigned long)out,
			  0, 0, 0) == 0, "get tag: %s", strerror(errno));
	check(!strcmp(out, "ab"), "tag reads '%.64s', want 'ab'", out);
	for (i = 3; i < sizeof(out); i++)
		check(out[i] == 0,
		      "byte %zu after the 2-byte tag is %#x, want 0 (stale bytes of the old tag)",
		      i, (unsigned char)out[i]);
}

int main(void)
{
	int p[2];
	char c;

	test_init("test_proc_perms");
	require_agentns();
	require_root();
	require_cap_sys_admin();

	check(pipe(p) == 0, "pipe: %s", strerror(errno));
	fflush(NULL);
	target = fork();
	check(target >= 0, "fork: %s", strerror(errno));
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
	check(read(p[0], &c, 1) == 1, "target did not create its namespace");
	run_in_child("reading agent_counters as nobody", as_nobody);
	kill(target, SIGKILL);
	wait_exit(target);

	run_in_child("intent tag padding", intent_padding);
	return test_done();
}
