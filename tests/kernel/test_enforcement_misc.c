// SPDX-License-Identifier: GPL-2.0
/*
 * Smaller enforcement checks of issue 12, each its own harness test:
 *
 * clone3_start_event: agent_session_start for a clone3(CLONE_NEWAGENT)
 *	child carries the child's pid (not the parent's), the namespace's id
 *	(NS_GET_ID of its /proc/PID/ns/agent) and its session id; the
 *	PR_SET_AGENT_NS path carries the caller's pid and id as well.
 *	(test_bpf_tracepoints.sh only checks that a pid and an id are there.)
 *
 * static_key_rate: a tight clone3(CLONE_NEWAGENT)-and-exit loop must not
 *	switch the hooks' static key on every 0 <-> 1 transition. A switch
 *	patches code and syncs every CPU with an IPI (x86: "CAL" in
 *	/proc/interrupts), so the loop may cost no more function-call IPIs
 *	than the same loop without CLONE_NEWAGENT, give or take a few
 *	switches. There is no /sys/kernel/debug/static_keys to read. Skips
 *	on a kernel without CONFIG_JUMP_LABEL (the VM and fleet kernels):
 *	there a static key is a counter and nothing is patched.
 */
#include "agentns_test.h"
#include "kselftest_harness.h"

#include <sys/ioctl.h>

#define INSTANCE_FMT	"/sys/kernel/tracing/instances/agentns_misc_%d"
#define LOOP_MIN	50
#define LOOP_SECS	15

FIXTURE(misc) {
	char inst[128];
};

FIXTURE_SETUP(misc)
{
	self->inst[0] = '\0';
}

FIXTURE_TEARDOWN(misc)
{
	char path[192];

	if (!self->inst[0])
		return;
	snprintf(path, sizeof(path), "%s/events/agent_ns/enable", self->inst);
	write_text(path, "0");
	rmdir(self->inst);
}

/* NS_GET_ID of the agent namespace of @pid (0: the caller). */
static __u64 agent_ns_id(pid_t pid)
{
	char path[64];
	__u64 id = 0;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/agent", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/agent");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (ioctl(fd, NS_GET_ID, &id))
		id = 0;
	close(fd);
	return id;
}

/* The trace line of agent_session_start for session @sid, or NULL. */
static char *start_line(const char *inst, const char *sid, char *buf,
			size_t len)
{
	char path[192], key[SID_HEX_LEN + 64], *p, *end;

	snprintf(path, sizeof(path), "%s/trace", inst);
	if (read_text(path, buf, len) < 0)
		return NULL;
	snprintf(key, sizeof(key), "agent_session_start: sid=%s ", sid);
	p = strstr(buf, key);
	if (!p)
		return NULL;
	end = strchr(p, '\n');
	if (end)
		*end = '\0';
	return p;
}

/*
 * A child in a new namespace (clone3 or prctl) reports its session and
 * namespace id through @fds, then waits for EOF on @go.
 */
struct moved {
	char sid[SID_HEX_LEN + 1];
	__u64 id;
};

