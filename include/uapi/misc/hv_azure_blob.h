/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * User API of the Azure Blob VMBus driver (/dev/azure_blob).
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _UAPI_MISC_HV_AZURE_BLOB_H
#define _UAPI_MISC_HV_AZURE_BLOB_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * AZ_BLOB_MAX_PAGES - most 4 KiB pages one request may span
 *
 * The request, response and data buffers of one request together may touch
 * at most this many 4 KiB pages (counted per buffer, from the 4 KiB page
 * holding its first byte to the one holding its last byte). The pages are
 * those of Hyper-V, 4 KiB whatever the kernel's page size is (arm64
 * kernels may use 16 or 64 KiB pages): the bound is the same on every
 * kernel. A request above the bound fails with %E2BIG before anything is
 * pinned.
 */
#define AZ_BLOB_MAX_PAGES	8192

/**
 * struct az_blob_request_sync_response - result of a request (out)
 * @status: the host's status; 0 when the host carried the request out,
 *          non-zero when it could not (for example, it could not reach the
 *          Blob service). Blob-level errors such as HTTP 404 arrive with
 *          status 0, inside the response buffer.
 * @response_len: number of bytes the host wrote into the response buffer;
 *                never more than &az_blob_request_sync.response_len.
 */
struct az_blob_request_sync_response {
	__u32 status;
	__u32 response_len;
};

/**
 * struct az_blob_request_sync - one Blob request
 * @guid: (in) transaction id chosen by the caller and passed to the host
 *        unchanged; 16 bytes in the byte order of a Linux ``guid_t``.
 * @timeout: (in) timeout in milliseconds, passed to the host, which bounds
 *           its own work with it. The driver does not abandon a request on
 *           its own: the host owns the buffers until it completes.
 * @request_len: (in) length of the request buffer; must not be 0.
 * @response_len: (in) length of the response buffer; must not be 0.
 * @data_len: (in) length of the data buffer; 0 when there is none.
 * @data_valid: (in) bytes of the data buffer holding data for the host (an
 *              upload); must not exceed @data_len.
 * @reserved: (in) must be zero.
 * @request_buffer: (in) user address of the request buffer; read by the host.
 * @response_buffer: (in) user address of the response buffer; written by
 *                   the host.
 * @data_buffer: (in) user address of the data buffer; read or written by the
 *               host. Ignored when @data_len is 0.
 * @response: (out) the result, written back when the ioctl returns 0.
 *
 * Buffers are byte-granular and may share pages with each other or with
 * anything else. The request buffer may be read-only memory; the response
 * and data buffers must be writable.
 *
 * The layout is that of the driver posted in 2021 (72 bytes); the 4 bytes
 * of implicit padding it had are now the explicit @reserved field.
 */
struct az_blob_request_sync {
	__u8 guid[16];
	__u32 timeout;
	__u32 request_len;
	__u32 response_len;
	__u32 data_len;
	__u32 data_valid;
	__u32 reserved;
	__aligned_u64 request_buffer;
	__aligned_u64 response_buffer;
	__aligned_u64 data_buffer;
	struct az_blob_request_sync_response response;
};

#define AZ_BLOB_MAGIC_NUMBER	'R'

/**
 * IOCTL_AZ_BLOB_DRIVER_USER_REQUEST - run one request synchronously
 *
 * The driver validates the arguments, pins the three buffers, sends one
 * request to the host and waits until the host completes it. The wait can
 * be interrupted only by a fatal signal; the buffers then stay pinned, owned
 * by the driver, until the host completes the request.
 *
 * Return: 0 with @response filled in when the host completed the request
 * (check @response.status), or -1 with errno set to:
 *
 * * %EFAULT - the argument or one of the buffers is not accessible memory
 *   (the response and data buffers must be writable).
 * * %EINVAL - @request_len or @response_len is 0, @data_valid exceeds
 *   @data_len, @reserved is not 0, or a buffer wraps around the end of the
 *   address space.
 * * %E2BIG - the buffers span more than %AZ_BLOB_MAX_PAGES pages of 4 KiB.
 * * %ENOMEM - the driver could not allocate memory for the request.
 * * %EPROTO - the host's completion broke the protocol (it claimed to have
 *   written more than the response buffer holds).
 * * %ENODEV - the device was removed or rescinded by the host, before or
 *   while the request was in flight.
 * * %EIO - the channel to the host failed while sending the request.
 * * %EINTR - a fatal signal arrived while waiting (the process is dying).
 * * %ENOTTY - the command is not one of this driver's.
 */
#define IOCTL_AZ_BLOB_DRIVER_USER_REQUEST \
	_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf0, struct az_blob_request_sync)

/**
 * AZ_BLOB_URING_CMD_REQUEST - run one request asynchronously (io_uring)
 *
 * The ``cmd_op`` of an ``IORING_OP_URING_CMD`` submission on an open
 * /dev/azure_blob file. The ring must be set up with ``IORING_SETUP_SQE128``
 * and ``IORING_SETUP_CQE32``. The submission's 80-byte command area holds a
 * &struct az_blob_request_sync (72 bytes) followed by 8 bytes that must be
 * zero; the fields and their checks are those of the ioctl, and its
 * @response member is ignored. The kernel reads the command area once, when
 * the command is issued.
 *
 * The completion's ``res`` is 0 when the host completed the request, else a
 * negative errno: those of %IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, %EINVAL also
 * for a ring without SQE128/CQE32 or non-zero trailing bytes, and
 * %ECANCELED when the ring or its task goes away before the host completes
 * (the buffers then stay pinned until it does) or before the request
 * reaches the host, and %EINTR when a signal ends the wait of an io_uring
 * worker before the request reaches the host. When ``res`` is 0, ``big_cqe[0]``
 * holds ``status | (u64)response_len << 32`` (see
 * AZ_BLOB_URING_STATUS() and AZ_BLOB_URING_RESPONSE_LEN()).
 *
 * Requests on one file run concurrently, up to the device's bounds; the
 * buffers must stay valid (mapped) until the completion arrives.
 */
#define AZ_BLOB_URING_CMD_REQUEST \
	_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf1, struct az_blob_request_sync)

/* Decode big_cqe[0] of a successful AZ_BLOB_URING_CMD_REQUEST completion. */
#define AZ_BLOB_URING_STATUS(big_cqe0)		((__u32)(big_cqe0))
#define AZ_BLOB_URING_RESPONSE_LEN(big_cqe0)	((__u32)((big_cqe0) >> 32))

#endif /* _UAPI_MISC_HV_AZURE_BLOB_H */
