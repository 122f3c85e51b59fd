// SPDX-License-Identifier: GPL-2.0
/*
 * Per-call cost of the syscall paths the agent namespace hooks: a null
 * syscall (getppid), a 1-byte write to /dev/null and openat+close, in
 * the situation the options set up first.
 *
 *   bench [-n DEPTH] [-D] [-s] [-b] LABEL [RUNS [ITERS]]
 *
 *   -n DEPTH  run inside DEPTH nested agent namespaces (PR_SET_AGENT_NS)
 *   -D        ... with kernel.agent_ns.enabled=0 while measuring
 *   -s        under a seccomp filter that allows every syscall
 *   -b        with an eBPF program on raw_syscalls:sys_enter that adds one
 *             to a per-CPU counter keyed by cgroup id, for every task
 *
 * Prints one line per operation: "LABEL OP median_ns min_ns max_ns runs".
 * Each run times ITERS calls; under QEMU's -icount shift=0 the guest
 * clock advances 1 ns per instruction, so ns per call is instructions
 * per call. Exits 1 when a set-up fails, so no number stands for a
 * situation that was not there.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/agent_namespaces.h>

#define MAX_RUNS 64

static int devnull;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void op_getppid(void)
{
	syscall(SYS_getppid);
}

static void op_write(void)
{
	if (write(devnull, "x", 1) != 1)
		exit(1);
}

static void op_openat(void)
{
	int fd = openat(AT_FDCWD, "/dev/null", O_RDONLY);

	if (fd < 0)
		exit(1);
	close(fd);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void measure(const char *label, const char *name, void (*op)(void),
		    int runs, long iters)
{
	double per_call[MAX_RUNS];
	int r;
	long i;

	for (i = 0; i < iters / 10; i++)	/* warm up */
		op();
	for (r = 0; r < runs; r++) {
		double start = now_ns();

		for (i = 0; i < iters; i++)
			op();
		per_call[r] = (now_ns() - start) / iters;
	}
	qsort(per_call, runs, sizeof(per_call[0]), cmp);
	printf("%s %s %.3f %.3f %.3f %d\n", label, name, per_call[runs / 2],
	       per_call[0], per_call[runs - 1], runs);
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void enter_agent_namespaces(int depth)
{
	int i;

	for (i = 0; i < depth; i++)
		if (syscall(SYS_prctl, PR_SET_AGENT_NS, 0, 0, 0, 0))
			die("PR_SET_AGENT_NS");
}

static void allow_all_seccomp(void)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		die("seccomp filter");
}

/* eBPF instructions, spelled out: the uapi has the opcodes only. */
#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
			    .off = (o), .imm = (i) })
#define CALL(f)		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, (f))
#define MOV_REG(d, s)	INSN(BPF_ALU64 | BPF_MOV | BPF_X, (d), (s), 0, 0)
#define MOV_IMM(d, i)	INSN(BPF_ALU64 | BPF_MOV | BPF_K, (d), 0, 0, (i))
#define ADD_IMM(d, i)	INSN(BPF_ALU64 | BPF_ADD | BPF_K, (d), 0, 0, (i))
#define LOAD64(d, s, o)	INSN(BPF_LDX | BPF_MEM | BPF_DW, (d), (s), (o), 0)
#define STORE64(d, s, o) INSN(BPF_STX | BPF_MEM | BPF_DW, (d), (s), (o), 0)
#define STORE_IMM(d, o, i) INSN(BPF_ST | BPF_MEM | BPF_DW, (d), 0, (o), (i))
#define MAP_FD(d, fd)	INSN(BPF_LD | BPF_DW | BPF_IMM, (d), BPF_PSEUDO_MAP_FD, 0, (fd)), \
			INSN(0, 0, 0, 0, 0)

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int counter_map = -1;

/*
 * What a per-cgroup syscall counter in eBPF costs every task:
 *	key = bpf_get_current_cgroup_id();
 *	v = lookup(map, &key); if (v) *v += 1; else update(map, &key, &one);
 */
