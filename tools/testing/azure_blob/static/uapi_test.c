// SPDX-License-Identifier: GPL-2.0
/*
 * Compile test of include/uapi/misc/hv_azure_blob.h as user space sees it
 * (after make headers_install): the header alone must compile as C and as
 * C++, and the layout of the ioctl structure must be the one existing
 * clients use (72 bytes, fields at fixed offsets, no implicit padding).
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <misc/hv_azure_blob.h>
#include <stddef.h>

/* A compile-time assertion that works from C89 to C++. */
#define AZ_CAT2(a, b) a##b
#define AZ_CAT(a, b) AZ_CAT2(a, b)
#define AZ_ASSERT(cond, msg) \
	typedef char AZ_CAT(az_assert_line_, __LINE__)[(cond) ? 1 : -1]

#define AZ_OFFSET(field, off) \
	AZ_ASSERT(offsetof(struct az_blob_request_sync, field) == (off), \
		  "offset of " #field)

AZ_ASSERT(sizeof(struct az_blob_request_sync) == 72, "size");
AZ_ASSERT(sizeof(struct az_blob_request_sync_response) == 8, "response size");
AZ_OFFSET(guid, 0);
AZ_OFFSET(timeout, 16);
AZ_OFFSET(request_len, 20);
AZ_OFFSET(response_len, 24);
AZ_OFFSET(data_len, 28);
AZ_OFFSET(data_valid, 32);
AZ_OFFSET(reserved, 36);
AZ_OFFSET(request_buffer, 40);
AZ_OFFSET(response_buffer, 48);
AZ_OFFSET(data_buffer, 56);
AZ_OFFSET(response, 64);
AZ_OFFSET(response.status, 64);
AZ_OFFSET(response.response_len, 68);
AZ_ASSERT(AZ_BLOB_MAX_PAGES == 8192, "page bound");
AZ_ASSERT(IOCTL_AZ_BLOB_DRIVER_USER_REQUEST ==
	  ((3U << 30) | (72U << 16) | ('R' << 8) | 0xf0U), "ioctl number");

/* An object of the type, so that the debug info describes it (pahole). */
struct az_blob_request_sync az_blob_uapi_test_request;

unsigned long az_blob_uapi_test_cmd(void);
unsigned long az_blob_uapi_test_cmd(void)
{
	return IOCTL_AZ_BLOB_DRIVER_USER_REQUEST;
}
