/* SPDX-License-Identifier: GPL-2.0 */
/*
 * io_uring helpers of the Azure Blob selftests (liburing): rings with the
 * 128-byte SQEs and 32-byte CQEs AZ_BLOB_URING_CMD_REQUEST needs, the
 * command's submission and the reaping of its completions.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _AZBLOB_URING_H
#define _AZBLOB_URING_H

#include <stdint.h>
#include <liburing.h>

#include "azblob_lib.h"

#define AZB_RING_FLAGS	(IORING_SETUP_SQE128 | IORING_SETUP_CQE32)

/* Set up @ring with @entries SQEs and @flags; 0 or -errno. */
int azb_ring_init(struct io_uring *ring, unsigned int entries,
		  unsigned int flags);

/*
 * Queue one command on @fd: @r (72 bytes) into the command area, @trailer
 * into its last 8 bytes, @cmd_op as the command. 0, or -EBUSY when the SQ
 * is full. Nothing is submitted.
 */
int azb_ring_prep(struct io_uring *ring, int fd, uint32_t cmd_op,
		  const struct az_blob_request_sync *r, uint64_t trailer,
		  uint64_t user_data);

/* The same, with @sqe_flags (IOSQE_ASYNC, ...) in the submission. */
int azb_ring_prep_flags(struct io_uring *ring, int fd, uint32_t cmd_op,
			const struct az_blob_request_sync *r, uint64_t trailer,
			uint64_t user_data, uint8_t sqe_flags);

/* The usual command: AZ_BLOB_URING_CMD_REQUEST, trailer 0. */
static inline int azb_ring_prep_req(struct io_uring *ring, int fd,
				    const struct az_blob_request_sync *r,
				    uint64_t user_data)
{
	return azb_ring_prep(ring, fd, AZ_BLOB_URING_CMD_REQUEST, r, 0,
			     user_data);
}

struct azb_cqe {
	uint64_t user_data;
	int res;
	uint64_t big0;		/* big_cqe[0] when the ring has CQE32 */
};

/*
 * Wait up to @timeout_ms (negative: forever) for one completion and
 * consume it. 0, -ETIME on timeout, or another -errno.
 */
int azb_ring_reap(struct io_uring *ring, struct azb_cqe *c, int timeout_ms);

/* Submit what is queued; returns io_uring_submit()'s result. */
static inline int azb_ring_submit(struct io_uring *ring)
{
	return io_uring_submit(ring);
}

/*
 * Copy a successful completion into @r->response, so azb_echo_verify()
 * checks it like an ioctl's result.
 */
static inline void azb_cqe_to_response(const struct azb_cqe *c,
				       struct az_blob_request_sync *r)
{
	r->response.status = AZ_BLOB_URING_STATUS(c->big0);
	r->response.response_len = AZ_BLOB_URING_RESPONSE_LEN(c->big0);
}

/*
 * The first Linux release whose io_uring can cancel a command a driver
 * holds. On earlier kernels the driver (as kbuild/ builds it there) takes
 * no io_uring command: io_uring fails every one with EOPNOTSUPP.
 */
#define AZB_URING_SINCE_MAJOR	6
#define AZB_URING_SINCE_MINOR	7

/*
 * Whether the device behind @fd takes io_uring commands, and whether that
 * is what the running kernel calls for. 1: it does, as it must from
 * AZB_URING_SINCE on (an unknown command gives ENOTTY); 0: it takes none
 * and fails them with EOPNOTSUPP, as it must before (@why says so, as the
 * reason for a skip); -1: anything else (@why says what).
 */
int azb_uring_support(int fd, char *why, size_t len);

/*
 * In a test or a fixture setup that needs io_uring commands: skip, with
 * the reason, where the kernel has none and the device fails them as it
 * must there; fail where the device does not do what the kernel calls for.
 */
#define AZB_NEED_URING(fd) do {						\
		char _why[200];						\
		int _support = azb_uring_support((fd), _why,		\
						 sizeof(_why));		\
									\
		ASSERT_LE(0, _support) TH_LOG("%s", _why);		\
		if (!_support)						\
			SKIP(return, "%s", _why);			\
	} while (0)

#endif /* _AZBLOB_URING_H */
