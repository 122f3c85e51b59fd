// SPDX-License-Identifier: GPL-2.0
/*
 * agentns_helper: small actions the shell tests cannot do themselves.
 *
 *   agentns_helper create [-i TAG] [-o N] [-w BYTES]
 *	Create an agent namespace, optionally set the intent tag, then do N
 *	opens and write BYTES bytes to /dev/null (known counter activity for
 *	the tracepoint test) and print "session=HEX". Exits when done, which
 *	frees the namespace.
 *   agentns_helper show
 *	Print "session=HEX parent=HEX intent=TAG" of the caller (via prctl).
 *   agentns_helper budget [-n] [-N] [-D] [-s N] [-w N] [-e NS] [-a ACTION]
 *			   [-r RESERVED] [-t SECONDS] [-m getppid|write]
 *	Create a namespace (-n: stay in the caller's), drop CAP_SYS_ADMIN
 *	(-D), set the budget (-N: set none), then, with -t, keep spending
 *	syscalls (or write bytes) for SECONDS, printing "ready pid=N" once
 *	the budget is set and exceeded.
 *   agentns_helper exec COMMAND [ARGS...]
 *	Create a namespace and exec COMMAND keeping every capability: runs
 *	the suite itself from inside an agent namespace (unlike the shim,
 *	which drops CAP_SYS_ADMIN).
 *
 * Exit codes: 0 done (for budget -t: survived), 1 other error, 2 usage,
 * 3 EINVAL, 4 EPERM, 5 EOPNOTSUPP, 77 kernel without agent namespaces.
 * Deliberately not named test_* so the runner does not run it on its own.
 */
#define AGENTNS_NO_HARNESS
#include "agentns_test.h"

/* Not KSFT_SKIP: 4 already means EPERM here. */
#define EXIT_NO_AGENTNS	77

#include <time.h>

static int errno_exit(const char *what, int err)
{
	fprintf(stderr, "agentns_helper: %s: %s\n", what, strerror(err));
	switch (err) {
	case EINVAL:
		return 3;
	case EPERM:
		return 4;
	case EOPNOTSUPP:
		return 5;
	}
	return 1;
}

static int bad_usage(void)
{
	fprintf(stderr, "usage: agentns_helper create [-i TAG] [-o N] [-w BYTES] | show |\n"
		"       budget [-nND] [-s N] [-w N] [-e NS] [-a ACTION] [-r N] [-t SECS] [-m getppid|write] |\n"
		"       exec COMMAND [ARGS...]\n");
	return 2;
}

static int parse_u64(const char *s, __u64 *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || !*s || *end || *s == '-' ? -1 : 0;
}

static int probe(void)
{
	__u8 id[SID_LEN];

	if (access("/proc/self/agent_session", F_OK) &&
	    agent_prctl(PR_GET_AGENT_SESSION_ID, (unsigned long)id, 0, 0, 0))
		return EXIT_NO_AGENTNS;
	return 0;
}

static void print_id(const char *label, int op)
{
	__u8 id[SID_LEN];
	char hex[SID_HEX_LEN + 1];

	if (agent_prctl(op, (unsigned long)id, 0, 0, 0))
		memset(id, 0, sizeof(id));
	hex_of(id, hex);
	printf("%s=%s", label, hex);
}

static int cmd_show(void)
{
	char tag[AGENT_NS_INTENT_TAG_LEN] = "";

	if (agent_prctl(PR_GET_AGENT_INTENT_TAG, (unsigned long)tag, 0, 0, 0))
		return errno_exit("PR_GET_AGENT_INTENT_TAG", errno);
	print_id("session", PR_GET_AGENT_SESSION_ID);
	print_id(" parent", PR_GET_AGENT_PARENT_ID);
	printf(" intent=%s\n", tag);
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	static char buf[4096];
	const char *tag = NULL;
	__u64 opens = 0, bytes = 0, n;
	ssize_t w;
	int c, fd;

	while ((c = getopt(argc, argv, "i:o:w:")) != -1) {
		switch (c) {
		case 'i':
			tag = optarg;
			break;
		case 'o':
			if (parse_u64(optarg, &opens))
				return bad_usage();
			break;
		case 'w':
			if (parse_u64(optarg, &bytes))
				return bad_usage();
			break;
		default:
			return bad_usage();
		}
	}
	if (optind != argc)
		return bad_usage();

	if (agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
		return errno_exit("PR_SET_AGENT_NS", errno);
	if (tag && agent_prctl(PR_SET_AGENT_INTENT_TAG, (unsigned long)tag,
			       0, 0, 0))
		return errno_exit("PR_SET_AGENT_INTENT_TAG", errno);

	for (n = 0; n < opens; n++) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno_exit("open /dev/null", errno);
		close(fd);
	}
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_exit("open /dev/null", errno);
	memset(buf, 'x', sizeof(buf));
	for (n = 0; n < bytes; n += w) {
		w = write(fd, buf, bytes - n < sizeof(buf) ? bytes - n : sizeof(buf));
		if (w <= 0)
			return errno_exit("write /dev/null", errno);
	}
	close(fd);

	print_id("session", PR_GET_AGENT_SESSION_ID);
	printf("\n");
	return 0;
}

