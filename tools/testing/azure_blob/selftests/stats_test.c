// SPDX-License-Identifier: GPL-2.0
/*
 * The per-device counters in sysfs, the pending list in debugfs and the
 * emulated host's protocol-violation count.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"

AZB_FIXTURE(stats, true)

#define PG		AZB_PAGE
#define PENDING		AZB_DEBUGFS "/azure_blob/pending"

struct counters {
	uint64_t submitted, completed, failed, in_flight, bytes, pinned_pages;
};

static int read_counters(struct counters *c)
{
	static const char * const names[] = {
		"submitted", "completed", "failed", "in_flight", "bytes",
		"pinned_pages",
	};
	uint64_t *vals[] = {
		&c->submitted, &c->completed, &c->failed, &c->in_flight,
		&c->bytes, &c->pinned_pages,
	};
	char path[128];
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), AZB_SYSFS "/%s", names[i]);
		ret = azb_read_u64(path, vals[i]);
		if (ret)
			return ret;
	}
	return 0;
}

struct req {
	uint8_t *area;
	struct az_blob_request_sync r;
	pthread_t thread;
	int fd, ret;
};

/* request 100 B, response 116 B, data 5000 B: 1 + 1 + 2 pages */
#define REQ_BYTES	(100 + 116 + 5000)
#define REQ_PAGES	4

static int req_init(struct req *q, int fd, uint32_t tag)
{
	q->area = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED)
		return -1;
	q->fd = fd;
	azb_fill(q->area, 100, tag);
	azb_req_init(&q->r, tag, q->area, 100, q->area + PG, 116,
		     q->area + 2 * PG, 5000, 0);
	return 0;
}

static void *req_thread(void *arg)
{
	struct req *q = arg;

	q->ret = azb_submit(q->fd, &q->r);
	return NULL;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

TEST_F(stats, counters_move)
{
	struct counters a, b;
	struct req q;
	char why[160];

	ASSERT_EQ(0, read_counters(&a)) TH_LOG("sysfs counters missing");
	EXPECT_EQ(0, a.in_flight);
	EXPECT_EQ(0, a.pinned_pages);

	/* A successful request. */
	ASSERT_EQ(0, req_init(&q, self->fd, 5000));
	ASSERT_EQ(0, azb_submit(self->fd, &q.r));
	ASSERT_EQ(0, azb_echo_verify(&q.r, NULL, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(0, read_counters(&b));
	EXPECT_EQ(a.submitted + 1, b.submitted);
	EXPECT_EQ(a.completed + 1, b.completed);
	EXPECT_EQ(a.failed, b.failed);
	EXPECT_EQ(a.bytes + REQ_BYTES, b.bytes);
	EXPECT_EQ(0, b.in_flight);
	EXPECT_EQ(0, b.pinned_pages);

	/* Refused before it reaches the host: no counter moves. */
	a = b;
	q.r.reserved = 1;
	EXPECT_EQ(EINVAL, azb_submit(self->fd, &q.r));
	q.r.reserved = 0;
	q.r.response_buffer = 0;
	EXPECT_EQ(EFAULT, azb_submit(self->fd, &q.r));
	ASSERT_EQ(0, read_counters(&b));
	EXPECT_EQ(a.submitted, b.submitted);
	EXPECT_EQ(a.completed, b.completed);
	EXPECT_EQ(a.failed, b.failed);
	EXPECT_EQ(a.bytes, b.bytes);

	/* Host status and a protocol error count as failed. */
	a = b;
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 status 5"));
	q.r.response_buffer = (uintptr_t)q.area + PG;
	EXPECT_EQ(0, azb_submit(self->fd, &q.r));
	EXPECT_EQ(5, q.r.response.status);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 resp_len_over"));
	EXPECT_EQ(EPROTO, azb_submit(self->fd, &q.r));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, read_counters(&b));
	EXPECT_EQ(a.submitted + 2, b.submitted);
	EXPECT_EQ(a.completed, b.completed);
	EXPECT_EQ(a.failed + 2, b.failed);
	EXPECT_EQ(a.bytes + 2 * REQ_BYTES, b.bytes);
	EXPECT_EQ(0, b.in_flight);
	EXPECT_EQ(0, b.pinned_pages);
	munmap(q.area, 4 * PG);
}

TEST_F(stats, held_request_visible)
{
	struct counters a, b;
	struct req q[2];
	char text[4096];
	char pid[32];
	int i, lines0 = -1;

	ASSERT_EQ(0, read_counters(&a));
	if (azb_read_text(PENDING, text, sizeof(text)) == 0)
		lines0 = count_lines(text);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, req_init(&q[i], self->fd, 5100 + i));
		ASSERT_EQ(0, pthread_create(&q[i].thread, NULL, req_thread,
					    &q[i]));
	}
	ASSERT_EQ(0, azb_wait_held(0, 2, 5000));
	ASSERT_EQ(0, read_counters(&b));
	EXPECT_EQ(2, b.in_flight);
	EXPECT_EQ(2 * REQ_PAGES, b.pinned_pages);
	EXPECT_EQ(a.submitted + 2, b.submitted);
	EXPECT_EQ(a.completed, b.completed);

	if (lines0 >= 0) {
		ASSERT_EQ(0, azb_read_text(PENDING, text, sizeof(text)));
		EXPECT_EQ(lines0 + 2, count_lines(text)) TH_LOG("%s", text);
		snprintf(pid, sizeof(pid), " %d ", getpid());
		EXPECT_NE(NULL, strstr(text, pid)) TH_LOG("%s", text);
		EXPECT_NE(NULL, strstr(text, " 100 116 5000 "))
			TH_LOG("%s", text);
	} else {
		TH_LOG("no %s: pending list not checked", PENDING);
	}

	ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
	for (i = 0; i < 2; i++) {
		pthread_join(q[i].thread, NULL);
		EXPECT_EQ(0, q[i].ret);
		munmap(q[i].area, 4 * PG);
	}
	ASSERT_EQ(0, read_counters(&b));
	EXPECT_EQ(0, b.in_flight);
	EXPECT_EQ(0, b.pinned_pages);
	EXPECT_EQ(a.completed + 2, b.completed);
	if (lines0 >= 0) {
		ASSERT_EQ(0, azb_read_text(PENDING, text, sizeof(text)));
		EXPECT_EQ(lines0, count_lines(text)) TH_LOG("%s", text);
	}
}

TEST_F(stats, host_saw_no_violations)
{
	struct azb_host_stats st;
	struct req q;
	int i;

	ASSERT_EQ(0, req_init(&q, self->fd, 5200));
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, azb_submit(self->fd, &q.r));
	ASSERT_EQ(0, azb_host_stats(0, &st));
	EXPECT_EQ(0, st.violations);
	EXPECT_EQ(0, st.held);
	EXPECT_LE(10, st.completed);
	munmap(q.area, 4 * PG);
}

TEST_HARNESS_MAIN
