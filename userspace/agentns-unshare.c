// SPDX-License-Identifier: GPL-2.0
/*
 * agentns-unshare - run a command in a fresh agent namespace
 *
 *   agentns-unshare [-i INTENT] [--] COMMAND [ARGS...]
 *
 * Creates the namespace with prctl(PR_SET_AGENT_NS), sets the intent tag
 * (-i, or $AGENT_INTENT; the option wins), then gives up CAP_SYS_ADMIN
 * before exec: the command must not be able to leave its namespace with
 * setns(2), create another one, or change its budget.
 *
 * Exit status: the command's own, or
 *   1    any other failure (setting the intent, dropping capabilities)
 *   2    bad usage
 *   3    the kernel has no agent namespaces
 *   4    CAP_SYS_ADMIN missing
 *   5    disabled by sysctl kernel.agent_ns.enabled=0
 *   126  COMMAND found but could not be executed
 *   127  COMMAND not found
 *
 * Meant to be installed either setuid-free with "setcap cap_sys_admin+ep"
 * for unprivileged users, or run as root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/agent_namespaces.h>

#ifndef AGENTNS_VERSION
#define AGENTNS_VERSION "0.1.0"
#endif

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT		47
#define PR_CAP_AMBIENT_LOWER	3
#endif

enum {
	EXIT_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_NO_KERNEL = 3,
	EXIT_NO_CAP = 4,
	EXIT_DISABLED = 5,
	EXIT_CANNOT_EXEC = 126,
	EXIT_NOT_FOUND = 127,
};

static const char *prog = "agentns-unshare";
static char self_path[4096] = "agentns-unshare";

/*
 * prctl(2) through syscall(2) with unsigned long arguments: glibc's
 * variadic prctl() would pass a literal 0 as an int, leaving the upper
 * half of the register undefined, and the kernel rejects nonzero unused
 * arguments of PR_SET_AGENT_NS with EINVAL.
 */
static long xprctl(int op, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5)
{
	return syscall(SYS_prctl, op, a2, a3, a4, a5);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-i INTENT] [--] COMMAND [ARGS...]\n"
		"Run COMMAND in a new agent namespace, without CAP_SYS_ADMIN.\n"
		"\n"
		"  -i, --intent INTENT  set the namespace's intent tag (at most 63 bytes\n"
		"                       are kept); default: $AGENT_INTENT\n"
		"  -h, --help           show this help and exit\n"
		"  -V, --version        show the version and exit\n"
		"\n"
		"Exit status: COMMAND's, or 1 other error, 2 bad usage, 3 kernel without\n"
		"agent namespaces, 4 missing CAP_SYS_ADMIN, 5 disabled by\n"
		"kernel.agent_ns.enabled=0, 126 COMMAND not executable, 127 not found.\n"
		"\n"
		"Unprivileged use: setcap cap_sys_admin+ep %s\n",
		prog, self_path);
}

static int create_ns(void)
{
	if (!xprctl(PR_SET_AGENT_NS, 0, 0, 0, 0))
		return 0;

	switch (errno) {
	case EINVAL:
		/* An unknown prctl option: the series is not in this kernel. */
		fprintf(stderr, "%s: this kernel has no agent namespaces (%s)\n",
			prog, access("/proc/self/agent_session", F_OK) ?
			"no /proc/self/agent_session" :
			"PR_SET_AGENT_NS rejected");
		return EXIT_NO_KERNEL;
	case EPERM:
		fprintf(stderr, "%s: creating an agent namespace needs CAP_SYS_ADMIN: run it as root (sudo) or grant it with 'setcap cap_sys_admin+ep %s'\n",
			prog, self_path);
		return EXIT_NO_CAP;
	case EOPNOTSUPP:
		fprintf(stderr, "%s: agent namespaces are disabled (sysctl kernel.agent_ns.enabled=0)\n",
			prog);
		return EXIT_DISABLED;
	}
	fprintf(stderr, "%s: prctl(PR_SET_AGENT_NS): %s\n", prog,
		strerror(errno));
	return EXIT_OTHER;
}

static int set_intent(const char *intent)
{
	if (strlen(intent) >= AGENT_NS_INTENT_TAG_LEN)
		fprintf(stderr, "%s: warning: intent cut to its first %d bytes\n",
			prog, AGENT_NS_INTENT_TAG_LEN - 1);
	if (!xprctl(PR_SET_AGENT_INTENT_TAG, (unsigned long)intent, 0, 0, 0))
		return 0;
	fprintf(stderr, "%s: cannot set the intent tag: %s\n", prog,
		strerror(errno));
	return EXIT_OTHER;
}

/* Raw capget/capset: no libcap in a static busybox world. */
static int get_caps(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return syscall(SYS_capget, &hdr, data);
}

static int set_caps(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return syscall(SYS_capset, &hdr, data);
}

#define CAP_WORD(c)	((c) / 32)
#define CAP_BIT(c)	(1U << ((c) % 32))

/*
 * Without this, root regains the full bounding set on exec and a file
 * capability would be re-granted: the command could setns(2) back out.
 */
static int drop_cap_sys_admin(void)
{
	struct __user_cap_data_struct data[2];
	int w = CAP_WORD(CAP_SYS_ADMIN);

	if (get_caps(data))
		goto fail;

	/* Needs CAP_SETPCAP: root has it, a file-capability user does not. */
	if ((data[CAP_WORD(CAP_SETPCAP)].effective & CAP_BIT(CAP_SETPCAP)) &&
	    xprctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0))
		goto fail;
	/* EINVAL only on kernels before ambient capabilities (4.3). */
	if (xprctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_ADMIN, 0, 0) &&
	    errno != EINVAL)
		goto fail;

	data[w].effective &= ~CAP_BIT(CAP_SYS_ADMIN);
	data[w].permitted &= ~CAP_BIT(CAP_SYS_ADMIN);
	data[w].inheritable &= ~CAP_BIT(CAP_SYS_ADMIN);
	if (set_caps(data) || get_caps(data))
		goto fail;
	if ((data[w].effective | data[w].permitted | data[w].inheritable) &
	    CAP_BIT(CAP_SYS_ADMIN)) {
		errno = EPERM;
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "%s: cannot drop CAP_SYS_ADMIN: %s\n", prog,
		strerror(errno));
	return EXIT_OTHER;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "intent", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *intent = getenv("AGENT_INTENT");
	ssize_t n;
	int c, rc;

	/* For the setcap hint: the path that actually needs the capability. */
	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n > 0)
		self_path[n] = '\0';

	/* "+": options end at COMMAND, whose own options are not ours. */
	while ((c = getopt_long(argc, argv, "+i:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			intent = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", prog, AGENTNS_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help' for more information.\n",
				prog);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: no COMMAND given (see --help)\n", prog);
		return EXIT_USAGE;
	}

	rc = create_ns();
	if (!rc && intent && *intent)
		rc = set_intent(intent);
	if (!rc)
		rc = drop_cap_sys_admin();
	if (rc)
		return rc;

	execvp(argv[optind], argv + optind);
	rc = errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	fprintf(stderr, "%s: %s: %s\n", prog, argv[optind], strerror(errno));
	return rc;
}
