// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/ns/agent: the nsfs link, entering with setns(fd, 0), refusing
 * every CLONE_NEW* nstype (the 64-bit CLONE_NEWAGENT cannot be setns's int
 * nstype; the namespace's type is AGENT_NS, see test_nstree.c) and
 * NS_GET_NSTYPE AGENT_NS.
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

static void holder_main(int ready, int hold, void *arg)
{
	char c;

	(void)arg;
	if (agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) || write(ready, "r", 1) != 1)
		_exit(1);
	/* EOF on hold (parent closed or died) ends the holder. */
	if (read(hold, &c, 1) < 0)
		_exit(1);
}

static void start_holder(struct __test_metadata *_metadata, struct holder *h)
{
	int report;
	char c;

	h->pid = fork_held(_metadata, holder_main, NULL, &report, &h->release);
	if (read(report, &c, 1) != 1) {
		close(report);
		close(h->release);
		FAIL_MSG("holder did not start: exit %d",
			 wait_exit(_metadata, h->pid));
	}
	close(report);
	proc_session(_metadata, h->pid, h->session);
	ns_link(_metadata, h->pid, h->link, sizeof(h->link));
}

static void stop_holder(struct __test_metadata *_metadata, struct holder *h)
{
	close(h->release);
	CHECK(wait_exit(_metadata, h->pid) == 0, "holder failed");
}

static int open_ns(struct __test_metadata *_metadata, pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/agent", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

static void expect_in(struct __test_metadata *_metadata, const char *session,
		      const char *link, const char *what)
{
	char hex[SID_HEX_LEN + 1], now[64];

	own_session(_metadata, hex);
	CHECK(!strcmp(hex, session), "%s: session %s, want %s", what, hex,
	      session);
	ns_link(_metadata, 0, now, sizeof(now));
	CHECK(!strcmp(now, link), "%s: ns link %s, want %s", what, now, link);
}

static void test_same_ns_same_inode(struct __test_metadata *_metadata)
{
	char mine[64], child_link[64];
	pid_t pid;
	int hold[2];
	char c;

	ns_link(_metadata, 0, mine, sizeof(mine));
	CHECK(pipe(hold) == 0, "pipe");
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(hold[1]);
		if (read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(hold[0]);
	ns_link(_metadata, pid, child_link, sizeof(child_link));
	close(hold[1]);
	CHECK(wait_exit(_metadata, pid) == 0, "child failed");
	CHECK(!strcmp(mine, child_link), "forked child has ns link %s, parent %s",
	      child_link, mine);
}

static void test_bad_nstypes(struct __test_metadata *_metadata, int fd,
			     const char *session, const char *link)
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
		CHECK(rc == -1 && errno == EINVAL,
		      "setns(agent fd, %#x): rc=%d errno=%s, want EINVAL",
		      types[i], rc, strerror(errno));
		expect_in(_metadata, session, link, "after a refused setns");
	}
}

static int eperm_fd;

static void setns_without_cap(struct __test_metadata *_metadata)
{
	char before[SID_HEX_LEN + 1], after[SID_HEX_LEN + 1];
	int rc;

	own_session(_metadata, before);
	drop_cap_sys_admin(_metadata);
	rc = setns(eperm_fd, 0);
	CHECK(rc == -1 && errno == EPERM,
	      "setns(agent fd, 0) without CAP_SYS_ADMIN: rc=%d errno=%s, want EPERM",
	      rc, strerror(errno));
	own_session(_metadata, after);
	CHECK(!strcmp(before, after), "session changed despite EPERM");
}

TEST(same_ns_same_inode)
{
	require_agentns(_metadata);
	test_same_ns_same_inode(_metadata);
}

/* Our own namespace and a holder's, each with an open nsfs fd. */
FIXTURE(holder) {
	char orig_session[SID_HEX_LEN + 1];
	char orig_link[64];
	struct holder h;
	int orig_fd;
	int fd;
};

FIXTURE_SETUP(holder)
{
	self->h.pid = 0;
	self->orig_fd = -1;
	self->fd = -1;
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);

	own_session(_metadata, self->orig_session);
	ns_link(_metadata, 0, self->orig_link, sizeof(self->orig_link));
	self->orig_fd = open_ns(_metadata, getpid());

	start_holder(_metadata, &self->h);
	CHECK(strcmp(self->h.session, self->orig_session) &&
	      strcmp(self->h.link, self->orig_link),
	      "holder's namespace (%s %s) looks like ours", self->h.session,
	      self->h.link);
	self->fd = open_ns(_metadata, self->h.pid);
}

FIXTURE_TEARDOWN(holder)
{
	if (self->h.pid > 0) {
		close(self->h.release);
		waitpid(self->h.pid, NULL, 0);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->orig_fd >= 0)
		close(self->orig_fd);
}

TEST_F(holder, ns_get_nstype_is_agent_ns)
{
	int type;

	type = ioctl(self->fd, NS_GET_NSTYPE);
	CHECK(type == AGENTNS_TYPE, "NS_GET_NSTYPE on an agent ns fd: %d (%s), want %#x",
	      type, type < 0 ? strerror(errno) : "ok", AGENTNS_TYPE);
	type = ioctl(self->orig_fd, NS_GET_NSTYPE);
	CHECK(type == AGENTNS_TYPE, "NS_GET_NSTYPE on our own agent ns fd: %d, want %#x",
	      type, AGENTNS_TYPE);
}

TEST_F(holder, nonzero_nstype_einval)
{
	test_bad_nstypes(_metadata, self->fd, self->orig_session,
			 self->orig_link);
}

TEST_F(holder, setns_needs_cap_sys_admin)
{
	eperm_fd = self->fd;
	run_in_child(_metadata, "setns without CAP_SYS_ADMIN",
		     setns_without_cap);
}

TEST_F(holder, setns_there_and_back)
{
	CHECK(setns(self->fd, 0) == 0, "setns(agent fd, 0): %s",
	      strerror(errno));
	expect_in(_metadata, self->h.session, self->h.link,
		  "after setns into the holder's ns");
	CHECK(setns(self->orig_fd, 0) == 0, "setns back: %s",
	      strerror(errno));
	expect_in(_metadata, self->orig_session, self->orig_link,
		  "after setns back");
}

/* The open fd pins the namespace after its last task is gone. */
TEST_F(holder, fd_pins_namespace)
{
	stop_holder(_metadata, &self->h);
	self->h.pid = 0;
	CHECK(setns(self->fd, 0) == 0,
	      "setns into a ns pinned only by an fd: %s", strerror(errno));
	expect_in(_metadata, self->h.session, self->h.link,
		  "after setns into the pinned ns");
}

TEST_HARNESS_MAIN
