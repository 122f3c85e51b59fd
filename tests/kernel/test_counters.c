// SPDX-License-Identifier: GPL-2.0
/*
 * Exact counter deltas in a namespace of our own: between two
 * PR_GET_AGENT_COUNTERS snapshots only the syscalls under test run (no
 * stdio, no allocation), so each specific counter must move by exactly the
 * number of events and the others not at all. Also the JSON in
 * /proc/PID/agent_counters and the freeze under kernel.agent_ns.enabled=0.
 */
#include "agentns_test.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include <linux/openat2.h>

#define NR_KEYS		7
#define BIG_WRITE	(1024 * 1024)

static const char *const keys[NR_KEYS] = {
	"total_syscalls", "openat_count", "write_bytes", "connect_count",
	"unlink_count", "fork_count", "elapsed_ns",
};

static char dir[256];

/* What a step expects of the five event counters. */
struct expect {
	__u64 open, write, connect, unlink, fork;
};

static void snap(struct __test_metadata *_metadata, struct agent_ns_counters *c)
{
	if (agent_prctl(PR_GET_AGENT_COUNTERS, (unsigned long)c, 0, 0, 0))
		FAIL_MSG("PR_GET_AGENT_COUNTERS: %s", strerror(errno));
}

#define DELTA(a, b, f)	((unsigned long long)((b)->f - (a)->f))

static void expect_deltas(struct __test_metadata *_metadata, const char *what,
			  const struct agent_ns_counters *a,
			  const struct agent_ns_counters *b,
			  const struct expect *e, __u64 min_syscalls)
{
	CHECK(DELTA(a, b, openat_count) == e->open,
	      "%s: openat_count moved by %llu, want %llu", what,
	      DELTA(a, b, openat_count), (unsigned long long)e->open);
	CHECK(DELTA(a, b, write_bytes) == e->write,
	      "%s: write_bytes moved by %llu, want %llu", what,
	      DELTA(a, b, write_bytes), (unsigned long long)e->write);
	CHECK(DELTA(a, b, connect_count) == e->connect,
	      "%s: connect_count moved by %llu, want %llu", what,
	      DELTA(a, b, connect_count), (unsigned long long)e->connect);
	CHECK(DELTA(a, b, unlink_count) == e->unlink,
	      "%s: unlink_count moved by %llu, want %llu", what,
	      DELTA(a, b, unlink_count), (unsigned long long)e->unlink);
	CHECK(DELTA(a, b, fork_count) == e->fork,
	      "%s: fork_count moved by %llu, want %llu", what,
	      DELTA(a, b, fork_count), (unsigned long long)e->fork);
	CHECK(DELTA(a, b, total_syscalls) >= min_syscalls,
	      "%s: total_syscalls moved by %llu, want >= %llu", what,
	      DELTA(a, b, total_syscalls), (unsigned long long)min_syscalls);
	CHECK(b->elapsed_ns >= a->elapsed_ns, "%s: elapsed_ns went backwards",
	      what);
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void make_file(struct __test_metadata *_metadata, const char *name)
{
	char path[320];
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
	close(fd);
}

static void test_opens(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	struct expect e = { .open = 5 };
	char path[320];
	int fds[5], i;

	make_file(_metadata, "f");
	path_of(path, sizeof(path), "f");

	snap(_metadata, &a);
	for (i = 0; i < 5; i++)
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
	snap(_metadata, &b);
	for (i = 0; i < 5; i++) {
		CHECK(fds[i] >= 0, "open %s: %s", path, strerror(errno));
		close(fds[i]);
	}
	expect_deltas(_metadata, "5 x open()", &a, &b, &e, 5);
}

/* One raw syscall of each opening kind, each in its own window. */
static void one_open(struct __test_metadata *_metadata, const char *what,
		     long (*op)(const char *))
{
	struct agent_ns_counters a, b;
	struct expect e = { .open = 1 };
	char path[320];
	long fd;

	path_of(path, sizeof(path), "f");
	snap(_metadata, &a);
	fd = op(path);
	snap(_metadata, &b);
	CHECK(fd >= 0, "%s(%s): %s", what, path, strerror(errno));
	close(fd);
	expect_deltas(_metadata, what, &a, &b, &e, 1);
}

static long do_openat(const char *path)
{
	return syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
}

#ifdef SYS_open
static long do_open(const char *path)
{
	return syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
}
#endif

#ifdef SYS_creat
static long do_creat(const char *path)
{
	return syscall(SYS_creat, path, 0600);
}
#endif

#if defined(SYS_openat2) && defined(RESOLVE_NO_SYMLINKS)
static long do_openat2(const char *path)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC };

	return syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
}
#endif

