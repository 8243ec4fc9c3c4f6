/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Found only when the kernel's headers lack <kunit/static_stub.h> (Linux
 * before 6.3; Kbuild puts this directory after the kernel's). The driver's
 * KUnit suite is built in tree only, so the out-of-tree module has no stubs
 * to redirect to: the redirection is empty, as the kernel's header makes it
 * without CONFIG_KUNIT.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _HV_AZURE_BLOB_COMPAT_KUNIT_STATIC_STUB_H
#define _HV_AZURE_BLOB_COMPAT_KUNIT_STATIC_STUB_H

#include <linux/kconfig.h>

#if IS_ENABLED(CONFIG_KUNIT)
#error "this kernel has KUnit but no static stubs: build hv_azure_blob without CONFIG_KUNIT"
#endif

#define KUNIT_STATIC_STUB_REDIRECT(real_fn_name, args...) do { } while (0)

#endif /* _HV_AZURE_BLOB_COMPAT_KUNIT_STATIC_STUB_H */
