/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the agent namespace selftests.
 *
 * Header-only on purpose: every test stays a single translation unit, so
 * the suite builds with one compiler call per test, in the kernel tree
 * through lib.mk or standalone from a copy of this directory.
 *
 * The tests use kselftest_harness.h. Helpers that can fail take the
 * test's _metadata and use the harness assertions, which abort the test
 * process, so they also work in a child the test forked. A kernel without
 * agent namespaces skips the whole program (exit KSFT_SKIP).
 *
 * agentns_helper, which is not a harness test, defines AGENTNS_NO_HARNESS
 * and gets the plain helpers only.
 */
#ifndef AGENTNS_TEST_H
#define AGENTNS_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/agent_namespaces.h>

#include "kselftest.h"

/* The uapi header does not carry it: clone3-only, above the 32-bit space. */
#ifndef CLONE_NEWAGENT
#define CLONE_NEWAGENT	0x4000000000ULL	/* bit 38 */
#endif

/*
 * The agent namespace's place in the 7.x namespace tree, as the series
 * adds it to include/uapi/linux/nsfs.h (AGENT_NS, AGENT_NS_INIT_ID,
 * AGENT_NS_INIT_INO), repeated because the installed headers the suite
 * builds against are older (Debian 12's are 6.1's).
 */
#define AGENTNS_TYPE		0x00400000U
#define AGENTNS_INIT_ID		9ULL
#define AGENTNS_INIT_INO	0xEFFFFFF6U
#ifndef NS_GET_ID
#define NS_GET_ID		_IOR(0xb7, 13, __u64)
#endif

#define AGENTNS_SYSCTL_ENABLED	"/proc/sys/kernel/agent_ns/enabled"
#define AGENTNS_SYSCTL_LIFETIME	"/proc/sys/kernel/agent_ns/max_lifetime"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define SID_LEN		AGENT_NS_SESSION_ID_LEN
#define SID_HEX_LEN	(2 * SID_LEN)

/* Raw syscalls: no libc wrapper may reinterpret or cache anything. */
static inline long agent_prctl(int op, unsigned long a2, unsigned long a3,
			       unsigned long a4, unsigned long a5)
{
	return syscall(SYS_prctl, op, a2, a3, a4, a5);
}

/* The first version of struct clone_args; avoids <linux/sched.h> clashes. */
struct agentns_clone_args {
	__u64 flags;
	__u64 pidfd;
	__u64 child_tid;
	__u64 parent_tid;
	__u64 exit_signal;
	__u64 stack;
	__u64 stack_size;
	__u64 tls;
};

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

/* Without CLONE_VM and a stack, the child returns 0 like after fork(). */
static inline pid_t sys_clone3(__u64 flags)
{
	struct agentns_clone_args args;

	memset(&args, 0, sizeof(args));
	args.flags = flags;
	args.exit_signal = SIGCHLD;
	fflush(NULL);
	return syscall(__NR_clone3, &args, sizeof(args));
}

static inline void hex_of(const __u8 id[SID_LEN], char out[SID_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SID_LEN; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 0xf];
	}
	out[SID_HEX_LEN] = '\0';
}

static inline int is_zero_hex(const char *hex)
{
	return strspn(hex, "0") == SID_HEX_LEN && hex[SID_HEX_LEN] == '\0';
}

/* Reads a whole small file; returns its length or -errno. */
static inline ssize_t read_text(const char *path, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)total < len - 1) {
		n = read(fd, buf + total, len - 1 - total);
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return total;
}

/* Writes a sysctl-style value; returns 0 or -errno (the write's error). */
static inline int write_text(const char *path, const char *val)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

static inline int agentns_enabled(void)
{
	char buf[16];

	if (read_text(AGENTNS_SYSCTL_ENABLED, buf, sizeof(buf)) < 0)
		return -1;
	return atoi(buf);
}

static inline int has_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1U << (cap % 32)));
}