static void test_open_kinds(struct __test_metadata *_metadata)
{
	one_open(_metadata, "openat", do_openat);
#ifdef SYS_open
	one_open(_metadata, "open", do_open);
#endif
#ifdef SYS_creat
	one_open(_metadata, "creat", do_creat);
#endif
#if defined(SYS_openat2) && defined(RESOLVE_NO_SYMLINKS)
	one_open(_metadata, "openat2", do_openat2);
#endif
}

static void test_writes(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	struct expect e = { 0 };
	static char buf[4096];
	struct iovec iov[2] = {
		{ .iov_base = buf, .iov_len = 100 },
		{ .iov_base = buf + 100, .iov_len = 23 },
	};
	ssize_t r[5];
	char path[320];
	int fd, i;

	memset(buf, 'w', sizeof(buf));
	path_of(path, sizeof(path), "w");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));

	snap(_metadata, &a);
	r[0] = write(fd, buf, 1000);
	r[1] = pwrite(fd, buf, 500, 2000);
	r[2] = writev(fd, iov, 2);
	r[3] = pwritev(fd, iov, 2, 0);
	r[4] = pwritev2(fd, iov, 2, 4000, 0);
	snap(_metadata, &b);
	close(fd);

	CHECK(r[0] == 1000 && r[1] == 500, "write/pwrite: %zd %zd", r[0], r[1]);
	for (i = 2; i < 5; i++)
		CHECK(r[i] == 123, "vectored write %d returned %zd: %s", i,
		      r[i], strerror(errno));
	e.write = 1000 + 500 + 3 * 123;
	expect_deltas(_metadata, "write+pwrite64+writev+pwritev+pwritev2", &a, &b, &e, 5);
}

/* A short write counts what was written, a refused one counts nothing. */
static void test_short_pipe_write(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	struct expect e = { 0 };
	ssize_t first, second;
	int p[2], cap, err;
	char *big;

	big = malloc(BIG_WRITE);
	CHECK(big, "malloc");
	memset(big, 'p', BIG_WRITE);
	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2: %s",
	      strerror(errno));
	cap = fcntl(p[1], F_GETPIPE_SZ);
	CHECK(cap > 0, "F_GETPIPE_SZ: %s", strerror(errno));

	snap(_metadata, &a);
	first = write(p[1], big, BIG_WRITE);
	second = write(p[1], big, BIG_WRITE);
	err = errno;
	snap(_metadata, &b);

	CHECK(first > 0 && first < BIG_WRITE,
	      "1 MiB write into a %d-byte O_NONBLOCK pipe returned %zd: not a short write",
	      cap, first);
	CHECK(second == -1 && err == EAGAIN,
	      "write into a full pipe: %zd (%s), want EAGAIN", second,
	      strerror(err));
	note("short pipe write: pipe %d bytes, write returned %zd", cap, first);
	e.write = first;
	expect_deltas(_metadata, "short O_NONBLOCK pipe write", &a, &b, &e, 2);
	close(p[0]);
	close(p[1]);
	free(big);
}

