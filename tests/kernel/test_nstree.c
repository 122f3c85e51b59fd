// SPDX-License-Identifier: GPL-2.0
/*
 * The agent namespace in the namespace tree: listns(2) with and without
 * the AGENTNS_TYPE filter and by owner, nsfs file handles, NS_GET_NSTYPE,
 * NS_GET_PARENT up to the initial namespace (and never above the
 * caller's own), NS_GET_USERNS, the initial namespace's fixed id and
 * inode, unshare(2) and clone3(2) refusing the type value, and a
 * namespace leaving the tree with its last reference.
 */
#include "agentns_test.h"

#include <sys/ioctl.h>
#include <linux/nsfs.h>

/*
 * The 7.x nsfs ABI (include/uapi/linux/nsfs.h), spelled out so the suite
 * also builds against older installed headers (Debian 12's are 6.1's).
 * The agent namespace's values are in agentns_test.h.
 */
#define AGENTNS_USER_NS		0x10000000U	/* USER_NS, CLONE_NEWUSER */
#define AGENTNS_PID_NS		0x20000000U	/* PID_NS, CLONE_NEWPID */
#ifndef __NR_listns
#define __NR_listns		470
#endif
#ifndef FD_NSFS_ROOT
#define FD_NSFS_ROOT		-10003
#endif
#ifndef MAX_HANDLE_SZ
#define MAX_HANDLE_SZ		128
#endif

/* The layout of struct ns_id_req. */
struct agentns_ns_id_req {
	__u32 size;
	__u32 spare;
	__u64 ns_id;
	__u32 ns_type;
	__u32 spare2;
	__u64 user_ns_id;
};

#define MAX_IDS 4096

/* A child that made @depth nested agent namespaces and waits in the last. */
struct holder {
	pid_t pid;
	int release;		/* closing it lets the holder exit */
	__u64 ids[2];		/* NS_GET_ID of each namespace, outermost first */
};

#define HOLD_USERNS	1	/* in a user namespace of its own first */

static __u64 fd_ns_id(struct __test_metadata *_metadata, int fd)
{
	__u64 id = 0;

	CHECK(ioctl(fd, NS_GET_ID, &id) == 0, "NS_GET_ID: %s", strerror(errno));
	return id;
}

static int open_ns(struct __test_metadata *_metadata, pid_t pid,
		   const char *type)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, type);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

static __u64 pid_ns_id(struct __test_metadata *_metadata, pid_t pid,
		       const char *type)
{
	int fd = open_ns(_metadata, pid, type);
	__u64 id = fd_ns_id(_metadata, fd);

	close(fd);
	return id;
}

struct holder_args {
	int depth;
	unsigned int flags;
};

static void holder_main(int ready, int hold, void *arg)
{
	const struct holder_args *args = arg;
	__u64 ids[2] = { 0, 0 };
	int i, fd;
	char c;

	if ((args->flags & HOLD_USERNS) && unshare(CLONE_NEWUSER))
		_exit(10);
	for (i = 0; i < args->depth; i++) {
		if (agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
			_exit(11);
		fd = open("/proc/self/ns/agent", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, NS_GET_ID, &ids[i]))
			_exit(12);
		close(fd);
	}
	if (write(ready, ids, sizeof(ids)) != sizeof(ids))
		_exit(13);
	/* EOF once the test lets go. */
	if (read(hold, &c, 1) < 0)
		_exit(14);
}

static void start_holder(struct __test_metadata *_metadata, struct holder *h,
			 int depth, unsigned int flags)
{
	struct holder_args args = { .depth = depth, .flags = flags };
	int report;
	ssize_t n;

	h->pid = fork_held(_metadata, holder_main, &args, &report, &h->release);
	n = read(report, h->ids, sizeof(h->ids));
	close(report);
	if (n != sizeof(h->ids)) {
		close(h->release);
		FAIL_MSG("holder not ready: exit %d", wait_exit(_metadata, h->pid));
	}
	CHECK(h->ids[depth - 1] != 0, "holder's namespace has no id");
}

static void stop_holder(struct __test_metadata *_metadata, struct holder *h)
{
	close(h->release);
	CHECK(wait_exit(_metadata, h->pid) == 0, "holder failed");
}

static long sys_listns(const struct agentns_ns_id_req *req, __u64 *ids, size_t nr)
{
	return syscall(__NR_listns, req, ids, nr, 0);
}

