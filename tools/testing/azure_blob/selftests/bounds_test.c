// SPDX-License-Identifier: GPL-2.0
/*
 * The per-device bounds: with the host holding every request, fill the
 * device to max_pinned_pages and to max_in_flight; a further caller (sync
 * or io_uring) waits instead of failing or pinning more, is killable, and
 * proceeds once the host lets go. The node is root-only. Where the kernel
 * has no io_uring commands for the device, an io_uring caller over the
 * bound fails at once with EOPNOTSUPP instead, and the in-flight bound,
 * which takes a ring to fill, is skipped.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"
#include "azblob_uring.h"

AZB_FIXTURE(bounds, true)

#define PG		AZB_PAGE
#define BIG		AZ_BLOB_MAX_PAGES

static uint64_t sysfs_u64(const char *name)
{
	char path[128];
	uint64_t v = UINT64_MAX;

	snprintf(path, sizeof(path), AZB_SYSFS "/%s", name);
	if (azb_read_u64(path, &v))
		return UINT64_MAX;
	return v;
}

/* Samples the device's counters until stopped; records the maxima. */
struct monitor {
	pthread_t thread;
	volatile int stop;
	uint64_t max_pinned, max_in_flight;
	unsigned long samples;
};

static void *monitor_fn(void *arg)
{
	struct monitor *m = arg;
	uint64_t v;

	while (!m->stop) {
		v = sysfs_u64("pinned_pages");
		if (v != UINT64_MAX && v > m->max_pinned)
			m->max_pinned = v;
		v = sysfs_u64("in_flight");
		if (v != UINT64_MAX && v > m->max_in_flight)
			m->max_in_flight = v;
		m->samples++;
		azb_sleep_ms(2);
	}
	return NULL;
}

/* One request of exactly @pages CPU pages over the shared @region. */
static void big_req(struct az_blob_request_sync *r, uint8_t *region,
		    uint32_t pages, uint32_t tag)
{
	/* data: pages - 2 from the start; request and response: the last two */
	azb_req_init(r, tag, region + (BIG - 2) * PG, 100,
		     region + (BIG - 1) * PG, 116,
		     pages > 2 ? region : NULL, (pages - 2) * PG, 0);
}

struct caller {
	pthread_t thread;
	int fd;
	struct az_blob_request_sync r;
	int ret;
	volatile int done;
};

static void *caller_fn(void *arg)
{
	struct caller *c = arg;

	c->ret = azb_submit(c->fd, &c->r);
	c->done = 1;
	return NULL;
}

/* A small request with its own pages: 2 pages pinned. */
struct small {
	uint8_t *area;
	struct az_blob_request_sync r;
};

static int small_init(struct small *s, uint32_t tag)
{
	s->area = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->area == MAP_FAILED)
		return -1;
	azb_fill(s->area, 300, tag);
	azb_req_init(&s->r, tag, s->area, 300, s->area + PG, 316, NULL, 0, 0);
	return 0;
}

/*
 * Fork a process that issues one small request, either with the ioctl or
 * with io_uring (then it waits for the completion); return its pid.
 */
static pid_t spawn_caller(int fd, bool uring, uint32_t tag)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	{
		struct io_uring ring;
		struct azb_cqe c;
		struct small s;

		if (small_init(&s, tag))
			_exit(100);
		if (!uring)
			_exit(azb_submit(fd, &s.r) ? 101 : 0);
		if (azb_ring_init(&ring, 4, AZB_RING_FLAGS) ||
		    azb_ring_prep_req(&ring, fd, &s.r, 1) ||
		    azb_ring_submit(&ring) != 1)
			_exit(102);
		_exit(azb_ring_reap(&ring, &c, -1) || c.res ? 103 : 0);
	}
}

/*
 * A caller over a bound: still waiting after 500 ms, having sent nothing
 * to the host and pinned nothing; SIGKILL ends it promptly and leaves the
 * counters as they were.
 */
