// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke test of the Azure Blob test rig: requests through /dev/azure_blob
 * to the reference VSP's echo backend, every byte checked, plus the round
 * trip times of a request and of a control command.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <misc/hv_azure_blob.h>

#define HOST_CTL "/sys/kernel/debug/vmbus_emu/host"

static int failures;

#define CHECK(cond, ...) do {					\
	if (cond) {						\
		printf("ok - " __VA_ARGS__);			\
	} else {						\
		printf("not ok - " __VA_ARGS__);		\
		failures++;					\
	}							\
	printf("\n");						\
} while (0)

static uint32_t fnv32(const uint8_t *p, size_t n)
{
	uint32_t h = 0x811c9dc5u;

	while (n--)
		h = (h ^ *p++) * 0x01000193u;
	return h;
}

static uint64_t fnv64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

static uint8_t pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(((uint32_t)(seed ^ i) * 0x9E3779B1u) >> 24);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int host_cmd(const char *cmd, char *reply, size_t len)
{
	int fd = open(HOST_CTL, O_RDWR);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (write(fd, cmd, strlen(cmd)) < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	if (reply) {
		lseek(fd, 0, SEEK_SET);
		n = read(fd, reply, len - 1);
		reply[n > 0 ? n : 0] = '\0';
	}
	close(fd);
	return 0;
}

/* One echo request; checks the response, and the data of a download. */
static int echo_once(int fd, uint32_t req_len, uint32_t resp_len,
		     uint32_t data_len, uint32_t data_valid, int verbose)
{
	struct az_blob_request_sync r;
	uint8_t *req = malloc(req_len), *resp = malloc(resp_len);
	uint8_t *data = data_len ? malloc(data_len) : NULL;
	uint8_t expect[16];
	uint32_t seed, i, n;
	uint64_t sum = 0;
	int bad = 0;

	for (i = 0; i < req_len; i++)
		req[i] = (uint8_t)(i * 7 + req_len);
	for (i = 0; i < data_len; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	memset(resp, 0xee, resp_len);
	memset(&r, 0, sizeof(r));
	memcpy(r.guid, "smoke-test-guid!", 16);
	r.timeout = 10000;
	r.request_len = req_len;
	r.response_len = resp_len;
	r.data_len = data_len;
	r.data_valid = data_valid;
	r.request_buffer = (uintptr_t)req;
	r.response_buffer = (uintptr_t)resp;
	r.data_buffer = (uintptr_t)data;
	if (ioctl(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &r)) {
		printf("# ioctl: %s\n", strerror(errno));
		bad = 1;
		goto out;
	}
	seed = fnv32(req, req_len);
	if (data_valid)
		sum = fnv64(data, data_valid);
	for (i = 0; i < 8; i++)
		expect[i] = (uint8_t)(sum >> (8 * i));
	for (i = 0; i < 4; i++) {
		expect[8 + i] = (uint8_t)(data_valid >> (8 * i));
		expect[12 + i] = (uint8_t)(seed >> (8 * i));
	}
	n = req_len + 16 < resp_len ? req_len + 16 : resp_len;
	if (r.response.status != 0 || r.response.response_len != n) {
		printf("# status %u response_len %u (want 0, %u)\n",
		       r.response.status, r.response.response_len, n);
		bad = 1;
	}
	for (i = 0; i < n && !bad; i++) {
		uint8_t want = i < req_len ? req[i] : expect[i - req_len];

		if (resp[i] != want) {
			printf("# response byte %u: %#x, want %#x\n", i,
			       resp[i], want);
			bad = 1;
		}
	}
	for (i = n; i < resp_len && !bad; i++)
		if (resp[i] != 0xee) {
			printf("# response byte %u past response_len written\n",
			       i);
			bad = 1;
		}
	for (i = 0; i < data_len && !data_valid && !bad; i++)
		if (data[i] != pattern(seed, i)) {
			printf("# data byte %u: %#x, want %#x\n", i, data[i],
			       pattern(seed, i));
			bad = 1;
		}
	if (verbose)
		printf("# echo req %u resp %u data %u valid %u: %s\n", req_len,
		       resp_len, data_len, data_valid, bad ? "BAD" : "good");
out:
	free(req);
	free(resp);
	free(data);
	return bad;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 2000;
	double t0, *lat;
	char reply[256];
	int fd, i, bad;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open("/dev/azure_blob", O_RDWR);
	CHECK(fd >= 0, "open /dev/azure_blob");
	if (fd < 0)
		return 1;
	/* AZBLOB_SMOKE_KEEP=1 keeps the host's settings (e.g. trace on). */
	if (!getenv("AZBLOB_SMOKE_KEEP"))
		CHECK(host_cmd("reset", NULL, 0) == 0, "host reset");

	CHECK(!echo_once(fd, 5, 4096, 0, 0, 1), "echo, no data");
	CHECK(!echo_once(fd, 100, 64, 0, 0, 1), "echo, truncated response");
	CHECK(!echo_once(fd, 300, 4096, 100000, 0, 1), "echo, download 100000");
	CHECK(!echo_once(fd, 300, 4096, 8192, 5000, 1), "echo, upload 5000");
	CHECK(!echo_once(fd, 5000, 9000, 1 << 20, 0, 1), "echo, download 1 MiB");

	lat = calloc(iters > 500 ? iters : 500, sizeof(*lat));
	bad = 0;
	for (i = 0; i < iters; i++) {
		t0 = now_us();
		bad |= echo_once(fd, 64, 256, 0, 0, 0);
		lat[i] = now_us() - t0;
	}
	qsort(lat, iters, sizeof(*lat), cmp_double);
	CHECK(!bad, "%d small echo requests", iters);
	printf("# request round trip (64 B echo, ioctl incl. checks): p50 %.1f us, p90 %.1f us, p99 %.1f us\n",
	       lat[iters / 2], lat[iters * 9 / 10], lat[iters * 99 / 100]);

	t0 = now_us();
	for (i = 0; i < 16; i++)
		bad |= echo_once(fd, 64, 256, 1 << 20, 0, 0);
	printf("# 16 x 1 MiB downloads: %.1f MiB/s (incl. pattern checks)\n",
	       16 / ((now_us() - t0) / 1e6));

	for (i = 0; i < 500; i++) {
		t0 = now_us();
		if (host_cmd("stats 0", reply, sizeof(reply)))
			break;
		lat[i] = now_us() - t0;
	}
	CHECK(i == 500, "500 control commands");
	qsort(lat, i, sizeof(*lat), cmp_double);
	printf("# control command round trip (open+write+read): p50 %.1f us, p90 %.1f us\n",
	       lat[i / 2], lat[i * 9 / 10]);

	CHECK(host_cmd("stats 0", reply, sizeof(reply)) == 0, "stats: %s",
	      reply);
	CHECK(strstr(reply, " violations=0") != NULL, "no violations");
	free(lat);
	close(fd);
	printf("# %d failures\n", failures);
	return failures ? 1 : 0;
}
