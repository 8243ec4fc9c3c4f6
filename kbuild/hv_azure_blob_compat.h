/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the in-tree series adds to the kernel (the definitions of
 * include/linux/hyperv.h, a fix of io_uring), for building hv_azure_blob.ko
 * out of tree against a stock 6.12 kernel, and what Linux 6.1 lacks of the
 * interfaces the driver uses. Only the out-of-tree build force-includes
 * this file; the driver source is the same in every build. Built and
 * tested against Debian 12's 6.1 and 6.12 cloud kernels; each section
 * names the upstream release that changed its interface.
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
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/version.h>
#include <generated/utsrelease.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "hv_azure_blob needs Linux 6.1 or later"
#endif

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

/*
 * Before Linux 6.7 io_uring cannot cancel a command that a driver holds
 * (io_uring_cmd_mark_cancelable() and IORING_URING_CMD_CANCELABLE came in
 * 6.7): a ring that is closed, or a task that exits, waits for every
 * command it issued to complete. The host holds a command for as long as
 * it takes, for good if it never completes it, and the task could not
 * exit meanwhile. On these kernels the device therefore takes no io_uring
 * command: it is registered without ->uring_cmd, io_uring fails every
 * command on it with -EOPNOTSUPP before the driver sees it, and the module
 * says so once at load. The ioctl works as on any kernel.
 *
 * The driver's command code is still compiled, since its file operations
 * name it, but never runs; the definitions below make it build. Those
 * that these kernels cannot provide warn should it ever run.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
static inline void az_blob_compat_uring_unreachable(void)
{
	WARN_ONCE(1, KBUILD_MODNAME ": io_uring command without ->uring_cmd\n");
}

/* The command area of a 128-byte SQE, all zero: an invalid request. */
static const u64 az_blob_compat_no_sqe_cmd[10];

/* No issue is a cancellation: these kernels never cancel a command. */
#define IO_URING_F_CANCEL	0
#define io_uring_sqe_cmd(sqe)						\
	({ az_blob_compat_uring_unreachable();				\
	   (const void *)az_blob_compat_no_sqe_cmd; })
#define io_uring_cmd_do_in_task_lazy(cmd, fn)				\
	io_uring_cmd_complete_in_task(cmd, fn)

static inline void io_uring_cmd_mark_cancelable(struct io_uring_cmd *cmd,
						unsigned int issue_flags)
{
	az_blob_compat_uring_unreachable();
}

#ifndef io_uring_cmd_to_pdu
#define io_uring_cmd_to_pdu(cmd, pdu_type)				\
	({ BUILD_BUG_ON(sizeof(pdu_type) > sizeof((cmd)->pdu));		\
	   (pdu_type *)&(cmd)->pdu; })
#endif

/*
 * The device's file operations without ->uring_cmd: a copy of the
 * driver's, made at the first registration (probes run concurrently).
 */
static struct file_operations az_blob_compat_fops;
static const struct file_operations *az_blob_compat_fops_of;
static DEFINE_MUTEX(az_blob_compat_fops_lock);

static inline int az_blob_compat_misc_register(struct miscdevice *misc)
{
	int ret = 0;

	mutex_lock(&az_blob_compat_fops_lock);
	if (!az_blob_compat_fops_of) {
		az_blob_compat_fops = *misc->fops;
		az_blob_compat_fops.uring_cmd = NULL;
		az_blob_compat_fops_of = misc->fops;
	} else if (WARN_ON(az_blob_compat_fops_of != misc->fops)) {
		ret = -EINVAL;
	}
	mutex_unlock(&az_blob_compat_fops_lock);
	if (ret)
		return ret;
	misc->fops = &az_blob_compat_fops;
	return misc_register(misc);
}

#define misc_register(misc)	az_blob_compat_misc_register(misc)

static inline int __must_check
az_blob_compat_driver_register(struct hv_driver *drv, struct module *owner,
			       const char *mod_name)
{
	pr_info(KBUILD_MODNAME
		": io_uring commands unsupported: Linux %s cannot cancel them (6.7 can); they fail with EOPNOTSUPP, the ioctl works\n",
		UTS_RELEASE);
	return __vmbus_driver_register(drv, owner, mod_name);
}

#undef vmbus_driver_register
#define vmbus_driver_register(drv)					\
	az_blob_compat_driver_register(drv, THIS_MODULE, KBUILD_MODNAME)
#endif

/*
 * Before Linux 6.3 the remove callback of struct hv_driver returns int
 * (the VMBus core ignores the value). The driver's az_blob_remove() is
 * compiled as az_blob_compat_remove(), and its struct hv_driver gets the
 * wrapper below, which has the driver's name and the old type.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#if IS_ENABLED(CONFIG_KUNIT)
#error "the Linux 6.1 build of hv_azure_blob does not support CONFIG_KUNIT"
#endif
static void az_blob_compat_remove(struct hv_device *hdev);

static int az_blob_remove(struct hv_device *hdev)
{
	az_blob_compat_remove(hdev);
	return 0;
}

#define az_blob_remove(hdev)	az_blob_compat_remove(hdev)
#endif

#endif /* _HV_AZURE_BLOB_COMPAT_H */
