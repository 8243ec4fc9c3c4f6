// SPDX-License-Identifier: GPL-2.0
/*
 * Run last: after every other test, no page may remain pinned but those the
 * driver keeps for good, no request in flight, and the host must have seen
 * no protocol violation.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "azblob_lib.h"

/*
 * The pages the driver kept pinned for good (a removal while the host held
 * requests: lifecycle_test's unbind_keeps_pages) are the only ones left.
 */
TEST(no_pages_left_pinned)
{
	long acq = 0, rel = 0, end = azb_now_ms() + 5000;
	uint64_t kept = 0;

	azb_read_u64(AZB_DEBUGFS "/pages_kept", &kept);
	azb_vmstat_refresh();
	if (azb_read_vmstat("nr_foll_pin_acquired", &acq) ||
	    azb_read_vmstat("nr_foll_pin_released", &rel))
		SKIP(return, "no nr_foll_pin_* in /proc/vmstat");
	while (acq - rel != (long)kept && azb_now_ms() < end) {
		azb_sleep_ms(50);
		azb_vmstat_refresh();
		azb_read_vmstat("nr_foll_pin_acquired", &acq);
		azb_read_vmstat("nr_foll_pin_released", &rel);
	}
	TH_LOG("nr_foll_pin_acquired %ld nr_foll_pin_released %ld, kept by the driver %llu",
	       acq, rel, (unsigned long long)kept);
	ASSERT_EQ(acq - rel, (long)kept);
}

TEST(device_idle)
{
	uint64_t v;

	if (access(AZB_SYSFS, F_OK))
		SKIP(return, "%s absent", AZB_SYSFS);
	ASSERT_EQ(0, azb_read_u64(AZB_SYSFS "/in_flight", &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, azb_read_u64(AZB_SYSFS "/pinned_pages", &v));
	EXPECT_EQ(0, v);
}

TEST(host_saw_no_violations)
{
	struct azb_host_stats st;

	if (!azb_have_rig())
		SKIP(return, "no emulated host (%s)", AZB_HOST_CTL);
	ASSERT_EQ(0, azb_host_stats(0, &st));
	TH_LOG("host slot 0: requests %ld completed %ld held %ld violations %ld",
	       st.requests, st.completed, st.held, st.violations);
	EXPECT_EQ(0, st.violations);
	EXPECT_EQ(0, st.held);
}

TEST_HARNESS_MAIN
