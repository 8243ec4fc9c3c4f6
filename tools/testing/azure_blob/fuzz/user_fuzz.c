// SPDX-License-Identifier: GPL-2.0
/*
 * User-side fuzzer of /dev/azure_blob: seeded, reproducible random and
 * boundary requests through the ioctl and the io_uring command, with
 * pointers into unmapped, read-only, PROT_NONE and freed memory, kernel
 * and wrapping addresses, overlapping buffers and buffers over the bound;
 * plus munmap of a buffer the host holds, close of the fd while other
 * threads have requests in flight, and fork with a request in flight.
 *
 * Every error must be one the ABI documents; requests whose buffers are
 * all valid and separate are checked byte-exact against the echo backend;
 * the pin counters must match at the end. Prints TAP.
 *
 *   user_fuzz [--seed N] [--iterations N]
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "azblob_lib.h"
#include "azblob_uring.h"

#define PG		AZB_PAGE
#define POOL_PAGES	48		/* the read-write pool */
#define URING_DEPTH	32

static uint64_t rng_state;

static uint64_t rnd64(void)
{
	/* splitmix64: one 64-bit state, good enough and reproducible */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)(rnd64() % n) : 0;
}

/* ---- memory ---- */

struct pool {
	uint8_t *rw;		/* POOL_PAGES read-write pages */
	uint8_t *ro;		/* 4 read-only pages */
	uint8_t *none;		/* 4 PROT_NONE pages */
	uint8_t *freed;		/* 4 pages, munmap'd */
	uint8_t *clean;		/* 12 pages only clean requests use */
};

static struct pool pool;

