// SPDX-License-Identifier: GPL-2.0
/*
 * bench_run LABEL CMD [ARG...]: run CMD as one measured transfer of the
 * Debian benchmark (bench/vm-bench.sh) and print on stdout
 *
 *	BENCHRUN {"label":..., "rc":..., "wall_s":..., "child_user_s":...,
 *		  "child_sys_s":..., "stat": {user, nice, system, idle, iowait,
 *		  irq, softirq, steal: seconds of the whole guest}}
 *
 * CMD's stdout is its own (the caller redirects it). The interval is
 * delimited by the insn_count plugin's marker instruction (tag 1 before
 * the fork, tag 2 after the wait), so that the plugin's totals and these
 * figures cover the same stretch: the client's start and exit included.
 * The child's CPU time is getrusage(RUSAGE_CHILDREN) of it and all its
 * descendants that it waited for; the guest's is the delta of /proc/stat.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* The plugin's marker instruction with tag 1 and with tag 2. */
static inline void mark_start(void)
{
	asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00\n\t.long 0xab1d0001" ::: "memory");
}

static inline void mark_end(void)
{
	asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00\n\t.long 0xab1d0002" ::: "memory");
}

#define NSTAT 8

static const char *const stat_names[NSTAT] = {
	"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"
};

/* The first line of /proc/stat, in clock ticks. */
static int read_stat(unsigned long long v[NSTAT])
{
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	return n == NSTAT ? 0 : -1;
}

static double tv_s(const struct timeval *tv)
{
	return tv->tv_sec + tv->tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	unsigned long long s0[NSTAT], s1[NSTAT];
	struct timespec t0, t1;
	struct rusage ru;
	double hz = sysconf(_SC_CLK_TCK);
	const char *p;
	int status, rc, i;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_run LABEL CMD [ARG...]\n");
		return 2;
	}
	if (read_stat(s0)) {
		perror("/proc/stat");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mark_start();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (!pid) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	mark_end();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (read_stat(s1) || getrusage(RUSAGE_CHILDREN, &ru)) {
		perror("/proc/stat or getrusage");
		return 1;
	}
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	printf("BENCHRUN {\"label\":\"");
	for (p = argv[1]; *p; p++)
		if (*p != '"' && *p != '\\')
			putchar(*p);
	printf("\",\"rc\":%d", rc);
	printf(",\"wall_s\":%.6f",
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf(",\"child_user_s\":%.6f", tv_s(&ru.ru_utime));
	printf(",\"child_sys_s\":%.6f", tv_s(&ru.ru_stime));
	printf(",\"stat\":{");
	for (i = 0; i < NSTAT; i++)
		printf("%s\"%s\":%.2f", i ? "," : "", stat_names[i],
		       (s1[i] - s0[i]) / hz);
	printf("}}\n");
	return rc;
}
