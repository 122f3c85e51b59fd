// SPDX-License-Identifier: GPL-2.0
/*
 * The reaper holds escapees to the budget they tried to leave. A
 * namespace gets a SIGKILL budget of a few thousand syscalls; inside it,
 * processes turn into nobody and escape the way an agent would: through
 * a fresh user namespace with PR_SET_AGENT_NS, with
 * clone3(CLONE_NEWUSER | CLONE_NEWAGENT), and by re-running the
 * agentns-unshare shim ($AGENTNS_UNSHARE) from inside a user namespace.
 * All keep spending syscalls; within one reaper tick (60 s, 80 s
 * allowed) every one of them must be dead by SIGKILL, while a process in
 * an unrelated namespace without a budget, doing the same, survives.
 * Waits for the reaper: keep it out of quick runs.
 */
#include "agentns_test.h"

#include <poll.h>
#include <time.h>

#define LIMIT_S	80

static int ready[2];

/*
 * Bursts of syscalls, 100 ms apart: the budget is crossed within the first
 * bursts, and six spinners leave a slow (KASAN, emulated) guest's CPUs to
 * the reaper.
 */
static void spin(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int i;

	for (;;) {
		for (i = 0; i < 200; i++)
			syscall(SYS_getppid);
		nanosleep(&ts, NULL);
	}
}

/* Report our pid to the test, one line, then spend syscalls until killed. */
static void report_and_spin(void)
{
	if (dprintf(ready[1], "%d\n", (int)getpid()) < 2)
		_exit(1);
	spin();
}

static void escape_prctl(struct __test_metadata *_metadata)
{
	become_nobody(_metadata);
	enter_new_userns(_metadata);
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS in a user namespace: %s", strerror(errno));
	report_and_spin();
}

static void escape_clone3(struct __test_metadata *_metadata)
{
	pid_t pid;

	become_nobody(_metadata);
	pid = sys_clone3(CLONE_NEWUSER | CLONE_NEWAGENT);
	CHECK(pid >= 0, "clone3(CLONE_NEWUSER|CLONE_NEWAGENT): %s",
	      strerror(errno));
	if (pid == 0)
		report_and_spin();
	report_and_spin();
}

/*
 * Re-run the shim from a user namespace; it reports through fd 3. The
 * shell waits in a builtin read on a pipe it holds both ends of, so it
 * forks nothing: a child such as sleep(1) that exits just before the
 * reaper kills the shell would reparent to the test with exit status 0.
 * A plain read, which never returns: dash (Debian's /bin/sh) has no
 * read -t, and failing it in the loop flooded the output with errors.
 */
static void escape_shim(struct __test_metadata *_metadata, const char *shim)
{
	int idle[2];

	/* ready[1] first: the idle pipe may take its number. */
	CHECK(dup2(ready[1], 3) == 3, "dup2: %s", strerror(errno));
	CHECK(pipe(idle) == 0 && dup2(idle[0], 0) == 0 &&
	      dup2(idle[1], 4) == 4, "idle pipe: %s", strerror(errno));
	become_nobody(_metadata);
	enter_new_userns(_metadata);
	/* Root in our user namespace, so exec keeps the capabilities. */
	CHECK(write_text("/proc/self/setgroups", "deny") == 0 &&
	      write_text("/proc/self/gid_map", "0 65534 1") == 0 &&
	      write_text("/proc/self/uid_map", "0 65534 1") == 0,
	      "map ourselves to root in the user namespace: %s",
	      strerror(errno));
	execl(shim, shim, "--", "/bin/sh", "-c",
	      "echo $$ >&3; exec 3>&-; while :; do read x; done",
	      (char *)NULL);
	FAIL_MSG("exec %s: %s", shim, strerror(errno));
}

static const char *shim_path(void)
{
	static const char *const candidates[] = {
		"../../userspace/agentns-unshare",
		"/usr/local/bin/agentns-unshare",
		"/usr/bin/agentns-unshare",
	};
	static char path[4096];
	const char *env = getenv("AGENTNS_UNSHARE");
	size_t i;
	ssize_t n;
	char *slash;

	if (env && !access(env, X_OK))
		return env;
	n = readlink("/proc/self/exe", path, sizeof(path) - 64);
	if (n > 0) {
		path[n] = '\0';
		slash = strrchr(path, '/');
		if (slash) {
			snprintf(slash + 1, path + sizeof(path) - (slash + 1), "%s",
				 candidates[0]);
			if (!access(path, X_OK))
				return path;
		}
	}
	for (i = 1; i < ARRAY_SIZE(candidates); i++)
		if (!access(candidates[i], X_OK))
			return candidates[i];
	return NULL;
}

/* A copy of the shim that nobody can execute, wherever the suite lives. */
static char shim_dir[32];
static char shim_copy[64];

static const char *shim_for_nobody(const char *shim)
{
	char buf[8192];
	ssize_t n;
	int in, out;

	snprintf(shim_dir, sizeof(shim_dir), "/tmp/agentns-shim.XXXXXX");
	if (!shim || !mkdtemp(shim_dir) || chmod(shim_dir, 0755))
		return NULL;
	snprintf(shim_copy, sizeof(shim_copy), "%s/agentns-unshare", shim_dir);
	in = open(shim, O_RDONLY | O_CLOEXEC);
	out = open(shim_copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0)
		return NULL;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return NULL;
	close(in);
	close(out);
	return n == 0 ? shim_copy : NULL;
}

static void shim_cleanup(void)
{
	if (shim_copy[0]) {
		unlink(shim_copy);
		rmdir(shim_dir);
	}
}

static const char *shim;

