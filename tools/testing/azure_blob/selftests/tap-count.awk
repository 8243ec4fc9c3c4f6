# SPDX-License-Identifier: GPL-2.0
#
# Count the results of a concatenation of kselftest TAP streams (one per
# test binary, framed by "# AZBLOB-SUITE-BEGIN/END" lines) and print
# "PASSED FAILED SKIPPED". A test case is one "ok"/"not ok" line of the
# harness; "# SKIP" marks a skip. A binary that ends without reporting every
# test of its plan (crash, timeout), or exits non-zero without a failing
# test case, adds a failure. A console line may carry a carriage return.
#
# Copyright (c) 2026 The hv_azure_blob authors

function close_suite() {
	if (!in_suite)
		return
	if (plan > seen)
		failed += plan - seen
	else if (suite_bad && !suite_failed)
		failed++
	in_suite = 0
}

{ sub(/\r$/, "") }

/^# AZBLOB-SUITE-BEGIN / {
	close_suite()
	in_suite = 1; plan = 0; seen = 0; suite_bad = 0; suite_failed = 0
	next
}

/^# AZBLOB-SUITE-END / {
	if ($4 != "ok")
		suite_bad = 1
	close_suite()
	next
}

/^1\.\.[0-9]+/ {
	if (in_suite)
		plan = substr($1, 4) + 0
	next
}

/^not ok [0-9]+ / {
	failed++; seen++; suite_failed = 1
	next
}

/^ok [0-9]+ / {
	seen++
	if ($0 ~ /# SKIP/)
		skipped++
	else
		passed++
	next
}

END {
	close_suite()
	printf "%d %d %d\n", passed, failed, skipped
}
