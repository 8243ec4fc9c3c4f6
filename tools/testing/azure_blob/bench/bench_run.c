// SPDX-License-Identifier: GPL-2.0
/*
 * bench_run [--maps FILE] LABEL CMD [ARG...]: run CMD as one measured
 * transfer of the Debian benchmark (bench/vm-bench.sh) and print on stdout
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
 * --maps FILE: 1, 2, 4, 8, ... seconds after the fork, FILE is replaced by
 * the memory map (/proc/PID/maps) of CMD's newest leaf descendant (the
 * client under CMD's shell), headed "# pid PID comm COMM": the last one
 * written before CMD exits names the libraries the client had mapped, for
 * the attribution of the plugin's user-space profile. Each look costs a
 * few hundred thousand guest instructions; between them bench_run sleeps
 * in waitpid().
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <signal.h>
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

static void on_alarm(int sig)
{
	(void)sig;
}

/* The newest child of pid's main thread, or 0. */
static pid_t last_child(pid_t pid)
{
	char path[64];
	FILE *f;
	long c, last = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fscanf(f, "%ld", &c) == 1)
		last = c;
	fclose(f);
	return (pid_t)last;
}

/* FILE := "# pid P comm C" and the maps of pid's newest leaf descendant. */
static void dump_maps(const char *file, pid_t pid)
{
	char path[64], tmp[4096], buf[8192], comm[64] = "?";
	pid_t c;
	FILE *in, *o;
	size_t n;

	while ((c = last_child(pid)) > 0)
		pid = c;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	in = fopen(path, "r");
	if (in) {
		if (fgets(comm, sizeof(comm), in))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(in);
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	in = fopen(path, "r");
	if (!in)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	o = fopen(tmp, "w");
	if (!o) {
		fclose(in);
		return;
	}
	fprintf(o, "# pid %d comm %s\n", (int)pid, comm);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, o);
	fclose(in);
	if (fclose(o) == 0)
		rename(tmp, file);
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
	struct sigaction sa = { .sa_handler = on_alarm };
	const char *p, *maps = NULL;
	unsigned int wait_s = 1;
	int status, rc, i;
	pid_t pid;

	if (argc > 2 && !strcmp(argv[1], "--maps")) {
		maps = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: bench_run [--maps FILE] LABEL CMD [ARG...]\n");
		return 2;
	}
	/* no SA_RESTART: the alarm interrupts waitpid() */
	sigaction(SIGALRM, &sa, NULL);
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
	if (maps)
		alarm(wait_s);
	while (waitpid(pid, &status, 0) != pid) {
		if (errno != EINTR) {
			perror("waitpid");
			return 1;
		}
		dump_maps(maps, pid);
		wait_s *= 2;
		alarm(wait_s);
	}
	alarm(0);
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