static void pool_remap(void)
{
	/*
	 * First, once: the clean requests' pages must never sit where a
	 * "freed" pointer of an earlier round points.
	 */
	if (!pool.clean)
		pool.clean = mmap(NULL, 12 * PG, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pool.clean == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (pool.rw)
		munmap(pool.rw, POOL_PAGES * PG);
	if (pool.ro)
		munmap(pool.ro, 4 * PG);
	if (pool.none)
		munmap(pool.none, 4 * PG);
	pool.rw = mmap(NULL, POOL_PAGES * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pool.ro = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	pool.none = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	pool.freed = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pool.rw == MAP_FAILED || pool.ro == MAP_FAILED ||
	    pool.none == MAP_FAILED || pool.freed == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	munmap(pool.freed, 4 * PG);
}

enum ptr_kind {
	P_RW, P_RO, P_NONE, P_FREED, P_NULL, P_KERNEL, P_WRAP, P_RANDOM,
	P_LOW, NR_PTR_KINDS,
};

static const uint32_t boundary_lens[] = {
	0, 1, 2, PG - 1, PG, PG + 1, 2 * PG - 1, 2 * PG, 3 * PG + 7,
	AZ_BLOB_MAX_PAGES * PG - 2 * PG, AZ_BLOB_MAX_PAGES * PG,
	AZ_BLOB_MAX_PAGES * PG + 1, 0x7fffffffu, 0xffffffffu,
};

static uint32_t pick_len(void)
{
	switch (rnd(4)) {
	case 0:
		return boundary_lens[rnd(sizeof(boundary_lens) /
					 sizeof(boundary_lens[0]))];
	case 1:
		return rnd(64);
	case 2:
		return rnd(3 * PG);
	default:
		return rnd(16 * PG);
	}
}

static uint64_t pick_ptr(enum ptr_kind k, uint32_t len)
{
	uint64_t off;

	switch (k) {
	case P_RW:
		/* Inside the pool when it fits; else from a random spot. */
		off = len < POOL_PAGES * PG ?
		      rnd(POOL_PAGES * PG - len + 1) : rnd(POOL_PAGES * PG);
		return (uintptr_t)pool.rw + off;
	case P_RO:
		return (uintptr_t)pool.ro + rnd(4 * PG);
	case P_NONE:
		return (uintptr_t)pool.none + rnd(4 * PG);
	case P_FREED:
		return (uintptr_t)pool.freed + rnd(4 * PG);
	case P_NULL:
		return rnd(2) ? 0 : rnd(PG);
	case P_KERNEL:
		return 0xffff800000000000ull + (rnd64() & 0x7fffffffffffull);
	case P_WRAP:
		return ~0ull - rnd(2 * PG);
	case P_LOW:
		return 0x10000 + rnd(0x100000);
	default:
		return rnd64();
	}
}

/* ---- request generation ---- */

struct fuzz_req {
	struct az_blob_request_sync r;
	bool clean;		/* valid, separate buffers: check the echo */
	uint8_t *upload_copy;
};

/*
 * A clean request lays its buffers out separately inside the pool; the
 * rest is random and boundary values.
 */
static void gen_clean(struct fuzz_req *f, uint32_t tag)
{
	uint32_t req_len = 1 + rnd(2000), resp_len, data_len, data_valid = 0;
	uint8_t *req, *resp, *data;

	resp_len = rnd(4) ? req_len + AZB_TRAILER : 1 + rnd(req_len + 32);
	data_len = rnd(3) ? rnd(8 * PG) : 0;
	if (data_len && rnd(2))
		data_valid = rnd(data_len + 1);
	/* [req | resp] in pages 0-1, data from page 2 (10 pages) */
	req = pool.clean + rnd(PG);
	resp = req + req_len + rnd(64);
	data = pool.clean + 2 * PG + rnd(PG);
	azb_fill(req, req_len, tag);
	if (data_valid)
		azb_fill(data, data_len, tag + 1);
	azb_req_init(&f->r, tag, req, req_len, resp, resp_len,
		     data_len ? data : NULL, data_len, data_valid);
	f->r.timeout = rnd64();
	f->clean = true;
	f->upload_copy = NULL;
	if (data_valid) {
		f->upload_copy = malloc(data_len);
		if (f->upload_copy)
			memcpy(f->upload_copy, data, data_len);
	}
}

static void gen_random(struct fuzz_req *f, uint32_t tag)
{
	struct az_blob_request_sync *r = &f->r;
	enum ptr_kind k;
	unsigned int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < 16; i++)
		r->guid[i] = rnd64();
	r->timeout = rnd64();
	r->request_len = pick_len();
	r->response_len = pick_len();
	r->data_len = rnd(3) ? pick_len() : 0;
	switch (rnd(6)) {
	case 0:
		r->data_valid = r->data_len;
		break;
	case 1:
		r->data_valid = r->data_len + 1;
		break;
	case 2:
		r->data_valid = rnd64();
		break;
	default:
		r->data_valid = r->data_len ? rnd(r->data_len + 1) : 0;
	}
	r->reserved = rnd(16) ? 0 : (rnd(2) ? 1u << rnd(32) : rnd64());
	/* Mostly valid memory, so the host sees overlapping buffers too. */
	k = rnd(3) ? P_RW : rnd(NR_PTR_KINDS);
	r->request_buffer = pick_ptr(k, r->request_len);
	k = rnd(3) ? P_RW : rnd(NR_PTR_KINDS);
	r->response_buffer = pick_ptr(k, r->response_len);
	k = rnd(3) ? P_RW : rnd(NR_PTR_KINDS);
	r->data_buffer = pick_ptr(k, r->data_len);
	r->response.status = rnd64();
	r->response.response_len = rnd64();
	(void)tag;
}

/* ---- checking ---- */

static bool errno_documented(int err, bool uring)
{
	switch (err) {
	case EFAULT: case EINVAL: case E2BIG: case ENOMEM: case EPROTO:
	case ENODEV: case EIO: case EINTR: case ENOTTY:
		return true;
	case ECANCELED:
		return uring;
	default:
		return false;
	}
}

struct counts {
	unsigned long total, ok, by_err[160], bad_errno, bad_echo, bad_len;
	unsigned long ioctl, uring;
	char first_bad[200];
};

static struct counts cnt;

static void note_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note_bad(const char *fmt, ...)
{
	va_list ap;

	if (cnt.first_bad[0])
		return;
	va_start(ap, fmt);
	vsnprintf(cnt.first_bad, sizeof(cnt.first_bad), fmt, ap);
	va_end(ap);
}

/* @err: 0 or a positive errno; @r->response filled when 0. */
static void check_result(struct fuzz_req *f, int err, bool uring,
			 unsigned long it)
{
	char why[160];

	cnt.total++;
	if (err) {
		if (err < 160)
			cnt.by_err[err]++;
		if (!errno_documented(err, uring)) {
			cnt.bad_errno++;
			note_bad("iteration %lu: %s errno %d (%s)", it,
				 uring ? "io_uring" : "ioctl", err,
				 strerror(err));
		}
		goto out;
	}
	cnt.ok++;
	if (f->r.response.response_len > f->r.response_len) {
		cnt.bad_len++;
		note_bad("iteration %lu: response_len %u > %u", it,
			 f->r.response.response_len, f->r.response_len);
	}
	if (f->clean && azb_echo_verify(&f->r, f->upload_copy, why,
					sizeof(why))) {
		cnt.bad_echo++;
		note_bad("iteration %lu: echo: %s", it, why);
	}
out:
	free(f->upload_copy);
	f->upload_copy = NULL;
}

/* ---- the random phase ---- */

static void fuzz_ioctl_cmd(int fd, unsigned long it)
{
	static const unsigned int cmds[] = {
		0, 1, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST + 1,
		_IOR(AZ_BLOB_MAGIC_NUMBER, 0xf0, struct az_blob_request_sync),
		_IOW(AZ_BLOB_MAGIC_NUMBER, 0xf0, struct az_blob_request_sync),
		_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf0, uint64_t),
		AZ_BLOB_URING_CMD_REQUEST, 0xffffffffu,
	};
	struct fuzz_req f = { 0 };
	unsigned int cmd;
	int err = 0;

	cmd = rnd(2) ? cmds[rnd(sizeof(cmds) / sizeof(cmds[0]))] :
		       (unsigned int)rnd64();
	if (cmd == IOCTL_AZ_BLOB_DRIVER_USER_REQUEST)
		cmd++;
	if (ioctl(fd, cmd, pick_ptr(rnd(NR_PTR_KINDS), 72)) < 0)
		err = errno;
	if (err != ENOTTY) {
		cnt.bad_errno++;
		note_bad("iteration %lu: ioctl cmd %#x: %s, want ENOTTY", it,
			 cmd, strerror(err));
	}
	check_result(&f, err, false, it);
}

