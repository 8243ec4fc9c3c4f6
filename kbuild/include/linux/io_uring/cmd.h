/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Found only when the kernel's headers lack <linux/io_uring/cmd.h> (Linux
 * before 6.7; Kbuild puts this directory after the kernel's). The command
 * API of those kernels is in <linux/io_uring.h>; what hv_azure_blob uses
 * beyond it, and why its io_uring command is not offered there, is in
 * hv_azure_blob_compat.h.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _HV_AZURE_BLOB_COMPAT_IO_URING_CMD_H
#define _HV_AZURE_BLOB_COMPAT_IO_URING_CMD_H

#include <linux/io_uring.h>

#endif /* _HV_AZURE_BLOB_COMPAT_IO_URING_CMD_H */
