/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the Azure Blob selftests: device and rig access, the
 * reference model of the emulated host's echo backend, kernel counters.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _AZBLOB_LIB_H
#define _AZBLOB_LIB_H

#include <signal.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <misc/hv_azure_blob.h>

#define AZB_DEV			"/dev/azure_blob"
#define AZB_DEV1		"/dev/azure_blob1"
#define AZB_HOST_CTL		"/sys/kernel/debug/vmbus_emu/host"
#define AZB_SYSFS		"/sys/class/misc/azure_blob"
#define AZB_DEBUGFS		"/sys/kernel/debug/hv_azure_blob"
/* The emulated VMBus's window around every send, in microseconds. */
#define AZB_SEND_DELAY		"/sys/kernel/debug/vmbus_emu/send_delay_us"
#define AZB_PAGE		4096UL
#define AZB_TRAILER		16U

/* Echo backend reference model (the emulated host's exact behaviour). */
uint32_t azb_fnv1a32(const void *buf, size_t len);
uint64_t azb_fnv1a64(const void *buf, size_t len);
uint8_t azb_pattern(uint32_t seed, uint32_t i);

/*
 * Build the exact response the echo backend writes for a request buffer
 * @req of @req_len bytes and an upload of @data_valid bytes at @data into a
 * response buffer of @resp_cap bytes. Returns the expected response_len.
 */
uint32_t azb_echo_response(const void *req, uint32_t req_len,
			   const void *data, uint32_t data_valid,
			   uint32_t data_len, void *out, uint32_t resp_cap);

/* Fill a request structure (guid derived from @tag, timeout 30 s). */
void azb_req_init(struct az_blob_request_sync *r, uint32_t tag,
		  const void *req, uint32_t req_len,
		  void *resp, uint32_t resp_len,
		  void *data, uint32_t data_len, uint32_t data_valid);

/* Issue one request; returns 0 or the errno of the failed ioctl. */
int azb_submit(int fd, struct az_blob_request_sync *r);

/*
 * Verify that a completed request matches the echo backend: response bytes
 * and length, status 0, downloaded data (when @data_valid is 0 and
 * @data_len > 0) or untouched upload data compared with @data_copy.
 * Returns 0, or -1 with a description in @why.
 */
int azb_echo_verify(const struct az_blob_request_sync *r,
		    const void *data_copy, char *why, size_t why_len);

/* Fill @buf with bytes derived from @seed (request/upload contents). */
void azb_fill(void *buf, size_t len, uint32_t seed);

/* Rig test-control (the emulated host). */
bool azb_have_rig(void);
bool azb_have_dev(void);
/* Send one command; returns 0 or -errno. @reply gets the VSP's answer. */
int azb_host(char *reply, size_t reply_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct azb_host_stats {
	long requests, completed, held, violations;
};

int azb_host_stats(int slot, struct azb_host_stats *st);
/* Poll until the host holds @n requests in @slot; 0 or -ETIMEDOUT. */
int azb_wait_held(int slot, long n, int timeout_ms);
/*
 * Bring the rig to its neutral state: reset, release held requests, slot 0
 * offered with /dev/azure_blob present, slot 1 rescinded.
 */
int azb_rig_clean(void);

/* Wait for a path to appear (@present) or disappear; 0 or -ETIMEDOUT. */
int azb_wait_path(const char *path, bool present, int timeout_ms);

/* Fold the per-CPU vmstat deltas so /proc/vmstat is exact (root). */
void azb_vmstat_refresh(void);
/* nr_foll_pin_acquired - nr_foll_pin_released, exact, or LONG_MIN. */
long azb_pins_outstanding(void);
int azb_read_vmstat(const char *key, long *val);
/* Poll until no FOLL_PIN pins are outstanding beyond @base. */
int azb_wait_pins(long base, int timeout_ms);

/* Read a decimal value from a file. */
int azb_read_u64(const char *path, uint64_t *val);
int azb_read_text(const char *path, char *buf, size_t len);
/* Write @text to a file at once; 0 or -errno. */
int azb_write_text(const char *path, const char *text);

/*
 * Watchdog: after @sec seconds SIGALRM releases every held request and
 * clears faults on slots 0 and 1, so a request stuck in the host turns into
 * a test failure (azb_guard_fired) instead of a hang.
 */
extern volatile sig_atomic_t azb_guard_fired;
void azb_guard_arm(unsigned int sec);
void azb_guard_disarm(void);

long azb_now_ms(void);
/* Wait up to @ms for child @pid to exit; the time it took, or -1. */
long azb_wait_child(pid_t pid, int *status, long ms);
void azb_sleep_ms(long ms);

/*
 * One TAP line for programs outside the kselftest harness:
 * "ok N NAME # MESSAGE" (numbered from 1; no " # " for an empty message).
 */
void azb_tap(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* How many azb_tap() lines said "not ok". */
int azb_tap_failed(void);

#endif /* _AZBLOB_LIB_H */
