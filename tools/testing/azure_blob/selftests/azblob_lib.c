// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the Azure Blob selftests.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "azblob_lib.h"

static volatile ssize_t azb_ignore;

uint32_t azb_fnv1a32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t h = 0x811c9dc5u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x01000193u;
	}
	return h;
}

uint64_t azb_fnv1a64(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint8_t azb_pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(((uint32_t)(seed ^ i) * 0x9E3779B1u) >> 24);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

uint32_t azb_echo_response(const void *req, uint32_t req_len,
			   const void *data, uint32_t data_valid,
			   uint32_t data_len, void *out, uint32_t resp_cap)
{
	uint64_t full_len = (uint64_t)req_len + AZB_TRAILER;
	uint8_t trailer[AZB_TRAILER];
	uint64_t sum = 0;
	uint32_t n, head;

	(void)data_len;
	if (data_valid)
		sum = azb_fnv1a64(data, data_valid);
	put_le64(trailer, sum);
	put_le32(trailer + 8, data_valid);
	put_le32(trailer + 12, azb_fnv1a32(req, req_len));

	n = full_len < resp_cap ? (uint32_t)full_len : resp_cap;
	head = n < req_len ? n : req_len;
	memcpy(out, req, head);
	if (n > req_len)
		memcpy((uint8_t *)out + req_len, trailer, n - req_len);
	return n;
}

void azb_req_init(struct az_blob_request_sync *r, uint32_t tag,
		  const void *req, uint32_t req_len,
		  void *resp, uint32_t resp_len,
		  void *data, uint32_t data_len, uint32_t data_valid)
{
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 16; i++)
		r->guid[i] = (uint8_t)(tag >> (8 * (i % 4))) ^ (uint8_t)(i * 17);
	r->timeout = 30000;
	r->request_len = req_len;
	r->response_len = resp_len;
	r->data_len = data_len;
	r->data_valid = data_valid;
	r->request_buffer = (uintptr_t)req;
	r->response_buffer = (uintptr_t)resp;
	r->data_buffer = (uintptr_t)data;
	/* Poison the output so a missing write-back is noticed. */
	r->response.status = 0xdeadbeef;
	r->response.response_len = 0xdeadbeef;
}

int azb_submit(int fd, struct az_blob_request_sync *r)
{
	if (ioctl(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, r) == 0)
		return 0;
	return errno;
}

int azb_echo_verify(const struct az_blob_request_sync *r,
		    const void *data_copy, char *why, size_t why_len)
{
	const uint8_t *req = (const void *)(uintptr_t)r->request_buffer;
	const uint8_t *resp = (const void *)(uintptr_t)r->response_buffer;
	const uint8_t *data = (const void *)(uintptr_t)r->data_buffer;
	uint32_t seed = azb_fnv1a32(req, r->request_len);
	uint8_t *want;
	uint32_t n, i;

	if (r->response.status != 0) {
		snprintf(why, why_len, "status %u, want 0", r->response.status);
		return -1;
	}
	want = malloc(r->response_len);
	if (!want) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	n = azb_echo_response(req, r->request_len, data_copy, r->data_valid,
			      r->data_len, want, r->response_len);
	if (r->response.response_len != n) {
		snprintf(why, why_len, "response_len %u, want %u",
			 r->response.response_len, n);
		free(want);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (resp[i] != want[i]) {
			snprintf(why, why_len,
				 "response byte %u is 0x%02x, want 0x%02x",
				 i, resp[i], want[i]);
			free(want);
			return -1;
		}
	}
	free(want);
	if (r->data_len == 0)
		return 0;
	if (r->data_valid) {
		if (data_copy && memcmp(data, data_copy, r->data_len)) {
			snprintf(why, why_len, "upload data buffer modified");
			return -1;
		}
		return 0;
	}
	for (i = 0; i < r->data_len; i++) {
		if (data[i] != azb_pattern(seed, i)) {
			snprintf(why, why_len,
				 "data byte %u of %u is 0x%02x, want 0x%02x",
				 i, r->data_len, data[i], azb_pattern(seed, i));
			return -1;
		}
	}
	return 0;
}

void azb_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = azb_pattern(seed * 2654435761u + 12345, (uint32_t)i) ^
		       (uint8_t)(i >> 12);
}

bool azb_have_rig(void)
{
	return access(AZB_HOST_CTL, W_OK) == 0;
}

bool azb_have_dev(void)
{
	return access(AZB_DEV, F_OK) == 0;
}

int azb_host(char *reply, size_t reply_len, const char *fmt, ...)
{
	char cmd[256];
	ssize_t n;
	va_list ap;
	int fd, len, ret = 0;

	va_start(ap, fmt);
	len = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	if (len < 0 || len >= (int)sizeof(cmd) - 1)
		return -EINVAL;
	cmd[len++] = '\n';

	fd = open(AZB_HOST_CTL, O_RDWR);
	if (fd < 0)
		return -errno;
	if (write(fd, cmd, len) != len) {
		ret = -errno;
		goto out;
	}
	if (reply && reply_len) {
		n = pread(fd, reply, reply_len - 1, 0);
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		reply[n] = '\0';
		while (n > 0 && (reply[n - 1] == '\n' || reply[n - 1] == ' '))
			reply[--n] = '\0';
	}
out:
	close(fd);
	return ret;
}

