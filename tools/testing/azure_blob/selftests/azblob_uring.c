// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring helpers of the Azure Blob selftests.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "azblob_uring.h"

int azb_ring_init(struct io_uring *ring, unsigned int entries,
		  unsigned int flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	return io_uring_queue_init_params(entries, ring, &p);
}

int azb_ring_prep(struct io_uring *ring, int fd, uint32_t cmd_op,
		  const struct az_blob_request_sync *r, uint64_t trailer,
		  uint64_t user_data)
{
	return azb_ring_prep_flags(ring, fd, cmd_op, r, trailer, user_data, 0);
}

int azb_ring_prep_flags(struct io_uring *ring, int fd, uint32_t cmd_op,
			const struct az_blob_request_sync *r, uint64_t trailer,
			uint64_t user_data, uint8_t sqe_flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	size_t room;

	if (!sqe)
		return -EBUSY;
	/* A 64-byte SQE has 16 bytes of command area, a 128-byte one 80. */
	room = (ring->flags & IORING_SETUP_SQE128) ? 80 : 16;
	memset(sqe, 0, offsetof(struct io_uring_sqe, cmd) + room);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	sqe->user_data = user_data;
	sqe->flags = sqe_flags;
	if (room == 80) {
		memcpy(sqe->cmd, r, sizeof(*r));
		memcpy(sqe->cmd + sizeof(*r), &trailer, sizeof(trailer));
	} else {
		memcpy(sqe->cmd, r, room);
	}
	return 0;
}

int azb_ring_reap(struct io_uring *ring, struct azb_cqe *c, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (timeout_ms % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;
	int ret;

	do {
		if (timeout_ms < 0)
			ret = io_uring_wait_cqe(ring, &cqe);
		else
			ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	} while (ret == -EINTR);
	if (ret)
		return ret;
	c->user_data = cqe->user_data;
	c->res = cqe->res;
	c->big0 = (ring->flags & IORING_SETUP_CQE32) ? cqe->big_cqe[0] : 0;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* Whether the running kernel is older than @major.@minor. */
static bool kernel_before(unsigned int major, unsigned int minor,
			  char *release, size_t len)
{
	unsigned int ma, mi;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &ma, &mi) != 2) {
		snprintf(release, len, "?");
		return false;
	}
	snprintf(release, len, "%s", u.release);
	return ma < major || (ma == major && mi < minor);
}

static int say(int ret, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return ret;
}

int azb_uring_support(int fd, char *why, size_t len)
{
	struct az_blob_request_sync r;
	struct io_uring ring;
	char release[65];
	struct azb_cqe c;
	bool before;
	int ret;

	before = kernel_before(AZB_URING_SINCE_MAJOR, AZB_URING_SINCE_MINOR,
			       release, sizeof(release));
	ret = azb_ring_init(&ring, 4, AZB_RING_FLAGS);
	if (ret)
		return say(-1, why, len, "io_uring ring: %s", strerror(-ret));
	/* No request and no command: nothing can reach the host. */
	memset(&r, 0, sizeof(r));
	if (azb_ring_prep(&ring, fd, 0, &r, 0, 1) ||
	    azb_ring_submit(&ring) != 1) {
		io_uring_queue_exit(&ring);
		return say(-1, why, len, "io_uring submission failed");
	}
	ret = azb_ring_reap(&ring, &c, 5000);
	io_uring_queue_exit(&ring);
	if (ret)
		return say(-1, why, len, "no completion of an io_uring command: %s",
			   strerror(-ret));
	if (before && c.res == -EOPNOTSUPP)
		return say(0, why, len,
			   "no io_uring commands on Linux %s (EOPNOTSUPP, as before %d.%d)",
			   release, AZB_URING_SINCE_MAJOR,
			   AZB_URING_SINCE_MINOR);
	if (!before && c.res == -ENOTTY)
		return say(1, why, len, "io_uring commands on Linux %s",
			   release);
	return say(-1, why, len,
		   "an unknown io_uring command on Linux %s gave %d (%s), not %s",
		   release, c.res, strerror(-c.res),
		   before ? "EOPNOTSUPP" : "ENOTTY");
}