static void fuzz_ioctl_arg(int fd, unsigned long it)
{
	struct fuzz_req f = { 0 };
	int err = 0;

	/* The argument itself: bad pointers, or a struct in read-only memory */
	if (ioctl(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
		  pick_ptr(rnd(2) ? P_NONE : rnd(NR_PTR_KINDS), 72)) < 0)
		err = errno;
	check_result(&f, err, false, it);
}

static void run_random(int fd, unsigned long iterations)
{
	struct fuzz_req *inflight = calloc(URING_DEPTH, sizeof(*inflight));
	struct io_uring ring;
	unsigned long it = 0;
	struct azb_cqe c;
	unsigned int i, n;
	int ret;

	if (!inflight || azb_ring_init(&ring, URING_DEPTH, AZB_RING_FLAGS)) {
		azb_tap(false, "random_requests", "setup failed");
		return;
	}
	while (it < iterations) {
		if (it % 5000 == 0)
			pool_remap();
		switch (rnd(8)) {
		case 0:
			fuzz_ioctl_cmd(fd, it++);
			continue;
		case 1:
			fuzz_ioctl_arg(fd, it++);
			continue;
		case 2: case 3: case 4: {
			struct fuzz_req f;

			if (rnd(3))
				gen_random(&f, it);
			else
				gen_clean(&f, it);
			cnt.ioctl++;
			ret = azb_submit(fd, &f.r);
			check_result(&f, ret, false, it++);
			continue;
		}
		default:
			break;
		}
		/* a batch through io_uring */
		n = 1 + (rnd(4) ? rnd(8) : rnd(URING_DEPTH));
		for (i = 0; i < n; i++) {
			/* Clean requests share their pages: one per batch. */
			if (i || rnd(3))
				gen_random(&inflight[i], it + i);
			else
				gen_clean(&inflight[i], it + i);
			azb_ring_prep_req(&ring, fd, &inflight[i].r, i);
		}
		if (azb_ring_submit(&ring) != (int)n) {
			note_bad("iteration %lu: io_uring submit failed", it);
			cnt.bad_errno++;
			break;
		}
		for (i = 0; i < n; i++) {
			if (azb_ring_reap(&ring, &c, 30000)) {
				note_bad("iteration %lu: io_uring completion missing",
					 it);
				cnt.bad_errno++;
				goto out;
			}
			if (!c.res)
				azb_cqe_to_response(&c, &inflight[c.user_data].r);
			cnt.uring++;
			check_result(&inflight[c.user_data], -c.res, true,
				     it + c.user_data);
		}
		it += n;
	}
out:
	io_uring_queue_exit(&ring);
	free(inflight);
}

