// SPDX-License-Identifier: GPL-2.0
/*
 * agent-wrap - DEPRECATED legacy probe; use agentns-unshare(1).
 *
 * The first design created agent namespaces with unshare(CLONE_NEWAGENT)
 * and CLONE_NEWAGENT == 0x100. But 0x100 is CLONE_VM: a single-threaded
 * unshare(0x100) is a successful no-op on mainline and never creates an
 * agent namespace. This program no longer runs commands; it only checks
 * that the kernel still treats 0x100 as CLONE_VM.
 *
 * Exit status:
 *   0   the kernel behaves: unshare(0x100) created no agent namespace
 *   1   unshare(0x100) did create one (a broken kernel), or a read failed
 *   2   bad usage (any argument: commands are not run any more)
 *   77  the kernel has no agent namespaces
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/agent_namespaces.h>

#ifndef AGENTNS_VERSION
#define AGENTNS_VERSION "0.1.0"
#endif

#define LEGACY_CLONE_NEWAGENT	0x100UL	/* really CLONE_VM */
#define SESSION_PATH		"/proc/self/agent_session"

static const char *prog = "agent-wrap";

/* 32 hex digits and a newline; returns 0 or -1. */
static int read_session(char buf[2 * AGENT_NS_SESSION_ID_LEN + 2])
{
	ssize_t n;
	int fd;

	fd = open(SESSION_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, 2 * AGENT_NS_SESSION_ID_LEN + 1);
	close(fd);
	if (n != 2 * AGENT_NS_SESSION_ID_LEN + 1)
		return -1;
	buf[2 * AGENT_NS_SESSION_ID_LEN] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	char before[2 * AGENT_NS_SESSION_ID_LEN + 2];
	char after[2 * AGENT_NS_SESSION_ID_LEN + 2];
	long rc;
	int err;

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("%s %s (deprecated)\n", prog, AGENTNS_VERSION);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("Usage: %s\n"
		       "DEPRECATED: probes that unshare(0x100) (CLONE_VM, the legacy\n"
		       "CLONE_NEWAGENT) creates no agent namespace. To run a command in an\n"
		       "agent namespace use: agentns-unshare [-i INTENT] -- COMMAND\n"
		       "Exit status: 0 no namespace created, 1 one was created or the\n"
		       "probe failed, 2 bad usage, 77 kernel without agent namespaces.\n",
		       prog);
		return 0;
	}

	fprintf(stderr, "%s: DEPRECATED: unshare(0x100) is unshare(CLONE_VM) and never creates an agent namespace; use agentns-unshare instead\n",
		prog);
	if (argc > 1) {
		fprintf(stderr, "%s: not running '%s': use 'agentns-unshare -- %s'\n",
			prog, argv[1], argv[1]);
		return 2;
	}

	if (access(SESSION_PATH, F_OK)) {
		fprintf(stderr, "%s: this kernel has no agent namespaces (no %s)\n",
			prog, SESSION_PATH);
		return 77;
	}
	if (read_session(before)) {
		fprintf(stderr, "%s: cannot read %s\n", prog, SESSION_PATH);
		return 1;
	}

	rc = syscall(SYS_unshare, LEGACY_CLONE_NEWAGENT);
	err = errno;

	if (read_session(after)) {
		fprintf(stderr, "%s: cannot read %s\n", prog, SESSION_PATH);
		return 1;
	}
	printf("unshare(0x100) returned %ld%s%s; agent namespace created: %s (session %s)\n",
	       rc, rc ? ", " : "", rc ? strerror(err) : "",
	       strcmp(before, after) ? "yes" : "no", after);
	if (strcmp(before, after)) {
		fprintf(stderr, "%s: BROKEN KERNEL: unshare(0x100) changed the agent session %s -> %s\n",
			prog, before, after);
		return 1;
	}
	return 0;
}