static void test_forks(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	struct expect e = { .fork = 1 };
	pid_t pid, pid2;
	int rc, rc2;

	fflush(NULL);
	snap(_metadata, &a);
	pid = fork();
	if (pid == 0)
		_exit(0);
	rc = pid > 0 ? wait_exit(_metadata, pid) : -1;
	snap(_metadata, &b);
	CHECK(rc == 0, "fork child: %d", rc);
	expect_deltas(_metadata, "one fork()", &a, &b, &e, 2);

	snap(_metadata, &a);
	pid = vfork();
	if (pid == 0)
		_exit(0);
	rc = pid > 0 ? wait_exit(_metadata, pid) : -1;
	snap(_metadata, &b);
	CHECK(rc == 0, "vfork child: %d", rc);
	expect_deltas(_metadata, "one vfork()", &a, &b, &e, 2);

	snap(_metadata, &a);
	pid = sys_clone3(0);
	if (pid == 0)
		_exit(0);
	rc = pid > 0 ? wait_exit(_metadata, pid) : -1;
	snap(_metadata, &b);
	CHECK(rc == 0, "clone3 child: %d", rc);
	expect_deltas(_metadata, "one clone3()", &a, &b, &e, 2);

	e.fork = 2;
	snap(_metadata, &a);
	pid = fork();
	if (pid == 0)
		_exit(0);
	pid2 = fork();
	if (pid2 == 0)
		_exit(0);
	rc = pid > 0 ? wait_exit(_metadata, pid) : -1;
	rc2 = pid2 > 0 ? wait_exit(_metadata, pid2) : -1;
	snap(_metadata, &b);
	CHECK(rc == 0 && rc2 == 0, "fork children: %d %d", rc, rc2);
	expect_deltas(_metadata, "two fork()s", &a, &b, &e, 4);
}

static void test_connect(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	struct expect e = { .connect = 1 };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int srv, cli, rc, err;

	CHECK(snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/sock", dir) <
	      (int)sizeof(addr.sun_path), "socket path too long");
	srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(srv >= 0 && cli >= 0, "socket: %s", strerror(errno));
	CHECK(bind(srv, (struct sockaddr *)&addr, sizeof(addr)) == 0,
	      "bind %s: %s", addr.sun_path, strerror(errno));
	CHECK(listen(srv, 4) == 0, "listen: %s", strerror(errno));

	snap(_metadata, &a);
	rc = connect(cli, (struct sockaddr *)&addr, sizeof(addr));
	err = errno;
	snap(_metadata, &b);
	CHECK(rc == 0, "connect: %s", strerror(err));
	expect_deltas(_metadata, "one connect()", &a, &b, &e, 1);
	close(cli);
	close(srv);
	unlink(addr.sun_path);
}

static long do_unlink(const char *path)
{
#ifdef SYS_unlink
	return syscall(SYS_unlink, path);
#else
	return syscall(SYS_unlinkat, AT_FDCWD, path, 0);
#endif
}

static void test_unlinks(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	struct expect e = { .unlink = 2 };
	char p1[320], p2[320], d[320];
	long r1, r2, r3;

	make_file(_metadata, "u1");
	make_file(_metadata, "u2");
	path_of(p1, sizeof(p1), "u1");
	path_of(p2, sizeof(p2), "u2");
	path_of(d, sizeof(d), "d");
	CHECK(mkdir(d, 0700) == 0, "mkdir %s: %s", d, strerror(errno));

	snap(_metadata, &a);
	r1 = do_unlink(p1);
	r2 = syscall(SYS_unlinkat, AT_FDCWD, p2, 0);
	snap(_metadata, &b);
	CHECK(r1 == 0 && r2 == 0, "unlink: %ld, unlinkat: %ld (%s)", r1, r2,
	      strerror(errno));
	expect_deltas(_metadata, "unlink + unlinkat", &a, &b, &e, 2);

	/* Removing a directory is rmdir's job, not an unlink. */
	e.unlink = 0;
	snap(_metadata, &a);
	r3 = syscall(SYS_unlinkat, AT_FDCWD, d, AT_REMOVEDIR);
	snap(_metadata, &b);
	CHECK(r3 == 0, "unlinkat(AT_REMOVEDIR): %s", strerror(errno));
	expect_deltas(_metadata, "unlinkat(AT_REMOVEDIR)", &a, &b, &e, 1);
}

