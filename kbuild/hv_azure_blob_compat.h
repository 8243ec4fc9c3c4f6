/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the in-tree series adds to the kernel (the definitions of
 * include/linux/hyperv.h, a fix of io_uring), for building hv_azure_blob.ko
 * out of tree against a stock 6.12 kernel. Only the out-of-tree build
 * force-includes this file; the driver source is the same in both builds.
 *
 * Behaviour is not made up for here: the series' first patch makes the
 * VMBus core ignore an inbound write index past the end of the ring, and
 * a stock 6.12 core does not. The driver leaves that check to the core,
 * so on a stock kernel it relies on the host to keep its index in range.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _HV_AZURE_BLOB_COMPAT_H
#define _HV_AZURE_BLOB_COMPAT_H

#include <linux/hyperv.h>
#include <linux/io_uring/cmd.h>
#include <linux/io_uring_types.h>
#include <linux/string.h>
#include <linux/version.h>

#ifndef HV_AZURE_BLOB_GUID
/* Azure Blob: 0590b792-db64-45cc-81db-b8d70c577c9e */
#define HV_AZURE_BLOB_GUID \
	.guid = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7, \
			  0x0c, 0x57, 0x7c, 0x9e)
#endif

/*
 * Linux 6.12 copies a command's SQE to its async data when ->uring_cmd()
 * returns -EAGAIN, but leaves the command pointing at the entry in the
 * submission queue, which user space may fill with a new SQE before io-wq
 * issues the command again: the driver would then read another request.
 * Later kernels point the command at the copy (upstream commit
 * e663da62ba86, "io_uring/uring_cmd: switch sqe to async_data on EAGAIN";
 * the series carries the same change for 6.12). For a stock 6.12 kernel,
 * the driver's one read of the command area, io_uring_sqe_cmd(cmd->sqe) at
 * issue, copies the SQE to the async data first and points the command
 * there; io_uring then finds nothing left to copy on -EAGAIN.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0) && \
	LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
static inline const void *
az_blob_compat_sqe_cmd(const struct io_uring_sqe **sqep)
{
	struct io_uring_cmd *cmd = container_of(sqep, struct io_uring_cmd, sqe);
	struct io_kiocb *req = cmd_to_io_kiocb(cmd);
	void *copy = req->async_data;

	if (copy && *sqep != copy) {
		memcpy(copy, *sqep, (req->ctx->flags & IORING_SETUP_SQE128) ?
		       2 * sizeof(struct io_uring_sqe) :
		       sizeof(struct io_uring_sqe));
		*sqep = copy;
	}
	return (*sqep)->cmd;
}
#define io_uring_sqe_cmd(sqe)	az_blob_compat_sqe_cmd(&(sqe))
#endif

#endif /* _HV_AZURE_BLOB_COMPAT_H */