/* Every id listns() returns for @type (0: all) and @owner (0: any), paged. */
static size_t list_ns(struct __test_metadata *_metadata, __u32 type,
		      __u64 owner, __u64 *ids)
{
	struct agentns_ns_id_req req = {
		.size = sizeof(req),
		.ns_type = type,
		.user_ns_id = owner,
	};
	size_t total = 0;
	long n;

	for (;;) {
		n = sys_listns(&req, ids + total, 64);
		/* ENOENT: nothing after the last id of a full page. */
		if (n < 0 && errno == ENOENT && total)
			break;
		CHECK(n >= 0, "listns(type %#x, owner %llu): %s", type,
		      (unsigned long long)owner, strerror(errno));
		total += n;
		if (n < 64 || total + 64 > MAX_IDS)
			break;
		req.ns_id = ids[total - 1];
	}
	return total;
}

static bool listed(const __u64 *ids, size_t n, __u64 id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static __u64 ids[MAX_IDS];

/* The ids a listing returned, on one line of the test's output. */
static void show_ids(const char *what, const __u64 *list, size_t n)
{
	char line[256];
	size_t i, len = 0;

	line[0] = '\0';
	for (i = 0; i < n && len < sizeof(line) - 24; i++)
		len += snprintf(line + len, sizeof(line) - len, " %llu",
				(unsigned long long)list[i]);
	note("%s: %zu id(s):%s%s", what, n, line, i < n ? " ..." : "");
}

TEST(initial_namespace_fixed_id_and_inode)
{
	struct stat st;
	int fd;

	require_agentns(_metadata);
	if (!pid1_in_init_ns(_metadata))
		SKIP(return, "pid 1 is not in the initial agent namespace");
	fd = open_ns(_metadata, 1, "agent");
	CHECK(fstat(fd, &st) == 0, "fstat: %s", strerror(errno));
	CHECK(st.st_ino == AGENTNS_INIT_INO, "inode %#llx, want %#x",
	      (unsigned long long)st.st_ino, AGENTNS_INIT_INO);
	CHECK(fd_ns_id(_metadata, fd) == AGENTNS_INIT_ID, "id %llu, want %llu",
	      (unsigned long long)fd_ns_id(_metadata, fd), AGENTNS_INIT_ID);
	CHECK(ioctl(fd, NS_GET_NSTYPE) == AGENTNS_TYPE, "NS_GET_NSTYPE %d",
	      ioctl(fd, NS_GET_NSTYPE));
	/* Like the initial pid namespace: no parent. */
	CHECK(ioctl(fd, NS_GET_PARENT) == -1 && errno == EPERM,
	      "NS_GET_PARENT on the initial namespace: %s", strerror(errno));
	close(fd);
}

TEST(listed_with_and_without_the_type_filter)
{
	struct holder h;
	__u64 id, user_id;
	size_t n;
	int fd;

	require_agentns(_metadata);
	require_root(_metadata);
	start_holder(_metadata, &h, 1, 0);
	fd = open_ns(_metadata, h.pid, "agent");
	id = fd_ns_id(_metadata, fd);
	CHECK(id == h.ids[0], "the fd's id %llu is not the holder's %llu",
	      (unsigned long long)id, (unsigned long long)h.ids[0]);
	CHECK(ioctl(fd, NS_GET_NSTYPE) == AGENTNS_TYPE, "NS_GET_NSTYPE %d, want %#x",
	      ioctl(fd, NS_GET_NSTYPE), AGENTNS_TYPE);
	user_id = pid_ns_id(_metadata, getpid(), "user");

	n = list_ns(_metadata, 0, 0, ids);
	CHECK(listed(ids, n, id), "listns() of every type misses %llu",
	      (unsigned long long)id);
	CHECK(listed(ids, n, AGENTNS_INIT_ID), "listns() misses the initial one");

	n = list_ns(_metadata, AGENTNS_TYPE, 0, ids);
	show_ids("listns(AGENT_NS)", ids, n);
	CHECK(listed(ids, n, id) && listed(ids, n, AGENTNS_INIT_ID),
	      "listns(AGENTNS_TYPE) misses the holder's or the initial namespace");
	CHECK(!listed(ids, n, user_id), "listns(AGENTNS_TYPE) lists a user namespace");

	n = list_ns(_metadata, AGENTNS_USER_NS | AGENTNS_PID_NS, 0, ids);
	CHECK(!listed(ids, n, id), "listns(USER_NS | PID_NS) lists an agent namespace");
	n = list_ns(_metadata, AGENTNS_USER_NS | AGENTNS_TYPE, 0, ids);
	CHECK(listed(ids, n, id) && listed(ids, n, user_id),
	      "listns(USER_NS | AGENT_NS) misses one of them");

	close(fd);
	stop_holder(_metadata, &h);
}

TEST(listed_under_its_owner)
{
	struct holder h;
	__u64 owner;
	size_t n;

	require_agentns(_metadata);
	require_root(_metadata);
	start_holder(_metadata, &h, 1, HOLD_USERNS);
	owner = pid_ns_id(_metadata, h.pid, "user");
	n = list_ns(_metadata, AGENTNS_TYPE, owner, ids);
	CHECK(n == 1 && ids[0] == h.ids[0],
	      "listns(AGENTNS_TYPE, owner %llu): %zu ids, want just %llu",
	      (unsigned long long)owner, n, (unsigned long long)h.ids[0]);
	stop_holder(_metadata, &h);
}

TEST(file_handle_round_trip)
{
	struct file_handle *fh;
	struct stat a, b;
	struct holder h;
	int fd, fd2, mnt;

	require_agentns(_metadata);
	require_root(_metadata);
	start_holder(_metadata, &h, 1, 0);
	fd = open_ns(_metadata, h.pid, "agent");
	fh = calloc(1, sizeof(*fh) + MAX_HANDLE_SZ);
	CHECK(fh, "calloc");
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", fh, &mnt, AT_EMPTY_PATH) && errno == ENOSYS) {
		close(fd);
		stop_holder(_metadata, &h);
		free(fh);
		SKIP(return, "kernel without CONFIG_FHANDLE");
	}
	CHECK(name_to_handle_at(fd, "", fh, &mnt, AT_EMPTY_PATH) == 0,
	      "name_to_handle_at: %s", strerror(errno));
	fd2 = open_by_handle_at(FD_NSFS_ROOT, fh, O_RDONLY);
	CHECK(fd2 >= 0, "open_by_handle_at(FD_NSFS_ROOT): %s", strerror(errno));
	CHECK(fstat(fd, &a) == 0 && fstat(fd2, &b) == 0, "fstat");
	CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev,
	      "the handle opened another namespace");
	CHECK(fd_ns_id(_metadata, fd2) == h.ids[0], "id through the handle differs");
	close(fd2);

	/* Still open: the fd is a reference after the last task left. */
	stop_holder(_metadata, &h);
	fd2 = open_by_handle_at(FD_NSFS_ROOT, fh, O_RDONLY);
	CHECK(fd2 >= 0, "handle with only an fd left: %s", strerror(errno));
	close(fd2);
	close(fd);
	free(fh);
}