/* The control: a namespace without a budget, spending the same way. */
static void control_ns(struct __test_metadata *_metadata)
{
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "control PR_SET_AGENT_NS: %s", strerror(errno));
	spin();
}

static void shim_escapee(struct __test_metadata *_metadata)
{
	escape_shim(_metadata, shim);
}

/* The holder: a namespace with a SIGKILL budget, and the escapees. */
static void budgeted_ns(struct __test_metadata *_metadata)
{
	struct agent_ns_budget b = {
		.max_syscalls = 3000,
		.action = AGENT_NS_BUDGET_SIGKILL,
	};

	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS: %s", strerror(errno));
	CHECK(agent_prctl(PR_SET_AGENT_BUDGET_LIMITS, (unsigned long)&b,
			  0, 0, 0) == 0, "set budget: %s", strerror(errno));
	fork_run(_metadata, escape_prctl);
	fork_run(_metadata, escape_clone3);
	if (shim)
		fork_run(_metadata, shim_escapee);
	spin();
}

/*
 * Reap one exited child without blocking; @comm gets its name, read while
 * it is still a zombie, so a failure says which process got away.
 */
static pid_t reap_one(int *status, char comm[32])
{
	siginfo_t si = { 0 };
	char path[64];
	ssize_t n;
	int fd;

	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) || !si.si_pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", si.si_pid);
	strcpy(comm, "?");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, 31);
		if (n > 0)
			comm[n - (comm[n - 1] == '\n')] = '\0';
		close(fd);
	}
	return waitpid(si.si_pid, status, 0);
}

/* A survivor's namespace counters, for the failure message. */
static const char *counters_of(pid_t pid)
{
	static char buf[512];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/agent_counters", pid);
	n = read_text(path, buf, sizeof(buf));
	if (n <= 0)
		snprintf(buf, sizeof(buf), "no %s", path);
	return buf;
}

/* The shim's copy for nobody goes, whatever the outcome. */
FIXTURE(reaper) {
	int unused;
};

FIXTURE_SETUP(reaper)
{
}

FIXTURE_TEARDOWN(reaper)
{
	shim_cleanup();
}

/* One reaper tick plus the time to report in: well over LIMIT_S. */
TEST_F_TIMEOUT(reaper, escapees_killed_with_budget, LIMIT_S + 60)
{
	pid_t holder, control, escapees[8];
	int nr = 0, expected, i, status, dead = 0, survivors;
	bool control_alive;
	char comm[32];
	time_t t0;

	require_agentns(_metadata);
	require_root(_metadata);
	require_cap_sys_admin(_metadata);
	CHECK(pipe(ready) == 0, "pipe: %s", strerror(errno));
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0,
	      "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	shim = shim_for_nobody(shim_path());

	control = fork_run(_metadata, control_ns);
	holder = fork_run(_metadata, budgeted_ns);

	/* prctl escapee, clone3 parent and child, shim: 3 or 4 reports. */
	expected = shim ? 4 : 3;
	if (!shim)
		note("agentns-unshare not found: shim re-exec not tried");
	close(ready[1]);
	{
		char lines[256] = "", *p, *nl;
		size_t len = 0;
		ssize_t n;

		while (nr < expected) {
			struct pollfd pfd = { .fd = ready[0], .events = POLLIN };

			if (poll(&pfd, 1, 20000) != 1)
				break;
			n = read(ready[0], lines + len, sizeof(lines) - 1 - len);
			if (n <= 0)
				break;
			len += n;
			lines[len] = '\0';
			p = lines;
			while (nr < expected && (nl = strchr(p, '\n'))) {
				*nl = '\0';
				escapees[nr++] = atoi(p);
				p = nl + 1;
			}
			len = strlen(p);
			memmove(lines, p, len + 1);
		}
	}
	CHECK(nr == expected, "only %d of %d escapees reported in", nr,
	      expected);
	note("%d escapees spinning in child namespaces of a budgeted namespace",
	     nr);

	/* Reap until the holder and every escapee are gone by SIGKILL. */
	t0 = time(NULL);
	while (dead < nr + 1 && time(NULL) - t0 < LIMIT_S) {
		pid_t pid = reap_one(&status, comm);

		if (pid <= 0) {
			usleep(200000);
			continue;
		}
		CHECK(pid != control, "control process died (status %#x)",
		      status);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "pid %d (%s) ended with status %#x, want SIGKILL", pid,
		      comm, status);
		/* When each went says which reaper walk took it. */
		note("pid %d (%s) killed %ld s in", pid, comm,
		     (long)(time(NULL) - t0));
		for (i = 0; i < nr; i++)
			if (escapees[i] == pid)
				dead++;
		if (pid == holder)
			dead++;
	}
	/* Name every survivor and what its namespace counted, then end them all. */
	survivors = 0;
	for (i = 0; i < nr; i++)
		if (!kill(escapees[i], 0)) {
			note("escapee %d alive %d s past its namespace's SIGKILL budget; %s",
			     escapees[i], LIMIT_S, counters_of(escapees[i]));
			kill(escapees[i], SIGKILL);
			survivors++;
		}
	if (dead < nr + 1 && !kill(holder, 0)) {
		note("holder %d alive after %d s; %s", holder, LIMIT_S,
		     counters_of(holder));
		kill(holder, SIGKILL);
		survivors++;
	}
	control_alive = !kill(control, 0);
	kill(control, SIGKILL);
	waitpid(control, &status, 0);
	CHECK(!survivors, "%d of %d budgeted processes outlived the reaper",
	      survivors, nr + 1);
	note("all killed after %ld s", (long)(time(NULL) - t0));
	CHECK(control_alive, "control without a budget was killed");
}

TEST_HARNESS_MAIN
