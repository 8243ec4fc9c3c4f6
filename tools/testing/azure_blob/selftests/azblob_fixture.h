/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture every Azure Blob selftest uses. Include after
 * kselftest_harness.h.
 *
 * Setup skips when /dev/azure_blob is absent (and, for tests that steer the
 * emulated host, when the rig's control file is absent), brings the rig to
 * its neutral state and arms the watchdog. Teardown resets the rig, so a
 * failed test never leaves a fault, a held request or a second device
 * behind.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _AZBLOB_FIXTURE_H
#define _AZBLOB_FIXTURE_H

#include <fcntl.h>
#include <unistd.h>

#include "azblob_lib.h"

/* Harness timeout of the long tests (the default is 30 s). */
#define AZB_LONG_TIMEOUT	120
/* The watchdog fires this long before the harness's timeout. */
#define AZB_GUARD_MARGIN	8

/*
 * The node's owner and mode: root's, as the driver creates it (0600), and
 * perhaps a group's where a udev rule gives it one (0660, the Debian
 * packages' rule); udev applies the rule's group and mode one after the
 * other, so a node just made may be in between. Never anything for
 * others, never more than read and write.
 */
#define AZB_EXPECT_NODE_MODE(st) do {					\
		EXPECT_EQ(0, (st).st_uid);				\
		EXPECT_EQ(0600, (st).st_mode & 07707);			\
		EXPECT_TRUE(((st).st_mode & 070) == 0 ||		\
			    ((st).st_mode & 070) == 060);		\
	} while (0)

#define AZB_FIXTURE(name, need_rig)					\
	AZB_FIXTURE_CHECKED(name, need_rig, do { } while (0))

/*
 * The same, with @check (a statement, which may skip or fail the test)
 * run in the setup once the device is open.
 */
#define AZB_FIXTURE_CHECKED(name, need_rig, check)			\
FIXTURE(name) {								\
	int fd;								\
	bool rig;							\
};									\
FIXTURE_SETUP(name)							\
{									\
	self->fd = -1;							\
	self->rig = azb_have_rig();					\
	if ((need_rig) && !self->rig)					\
		SKIP(return, "no emulated host (%s)", AZB_HOST_CTL);	\
	if (self->rig)							\
		ASSERT_EQ(0, azb_rig_clean());				\
	if (!azb_have_dev())						\
		SKIP(return, "%s absent", AZB_DEV);			\
	self->fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);			\
	ASSERT_LE(0, self->fd);						\
	check;								\
	azb_guard_arm(_metadata->timeout > 2 * AZB_GUARD_MARGIN ?	\
		      _metadata->timeout - AZB_GUARD_MARGIN :		\
		      _metadata->timeout / 2);				\
}									\
FIXTURE_TEARDOWN(name)							\
{									\
	azb_guard_disarm();						\
	if (self->fd >= 0)						\
		close(self->fd);					\
	if (self->rig)							\
		EXPECT_EQ(0, azb_rig_clean());				\
	EXPECT_EQ(0, azb_guard_fired);					\
}

#endif /* _AZBLOB_FIXTURE_H */