/* ---- scenarios ---- */

struct sub {
	pthread_t thread;
	int fd;
	struct az_blob_request_sync r;
	int ret;
};

static void *sub_fn(void *arg)
{
	struct sub *s = arg;

	s->ret = azb_submit(s->fd, &s->r);
	return NULL;
}

/* munmap the buffers of requests the host holds; release; all complete. */
static void scenario_munmap_held(int fd)
{
	long base = azb_pins_outstanding();
	struct sub s[4];
	uint8_t *area[4];
	int i, ok = 1;

	azb_host(NULL, 0, "fault 0 hold");
	for (i = 0; i < 4; i++) {
		area[i] = mmap(NULL, 6 * PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		azb_fill(area[i], 100, i);
		s[i].fd = fd;
		azb_req_init(&s[i].r, i, area[i], 100, area[i] + PG, 116,
			     area[i] + 2 * PG, 4 * PG, rnd(2) ? 0 : 4 * PG);
		pthread_create(&s[i].thread, NULL, sub_fn, &s[i]);
	}
	if (azb_wait_held(0, 4, 5000))
		ok = 0;
	for (i = 0; i < 4; i++)
		munmap(area[i], 6 * PG);
	if (azb_pins_outstanding() < base + 4 * 6)
		ok = 0;
	azb_host(NULL, 0, "fault 0 none");
	for (i = 0; i < 4; i++) {
		pthread_join(s[i].thread, NULL);
		/* The ioctl's struct is on our stack: it still completes. */
		if (s[i].ret)
			ok = 0;
	}
	if (azb_wait_pins(base, 5000))
		ok = 0;
	azb_tap(ok, "munmap_while_held", "pins %ld (before %ld)",
	    azb_pins_outstanding(), base);
}

struct closer_worker {
	pthread_t thread;
	int *fdp;
	volatile int *stop;
	unsigned long done, bad;
	int last_bad;
};

static void *closer_worker_fn(void *arg)
{
	struct closer_worker *w = arg;
	struct az_blob_request_sync r;
	uint8_t *area = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	azb_fill(area, 64, 5);
	while (!*w->stop) {
		azb_req_init(&r, 5, area, 64, area + PG, 80, area + 2 * PG,
			     2 * PG, 0);
		ret = azb_submit(*w->fdp, &r);
		w->done++;
		/* EBADF once the fd is closed (or reused by another file). */
		if (ret && ret != EBADF && ret != ENOTTY && ret != ENODEV) {
			w->bad++;
			w->last_bad = ret;
		}
	}
	munmap(area, 4 * PG);
	return NULL;
}

/* Close the fd while other threads have requests in flight on it. */
static void scenario_close_in_flight(void)
{
	struct closer_worker w[4];
	volatile int stop = 0;
	long base = azb_pins_outstanding();
	unsigned long bad = 0, done = 0;
	int fd, round, i, ok = 1;

	azb_host(NULL, 0, "latency 0 2000");
	for (round = 0; round < 10; round++) {
		fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
		stop = 0;
		for (i = 0; i < 4; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].fdp = &fd;
			w[i].stop = &stop;
			pthread_create(&w[i].thread, NULL, closer_worker_fn,
				       &w[i]);
		}
		azb_sleep_ms(20 + rnd(40));
		close(fd);
		azb_sleep_ms(rnd(20));
		stop = 1;
		for (i = 0; i < 4; i++) {
			pthread_join(w[i].thread, NULL);
			bad += w[i].bad;
			done += w[i].done;
		}
	}
	azb_host(NULL, 0, "latency 0 0");
	if (bad || azb_wait_pins(base, 5000))
		ok = 0;
	azb_tap(ok, "close_while_in_flight", "%lu requests, %lu bad errors",
		done, bad);
}

/*
 * fork() while a download is in flight (the host delays it): the host's
 * write lands in the parent's pinned pages, the child keeps its copy.
 */
