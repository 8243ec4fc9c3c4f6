// SPDX-License-Identifier: GPL-2.0
/*
 * Host faults injected by the emulated host: held, delayed and failed
 * completions, a host that claims too long a response, and malformed,
 * misdirected or duplicated completion packets.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"

AZB_FIXTURE(fault, true)

#define PG		AZB_PAGE

struct one {
	uint8_t *area;
	struct az_blob_request_sync r;
	pthread_t thread;
	int fd;
	int ret;
	volatile int done;
};

/* A download of @data_len bytes with the three buffers in @o->area. */
static int one_init(struct one *o, int fd, uint32_t tag, uint32_t data_len)
{
	size_t len = 2 * PG + data_len;

	o->area = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (o->area == MAP_FAILED)
		return -1;
	o->fd = fd;
	o->done = 0;
	azb_fill(o->area, 200 + tag % 50, tag);
	azb_req_init(&o->r, tag, o->area, 200 + tag % 50,
		     o->area + PG, 200 + tag % 50 + AZB_TRAILER,
		     data_len ? o->area + 2 * PG : NULL, data_len, 0);
	return 0;
}

static void one_fini(struct one *o)
{
	munmap(o->area, 2 * PG + o->r.data_len);
}

static int one_run(struct one *o)
{
	o->ret = azb_submit(o->fd, &o->r);
	o->done = 1;
	return o->ret;
}

static void *one_thread(void *arg)
{
	one_run(arg);
	return NULL;
}

static int one_verify(struct __test_metadata *_metadata, struct one *o)
{
	char why[160];

	if (o->ret) {
		TH_LOG("ioctl: %s", strerror(o->ret));
		return -1;
	}
	if (azb_echo_verify(&o->r, NULL, why, sizeof(why))) {
		TH_LOG("%s", why);
		return -1;
	}
	return 0;
}

/* @n requests, each must succeed byte-exact. */
static int traffic(struct __test_metadata *_metadata, int fd, uint32_t tag,
		   int n)
{
	struct one o;
	int i, ret = 0;

	for (i = 0; i < n && !ret; i++) {
		if (one_init(&o, fd, tag + i, 5000 + 1000 * i))
			return -1;
		one_run(&o);
		ret = one_verify(_metadata, &o);
		one_fini(&o);
	}
	return ret;
}

static void expect_no_violations(struct __test_metadata *_metadata)
{
	struct azb_host_stats st;

	ASSERT_EQ(0, azb_host_stats(0, &st));
	EXPECT_EQ(0, st.violations);
}

TEST_F(fault, hold_and_release)
{
	struct one o;

	ASSERT_EQ(0, one_init(&o, self->fd, 2000, 3 * PG));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	ASSERT_EQ(0, pthread_create(&o.thread, NULL, one_thread, &o));
	ASSERT_EQ(0, azb_wait_held(0, 1, 5000));
	azb_sleep_ms(300);
	EXPECT_EQ(0, o.done);
	ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
	pthread_join(o.thread, NULL);
	ASSERT_EQ(0, one_verify(_metadata, &o));
	one_fini(&o);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, traffic(_metadata, self->fd, 2010, 2));
	expect_no_violations(_metadata);
}

TEST_F(fault, delay)
{
	long start, took;

	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 delay 400"));
	start = azb_now_ms();
	ASSERT_EQ(0, traffic(_metadata, self->fd, 2100, 2));
	took = azb_now_ms() - start;
	EXPECT_LE(800, took)
		TH_LOG("2 requests with 400 ms delay: %ld ms", took);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	expect_no_violations(_metadata);
}

TEST_F(fault, latency)
{
	long start, took;

	ASSERT_EQ(0, azb_host(NULL, 0, "latency 0 250000"));
	start = azb_now_ms();
	ASSERT_EQ(0, traffic(_metadata, self->fd, 2200, 3));
	took = azb_now_ms() - start;
	EXPECT_LE(750, took)
		TH_LOG("3 requests with 250 ms latency: %ld ms", took);
	ASSERT_EQ(0, azb_host(NULL, 0, "latency 0 0"));
	start = azb_now_ms();
	ASSERT_EQ(0, traffic(_metadata, self->fd, 2210, 3));
	took = azb_now_ms() - start;
	EXPECT_GT(750, took);
}