TEST(parent_chain_to_the_initial_namespace)
{
	struct holder h;
	int fd, p1, p2;

	require_agentns(_metadata);
	require_root(_metadata);
	start_holder(_metadata, &h, 2, 0);
	fd = open_ns(_metadata, h.pid, "agent");
	CHECK(fd_ns_id(_metadata, fd) == h.ids[1], "not the inner namespace");
	p1 = ioctl(fd, NS_GET_PARENT);
	CHECK(p1 >= 0, "NS_GET_PARENT of the inner namespace: %s", strerror(errno));
	CHECK(fd_ns_id(_metadata, p1) == h.ids[0], "its parent is not the outer one");
	CHECK(ioctl(p1, NS_GET_NSTYPE) == AGENTNS_TYPE, "the parent's type");
	p2 = ioctl(p1, NS_GET_PARENT);
	CHECK(p2 >= 0, "NS_GET_PARENT of the outer namespace: %s", strerror(errno));
	/* The test's own namespace, the initial one when run as usual. */
	CHECK(fd_ns_id(_metadata, p2) == pid_ns_id(_metadata, getpid(), "agent"),
	      "the outer namespace's parent is not the caller's");
	CHECK(ioctl(p2, NS_GET_PARENT) == -1 && errno == EPERM,
	      "NS_GET_PARENT above the caller's namespace: %s", strerror(errno));
	close(p2);
	close(p1);
	close(fd);
	stop_holder(_metadata, &h);
}

/*
 * An agent must not climb above its own namespace: from inside, the
 * parent of a namespace below is reachable, its own parent is not.
 */
static void climb_from_inside(struct __test_metadata *_metadata)
{
	struct holder inner;
	int own, fd, p;

	become_nobody(_metadata);
	enter_new_userns(_metadata);
	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS: %s", strerror(errno));
	own = open("/proc/self/ns/agent", O_RDONLY | O_CLOEXEC);
	CHECK(own >= 0, "open own ns: %s", strerror(errno));
	CHECK(ioctl(own, NS_GET_PARENT) == -1 && errno == EPERM,
	      "NS_GET_PARENT of the caller's own namespace: %s",
	      errno ? strerror(errno) : "allowed");

	start_holder(_metadata, &inner, 1, 0);
	fd = open_ns(_metadata, inner.pid, "agent");
	p = ioctl(fd, NS_GET_PARENT);
	CHECK(p >= 0, "NS_GET_PARENT of a namespace below: %s", strerror(errno));
	CHECK(fd_ns_id(_metadata, p) == fd_ns_id(_metadata, own),
	      "the parent of the one below is not the caller's");
	CHECK(ioctl(p, NS_GET_PARENT) == -1 && errno == EPERM,
	      "climbed above the caller's namespace");
	close(p);
	close(fd);
	stop_holder(_metadata, &inner);
	close(own);
}

