// SPDX-License-Identifier: GPL-2.0
/*
 * azblob_bench - request rate and throughput of /dev/azure_blob
 *
 * Runs one measurement and prints it as one JSON object on stdout:
 *   sync mode:  T threads, each issuing IOCTL_AZ_BLOB_DRIVER_USER_REQUEST
 *               back to back;
 *   uring mode: one thread keeping Q AZ_BLOB_URING_CMD_REQUEST commands in
 *               flight on one io_uring.
 * Every request carries a small request buffer, a 4 KiB response buffer and
 * a data buffer of --size bytes (a download unless --upload). The host side
 * (backend, latency) is set by the caller; see run-bench.sh.
 *
 * CPU cost is taken from /proc/stat (all of the guest's CPUs: the driver's
 * completion work runs in softirq context, outside this process) and from
 * getrusage() (this process only).
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <misc/hv_azure_blob.h>

#define RESP_LEN	4096

struct opts {
	const char *dev;
	const char *mode;
	size_t size;
	unsigned int threads;
	unsigned int depth;
	double seconds;
	bool upload;
	const char *label;
};

struct slot {
	char req[256];
	unsigned int req_len;
	char *resp;
	char *data;
};

static struct opts o = {
	.dev = "/dev/azure_blob",
	.mode = "sync",
	.size = 4096,
	.threads = 1,
	.depth = 1,
	.seconds = 2.0,
	.label = "",
};

static atomic_bool stop;
static atomic_ulong total_ops;
static atomic_ulong total_errors;
static atomic_int first_errno;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "azblob_bench: %s: %s\n", what, strerror(errno));
	exit(2);
}

/*
 * Idle time of all CPUs (idle + iowait, in clock ticks), from the first
 * line of /proc/stat. With a tickless idle the kernel measures idle time
 * exactly, while user, system, irq and softirq time are sampled at each
 * tick: busy time is therefore taken as elapsed time minus idle time,
 * which a short run can measure to a clock tick.
 */
static unsigned long long cpu_idle_ticks(void)
{
	unsigned long long v[5] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu", &v[0], &v[1],
			 &v[2], &v[3], &v[4]) != 5)
		die("/proc/stat");
	fclose(f);
	return v[3] + v[4];
}

static void slot_init(struct slot *s, unsigned int n)
{
	s->req_len = snprintf(s->req, sizeof(s->req),
			      "GET /devstoreaccount1/bench/blob-%u HTTP/1.1\r\n"
			      "Host: 127.0.0.1\r\nx-ms-version: 2021-08-06\r\n"
			      "\r\n", n);
	s->resp = aligned_alloc(4096, RESP_LEN);
	s->data = o.size ? mmap(NULL, o.size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
				-1, 0) : NULL;
	if (!s->resp || s->data == MAP_FAILED)
		die("allocating buffers");
	memset(s->resp, 0, RESP_LEN);
}

static void fill_request(struct az_blob_request_sync *r, struct slot *s,
			 unsigned int n)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->guid, &n, sizeof(n));
	r->timeout = 30000;
	r->request_len = s->req_len;
	r->response_len = RESP_LEN;
	r->data_len = o.size;
	r->data_valid = o.upload ? o.size : 0;
	r->request_buffer = (uintptr_t)s->req;
	r->response_buffer = (uintptr_t)s->resp;
	r->data_buffer = (uintptr_t)s->data;
}

static void count_error(int err)
{
	int zero = 0;

	atomic_fetch_add(&total_errors, 1);
	atomic_compare_exchange_strong(&first_errno, &zero, err);
}

static void *sync_worker(void *arg)
{
	unsigned int id = (uintptr_t)arg;
	struct az_blob_request_sync r;
	unsigned long ops = 0;
	struct slot s;
	int fd;

	fd = open(o.dev, O_RDWR);
	if (fd < 0)
		die(o.dev);
	slot_init(&s, id);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		fill_request(&r, &s, id);
		if (ioctl(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &r))
			count_error(errno);
		else if (r.response.status)
			count_error(EIO);
		ops++;
	}
	atomic_fetch_add(&total_ops, ops);
	close(fd);
	return NULL;
}

static void uring_submit_one(struct io_uring *ring, int fd, struct slot *s,
			     unsigned int idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct az_blob_request_sync r;

	if (!sqe) {
		errno = EBUSY;
		die("io_uring_get_sqe");
	}
	fill_request(&r, s, idx);
	/* @fd is the index of the registered file. */
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->cmd_op = AZ_BLOB_URING_CMD_REQUEST;
	memset(sqe->cmd, 0, 80);
	memcpy(sqe->cmd, &r, sizeof(r));
	io_uring_sqe_set_data64(sqe, idx);
}

/*
 * One thread, one ring, Q commands in flight: reap every completion that is
 * there, refill, and submit and wait in one system call. The device is a
 * registered file, as an SDK would have it: no file reference per command.
 */