static void report_and_wait(struct __test_metadata *_metadata, int out, int go)
{
	struct moved m = {};
	char c;

	proc_session(_metadata, 0, m.sid);
	m.id = agent_ns_id(0);
	if (write(out, &m, sizeof(m)) != sizeof(m))
		_exit(1);
	if (read(go, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

static void check_start_event(struct __test_metadata *_metadata,
			      const char *inst, int use_clone3)
{
	static char buf[1 << 16];
	int out[2], go[2], rc;
	struct moved m;
	char want[64], *line;
	pid_t pid;

	ASSERT_EQ(0, pipe(out));
	ASSERT_EQ(0, pipe(go));
	if (use_clone3) {
		pid = sys_clone3(CLONE_NEWAGENT);
		if (pid == 0) {
			close(go[1]);
			report_and_wait(_metadata, out[1], go[0]);
		}
	} else {
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			close(go[1]);
			if (agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
				_exit(2);
			report_and_wait(_metadata, out[1], go[0]);
		}
	}
	ASSERT_LT(0, pid) TH_LOG("fork/clone3: %s", strerror(errno));
	close(out[1]);
	close(go[0]);
	rc = read(out[0], &m, sizeof(m)) == sizeof(m);
	close(go[1]);
	close(out[0]);
	EXPECT_EQ(0, wait_exit(_metadata, pid));
	ASSERT_TRUE(rc) TH_LOG("the child sent no report");
	ASSERT_NE(0ULL, m.id) TH_LOG("NS_GET_ID on the child's namespace failed");

	line = start_line(inst, m.sid, buf, sizeof(buf));
	ASSERT_NE(NULL, line) TH_LOG("no agent_session_start for sid=%s", m.sid);
	TH_LOG("%s child %d (parent %d): %s", use_clone3 ? "clone3" : "prctl",
	       pid, getpid(), line);
	snprintf(want, sizeof(want), " pid=%d id=%llu ", pid,
		 (unsigned long long)m.id);
	EXPECT_NE(NULL, strstr(line, want))
		TH_LOG("want '%s' (the child's pid, its namespace id)", want);
}

TEST_F(misc, clone3_start_event)
{
	char path[192];

	snprintf(self->inst, sizeof(self->inst), INSTANCE_FMT, getpid());
	if (mkdir(self->inst, 0700)) {
		self->inst[0] = '\0';
		SKIP(return, "no tracefs instance: %s", strerror(errno));
	}
	snprintf(path, sizeof(path),
		 "%s/events/agent_ns/agent_session_start/enable", self->inst);
	ASSERT_EQ(0, write_text(path, "1"));
	snprintf(path, sizeof(path), "%s/tracing_on", self->inst);
	ASSERT_EQ(0, write_text(path, "1"));

	check_start_event(_metadata, self->inst, 1);
	check_start_event(_metadata, self->inst, 0);
}

/* Sum of the "CAL:" (function call interrupts) row of /proc/interrupts. */
static long call_ipis(void)
{
	static char buf[1 << 16];
	char *p, *end;
	long sum = 0, v;

	if (read_text("/proc/interrupts", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\n CAL:");
	if (!p)
		p = strstr(buf, "\nCAL:");
	if (!p)
		return -1;
	p = strchr(p, ':') + 1;
	for (;;) {
		v = strtol(p, &end, 10);
		if (end == p)
			break;
		sum += v;
		p = end;
	}
	return sum;
}

/*
 * Code patching static keys: kernel/jump_label.c is built in, the only
 * place static_key_slow_inc() is a function (else an inline counter).
 */
static int has_jump_labels(void)
{
	char line[256];
	int found = 0;
	FILE *f;

	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !!strstr(line, " static_key_slow_inc\n");
	fclose(f);
	return found;
}

/* @n clone3(@flags) children that exit at once, or fewer by @deadline. */
static int spawn_loop(struct __test_metadata *_metadata, __u64 flags, int n,
		      time_t deadline)
{
	int i;
	pid_t pid;

	for (i = 0; i < n && time(NULL) < deadline; i++) {
		pid = sys_clone3(flags);
		if (pid == 0)
			_exit(0);
		if (pid < 0 || wait_exit(_metadata, pid))
			return -1;
	}
	return i;
}

TEST_F_TIMEOUT(misc, static_key_rate, 90)
{
	long c0, c1, c2, plain, agent;
	int n;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: a key switch sends no IPI");
	/*
	 * Without CONFIG_JUMP_LABEL a key is a counter and switching it
	 * patches nothing: the bound below then only shows that creating
	 * and ending namespaces sends no IPIs of its own.
	 */
	if (!has_jump_labels())
		TH_LOG("no CONFIG_JUMP_LABEL: no code patching to count");
	c0 = call_ipis();
	if (c0 < 0)
		SKIP(return, "no CAL row in /proc/interrupts (not x86)");

	/*
	 * A fixed number of iterations, not a fixed time: under the load
	 * of a whole test run a TCG guest managed only 40 in 15 s.
	 */
	n = spawn_loop(_metadata, CLONE_NEWAGENT, LOOP_MIN, time(NULL) + 2 * LOOP_SECS);
	ASSERT_LT(0, n) TH_LOG("clone3(CLONE_NEWAGENT): %s", strerror(errno));
	c1 = call_ipis();
	ASSERT_EQ(n, spawn_loop(_metadata, 0, n, time(NULL) + 2 * LOOP_SECS));
	c2 = call_ipis();
	agent = c1 - c0;
	plain = c2 - c1;
	TH_LOG("%d create/exit: %ld function-call IPIs; %d plain clone3: %ld",
	       n, agent, n, plain);
	/*
	 * Switching per iteration is >= 2 switches, each patching text with
	 * 3 syncs of every other CPU: >= 6 IPIs per iteration over the plain
	 * loop. The plain loop's own count varies by ~1 per iteration.
	 */
	EXPECT_LE(LOOP_MIN, n) TH_LOG("only %d iterations in %d s", n, 2 * LOOP_SECS);
	EXPECT_GT(plain + 3 * n + 20, agent);
}

int main(int argc, char **argv)
{
	if (geteuid() || agentns_enabled() != 1)
		ksft_exit_skip("needs root and kernel.agent_ns.enabled=1\n");
	return test_harness_run(argc, argv);
}
