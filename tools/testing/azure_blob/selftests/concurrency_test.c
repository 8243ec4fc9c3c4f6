// SPDX-License-Identifier: GPL-2.0
/*
 * Many threads issuing requests at once, on shared and private fds, every
 * result byte-exact.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"

AZB_FIXTURE(conc, true)

#define NR_THREADS	16
#define NR_REQUESTS	200
#define MAX_DATA	(64 * 1024)
#define MAX_REQ		3000

struct worker {
	pthread_t thread;
	int id;
	int fd;
	int done;
	int errors;
	char why[200];
};

static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	uint32_t rnd = 0x9e3779b9u * (w->id + 1);
	uint8_t *req = malloc(MAX_REQ + 64);
	uint8_t *resp = malloc(MAX_REQ + 64);
	uint8_t *data = malloc(MAX_DATA + 64);
	uint8_t *copy = malloc(MAX_DATA + 64);
	struct az_blob_request_sync r;
	int i;

	if (!req || !resp || !data || !copy) {
		snprintf(w->why, sizeof(w->why), "out of memory");
		w->errors++;
		goto out;
	}
	for (i = 0; i < NR_REQUESTS; i++) {
		uint32_t req_len = 1 + next_rand(&rnd) % MAX_REQ;
		uint32_t data_len = next_rand(&rnd) % (MAX_DATA + 1);
		uint32_t kind = next_rand(&rnd) % 3;
		uint32_t data_valid = 0;
		uint32_t resp_len = req_len + AZB_TRAILER;
		uint8_t *d = data + next_rand(&rnd) % 64;
		uint8_t *q = req + next_rand(&rnd) % 64;
		char why[160];
		int ret;

		if (kind == 0)
			data_len = 0;
		else if (kind == 2 && data_len)
			data_valid = 1 + next_rand(&rnd) % data_len;
		if (next_rand(&rnd) % 4 == 0)
			resp_len = 1 + next_rand(&rnd) % resp_len;

		/* Unique request contents: thread id and sequence number. */
		azb_fill(q, req_len, (uint32_t)(w->id << 16 | i));
		memcpy(q, &i, req_len < sizeof(i) ? req_len : sizeof(i));
		if (req_len > 8)
			memcpy(q + 4, &w->id, sizeof(w->id));
		if (data_valid) {
			azb_fill(d, data_len, i);
			memcpy(copy, d, data_len);
		} else if (data_len) {
			memset(d, 0, data_len);
		}
		azb_req_init(&r, w->id << 16 | i, q, req_len, resp, resp_len,
			     d, data_len, data_valid);
		ret = azb_submit(w->fd, &r);
		if (ret) {
			snprintf(w->why, sizeof(w->why),
				 "request %d: ioctl: %s", i, strerror(ret));
			w->errors++;
			continue;
		}
		if (azb_echo_verify(&r, copy, why, sizeof(why))) {
			snprintf(w->why, sizeof(w->why), "request %d: %s",
				 i, why);
			w->errors++;
			continue;
		}
		w->done++;
	}
out:
	free(req);
	free(resp);
	free(data);
	free(copy);
	return NULL;
}

static void run_threads(struct __test_metadata *_metadata, int shared_fd,
			bool private_fds)
{
	struct worker w[NR_THREADS];
	int i, total = 0, errors = 0;

	memset(w, 0, sizeof(w));
	for (i = 0; i < NR_THREADS; i++) {
		w[i].id = i;
		w[i].fd = shared_fd;
		if (private_fds && (i & 1)) {
			w[i].fd = open(AZB_DEV, O_RDWR);
			ASSERT_LE(0, w[i].fd);
		}
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, worker_fn,
					    &w[i]));
	}
	for (i = 0; i < NR_THREADS; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].fd != shared_fd)
			close(w[i].fd);
		total += w[i].done;
		errors += w[i].errors;
		if (w[i].errors)
			TH_LOG("thread %d: %d errors, last: %s", i,
			       w[i].errors, w[i].why);
	}
	EXPECT_EQ(0, errors);
	EXPECT_EQ(NR_THREADS * NR_REQUESTS, total);
}

TEST_F_TIMEOUT(conc, threads_shared_fd, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	struct azb_host_stats st;

	run_threads(_metadata, self->fd, false);
	ASSERT_EQ(0, azb_host_stats(0, &st));
	EXPECT_EQ(0, st.violations);
	EXPECT_EQ(0, azb_wait_pins(base, 3000));
}

TEST_F_TIMEOUT(conc, threads_private_fds_with_latency, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	struct azb_host_stats st;

	/* Host latency keeps many requests in flight at once. */
	ASSERT_EQ(0, azb_host(NULL, 0, "latency 0 2000"));
	run_threads(_metadata, self->fd, true);
	ASSERT_EQ(0, azb_host_stats(0, &st));
	EXPECT_EQ(0, st.violations);
	EXPECT_EQ(0, azb_wait_pins(base, 3000));
}

TEST_HARNESS_MAIN
