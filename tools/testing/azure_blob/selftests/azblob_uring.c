// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring helpers of the Azure Blob selftests.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

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
