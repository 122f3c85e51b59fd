// SPDX-License-Identifier: GPL-2.0
/*
 * write_bytes means what wchar of /proc/PID/io means: for a task alone
 * in its namespace, both grow by the same amount over write, pwritev2,
 * sendfile and copy_file_range (the last two were not counted at all).
 */
#include "agentns_test.h"

#include <sys/sendfile.h>
#include <sys/uio.h>

#define CHUNK	4096

static unsigned long long io_wchar(struct __test_metadata *_metadata)
{
	char buf[1024], *p;
	ssize_t n;

	n = read_text("/proc/self/io", buf, sizeof(buf));
	if (n == -ENOENT)
		SKIP_EXIT("no /proc/self/io (CONFIG_TASK_IO_ACCOUNTING=n)");
	CHECK(n > 0, "read /proc/self/io: %s", strerror((int)-n));
	p = strstr(buf, "wchar:");
	CHECK(p, "no wchar in /proc/self/io");
	return strtoull(p + 6, NULL, 10);
}

static unsigned long long write_bytes(struct __test_metadata *_metadata)
{
	struct agent_ns_counters c;

	get_counters(_metadata, &c);
	return c.write_bytes;
}

static char buf[CHUNK];

static void compare(struct __test_metadata *_metadata, const char *what,
		    ssize_t (*op)(int, int), int a, int b)
{
	unsigned long long w0, b0, w1, b1;
	ssize_t n;

	w0 = io_wchar(_metadata);
	b0 = write_bytes(_metadata);
	n = op(a, b);
	CHECK(n == CHUNK, "%s: %zd: %s", what, n, strerror(errno));
	w1 = io_wchar(_metadata);
	b1 = write_bytes(_metadata);
	CHECK(w1 - w0 >= CHUNK, "%s: wchar grew by %llu only", what, w1 - w0);
	CHECK(b1 - b0 == w1 - w0,
	      "%s: write_bytes grew by %llu, wchar by %llu", what, b1 - b0,
	      w1 - w0);
	note("%s: write_bytes +%llu, wchar +%llu", what, b1 - b0, w1 - w0);
}

static ssize_t op_write(int a, int b)
{
	(void)b;
	return write(a, buf, CHUNK);
}

static ssize_t op_pwritev2(int a, int b)
{
	struct iovec iov[2] = {
		{ .iov_base = buf, .iov_len = CHUNK / 2 },
		{ .iov_base = buf + CHUNK / 2, .iov_len = CHUNK / 2 },
	};

	(void)b;
	return pwritev2(a, iov, 2, 0, 0);
}

static ssize_t op_sendfile(int a, int b)
{
	off_t off = 0;

	return sendfile(b, a, &off, CHUNK);
}

static ssize_t op_copy_file_range(int a, int b)
{
	loff_t in = 0, out = CHUNK;

	return copy_file_range(a, &in, b, &out, CHUNK, 0);
}

static void run(struct __test_metadata *_metadata)
{
	char dir[] = "/tmp/agentns-wb.XXXXXX", pa[64], pb[64];
	int a, b;

	CHECK(agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0) == 0,
	      "PR_SET_AGENT_NS: %s", strerror(errno));
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "./agentns-wb.XXXXXX");
		CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	}
	snprintf(pa, sizeof(pa), "%s/a", dir);
	snprintf(pb, sizeof(pb), "%s/b", dir);
	a = open(pa, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	b = open(pb, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(a >= 0 && b >= 0, "open: %s", strerror(errno));
	memset(buf, 'w', sizeof(buf));
	/* A note is a write of its own, outside the measured windows. */
	compare(_metadata, "write", op_write, a, b);
	compare(_metadata, "pwritev2", op_pwritev2, a, b);
	compare(_metadata, "sendfile", op_sendfile, a, b);
	compare(_metadata, "copy_file_range", op_copy_file_range, a, b);
	close(a);
	close(b);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
}

TEST(write_bytes_is_wchar)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	if (access("/proc/self/io", F_OK))
		SKIP(return, "no /proc/self/io (CONFIG_TASK_IO_ACCOUNTING=n)");
	run_in_child(_metadata, "write_bytes against wchar", run);
}

TEST_HARNESS_MAIN