static long stat_field(const char *s, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(s, pat);
	if (!p)
		return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

int azb_host_stats(int slot, struct azb_host_stats *st)
{
	char reply[256];
	int ret;

	ret = azb_host(reply, sizeof(reply), "stats %d", slot);
	if (ret)
		return ret;
	if (strncmp(reply, "ok", 2))
		return -EIO;
	st->requests = stat_field(reply, "requests");
	st->completed = stat_field(reply, "completed");
	st->held = stat_field(reply, "held");
	st->violations = stat_field(reply, "violations");
	if (st->requests < 0 || st->completed < 0 || st->held < 0 ||
	    st->violations < 0)
		return -EIO;
	return 0;
}

int azb_wait_held(int slot, long n, int timeout_ms)
{
	long end = azb_now_ms() + timeout_ms;
	struct azb_host_stats st;

	do {
		if (azb_host_stats(slot, &st) == 0 && st.held == n)
			return 0;
		azb_sleep_ms(10);
	} while (azb_now_ms() < end);
	return -ETIMEDOUT;
}

int azb_wait_path(const char *path, bool present, int timeout_ms)
{
	long end = azb_now_ms() + timeout_ms;

	do {
		if ((access(path, F_OK) == 0) == present)
			return 0;
		azb_sleep_ms(10);
	} while (azb_now_ms() < end);
	return -ETIMEDOUT;
}

int azb_rig_clean(void)
{
	int ret = 0;

	if (!azb_have_rig())
		return 0;
	azb_host(NULL, 0, "release 0");
	azb_host(NULL, 0, "release 1");
	if (azb_host(NULL, 0, "reset"))
		ret = -EIO;
	if (access(AZB_SEND_DELAY, W_OK) == 0 &&
	    azb_write_text(AZB_SEND_DELAY, "0\n"))
		ret = -EIO;
	if (access(AZB_DEV1, F_OK) == 0) {
		azb_host(NULL, 0, "rescind 1");
		if (azb_wait_path(AZB_DEV1, false, 5000))
			ret = -EIO;
	}
	if (!azb_have_dev()) {
		azb_host(NULL, 0, "offer 0");
		if (azb_wait_path(AZB_DEV, true, 5000))
			ret = -ENODEV;
	}
	return ret;
}

int azb_read_vmstat(const char *key, long *val)
{
	char line[128];
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/vmstat", "r");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			*val = strtol(line + klen + 1, NULL, 10);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

void azb_vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd < 0)
		return;
	/* Folds the per-CPU deltas into /proc/vmstat; may say EINVAL. */
	azb_ignore = write(fd, "1\n", 2);
	close(fd);
}

long azb_pins_outstanding(void)
{
	long acq, rel;

	azb_vmstat_refresh();
	if (azb_read_vmstat("nr_foll_pin_acquired", &acq) ||
	    azb_read_vmstat("nr_foll_pin_released", &rel))
		return LONG_MIN;
	return acq - rel;
}

int azb_wait_pins(long base, int timeout_ms)
{
	long end = azb_now_ms() + timeout_ms;

	do {
		if (azb_pins_outstanding() <= base)
			return 0;
		azb_sleep_ms(20);
	} while (azb_now_ms() < end);
	return -ETIMEDOUT;
}

int azb_write_text(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n == (ssize_t)len ? 0 : (n < 0 ? (int)n : -EIO);
}

int azb_read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int azb_read_u64(const char *path, uint64_t *val)
{
	char buf[64], *end;
	int ret;

	ret = azb_read_text(path, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

volatile sig_atomic_t azb_guard_fired;

static void guard_write(const char *cmd)
{
	int fd = open(AZB_HOST_CTL, O_WRONLY);

	if (fd < 0)
		return;
	/* Nothing more to do in a signal handler if this fails. */
	azb_ignore = write(fd, cmd, strlen(cmd));
	close(fd);
}

static void guard_handler(int sig)
{
	int saved = errno;

	(void)sig;
	azb_guard_fired = 1;
	azb_ignore = write(STDERR_FILENO,
			   "# guard: timeout, releasing the host\n", 37);
	guard_write("fault 0 none\n");
	guard_write("fault 1 none\n");
	guard_write("release 0\n");
	guard_write("release 1\n");
	errno = saved;
}

void azb_guard_arm(unsigned int sec)
{
	struct sigaction sa = { .sa_handler = guard_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	azb_guard_fired = 0;
	alarm(sec);
}

void azb_guard_disarm(void)
{
	alarm(0);
}

long azb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void azb_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

long azb_wait_child(pid_t pid, int *status, long ms)
{
	long start = azb_now_ms();

	while (azb_now_ms() - start < ms) {
		pid_t ret = waitpid(pid, status, WNOHANG);

		if (ret == pid)
			return azb_now_ms() - start;
		if (ret < 0)
			return -1;
		azb_sleep_ms(5);
	}
	return -1;
}

static int tap_n, tap_failed;

void azb_tap(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d %s", ok ? "ok" : "not ok", ++tap_n, name);
	if (fmt && *fmt) {
		printf(" # ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
	if (!ok)
		tap_failed++;
}

int azb_tap_failed(void)
{
	return tap_failed;
}