/* Drops CAP_SYS_ADMIN from effective, permitted and inheritable: 0 or -1. */
static inline int cap_sys_admin_drop(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int i;

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	i = CAP_SYS_ADMIN / 32;
	data[i].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	data[i].permitted &= ~(1U << (CAP_SYS_ADMIN % 32));
	data[i].inheritable &= ~(1U << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

/*
 * Skip only when both interfaces are absent (a stock kernel): returns why,
 * or NULL. One without the other is a broken series, which
 * require_agentns() fails.
 */
static inline const char *agentns_missing(void)
{
	__u8 id[SID_LEN];
	int has_proc, rc;

	has_proc = access("/proc/self/agent_session", F_OK) == 0;
	rc = agent_prctl(PR_GET_AGENT_SESSION_ID, (unsigned long)id, 0, 0, 0);
	if (!has_proc && rc < 0 && errno == EINVAL)
		return "kernel has no agent namespaces (no /proc/self/agent_session, prctl EINVAL)";
	if (has_proc && rc == 0 && agentns_enabled() == 0)
		return "kernel.agent_ns.enabled=0: agent namespaces are switched off";
	return NULL;
}

#ifndef AGENTNS_NO_HARNESS
#include "kselftest_harness.h"

/*
 * Every case gets 120 s, not the harness's 30: the suite also runs in
 * emulated (TCG) guests with KASAN and lockdep, where a case that forks
 * and waits on children takes many times its native duration.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	120

/*
 * ASSERT_TRUE() with a message that may use errno as the condition left
 * it; one statement wherever a statement fits.
 */
#define CHECK(cond, fmt, ...)						\
	do {								\
		bool __agentns_ok = (cond);				\
		int __agentns_errno = errno;				\
									\
		ASSERT_TRUE(__agentns_ok) {				\
			errno = __agentns_errno;			\
			TH_LOG("%s: " fmt, #cond, ##__VA_ARGS__);	\
		}							\
	} while (0)

#define FAIL_MSG(fmt, ...)	CHECK(false, fmt, ##__VA_ARGS__)

/*
 * SKIP() from a helper or a forked child: the reason goes to the shared
 * results, the exit code to whoever waits (the harness or run_in_child()).
 */
#define SKIP_EXIT(fmt, ...)						\
	do {								\
		SKIP(fflush(NULL), fmt, ##__VA_ARGS__);			\
		_exit(KSFT_SKIP);					\
	} while (0)

#define note(fmt, ...)	ksft_print_msg(fmt "\n", ##__VA_ARGS__)

/*
 * A kernel without the feature skips the whole program ("1..0 # SKIP",
 * exit KSFT_SKIP) before the harness starts, not each test.
 */
static void __attribute__((constructor)) agentns_skip_if_missing(void)
{
	const char *why = agentns_missing();

	if (why)
		ksft_exit_skip("%s\n", why);
}

/* /proc/PID/agent_session must be exactly 32 lowercase hex digits + "\n". */
static inline void proc_session(struct __test_metadata *_metadata, pid_t pid,
				char hex[SID_HEX_LEN + 1])
{
	char path[64], buf[128];
	ssize_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/agent_session", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/agent_session");
	n = read_text(path, buf, sizeof(buf));
	CHECK(n >= 0, "read %s: %s", path, strerror((int)-n));
	CHECK(n == SID_HEX_LEN + 1 && buf[SID_HEX_LEN] == '\n',
	      "%s: want 32 hex digits and a newline, got %zd bytes '%s'",
	      path, n, buf);
	buf[SID_HEX_LEN] = '\0';
	CHECK(strspn(buf, "0123456789abcdef") == SID_HEX_LEN,
	      "%s: not lowercase hex: '%s'", path, buf);
	memcpy(hex, buf, SID_HEX_LEN + 1);
}

static inline void prctl_id(struct __test_metadata *_metadata, int op,
			    char hex[SID_HEX_LEN + 1])
{
	__u8 id[SID_LEN];

	memset(id, 0xa5, sizeof(id));
	CHECK(agent_prctl(op, (unsigned long)id, 0, 0, 0) == 0,
	      "prctl(%s): %s", op == PR_GET_AGENT_PARENT_ID ?
	      "PR_GET_AGENT_PARENT_ID" : "PR_GET_AGENT_SESSION_ID",
	      strerror(errno));
	hex_of(id, hex);
}

static inline void prctl_session(struct __test_metadata *_metadata,
				 char hex[SID_HEX_LEN + 1])
{
	prctl_id(_metadata, PR_GET_AGENT_SESSION_ID, hex);
}

static inline void prctl_parent(struct __test_metadata *_metadata,
				char hex[SID_HEX_LEN + 1])
{
	prctl_id(_metadata, PR_GET_AGENT_PARENT_ID, hex);
}

/* The caller's session, after checking /proc and prctl agree. */
static inline void own_session(struct __test_metadata *_metadata,
			       char hex[SID_HEX_LEN + 1])
{
	char p[SID_HEX_LEN + 1];

	proc_session(_metadata, 0, hex);
	prctl_session(_metadata, p);
	CHECK(!strcmp(hex, p), "/proc/self/agent_session %s != prctl %s",
	      hex, p);
}

/*
 * A stock kernel never gets here (AGENTNS_HARNESS_MAIN skips the program).
 * One interface without the other is a broken series and must fail.
 */
static inline void require_agentns(struct __test_metadata *_metadata)
{
	const char *why = agentns_missing();
	__u8 id[SID_LEN];
	int has_proc, rc, err;

	if (why)
		SKIP_EXIT("%s", why);
	has_proc = access("/proc/self/agent_session", F_OK) == 0;
	rc = agent_prctl(PR_GET_AGENT_SESSION_ID, (unsigned long)id, 0, 0, 0);
	err = errno;
	CHECK(has_proc, "prctl works but /proc/self/agent_session is missing");
	CHECK(rc == 0, "/proc/self/agent_session exists but PR_GET_AGENT_SESSION_ID fails: %s",
	      strerror(err));
}

static inline void require_cap_sys_admin(struct __test_metadata *_metadata)
{
	if (!has_cap(CAP_SYS_ADMIN))
		SKIP_EXIT("needs CAP_SYS_ADMIN (run as root)");
}

/* Drop CAP_SYS_ADMIN from the effective, permitted and inheritable sets. */
static inline void drop_cap_sys_admin(struct __test_metadata *_metadata)
{
	CHECK(cap_sys_admin_drop() == 0, "capset: %s", strerror(errno));
	CHECK(!has_cap(CAP_SYS_ADMIN), "CAP_SYS_ADMIN still effective");
}

/*
 * Become the unprivileged user an escaping agent would be: nobody, no
 * supplementary groups, no capabilities (setuid from root clears them).
 * Dumpable again, so its own /proc files stay its own.
 */
static inline void become_nobody(struct __test_metadata *_metadata)
{
	CHECK(setgroups(0, NULL) == 0, "setgroups: %s", strerror(errno));
	CHECK(setgid(65534) == 0, "setgid(65534): %s", strerror(errno));
	CHECK(setuid(65534) == 0, "setuid(65534): %s", strerror(errno));
	CHECK(!has_cap(CAP_SYS_ADMIN), "CAP_SYS_ADMIN after setuid(65534)");
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* unshare(CLONE_NEWUSER) as the escaping agent does; skip if refused. */
static inline void enter_new_userns(struct __test_metadata *_metadata)
{
	if (unshare(CLONE_NEWUSER))
		SKIP_EXIT("unshare(CLONE_NEWUSER) as an unprivileged user: %s",
			  strerror(errno));
	CHECK(has_cap(CAP_SYS_ADMIN),
	      "no CAP_SYS_ADMIN in a fresh user namespace");
}

static inline void require_root(struct __test_metadata *_metadata)
{
	if (geteuid() != 0)
		SKIP_EXIT("needs root");
}

static inline void get_counters(struct __test_metadata *_metadata,
				struct agent_ns_counters *c)
{
	memset(c, 0xa5, sizeof(*c));
	CHECK(agent_prctl(PR_GET_AGENT_COUNTERS, (unsigned long)c, 0, 0, 0) == 0,
	      "PR_GET_AGENT_COUNTERS: %s", strerror(errno));
}

/* total_syscalls of the namespace of PID, from /proc/PID/agent_counters. */
static inline unsigned long long proc_syscalls(struct __test_metadata *_metadata,
					       pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/agent_counters", pid);
	n = read_text(path, buf, sizeof(buf));
	CHECK(n > 0, "read %s: %s", path, strerror((int)-n));
	p = strstr(buf, "\"total_syscalls\":");
	CHECK(p, "%s: no total_syscalls in '%s'", path, buf);
	return strtoull(p + strlen("\"total_syscalls\":"), NULL, 10);
}

/*
 * pthread_join() returns once the thread cleared its tid, which is before
 * the kernel unhashes it from the thread group; until then the caller
 * still counts as multi-threaded (unshare(CLONE_VM), PR_SET_AGENT_NS).
 */
static inline void wait_single_threaded(struct __test_metadata *_metadata)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	char buf[4096];
	int i;

	for (i = 0; i < 500; i++) {
		CHECK(read_text("/proc/self/status", buf, sizeof(buf)) > 0,
		      "read /proc/self/status");
		if (strstr(buf, "\nThreads:\t1\n"))
			return;
		nanosleep(&pause, NULL);
	}
	FAIL_MSG("still multi-threaded 5 s after pthread_join");
}

/* Exit code of a child, or 128 + signal like a shell reports it. */
static inline int wait_exit(struct __test_metadata *_metadata, pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		FAIL_MSG("waitpid(%d): %s", pid, strerror(errno));
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Forks a child that runs fn and exits 0; returns its pid. */
static inline pid_t fork_run(struct __test_metadata *_metadata,
			     void (*fn)(struct __test_metadata *))
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		fn(_metadata);
		fflush(NULL);
		_exit(KSFT_PASS);
	}
	return pid;
}

/*
 * Runs fn in a forked child and fails the test unless the child passed
 * (a failed assertion there has already said why) or skips it with the
 * child. Used for checks that change the caller's credentials or
 * namespace, so the parent stays untouched.
 */
static inline void run_in_child(struct __test_metadata *_metadata,
				const char *what,
				void (*fn)(struct __test_metadata *))
{
	int rc = wait_exit(_metadata, fork_run(_metadata, fn));

	if (rc == KSFT_SKIP) {
		fflush(NULL);
		_exit(KSFT_SKIP);
	}
	CHECK(rc == KSFT_PASS, "%s: child exited with %d", what, rc);
}

/*
 * A child held until the caller lets go: child(ready, hold, arg) runs in
 * it, reports on ready and must exit once a read of hold sees EOF (the
 * caller closed *release, or died). Returns the pid; *report is the
 * read end of ready.
 */
static inline pid_t fork_held(struct __test_metadata *_metadata,
			      void (*child)(int ready, int hold, void *arg),
			      void *arg, int *report, int *release)
{
	int ready[2], hold[2];
	pid_t pid;

	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0,
	      "pipe2: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		child(ready[1], hold[0], arg);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	*report = ready[0];
	*release = hold[1];
	return pid;
}

/* A child that only waits to be killed. */
static inline void wait_forever(struct __test_metadata *_metadata)
{
	(void)_metadata;
	for (;;)
		pause();
}

/* readlink("/proc/PID/ns/agent"), checked for the "agent:[INODE]" form. */
static inline unsigned long ns_link(struct __test_metadata *_metadata,
				    pid_t pid, char *buf, size_t len)
{
	char path[64], tail;
	unsigned long ino;
	ssize_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/agent", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/agent");
	n = readlink(path, buf, len - 1);
	CHECK(n > 0, "readlink %s: %s", path, strerror(errno));
	buf[n] = '\0';
	CHECK(sscanf(buf, "agent:[%lu%c", &ino, &tail) == 2 && tail == ']' &&
	      buf[n - 1] == ']', "%s: want agent:[INODE], got '%s'", path, buf);
	return ino;
}

/*
 * The init agent namespace is the one pid 1 is in (pid 1 is never moved by
 * this suite). Returns 1 when that namespace shows the all-zero session.
 */
static inline int pid1_in_init_ns(struct __test_metadata *_metadata)
{
	char hex[SID_HEX_LEN + 1];

	proc_session(_metadata, 1, hex);
	return is_zero_hex(hex);
}

#endif /* AGENTNS_NO_HARNESS */

#endif /* AGENTNS_TEST_H */
