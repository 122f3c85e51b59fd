// SPDX-License-Identifier: GPL-2.0
/*
 * Per-call cost of the syscall paths the agent namespace hooks: a null
 * syscall (getppid), a 1-byte write to /dev/null and openat+close.
 *
 *   bench LABEL [RUNS [ITERS]]
 *
 * Prints one line per operation: "LABEL OP median_ns min_ns max_ns runs".
 * Each run times ITERS calls; the median over RUNS damps TCG noise.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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
	printf("%s %s %.1f %.1f %.1f %d\n", label, name, per_call[runs / 2],
	       per_call[0], per_call[runs - 1], runs);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int runs = argc > 2 ? atoi(argv[2]) : 9;
	long iters = argc > 3 ? atol(argv[3]) : 50000;

	if (argc < 2 || runs < 1 || runs > MAX_RUNS || iters < 10) {
		fprintf(stderr, "usage: %s LABEL [RUNS [ITERS]]\n", argv[0]);
		return 2;
	}
	devnull = open("/dev/null", O_WRONLY);
	if (devnull < 0)
		return 1;
	measure(argv[1], "getppid", op_getppid, runs, iters);
	measure(argv[1], "write1", op_write, runs, iters);
	measure(argv[1], "openat_close", op_openat, runs, iters / 4);
	return 0;
}
