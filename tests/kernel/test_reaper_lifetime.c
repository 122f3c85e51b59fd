// SPDX-License-Identifier: GPL-2.0
/*
 * A namespace over kernel.agent_ns.max_lifetime is killed by the reaper
 * and the kill is logged: "agent_ns: session SID (id N) over max_lifetime
 * ... action SIGKILL" in the kernel log (it used to be silent). Waits for
 * one reaper walk (up to ~60 s): keep it out of quick runs.
 *
 * Not tested here: "no reaper activity while no non-initial namespace
 * exists". A walk over an empty list leaves no trace of its own; the
 * workqueue tracepoints would show it, but proving that it is not re-armed
 * takes two full reaper intervals (> 120 s) after the last namespace
 * died, over the suite's 90 s per-test budget.
 */
#include "agentns_test.h"
#include "kselftest_harness.h"

#include <sys/klog.h>

/* The reaper runs every 60 s; allow for a slow (TCG, KASAN) guest. */
#define REAP_WAIT_S	80
#define LIFETIME_S	"2"

FIXTURE(reaper) {
	char lifetime[32];
	pid_t victim;
};

FIXTURE_SETUP(reaper)
{
	ASSERT_LT(0, read_text(AGENTNS_SYSCTL_LIFETIME, self->lifetime,
			       sizeof(self->lifetime)));
	self->victim = 0;
}

FIXTURE_TEARDOWN(reaper)
{
	if (self->victim > 0) {
		kill(self->victim, SIGKILL);
		waitpid(self->victim, NULL, 0);
	}
	write_text(AGENTNS_SYSCTL_LIFETIME, self->lifetime);
}

/* The line of the kernel log that holds @needle, copied to @out. */
static int klog_find(const char *needle, char *out, size_t len)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf, *p, *start, *end;
	int n, found = 0;

	if (size <= 0)
		return -1;
	buf = malloc(size + 1);
	if (!buf)
		return -1;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	p = strstr(buf, needle);
	if (p) {
		for (start = p; start > buf && start[-1] != '\n'; start--)
			;
		end = strchr(p, '\n');
		snprintf(out, len, "%.*s",
			 (int)(end ? end - start : (long)strlen(start)), start);
		found = 1;
	}
	free(buf);
	return found;
}

TEST_F_TIMEOUT(reaper, lifetime_kill_logged, REAP_WAIT_S + 20)
{
	char sid[SID_HEX_LEN + 1] = "", needle[128], line[512];
	int p[2], status = 0, i;
	pid_t got = 0;

	ASSERT_EQ(0, pipe(p));
	fflush(NULL);
	self->victim = fork();
	ASSERT_LE(0, self->victim);
	if (self->victim == 0) {
		close(p[0]);
		if (agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
			_exit(2);
		proc_session(_metadata, 0, sid);
		if (write(p[1], sid, sizeof(sid)) != sizeof(sid))
			_exit(4);
		for (;;)
			pause();
	}
	close(p[1]);
	ASSERT_EQ(sizeof(sid), (size_t)read(p[0], sid, sizeof(sid)))
		TH_LOG("the victim could not create its namespace");
	close(p[0]);
	ASSERT_EQ(0, write_text(AGENTNS_SYSCTL_LIFETIME, LIFETIME_S));
	TH_LOG("victim %d in session %s, max_lifetime=%s s", self->victim,
	       sid, LIFETIME_S);

	for (i = 0; i < REAP_WAIT_S * 10; i++) {
		got = waitpid(self->victim, &status, WNOHANG);
		if (got)
			break;
		usleep(100000);
	}
	ASSERT_EQ(self->victim, got)
		TH_LOG("victim alive %d s past max_lifetime", REAP_WAIT_S);
	self->victim = 0;
	TH_LOG("victim gone after %d.%d s", i / 10, i % 10);
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));

	snprintf(needle, sizeof(needle), "agent_ns: session %s (id ", sid);
	ASSERT_EQ(1, klog_find(needle, line, sizeof(line)))
		TH_LOG("no '%s' in the kernel log", needle);
	TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, ") over max_lifetime: "));
	EXPECT_NE(NULL, strstr(line, "action SIGKILL"));
}

int main(int argc, char **argv)
{
	/* A skip exits 4, run.sh's skip: the harness would count a pass. */
	if (access(AGENTNS_SYSCTL_LIFETIME, W_OK) || agentns_enabled() != 1)
		ksft_exit_skip("needs root and kernel.agent_ns.enabled=1\n");
	return test_harness_run(argc, argv);
}
