// SPDX-License-Identifier: GPL-2.0
/*
 * Byte-exact round trips through the emulated host's echo backend: request
 * sizes, downloads, uploads, alignment, shared pages, truncation.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"

AZB_FIXTURE(echo, true)

#define PG		AZB_PAGE
#define POISON		0xa5

static uint8_t *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int untouched(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != POISON)
			return (int)i;
	return -1;
}

/*
 * One download-or-upload request with the buffers at the given places.
 * The response buffer and @tail bytes after it are poisoned first; the
 * bytes after the written response must stay untouched.
 */
static int round_trip(struct __test_metadata *_metadata, int fd, uint32_t tag,
		      uint8_t *req, uint32_t req_len,
		      uint8_t *resp, uint32_t resp_len, uint32_t tail,
		      uint8_t *data, uint32_t data_len, uint32_t data_valid)
{
	struct az_blob_request_sync r;
	uint8_t *copy = NULL;
	char why[160];
	int ret, off;

	azb_fill(req, req_len, tag);
	memset(resp, POISON, (size_t)resp_len + tail);
	if (data_len && data_valid) {
		azb_fill(data, data_len, tag ^ 0x5555);
		copy = malloc(data_len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, data_len);
	} else if (data_len) {
		memset(data, POISON, data_len);
	}
	azb_req_init(&r, tag, req, req_len, resp, resp_len, data, data_len,
		     data_valid);
	ret = azb_submit(fd, &r);
	if (ret) {
		TH_LOG("tag %u: ioctl failed: %s", tag, strerror(ret));
		free(copy);
		return ret;
	}
	ret = azb_echo_verify(&r, copy, why, sizeof(why));
	free(copy);
	if (ret) {
		TH_LOG("tag %u (req %u resp %u data %u/%u): %s", tag, req_len,
		       resp_len, data_valid, data_len, why);
		return -EIO;
	}
	off = untouched(resp + r.response.response_len,
			resp_len - r.response.response_len + tail);
	if (off >= 0) {
		TH_LOG("tag %u: byte %u after the response was written", tag,
		       r.response.response_len + off);
		return -EIO;
	}
	return 0;
}

TEST_F_TIMEOUT(echo, request_sizes, AZB_LONG_TIMEOUT)
{
	static const uint32_t sizes[] = {
		1, 2, 3, 7, 15, 16, 17, 100, 511, 4079, 4080, 4095, 4096, 4097,
		8191, 8192, 12289, 65536, 65537, 1 << 20, (1 << 20) + 3,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint32_t n = sizes[i];
		uint8_t *req = map(n), *resp = map(n + AZB_TRAILER + 64);

		ASSERT_NE(NULL, req);
		ASSERT_NE(NULL, resp);
		/* Exactly request + trailer, then with room to spare. */
		ASSERT_EQ(0, round_trip(_metadata, self->fd, 100 + i, req, n,
					resp, n + AZB_TRAILER, 0, NULL, 0, 0));
		ASSERT_EQ(0, round_trip(_metadata, self->fd, 200 + i, req, n,
					resp, n + AZB_TRAILER + 48, 16,
					NULL, 0, 0));
		munmap(req, n);
		munmap(resp, n + AZB_TRAILER + 64);
	}
}

TEST_F_TIMEOUT(echo, downloads, AZB_LONG_TIMEOUT)
{
	static const uint32_t sizes[] = {
		1, 2, 3, 100, 4095, 4096, 4097, 8192, 65535, 65536,
		(1 << 20) + 1, 4 << 20, (AZ_BLOB_MAX_PAGES - 2) * PG,
	};
	uint8_t *req = map(PG), *resp = map(PG);
	size_t i;

	ASSERT_NE(NULL, req);
	ASSERT_NE(NULL, resp);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint8_t *data = map(sizes[i]);

		ASSERT_NE(NULL, data);
		ASSERT_EQ(0, round_trip(_metadata, self->fd, 300 + i,
					req, 40 + i, resp, 40 + i + AZB_TRAILER,
					8, data, sizes[i], 0))
			TH_LOG("download of %u bytes", sizes[i]);
		munmap(data, sizes[i]);
	}
	munmap(req, PG);
	munmap(resp, PG);
}

TEST_F_TIMEOUT(echo, uploads, AZB_LONG_TIMEOUT)
{
	static const struct { uint32_t len, valid; } cases[] = {
		{ 1, 1 }, { 2, 1 }, { 4096, 4096 }, { 4097, 4097 },
		{ 12345, 12345 }, { 8192, 100 }, { 65536, 65535 },
		{ 1 << 20, 1 << 20 }, { (1 << 20) + 7, 999999 },
		{ (AZ_BLOB_MAX_PAGES - 2) * PG, (AZ_BLOB_MAX_PAGES - 2) * PG },
	};
	uint8_t *req = map(PG), *resp = map(PG);
	size_t i;

	ASSERT_NE(NULL, req);
	ASSERT_NE(NULL, resp);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t *data = map(cases[i].len);

		ASSERT_NE(NULL, data);
		ASSERT_EQ(0, round_trip(_metadata, self->fd, 400 + i,
					req, 333, resp, 333 + AZB_TRAILER, 0,
					data, cases[i].len, cases[i].valid))
			TH_LOG("upload of %u of %u bytes", cases[i].valid,
			       cases[i].len);
		munmap(data, cases[i].len);
	}
	munmap(req, PG);
	munmap(resp, PG);
}