static int load_counter_prog(int map, char *log, size_t log_size)
{
	struct bpf_insn insns[] = {
		CALL(BPF_FUNC_get_current_cgroup_id),
		STORE64(BPF_REG_10, BPF_REG_0, -8),
		MAP_FD(BPF_REG_1, map),
		MOV_REG(BPF_REG_2, BPF_REG_10),
		ADD_IMM(BPF_REG_2, -8),
		CALL(BPF_FUNC_map_lookup_elem),
		/* not there yet: to the update, 4 on */
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 4, 0),
		LOAD64(BPF_REG_1, BPF_REG_0, 0),
		ADD_IMM(BPF_REG_1, 1),
		STORE64(BPF_REG_0, BPF_REG_1, 0),
		/* over the 9 instructions of the update */
		INSN(BPF_JMP | BPF_JA, 0, 0, 9, 0),
		STORE_IMM(BPF_REG_10, -16, 1),
		MAP_FD(BPF_REG_1, map),
		MOV_REG(BPF_REG_2, BPF_REG_10),
		ADD_IMM(BPF_REG_2, -8),
		MOV_REG(BPF_REG_3, BPF_REG_10),
		ADD_IMM(BPF_REG_3, -16),
		MOV_IMM(BPF_REG_4, BPF_ANY),
		CALL(BPF_FUNC_map_update_elem),
		MOV_IMM(BPF_REG_0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	attr.license = (uintptr_t)"GPL";
	attr.log_buf = (uintptr_t)log;
	attr.log_size = log_size;
	attr.log_level = 1;
	return sys_bpf(BPF_PROG_LOAD, &attr);
}

static void count_with_bpf(void)
{
	char log[4096] = "";
	union bpf_attr attr;
	int prog;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_PERCPU_HASH;
	attr.key_size = sizeof(uint64_t);
	attr.value_size = sizeof(uint64_t);
	attr.max_entries = 1024;
	counter_map = sys_bpf(BPF_MAP_CREATE, &attr);
	if (counter_map < 0)
		die("BPF_MAP_CREATE");
	prog = load_counter_prog(counter_map, log, sizeof(log));
	if (prog < 0) {
		fprintf(stderr, "%s", log);
		die("BPF_PROG_LOAD");
	}
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (uintptr_t)"sys_enter";
	attr.raw_tracepoint.prog_fd = prog;
	if (sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr) < 0)
		die("BPF_RAW_TRACEPOINT_OPEN sys_enter");
}

/* Syscalls the eBPF program counted, over every cgroup and CPU. */
static uint64_t bpf_counted(void)
{
	uint64_t key, next, values[256], total = 0;
	union bpf_attr attr;
	void *prev = NULL;
	size_t i;

	for (;;) {
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = counter_map;
		attr.key = (uintptr_t)prev;
		attr.next_key = (uintptr_t)&next;
		if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr))
			break;
		key = next;
		prev = &key;
		memset(values, 0, sizeof(values));
		attr.key = (uintptr_t)&key;
		attr.value = (uintptr_t)values;
		if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr))
			die("BPF_MAP_LOOKUP_ELEM");
		for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
			total += values[i];
	}
	return total;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-n DEPTH] [-D] [-s] [-b] LABEL [RUNS [ITERS]]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *enabled = "/proc/sys/kernel/agent_ns/enabled";
	int depth = 0, disable = 0, seccomp = 0, bpf = 0, runs = 9, c;
	long iters = 50000;

	while ((c = getopt(argc, argv, "n:Dsb")) != -1) {
		switch (c) {
		case 'n': depth = atoi(optarg); break;
		case 'D': disable = 1; break;
		case 's': seccomp = 1; break;
		case 'b': bpf = 1; break;
		default: usage(argv[0]);
		}
	}
	if (optind >= argc)
		usage(argv[0]);
	if (optind + 1 < argc)
		runs = atoi(argv[optind + 1]);
	if (optind + 2 < argc)
		iters = atol(argv[optind + 2]);
	if (runs < 1 || runs > MAX_RUNS || iters < 10 || depth < 0)
		usage(argv[0]);

	devnull = open("/dev/null", O_WRONLY);
	if (devnull < 0)
		die("/dev/null");
	enter_agent_namespaces(depth);
	if (disable && write_file(enabled, "0"))
		die(enabled);
	if (seccomp)
		allow_all_seccomp();
	if (bpf)
		count_with_bpf();

	measure(argv[optind], "getppid", op_getppid, runs, iters);
	measure(argv[optind], "write1", op_write, runs, iters);
	measure(argv[optind], "openat_close", op_openat, runs, iters / 4);

	if (disable && write_file(enabled, "1"))
		die(enabled);
	if (bpf && bpf_counted() < (uint64_t)runs * iters) {
		fprintf(stderr, "bench: the eBPF program counted %llu syscalls, fewer than the %ld made\n",
			(unsigned long long)bpf_counted(), runs * iters);
		return 1;
	}
	return 0;
}