TEST_F(fault, host_status)
{
	static const uint32_t codes[] = { 1, 5, 22, 110, 65535 };
	struct one o;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 status %u", codes[i]));
		ASSERT_EQ(0, one_init(&o, self->fd, 2300 + i, PG));
		ASSERT_EQ(0, one_run(&o))
			TH_LOG("status %u: ioctl %s", codes[i],
			       strerror(o.ret));
		EXPECT_EQ(codes[i], o.r.response.status);
		EXPECT_GE(o.r.response_len, o.r.response.response_len);
		one_fini(&o);
	}
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, traffic(_metadata, self->fd, 2350, 2));
	expect_no_violations(_metadata);
}

TEST_F(fault, response_len_over)
{
	long base = azb_pins_outstanding();
	struct one o;
	int i;

	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 resp_len_over"));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, one_init(&o, self->fd, 2400 + i, i * PG));
		o.r.response.status = 0x5a5a5a5a;
		EXPECT_EQ(EPROTO, one_run(&o));
		one_fini(&o);
	}
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, traffic(_metadata, self->fd, 2410, 3));
	if (base != LONG_MIN)
		EXPECT_EQ(0, azb_wait_pins(base, 3000));
	expect_no_violations(_metadata);
}

/*
 * A malformed or stray packet comes before the real completion: every
 * request still succeeds, byte-exact, and the device keeps working.
 */
static void stray_packet(struct __test_metadata *_metadata, int fd,
			 const char *fault, uint32_t tag)
{
	long base = azb_pins_outstanding();
	struct one o[4];
	int i;

	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 %s", fault));
	ASSERT_EQ(0, traffic(_metadata, fd, tag, 4)) TH_LOG("fault %s", fault);
	/* Several at once. */
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, one_init(&o[i], fd, tag + 10 + i, i * 3000));
		ASSERT_EQ(0, pthread_create(&o[i].thread, NULL, one_thread,
					    &o[i]));
	}
	for (i = 0; i < 4; i++) {
		pthread_join(o[i].thread, NULL);
		EXPECT_EQ(0, one_verify(_metadata, &o[i]))
			TH_LOG("fault %s, concurrent request %d", fault, i);
		one_fini(&o[i]);
	}
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, traffic(_metadata, fd, tag + 20, 3))
		TH_LOG("after fault %s", fault);
	if (base != LONG_MIN)
		EXPECT_EQ(0, azb_wait_pins(base, 3000));
	expect_no_violations(_metadata);
}

TEST_F(fault, short_packet)
{
	stray_packet(_metadata, self->fd, "short_packet", 2500);
}

TEST_F(fault, wrong_type)
{
	stray_packet(_metadata, self->fd, "wrong_type", 2600);
}

TEST_F(fault, bad_id_unknown)
{
	stray_packet(_metadata, self->fd, "bad_id_unknown", 2700);
}

TEST_F(fault, bad_id_zero)
{
	stray_packet(_metadata, self->fd, "bad_id_zero", 2800);
}

TEST_F(fault, bad_id_dup)
{
	stray_packet(_metadata, self->fd, "bad_id_dup", 2900);
}

/* A host whose completions carry more than the 12 bytes of the protocol. */
TEST_F(fault, long_completion)
{
	stray_packet(_metadata, self->fd, "long_completion", 3000);
}

TEST_F(fault, bad_commands_rejected)
{
	char reply[128];

	EXPECT_EQ(-EINVAL, azb_host(reply, sizeof(reply), "fault 0 bogus"));
	EXPECT_EQ(0, azb_host(reply, sizeof(reply), "fault 0 none"));
	EXPECT_EQ(0, strncmp(reply, "ok", 2)) TH_LOG("reply '%s'", reply);
}

TEST_HARNESS_MAIN