static void scenario_fork_in_flight(int fd)
{
	long base = azb_pins_outstanding();
	uint64_t in_flight = 0;
	uint8_t *area;
	struct sub s;
	char why[160] = "";
	int status = 0, ok = 1, round;
	pid_t pid;

	azb_host(NULL, 0, "latency 0 400000");
	for (round = 0; round < 4; round++) {
		area = mmap(NULL, 10 * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(area, 0xa5, 10 * PG);
		azb_fill(area, 200, 77 + round);
		s.fd = fd;
		azb_req_init(&s.r, 77, area, 200, area + PG, 216, area + 2 * PG,
			     8 * PG - rnd(PG), 0);
		pthread_create(&s.thread, NULL, sub_fn, &s);
		do {
			azb_read_u64(AZB_SYSFS "/in_flight", &in_flight);
		} while (!in_flight);
		pid = fork();
		if (pid == 0) {
			/* The child's copy: untouched by the host's write. */
			azb_sleep_ms(800);
			_exit(area[2 * PG] == 0xa5 && area[PG] == 0xa5 ? 0 : 1);
		}
		pthread_join(s.thread, NULL);
		if (s.ret || azb_echo_verify(&s.r, NULL, why, sizeof(why)))
			ok = 0;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			ok = 0;
			snprintf(why, sizeof(why), "child saw the host's write");
		}
		munmap(area, 10 * PG);
	}
	azb_host(NULL, 0, "latency 0 0");
	if (azb_wait_pins(base, 5000))
		ok = 0;
	azb_tap(ok, "fork_while_in_flight", "%s", why);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'i' },
		{ }
	};
	unsigned long iterations = 100000, e;
	uint64_t seed = 0;
	bool seed_set = false;
	long base, t0;
	int fd, c;
	char line[512];
	int n;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seed_set = true;
			break;
		case 'i':
			iterations = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [--seed N] [--iterations N]\n",
				argv[0]);
			return 2;
		}
	}
	if (!seed_set) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007ull ^ ts.tv_nsec;
	}
	rng_state = seed;
	printf("TAP version 13\n1..5\n");
	printf("# user_fuzz: seed %" PRIu64 " iterations %lu\n", seed,
	       iterations);
	fflush(stdout);

	if (azb_rig_clean()) {
		printf("Bail out! rig not clean\n");
		return 1;
	}
	fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("Bail out! open %s: %s\n", AZB_DEV, strerror(errno));
		return 1;
	}
	base = azb_pins_outstanding();
	t0 = azb_now_ms();
	run_random(fd, iterations);
	n = snprintf(line, sizeof(line), "%lu requests (%lu ioctl, %lu io_uring) in %ld ms, %lu ok;",
		     cnt.total, cnt.ioctl, cnt.uring, azb_now_ms() - t0, cnt.ok);
	for (e = 1; e < 160; e++)
		if (cnt.by_err[e] && n < (int)sizeof(line) - 24)
			n += snprintf(line + n, sizeof(line) - n, " %s=%lu",
				      strerrorname_np(e) ? strerrorname_np(e) :
				      "?", cnt.by_err[e]);
	printf("# %s\n", line);
	azb_tap(!cnt.bad_errno && !cnt.bad_len && !cnt.bad_echo &&
	    cnt.total >= iterations, "random_requests",
	    "bad errno %lu, bad response_len %lu, bad echo %lu%s%s",
	    cnt.bad_errno, cnt.bad_len, cnt.bad_echo,
	    cnt.first_bad[0] ? "; first: " : "", cnt.first_bad);

	scenario_munmap_held(fd);
	scenario_close_in_flight();
	scenario_fork_in_flight(fd);

	azb_rig_clean();
	{
		struct az_blob_request_sync r;
		uint8_t *a = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char why[160] = "";
		struct azb_host_stats st = { 0 };
		uint64_t in_flight = 1;
		int ret;

		azb_fill(a, 300, 1);
		azb_req_init(&r, 1, a, 300, a + PG, 316, a + 2 * PG, PG, 0);
		ret = azb_submit(fd, &r);
		if (!ret && azb_echo_verify(&r, NULL, why, sizeof(why)))
			ret = -1;
		azb_wait_pins(base, 5000);
		azb_host_stats(0, &st);
		azb_read_u64(AZB_SYSFS "/in_flight", &in_flight);
		azb_tap(!ret && azb_pins_outstanding() == base && !in_flight,
		    "device_works_pins_match",
		    "ret %d %s pins %ld base %ld in_flight %" PRIu64
		    " violations %ld", ret, why, azb_pins_outstanding(), base,
		    in_flight, st.violations);
	}
	close(fd);
	printf("# user_fuzz: seed %" PRIu64 ", %lu requests\n", seed,
	       cnt.total);
	return azb_tap_failed() ? 1 : 0;
}