TEST(parent_never_above_the_caller)
{
	require_agentns(_metadata);
	require_root(_metadata);
	run_in_child(_metadata, "NS_GET_PARENT from inside", climb_from_inside);
}

TEST(owner_is_the_creators_user_namespace)
{
	struct holder h;
	int fd, u;

	require_agentns(_metadata);
	require_root(_metadata);
	start_holder(_metadata, &h, 1, HOLD_USERNS);
	fd = open_ns(_metadata, h.pid, "agent");
	u = ioctl(fd, NS_GET_USERNS);
	CHECK(u >= 0, "NS_GET_USERNS: %s", strerror(errno));
	CHECK(fd_ns_id(_metadata, u) == pid_ns_id(_metadata, h.pid, "user"),
	      "the owner is not the holder's user namespace");
	CHECK(ioctl(u, NS_GET_NSTYPE) == CLONE_NEWUSER, "the owner's type");
	close(u);
	close(fd);
	stop_holder(_metadata, &h);
}

static void type_value_creates_nothing(struct __test_metadata *_metadata)
{
	char before[SID_HEX_LEN + 1], after[SID_HEX_LEN + 1];
	pid_t pid;

	own_session(_metadata, before);
	CHECK(unshare(AGENTNS_TYPE) == -1 && errno == EINVAL,
	      "unshare(AGENTNS_TYPE): %s", errno ? strerror(errno) : "accepted");
	pid = sys_clone3(AGENTNS_TYPE);
	if (pid == 0)
		_exit(0);
	CHECK(pid == -1 && errno == EINVAL, "clone3(AGENTNS_TYPE): %s",
	      pid > 0 ? "accepted" : strerror(errno));
	own_session(_metadata, after);
	CHECK(!strcmp(before, after), "the session changed");
}

TEST(unshare_and_clone3_refuse_the_type)
{
	require_agentns(_metadata);
	run_in_child(_metadata, "unshare/clone3 with AGENTNS_TYPE",
		     type_value_creates_nothing);
}

static int join_fd;
static __u64 join_id;

static void join_with_the_type(struct __test_metadata *_metadata)
{
	int user = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);

	CHECK(setns(user, AGENTNS_TYPE) == -1 && errno == EINVAL,
	      "setns(user ns fd, AGENTNS_TYPE): %s", strerror(errno));
	CHECK(setns(join_fd, AGENTNS_TYPE) == 0, "setns(agent fd, AGENTNS_TYPE): %s",
	      strerror(errno));
	CHECK(pid_ns_id(_metadata, getpid(), "agent") == join_id,
	      "not in the namespace joined");
	close(user);
}

TEST(setns_takes_the_type)
{
	struct holder h;

	require_agentns(_metadata);
	require_root(_metadata);
	start_holder(_metadata, &h, 1, 0);
	join_fd = open_ns(_metadata, h.pid, "agent");
	join_id = h.ids[0];
	run_in_child(_metadata, "setns with AGENTNS_TYPE", join_with_the_type);
	close(join_fd);
	stop_holder(_metadata, &h);
}

TEST(leaves_the_tree_with_its_last_reference)
{
	struct holder h;
	__u64 id;
	size_t n;
	int fd;

	require_agentns(_metadata);
	require_root(_metadata);
	start_holder(_metadata, &h, 1, 0);
	id = h.ids[0];
	fd = open_ns(_metadata, h.pid, "agent");
	stop_holder(_metadata, &h);

	/* No task left, but an open fd: still active, still listed. */
	n = list_ns(_metadata, AGENTNS_TYPE, 0, ids);
	CHECK(listed(ids, n, id), "an fd no longer keeps %llu listed",
	      (unsigned long long)id);
	close(fd);
	n = list_ns(_metadata, AGENTNS_TYPE, 0, ids);
	CHECK(!listed(ids, n, id), "%llu still listed with no reference",
	      (unsigned long long)id);
	n = list_ns(_metadata, 0, 0, ids);
	CHECK(!listed(ids, n, id), "%llu still in the unified tree",
	      (unsigned long long)id);
}

TEST_HARNESS_MAIN