static void test_syscall_loop(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	struct expect e = { 0 };
	int i;

	snap(_metadata, &a);
	for (i = 0; i < 1000; i++)
		syscall(SYS_getppid);
	snap(_metadata, &b);
	expect_deltas(_metadata, "1000 x getppid", &a, &b, &e, 1000);
}

/* Counters belong to the namespace: a child's activity shows in ours. */
static void test_shared(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	struct expect e = { .open = 3, .fork = 1 };
	char path[320];
	pid_t pid;
	int i, rc;

	path_of(path, sizeof(path), "f");
	fflush(NULL);
	snap(_metadata, &a);
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < 500; i++)
			syscall(SYS_getppid);
		for (i = 0; i < 3; i++)
			close(open(path, O_RDONLY | O_CLOEXEC));
		_exit(0);
	}
	rc = pid > 0 ? wait_exit(_metadata, pid) : -1;
	snap(_metadata, &b);
	CHECK(rc == 0, "child: %d", rc);
	expect_deltas(_metadata, "child's activity seen by the parent", &a, &b, &e, 500);
}

/*
 * Counts made in a namespace below ours are in our totals while it lives
 * and stay there, neither lost nor doubled, once it and its own child
 * are gone: the two levels below fold into us as they die.
 */
static void test_child_ns_folds(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b, c;
	int ready[2], go[2], i, rc;
	const int burst = 1000;
	pid_t pid;
	char x;

	CHECK(pipe(ready) == 0 && pipe(go) == 0, "pipe: %s", strerror(errno));
	fflush(NULL);
	snap(_metadata, &a);
	pid = fork();
	if (pid == 0) {
		if (agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) ||
		    agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
			_exit(2);
		for (i = 0; i < burst; i++)
			syscall(SYS_getppid);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &x, 1) != 1)
			_exit(3);
		_exit(0);
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	CHECK(read(ready[0], &x, 1) == 1, "child never got ready");
	snap(_metadata, &b);
	CHECK(write(go[1], "g", 1) == 1, "write: %s", strerror(errno));
	rc = wait_exit(_metadata, pid);
	snap(_metadata, &c);
	CHECK(rc == 0, "child: %d", rc);

	CHECK(DELTA(&a, &b, total_syscalls) >= (unsigned long long)burst,
	      "a live grandchild namespace's %d syscalls: ours moved by %llu",
	      burst, DELTA(&a, &b, total_syscalls));
	CHECK(c.total_syscalls >= b.total_syscalls,
	      "our totals fell by %llu when the namespaces below died",
	      (unsigned long long)(b.total_syscalls - c.total_syscalls));
	/* Only the exit path, a write, a wait and a read ran in between. */
	CHECK(DELTA(&b, &c, total_syscalls) < (unsigned long long)burst / 2,
	      "our totals jumped by %llu as the namespaces below died: counted twice",
	      DELTA(&b, &c, total_syscalls));
	CHECK(DELTA(&a, &c, fork_count) == 1, "fork_count moved by %llu, want 1",
	      DELTA(&a, &c, fork_count));
}

static void test_elapsed(struct __test_metadata *_metadata)
{
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	struct agent_ns_counters a, b;

	snap(_metadata, &a);
	nanosleep(&ts, NULL);
	snap(_metadata, &b);
	CHECK(a.elapsed_ns > 0, "elapsed_ns is 0 in a live namespace");
	CHECK(b.elapsed_ns - a.elapsed_ns >= 20 * 1000 * 1000ULL,
	      "elapsed_ns grew by %llu ns over a 20 ms sleep",
	      (unsigned long long)(b.elapsed_ns - a.elapsed_ns));
}

/*
 * One line, one JSON object, the seven keys in order, unsigned integers.
 * Whitespace between tokens is tolerated as JSON allows; nothing else is.
 */
