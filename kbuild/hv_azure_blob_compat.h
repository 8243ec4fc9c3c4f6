/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Definitions that the in-tree series adds to include/linux/hyperv.h, for
 * building hv_azure_blob.ko out of tree against a stock 6.12 kernel. Only
 * the out-of-tree build force-includes this file; the driver source is the
 * same in both builds.
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

#ifndef HV_AZURE_BLOB_GUID
/* Azure Blob: 0590b792-db64-45cc-81db-b8d70c577c9e */
#define HV_AZURE_BLOB_GUID \
	.guid = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7, \
			  0x0c, 0x57, 0x7c, 0x9e)
#endif

#endif /* _HV_AZURE_BLOB_COMPAT_H */