static void check_blocked_killable(struct __test_metadata *_metadata, int fd,
				   bool uring, long pins, uint64_t pinned,
				   uint64_t in_flight)
{
	struct azb_host_stats before, after;
	int status = 0;
	long took;
	pid_t pid;

	ASSERT_EQ(0, azb_host_stats(0, &before));
	pid = spawn_caller(fd, uring, uring ? 7001 : 7000);
	ASSERT_LE(0, pid);
	azb_sleep_ms(500);
	EXPECT_EQ(0, waitpid(pid, &status, WNOHANG))
		TH_LOG("%s caller over the bound finished (status %#x)",
		       uring ? "io_uring" : "sync", status);
	ASSERT_EQ(0, azb_host_stats(0, &after));
	EXPECT_EQ(before.requests, after.requests);
	EXPECT_EQ(pinned, sysfs_u64("pinned_pages"));
	EXPECT_EQ(in_flight, sysfs_u64("in_flight"));
	EXPECT_EQ(pins, azb_pins_outstanding());

	ASSERT_EQ(0, kill(pid, SIGKILL));
	took = azb_wait_child(pid, &status, 2000);
	EXPECT_LE(0, took) TH_LOG("waiting %s caller not killable",
				  uring ? "io_uring" : "sync");
	if (took < 0) {
		azb_host(NULL, 0, "release 0");
		waitpid(pid, &status, 0);
		return;
	}
	EXPECT_TRUE(WIFSIGNALED(status));
	TH_LOG("waiting %s caller killed in %ld ms",
	       uring ? "io_uring" : "sync", took);
	azb_sleep_ms(100);
	EXPECT_EQ(pinned, sysfs_u64("pinned_pages"));
	EXPECT_EQ(in_flight, sysfs_u64("in_flight"));
	EXPECT_EQ(pins, azb_pins_outstanding());
	ASSERT_EQ(0, azb_host_stats(0, &after));
	EXPECT_EQ(before.requests, after.requests);
}

/*
 * An io_uring caller over the bound where the kernel has no io_uring
 * commands for the device: it fails at once with EOPNOTSUPP, having sent
 * nothing to the host and pinned nothing.
 */
static void check_uring_refused(struct __test_metadata *_metadata, int fd,
				long pins, uint64_t pinned, uint64_t in_flight)
{
	struct azb_host_stats before, after;
	struct io_uring ring;
	struct azb_cqe c;
	struct small s;

	ASSERT_EQ(0, azb_host_stats(0, &before));
	ASSERT_EQ(0, small_init(&s, 7002));
	ASSERT_EQ(0, azb_ring_init(&ring, 4, AZB_RING_FLAGS));
	ASSERT_EQ(0, azb_ring_prep_req(&ring, fd, &s.r, 1));
	ASSERT_EQ(1, azb_ring_submit(&ring));
	ASSERT_EQ(0, azb_ring_reap(&ring, &c, 2000))
		TH_LOG("io_uring command over the bound did not fail at once");
	EXPECT_EQ(-EOPNOTSUPP, c.res);
	io_uring_queue_exit(&ring);
	munmap(s.area, 2 * PG);
	EXPECT_EQ(pinned, sysfs_u64("pinned_pages"));
	EXPECT_EQ(in_flight, sysfs_u64("in_flight"));
	EXPECT_EQ(pins, azb_pins_outstanding());
	ASSERT_EQ(0, azb_host_stats(0, &after));
	EXPECT_EQ(before.requests, after.requests);
}

/*
 * While the in-process waiters (a sync thread and, with @uring, an
 * io_uring command in io-wq) wait over the bound: nothing completes for
 * 500 ms; after the host lets go of everything, both complete byte-exact.
 */
struct waiters {
	bool uring;
	struct caller sync;
	struct small sync_io, uring_io;
	struct io_uring ring;
};

static void waiters_start(struct __test_metadata *_metadata, int fd,
			  struct waiters *w, bool uring)
{
	struct azb_cqe c;

	w->uring = uring;
	ASSERT_EQ(0, small_init(&w->sync_io, 8000));
	ASSERT_EQ(0, small_init(&w->uring_io, 8001));
	w->sync.fd = fd;
	w->sync.r = w->sync_io.r;
	w->sync.done = 0;
	ASSERT_EQ(0, pthread_create(&w->sync.thread, NULL, caller_fn,
				    &w->sync));
	if (uring) {
		ASSERT_EQ(0, azb_ring_init(&w->ring, 4, AZB_RING_FLAGS));
		ASSERT_EQ(0, azb_ring_prep_req(&w->ring, fd, &w->uring_io.r,
					       42));
		ASSERT_EQ(1, azb_ring_submit(&w->ring));
		EXPECT_EQ(-ETIME, azb_ring_reap(&w->ring, &c, 500))
			TH_LOG("io_uring command over the bound completed: res %d",
			       c.res);
	} else {
		azb_sleep_ms(500);
	}
	EXPECT_EQ(0, w->sync.done) TH_LOG("sync caller over the bound: %s",
					  strerror(w->sync.ret));
}

static void waiters_finish(struct __test_metadata *_metadata,
			   struct waiters *w)
{
	struct azb_cqe c;
	char why[160];