static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *parse_json(const char *p, __u64 v[NR_KEYS])
{
	size_t len;
	int i;

	p = skip_ws(p);
	if (*p++ != '{')
		return "no opening brace";
	for (i = 0; i < NR_KEYS; i++) {
		p = skip_ws(p);
		len = strlen(keys[i]);
		if (*p != '"' || strncmp(p + 1, keys[i], len) || p[len + 1] != '"')
			return keys[i];
		p = skip_ws(p + len + 2);
		if (*p++ != ':')
			return "missing colon";
		p = skip_ws(p);
		if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
			return "value is not an unsigned integer";
		for (v[i] = 0; *p >= '0' && *p <= '9'; p++) {
			if (v[i] > (UINT64_MAX - (*p - '0')) / 10)
				return "value overflows 64 bits";
			v[i] = v[i] * 10 + (*p - '0');
		}
		p = skip_ws(p);
		if (*p++ != (i == NR_KEYS - 1 ? '}' : ','))
			return "bad separator or extra key";
	}
	p = skip_ws(p);
	if (*p == '\n')
		p++;
	return *p ? "trailing garbage after the object" : NULL;
}

static void read_json(struct __test_metadata *_metadata, pid_t pid,
		      __u64 v[NR_KEYS])
{
	char path[64], buf[1024];
	const char *err;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/agent_counters", pid);
	n = read_text(path, buf, sizeof(buf));
	CHECK(n > 0, "read %s: %s", path, n < 0 ? strerror((int)-n) : "empty");
	err = parse_json(buf, v);
	CHECK(!err, "%s is not the 7-key JSON object (%s): %s", path, err, buf);
}

static void test_json(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	__u64 v[NR_KEYS], lo[NR_KEYS], hi[NR_KEYS];
	int i;

	snap(_metadata, &a);
	read_json(_metadata, getpid(), v);
	snap(_metadata, &b);
	memcpy(lo, &a, sizeof(lo));
	memcpy(hi, &b, sizeof(hi));
	for (i = 0; i < NR_KEYS; i++)
		CHECK(lo[i] <= v[i] && v[i] <= hi[i],
		      "/proc %s=%llu outside the prctl snapshots [%llu, %llu]",
		      keys[i], (unsigned long long)v[i],
		      (unsigned long long)lo[i], (unsigned long long)hi[i]);
	CHECK(v[0] > 0, "/proc total_syscalls is 0 in a busy namespace");

	if (pid1_in_init_ns(_metadata)) {
		read_json(_metadata, 1, v);
		for (i = 0; i < NR_KEYS; i++)
			CHECK(v[i] == 0, "/proc/1/agent_counters %s=%llu in the init namespace",
			      keys[i], (unsigned long long)v[i]);
	} else {
		note("pid 1 is not in the init agent namespace: its zeros not checked");
	}
}

/* kernel.agent_ns.enabled is global: always put the old value back. */
static char saved_enabled[16];
static pid_t saved_by;

static void restore_enabled(void)
{
	if (saved_enabled[0] && getpid() == saved_by)
		write_text(AGENTNS_SYSCTL_ENABLED, saved_enabled);
}