TEST_F_TIMEOUT(echo, unaligned_buffers, AZB_LONG_TIMEOUT)
{
	static const uint32_t offs[] = { 1, 3, 511, 2049, 4095 };
	size_t len = 64 * PG;
	uint8_t *area = map(len);
	size_t i, j;

	ASSERT_NE(NULL, area);
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		for (j = 0; j < 2; j++) {
			uint32_t o = offs[i];
			uint8_t *data = area + o;
			uint8_t *req = area + 20 * PG + o * 3 % PG;
			uint8_t *resp = area + 30 * PG + (PG - o);
			uint32_t data_len = 5 * PG + o;
			uint32_t req_len = PG + 2 * o;

			ASSERT_EQ(0, round_trip(_metadata, self->fd,
						500 + 10 * i + j,
						req, req_len, resp,
						req_len + AZB_TRAILER, 8,
						data, data_len,
						j ? data_len - o : 0))
				TH_LOG("offset %u, %s", o,
				       j ? "upload" : "download");
		}
	}
	munmap(area, len);
}

TEST_F(echo, buffers_share_one_page)
{
	uint8_t *page = map(2 * PG);

	ASSERT_NE(NULL, page);
	/* Request, response and data in one page, with gaps between. */
	ASSERT_EQ(0, round_trip(_metadata, self->fd, 600, page + 8, 100,
				page + 200, 116, 40, page + 400, 3000, 0));
	ASSERT_EQ(0, round_trip(_metadata, self->fd, 601, page + 8, 100,
				page + 200, 116, 40, page + 400, 3000, 2999));
	/* Adjacent, no gaps, straddling the page boundary. */
	ASSERT_EQ(0, round_trip(_metadata, self->fd, 602, page + PG - 50, 60,
				page + PG + 10, 76, 0, page + 100,
				PG - 150, 0));
	munmap(page, 2 * PG);
}

TEST_F(echo, data_len_zero)
{
	uint8_t *page = map(PG);
	struct az_blob_request_sync r;
	char why[160];

	ASSERT_NE(NULL, page);
	/* data_buffer is ignored when data_len is 0, even if bogus. */
	azb_fill(page, 64, 7);
	azb_req_init(&r, 700, page, 64, page + 1024, 80, (void *)0x10, 0, 0);
	ASSERT_EQ(0, azb_submit(self->fd, &r));
	ASSERT_EQ(0, azb_echo_verify(&r, NULL, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(80, r.response.response_len);
	munmap(page, PG);
}

TEST_F(echo, response_truncated)
{
	static const uint32_t caps[] = { 1, 2, 99, 100, 101, 108, 114, 115 };
	uint8_t *req = map(PG), *resp = map(PG);
	size_t i;

	ASSERT_NE(NULL, req);
	ASSERT_NE(NULL, resp);
	for (i = 0; i < ARRAY_SIZE(caps); i++)
		ASSERT_EQ(0, round_trip(_metadata, self->fd, 800 + i,
					req, 100, resp, caps[i], 64,
					NULL, 0, 0))
			TH_LOG("response buffer of %u bytes", caps[i]);
	/* A truncated response with a download. */
	{
		uint8_t *data = map(3 * PG);

		ASSERT_NE(NULL, data);
		ASSERT_EQ(0, round_trip(_metadata, self->fd, 850, req, 100,
					resp, 50, 64, data, 3 * PG - 1, 0));
		munmap(data, 3 * PG);
	}
	munmap(req, PG);
	munmap(resp, PG);
}

TEST_F(echo, guid_and_timeout_are_opaque)
{
	uint8_t *page = map(PG);
	struct az_blob_request_sync r;
	char why[160];

	ASSERT_NE(NULL, page);
	azb_fill(page, 32, 9);
	azb_req_init(&r, 900, page, 32, page + 2048, 48, NULL, 0, 0);
	memset(r.guid, 0xff, sizeof(r.guid));
	r.timeout = 0;
	ASSERT_EQ(0, azb_submit(self->fd, &r));
	ASSERT_EQ(0, azb_echo_verify(&r, NULL, why, sizeof(why)))
		TH_LOG("%s", why);
	r.timeout = 0xffffffff;
	ASSERT_EQ(0, azb_submit(self->fd, &r));
	munmap(page, PG);
}

TEST_F(echo, no_host_violations)
{
	struct azb_host_stats st;
	uint8_t *page = map(2 * PG);

	ASSERT_NE(NULL, page);
	ASSERT_EQ(0, round_trip(_metadata, self->fd, 950, page, 10,
				page + PG, 26, 0, page + 100, 50, 0));
	ASSERT_EQ(0, azb_host_stats(0, &st));
	EXPECT_EQ(0, st.violations);
	EXPECT_EQ(0, st.held);
	munmap(page, 2 * PG);
}

TEST_HARNESS_MAIN