static void run_uring(void)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32 |
			 IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
	};
	unsigned long ops = 0;
	struct io_uring ring;
	struct slot *slots;
	unsigned int i, inflight = 0;
	int fd, ret;

	fd = open(o.dev, O_RDWR);
	if (fd < 0)
		die(o.dev);
	ret = io_uring_queue_init_params(o.depth * 2, &ring, &p);
	if (ret) {
		errno = -ret;
		die("io_uring_queue_init_params");
	}
	ret = io_uring_register_files(&ring, &fd, 1);
	if (ret) {
		errno = -ret;
		die("io_uring_register_files");
	}
	slots = calloc(o.depth, sizeof(*slots));
	if (!slots)
		die("calloc");
	for (i = 0; i < o.depth; i++) {
		slot_init(&slots[i], i);
		uring_submit_one(&ring, 0, &slots[i], i);
		inflight++;
	}

	while (inflight) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR) {
			errno = -ret;
			die("io_uring_submit_and_wait");
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			unsigned int idx = io_uring_cqe_get_data64(cqe);

			if (cqe->res < 0)
				count_error(-cqe->res);
			else if (AZ_BLOB_URING_STATUS(cqe->big_cqe[0]))
				count_error(EIO);
			seen++;
			inflight--;
			ops++;
			if (!atomic_load_explicit(&stop,
						  memory_order_relaxed)) {
				uring_submit_one(&ring, 0, &slots[idx], idx);
				inflight++;
			}
		}
		io_uring_cq_advance(&ring, seen);
	}
	atomic_fetch_add(&total_ops, ops);
	io_uring_queue_exit(&ring);
	close(fd);
}

static void *uring_thread(void *arg)
{
	(void)arg;
	run_uring();
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: azblob_bench [--dev PATH] --mode sync|uring [--size BYTES]\n"
		"                    [--threads T] [--depth Q] [--seconds S]\n"
		"                    [--upload] [--label TEXT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "mode", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "depth", required_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "upload", no_argument, NULL, 'u' },
		{ "label", required_argument, NULL, 'l' },
		{ }
	};
	unsigned long long idle0, idle1;
	struct rusage ru0, ru1;
	double start, secs, cpu_s, proc_s, gib;
	unsigned long ops, nworkers, i;
	pthread_t *tids;
	bool uring;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dev = optarg; break;
		case 'm': o.mode = optarg; break;
		case 's': o.size = strtoull(optarg, NULL, 0); break;
		case 't': o.threads = strtoul(optarg, NULL, 0); break;
		case 'q': o.depth = strtoul(optarg, NULL, 0); break;
		case 'S': o.seconds = strtod(optarg, NULL); break;
		case 'u': o.upload = true; break;
		case 'l': o.label = optarg; break;
		default: usage();
		}
	}
	uring = !strcmp(o.mode, "uring");
	if ((!uring && strcmp(o.mode, "sync")) || !o.threads || !o.depth ||
	    o.seconds <= 0)
		usage();

	nworkers = uring ? 1 : o.threads;
	tids = calloc(nworkers, sizeof(*tids));
	if (!tids)
		die("calloc");

	getrusage(RUSAGE_SELF, &ru0);
	idle0 = cpu_idle_ticks();
	start = now();
	for (i = 0; i < nworkers; i++)
		if (pthread_create(&tids[i], NULL,
				   uring ? uring_thread : sync_worker,
				   (void *)(uintptr_t)i))
			die("pthread_create");
	usleep((useconds_t)(o.seconds * 1e6));
	atomic_store(&stop, true);
	for (i = 0; i < nworkers; i++)
		pthread_join(tids[i], NULL);
	secs = now() - start;
	idle1 = cpu_idle_ticks();
	getrusage(RUSAGE_SELF, &ru1);

	ops = atomic_load(&total_ops);
	cpu_s = secs * sysconf(_SC_NPROCESSORS_ONLN) -
		(double)(idle1 - idle0) / sysconf(_SC_CLK_TCK);
	if (cpu_s < 0)
		cpu_s = 0;
	proc_s = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
		 (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
		 (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		 (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	gib = (double)ops * o.size / (1024.0 * 1024 * 1024);

	printf("{\"label\":\"%s\",\"mode\":\"%s\",\"size\":%zu,\"threads\":%u,"
	       "\"depth\":%u,\"upload\":%s,\"ops\":%lu,\"errors\":%lu,"
	       "\"first_errno\":%d,\"secs\":%.4f,\"ops_per_s\":%.1f,"
	       "\"gib_per_s\":%.5f,\"guest_cpu_s\":%.3f,\"proc_cpu_s\":%.3f,"
	       "\"cpu_us_per_op\":%.2f,\"cpu_s_per_gib\":%.4f,"
	       "\"maxrss_kib\":%ld}\n",
	       o.label, uring ? "uring" : "sync", o.size,
	       uring ? 1 : o.threads, uring ? o.depth : 1,
	       o.upload ? "true" : "false", ops,
	       atomic_load(&total_errors), atomic_load(&first_errno), secs,
	       ops / secs, gib / secs, cpu_s, proc_s,
	       ops ? cpu_s * 1e6 / ops : 0.0, gib > 0 ? cpu_s / gib : 0.0,
	       ru1.ru_maxrss);
	return atomic_load(&total_errors) ? 1 : 0;
}