static void on_signal(int sig)
{
	restore_enabled();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void activity(const char *file, const char *gone)
{
	int i, fd;
	pid_t pid;

	for (i = 0; i < 200; i++)
		syscall(SYS_getppid);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "frozen", 6) < 0)
			_exit(1);
		close(fd);
	}
	do_unlink(gone);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void test_disabled_freezes(struct __test_metadata *_metadata)
{
	struct agent_ns_counters a, b;
	char file[320], gone[320];
	long rc;
	int err;

	CHECK(read_text(AGENTNS_SYSCTL_ENABLED, saved_enabled,
			sizeof(saved_enabled)) > 0,
	      "read %s", AGENTNS_SYSCTL_ENABLED);
	saved_by = getpid();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);

	make_file(_metadata, "frz");
	make_file(_metadata, "gone");
	path_of(file, sizeof(file), "frz");
	path_of(gone, sizeof(gone), "gone");
	fflush(NULL);

	err = write_text(AGENTNS_SYSCTL_ENABLED, "0");
	CHECK(!err, "write 0 to %s: %s", AGENTNS_SYSCTL_ENABLED,
	      strerror(-err));
	snap(_metadata, &a);
	activity(file, gone);
	rc = agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0);
	err = errno;
	snap(_metadata, &b);
	restore_enabled();

	CHECK(rc == -1 && err == EOPNOTSUPP,
	      "PR_SET_AGENT_NS with enabled=0: rc=%ld errno=%s, want EOPNOTSUPP",
	      rc, strerror(err));
	CHECK(a.total_syscalls == b.total_syscalls &&
	      a.openat_count == b.openat_count &&
	      a.write_bytes == b.write_bytes &&
	      a.unlink_count == b.unlink_count &&
	      a.fork_count == b.fork_count,
	      "counters moved with enabled=0: syscalls +%llu opens +%llu bytes +%llu unlinks +%llu forks +%llu",
	      DELTA(&a, &b, total_syscalls), DELTA(&a, &b, openat_count),
	      DELTA(&a, &b, write_bytes), DELTA(&a, &b, unlink_count),
	      DELTA(&a, &b, fork_count));

	/* And they move again once re-enabled: the freeze was the sysctl. */
	snap(_metadata, &a);
	test_syscall_loop(_metadata);
	snap(_metadata, &b);
	CHECK(DELTA(&a, &b, total_syscalls) >= 1000,
	      "counters did not resume after re-enabling");
}

static void make_dir(struct __test_metadata *_metadata)
{
	const char *base = getenv("TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	snprintf(dir, sizeof(dir), "%s/agentns-counters.XXXXXX", base);
	if (mkdtemp(dir))
		return;
	/* A bare initramfs may have no /tmp: fall back to the cwd. */
	snprintf(dir, sizeof(dir), "./agentns-counters.XXXXXX");
	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void cleanup(void)
{
	static const char *const names[] = { "f", "w", "u1", "u2", "frz",
					     "gone", "sock" };
	char path[320];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		path_of(path, sizeof(path), names[i]);
		unlink(path);
	}
	path_of(path, sizeof(path), "d");
	rmdir(path);
	rmdir(dir);
}

/*
 * Each test in a namespace of its own, so no other task moves the
 * counters, with a scratch directory holding the file "f".
 */
FIXTURE(counters) {
	int unused;
};

FIXTURE_SETUP(counters)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);

	make_dir(_metadata);
	make_file(_metadata, "f");
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS: %s", strerror(errno));
}

/* Also after a failed assertion: enabled back, scratch files gone. */
FIXTURE_TEARDOWN(counters)
{
	restore_enabled();
	if (dir[0])
		cleanup();
}

TEST_F(counters, opens)
{
	test_opens(_metadata);
}

TEST_F(counters, open_kinds)
{
	test_open_kinds(_metadata);
}

TEST_F(counters, writes)
{
	test_writes(_metadata);
}

TEST_F(counters, short_pipe_write)
{
	test_short_pipe_write(_metadata);
}

TEST_F(counters, forks)
{
	test_forks(_metadata);
}

TEST_F(counters, connect)
{
	test_connect(_metadata);
}

TEST_F(counters, unlinks)
{
	test_unlinks(_metadata);
}

TEST_F(counters, syscall_loop)
{
	test_syscall_loop(_metadata);
}

TEST_F(counters, shared_with_children)
{
	test_shared(_metadata);
}

TEST_F(counters, child_ns_folds)
{
	test_child_ns_folds(_metadata);
}

TEST_F(counters, elapsed)
{
	test_elapsed(_metadata);
}

TEST_F(counters, proc_json)
{
	test_json(_metadata);
}

TEST_F(counters, disabled_freezes)
{
	test_disabled_freezes(_metadata);
}

TEST_HARNESS_MAIN