	pthread_join(w->sync.thread, NULL);
	EXPECT_EQ(0, w->sync.ret);
	w->sync_io.r.response = w->sync.r.response;
	EXPECT_EQ(0, azb_echo_verify(&w->sync_io.r, NULL, why, sizeof(why)))
		TH_LOG("sync waiter: %s", why);
	if (w->uring) {
		ASSERT_EQ(0, azb_ring_reap(&w->ring, &c, 10000));
		EXPECT_EQ(42, c.user_data);
		EXPECT_EQ(0, c.res);
		azb_cqe_to_response(&c, &w->uring_io.r);
		EXPECT_EQ(0, azb_echo_verify(&w->uring_io.r, NULL, why,
					     sizeof(why)))
			TH_LOG("io_uring waiter: %s", why);
		io_uring_queue_exit(&w->ring);
	}
	munmap(w->sync_io.area, 2 * PG);
	munmap(w->uring_io.area, 2 * PG);
}

TEST_F(bounds, sysfs_values)
{
	uint64_t max_pinned = sysfs_u64("max_pinned_pages");
	uint64_t max_in_flight = sysfs_u64("max_in_flight");
	long pages = sysconf(_SC_PHYS_PAGES);

	ASSERT_NE(UINT64_MAX, max_pinned);
	ASSERT_NE(UINT64_MAX, max_in_flight);
	TH_LOG("max_pinned_pages %llu (RAM %ld pages), max_in_flight %llu",
	       (unsigned long long)max_pinned, pages,
	       (unsigned long long)max_in_flight);
	EXPECT_EQ(1024, max_in_flight);
	/* A quarter of RAM, at least three maximal requests, at most 1 GiB. */
	EXPECT_LE(3 * BIG, max_pinned);
	EXPECT_GE((1ull << 30) / PG, max_pinned);
	if (pages / 4 >= 3 * BIG && pages / 4 <= (1l << 30) / (long)PG)
		EXPECT_EQ((uint64_t)pages / 4, max_pinned);
	EXPECT_EQ(0, sysfs_u64("pinned_pages"));
	EXPECT_EQ(0, sysfs_u64("in_flight"));
}

/* Fill the device to max_pinned_pages; callers beyond wait, killably. */
TEST_F_TIMEOUT(bounds, pinned_pages_bound, AZB_LONG_TIMEOUT)
{
	uint64_t max = sysfs_u64("max_pinned_pages"), filled = 0;
	long base = azb_pins_outstanding();
	struct caller *big = NULL;
	struct monitor mon = { 0 };
	struct waiters w;
	unsigned int n = 0, i;
	uint8_t *region;
	char why[200];
	int uring;

	ASSERT_NE(UINT64_MAX, max);
	ASSERT_NE(LONG_MIN, base);
	uring = azb_uring_support(self->fd, why, sizeof(why));
	ASSERT_LE(0, uring) TH_LOG("%s", why);
	if (!uring)
		TH_LOG("%s: an io_uring caller must fail at once", why);
	region = mmap(NULL, BIG * PG, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, region);
	azb_fill(region + (BIG - 2) * PG, 100, 1);
	big = calloc(max / 2 + 1, sizeof(*big));
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, pthread_create(&mon.thread, NULL, monitor_fn, &mon));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));

	/* Requests of up to BIG pages (the same pages, pinned again). */
	while (max - filled >= 2) {
		uint64_t p = max - filled < BIG ? max - filled : BIG;

		if (max - filled - p == 1)
			p--;
		big[n].fd = self->fd;
		big_req(&big[n].r, region, p, 100 + n);
		ASSERT_EQ(0, pthread_create(&big[n].thread, NULL, caller_fn,
					    &big[n]));
		filled += p;
		n++;
	}
	ASSERT_EQ(0, azb_wait_held(0, n, 20000))
		TH_LOG("host holds fewer than %u requests", n);
	TH_LOG("%u requests hold %llu of %llu pages", n,
	       (unsigned long long)filled, (unsigned long long)max);
	EXPECT_EQ(filled, sysfs_u64("pinned_pages"));
	EXPECT_EQ(n, sysfs_u64("in_flight"));
	EXPECT_EQ(base + (long)filled, azb_pins_outstanding());

	if (filled == max) {
		/* Even the smallest request (2 pages) is over the bound. */
		check_blocked_killable(_metadata, self->fd, false,
				       base + filled, filled, n);
		if (uring)
			check_blocked_killable(_metadata, self->fd, true,
					       base + filled, filled, n);
		else
			check_uring_refused(_metadata, self->fd,
					    base + filled, filled, n);
		waiters_start(_metadata, self->fd, &w, uring);
		EXPECT_EQ(filled, sysfs_u64("pinned_pages"));
		EXPECT_EQ(base + (long)filled, azb_pins_outstanding());
	}

	/* Complete everything held; the waiters go through. */
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	for (i = 0; i < n; i++) {
		pthread_join(big[i].thread, NULL);
		EXPECT_EQ(0, big[i].ret) TH_LOG("request %u: %s", i,
						strerror(big[i].ret));
		EXPECT_EQ(0, big[i].r.response.status);
	}
	if (filled == max)
		waiters_finish(_metadata, &w);
	mon.stop = 1;
	pthread_join(mon.thread, NULL);
	TH_LOG("pinned_pages peaked at %llu (bound %llu, %lu samples)",
	       (unsigned long long)mon.max_pinned, (unsigned long long)max,
	       mon.samples);
	EXPECT_GE(max, mon.max_pinned);
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
	EXPECT_EQ(0, sysfs_u64("pinned_pages"));
	EXPECT_EQ(0, sysfs_u64("in_flight"));
	free(big);
	munmap(region, BIG * PG);
}

