// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/ns/agent: the nsfs link, entering with setns(fd, 0), refusing
 * every nonzero nstype (the agent namespace has no CLONE_NEW* type: the
 * 64-bit CLONE_NEWAGENT cannot be setns's int nstype) and NS_GET_NSTYPE 0.
 */
#include "agentns_test.h"

#include <sys/ioctl.h>
#include <linux/nsfs.h>

#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE	_IO(0xb7, 0x3)
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif

/* A child sitting in a namespace of its own until told to exit. */
struct holder {
	pid_t pid;
	int release;
	char session[SID_HEX_LEN + 1];
	char link[64];
};

static void start_holder(struct holder *h)
{
	int ready[2], hold[2];
	char c;

	check(pipe(ready) == 0 && pipe(hold) == 0, "pipe: %s",
	      strerror(errno));
	fflush(NULL);
	h->pid = fork();
	check(h->pid >= 0, "fork: %s", strerror(errno));
	if (h->pid == 0) {
		close(ready[0]);
		close(hold[1]);
		check(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
		      "holder: PR_SET_AGENT_NS: %s", strerror(errno));
		check(write(ready[1], "r", 1) == 1, "holder: write");
		/* EOF on hold (parent closed or died) ends the holder. */
		if (read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	check(read(ready[0], &c, 1) == 1, "holder did not start");
	close(ready[0]);
	h->release = hold[1];
	proc_session(h->pid, h->session);
	ns_link(h->pid, h->link, sizeof(h->link));
}

static void stop_holder(struct holder *h)
{
	close(h->release);
	check(wait_exit(h->pid) == 0, "holder failed");
}

static int open_ns(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/agent", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	check(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

static void expect_in(const char *session, const char *link, const char *what)
{
	char hex[SID_HEX_LEN + 1], now[64];

	own_session(hex);
	check(!strcmp(hex, session), "%s: session %s, want %s", what, hex,
	      session);
	ns_link(0, now, sizeof(now));
	check(!strcmp(now, link), "%s: ns link %s, want %s", what, now, link);
}

static void test_same_ns_same_inode(void)
{
	char mine[64], childs[64];
	pid_t pid;
	int hold[2];
	char c;

	ns_link(0, mine, sizeof(mine));
	check(pipe(hold) == 0, "pipe");
	fflush(NULL);
	pid = fork();
	check(pid >= 0, "fork");
	if (pid == 0) {
		close(hold[1]);
		if (read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(hold[0]);
	ns_link(pid, childs, sizeof(childs));
	close(hold[1]);
	check(wait_exit(pid) == 0, "child failed");
	check(!strcmp(mine, childs), "forked child has ns link %s, parent %s",
	      childs, mine);
}

static void test_bad_nstypes(int fd, const char *session, const char *link)
{
	static const int types[] = {
		CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
		CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME,
		0x100 /* the legacy CLONE_NEWAGENT, i.e. CLONE_VM */,
	};
	unsigned int i;
	int rc;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		rc = setns(fd, types[i]);
		check(rc == -1 && errno == EINVAL,
		      "setns(agent fd, %#x): rc=%d errno=%s, want EINVAL",
		      types[i], rc, strerror(errno));
		expect_in(session, link, "after a refused setns");
	}
}

static int eperm_fd;

static void setns_without_cap(void)
{
	char before[SID_HEX_LEN + 1], after[SID_HEX_LEN + 1];
	int rc;

	own_session(before);
	drop_cap_sys_admin();
	rc = setns(eperm_fd, 0);
	check(rc == -1 && errno == EPERM,
	      "setns(agent fd, 0) without CAP_SYS_ADMIN: rc=%d errno=%s, want EPERM",
	      rc, strerror(errno));
	own_session(after);
	check(!strcmp(before, after), "session changed despite EPERM");
}

int main(void)
{
	char orig_session[SID_HEX_LEN + 1], orig_link[64];
	struct holder h;
	int orig_fd, fd, type;

	test_init("test_setns");
	require_agentns();
	require_cap_sys_admin();

	own_session(orig_session);
	ns_link(0, orig_link, sizeof(orig_link));
	orig_fd = open_ns(getpid());
	test_same_ns_same_inode();

	start_holder(&h);
	check(strcmp(h.session, orig_session) && strcmp(h.link, orig_link),
	      "holder's namespace (%s %s) looks like ours", h.session,
	      h.link);
	fd = open_ns(h.pid);

	type = ioctl(fd, NS_GET_NSTYPE);
	check(type == 0, "NS_GET_NSTYPE on an agent ns fd: %d (%s), want 0",
	      type, type < 0 ? strerror(errno) : "ok");
	type = ioctl(orig_fd, NS_GET_NSTYPE);
	check(type == 0, "NS_GET_NSTYPE on our own agent ns fd: %d, want 0",
	      type);

	test_bad_nstypes(fd, orig_session, orig_link);

	eperm_fd = fd;
	run_in_child("setns without CAP_SYS_ADMIN", setns_without_cap);

	check(setns(fd, 0) == 0, "setns(agent fd, 0): %s", strerror(errno));
	expect_in(h.session, h.link, "after setns into the holder's ns");
	check(setns(orig_fd, 0) == 0, "setns back: %s", strerror(errno));
	expect_in(orig_session, orig_link, "after setns back");

	/* The open fd pins the namespace after its last task is gone. */
	stop_holder(&h);
	check(setns(fd, 0) == 0, "setns into a ns pinned only by an fd: %s",
	      strerror(errno));
	expect_in(h.session, h.link, "after setns into the pinned ns");

	close(fd);
	close(orig_fd);
	return test_done();
}