struct budget_opts {
	struct agent_ns_budget b;
	int no_ns, no_budget, drop;
	__u64 seconds;
	int write_mode;
};

static int parse_budget(int argc, char **argv, struct budget_opts *o)
{
	__u64 v;
	int c;

	while ((c = getopt(argc, argv, "nNDs:w:e:a:r:t:m:")) != -1) {
		switch (c) {
		case 'n':
			o->no_ns = 1;
			break;
		case 'N':
			o->no_budget = 1;
			break;
		case 'D':
			o->drop = 1;
			break;
		case 'm':
			if (strcmp(optarg, "write") && strcmp(optarg, "getppid"))
				return -1;
			o->write_mode = !strcmp(optarg, "write");
			break;
		default:
			if (!optarg || parse_u64(optarg, &v))
				return -1;
			if (c == 's')
				o->b.max_syscalls = v;
			else if (c == 'w')
				o->b.max_write_bytes = v;
			else if (c == 'e')
				o->b.max_elapsed_ns = v;
			else if (c == 'a' && v <= UINT32_MAX)
				o->b.action = v;
			else if (c == 'r' && v <= UINT32_MAX)
				o->b.reserved = v;
			else if (c == 't')
				o->seconds = v;
			else
				return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* Bursts of work with pauses: the budget is crossed fast, the CPU is spared. */
static void burst(int write_mode, int fd)
{
	static char buf[512];
	int i;

	for (i = 0; i < 200; i++) {
		if (write_mode) {
			if (write(fd, buf, sizeof(buf)) < 0)
				_exit(1);
		} else {
			syscall(SYS_getppid);
		}
	}
}

/*
 * Past the limits at "ready", then a burst every 100 ms until the time is up:
 * test_budget_enforce.sh runs six of these for up to 100 s, which a slow
 * (KASAN, emulated) guest should spend on the reaper, not on the spinners.
 */
static int spin(const struct budget_opts *o)
{
	struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 }, now, end;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return errno_exit("open /dev/null", errno);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += o->seconds;
	/* Past the limits the tests use (1000 syscalls) before "ready". */
	for (int i = 0; i < 6; i++)
		burst(o->write_mode, fd);
	printf("ready pid=%d\n", getpid());
	fflush(stdout);
	for (;;) {
		burst(o->write_mode, fd);
		nanosleep(&pause, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
	}
	printf("survived %llus\n", (unsigned long long)o->seconds);
	return 0;
}

static int cmd_budget(int argc, char **argv)
{
	struct budget_opts o;

	memset(&o, 0, sizeof(o));
	if (parse_budget(argc, argv, &o))
		return bad_usage();
	if (!o.no_ns && agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
		return errno_exit("PR_SET_AGENT_NS", errno);
	if (o.drop && cap_sys_admin_drop())
		return errno_exit("dropping CAP_SYS_ADMIN", errno);
	if (!o.no_budget && agent_prctl(PR_SET_AGENT_BUDGET_LIMITS,
					(unsigned long)&o.b, 0, 0, 0))
		return errno_exit("PR_SET_AGENT_BUDGET_LIMITS", errno);
	if (!o.seconds)
		return 0;
	return spin(&o);
}

static int cmd_exec(int argc, char **argv)
{
	if (argc < 3)
		return bad_usage();
	if (agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
		return errno_exit("PR_SET_AGENT_NS", errno);
	execvp(argv[2], argv + 2);
	fprintf(stderr, "agentns_helper: %s: %s\n", argv[2], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return bad_usage();
	if (probe())
		return EXIT_NO_AGENTNS;
	/* Subcommand options start after the subcommand. */
	optind = 2;
	if (!strcmp(argv[1], "create"))
		return cmd_create(argc, argv);
	if (!strcmp(argv[1], "show"))
		return argc == 2 ? cmd_show() : bad_usage();
	if (!strcmp(argv[1], "budget"))
		return cmd_budget(argc, argv);
	if (!strcmp(argv[1], "exec"))
		return cmd_exec(argc, argv);
	return bad_usage();
}