/* Fill the device to max_in_flight with small requests held by the host. */
TEST_F_TIMEOUT(bounds, in_flight_bound, AZB_LONG_TIMEOUT)
{
	uint64_t max = sysfs_u64("max_in_flight");
	long base = azb_pins_outstanding();
	struct monitor mon = { 0 };
	unsigned int i, seen = 0, ok = 0;
	struct io_uring ring;
	struct waiters w;
	struct small s;
	struct azb_cqe c;

	/* It takes io_uring commands to fill the device from one thread. */
	AZB_NEED_URING(self->fd);
	ASSERT_NE(UINT64_MAX, max);
	ASSERT_GE(4096, max);
	ASSERT_EQ(0, small_init(&s, 9000));
	ASSERT_EQ(0, azb_ring_init(&ring, max, AZB_RING_FLAGS));
	ASSERT_EQ(0, pthread_create(&mon.thread, NULL, monitor_fn, &mon));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	/* max commands over the same two pages, from one ring */
	for (i = 0; i < max; i++)
		ASSERT_EQ(0, azb_ring_prep_req(&ring, self->fd, &s.r, i));
	ASSERT_EQ((int)max, azb_ring_submit(&ring));
	ASSERT_EQ(0, azb_wait_held(0, max, 30000))
		TH_LOG("host holds fewer than %llu", (unsigned long long)max);
	EXPECT_EQ(max, sysfs_u64("in_flight"));
	EXPECT_EQ(2 * max, sysfs_u64("pinned_pages"));
	EXPECT_EQ(base + 2 * (long)max, azb_pins_outstanding());

	check_blocked_killable(_metadata, self->fd, false,
			       base + 2 * max, 2 * max, max);
	check_blocked_killable(_metadata, self->fd, true,
			       base + 2 * max, 2 * max, max);
	waiters_start(_metadata, self->fd, &w, true);
	EXPECT_EQ(max, sysfs_u64("in_flight"));

	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	while (seen < max && !azb_ring_reap(&ring, &c, 10000)) {
		seen++;
		if (!c.res && AZ_BLOB_URING_STATUS(c.big0) == 0 &&
		    AZ_BLOB_URING_RESPONSE_LEN(c.big0) == 316)
			ok++;
	}
	EXPECT_EQ(max, seen);
	EXPECT_EQ(max, ok);
	waiters_finish(_metadata, &w);
	mon.stop = 1;
	pthread_join(mon.thread, NULL);
	TH_LOG("in_flight peaked at %llu (bound %llu, %lu samples)",
	       (unsigned long long)mon.max_in_flight,
	       (unsigned long long)max, mon.samples);
	EXPECT_GE(max, mon.max_in_flight);
	io_uring_queue_exit(&ring);
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
	EXPECT_EQ(0, sysfs_u64("in_flight"));
	munmap(s.area, 2 * PG);
}

/*
 * The node is root's alone (the driver's 0600), or root's and a group's
 * (0660, as the packages' udev rule makes it): either way a process that
 * drops root and every group cannot open it.
 */
TEST_F(bounds, unprivileged_open)
{
	struct stat st;
	int status = 0;
	pid_t pid;

	ASSERT_EQ(0, stat(AZB_DEV, &st));
	AZB_EXPECT_NODE_MODE(st);
	EXPECT_NE(65534, st.st_gid);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		fd = open(AZB_DEV, O_RDWR);
		if (fd >= 0)
			_exit(11);
		if (errno != EACCES)
			_exit(12);
		fd = open(AZB_DEV, O_RDONLY);
		_exit(fd < 0 && errno == EACCES ? 0 : 13);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
