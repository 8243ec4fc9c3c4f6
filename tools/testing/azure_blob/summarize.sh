#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the result of each test suite from build/results/<suite>.counts
# (one line "PASSED FAILED SKIPPED") and, as the last line, the totals
# "N passed, N failed", with each suite's wall time when `make test` left
# it in build/results/<suite>.secs. Exits non-zero when a test failed or a
# suite left no counts. Usage: summarize.sh SUITE...
#
# Copyright (c) 2026 The hv_azure_blob authors

RESULTS=${AZ_BLOB_RESULTS:-$(cd "$(dirname "$0")/../../.." && pwd)/build/results}
total_pass=0
total_fail=0
status=0

for suite in "$@"; do
	f="$RESULTS/$suite.counts"
	t=""
	read -r secs 2>/dev/null < "$RESULTS/$suite.secs" &&
		[[ "$secs" =~ ^[0-9]+$ ]] && t=$(printf ' (%d s)' "$secs")
	if [ -r "$f" ] && read -r p x s < "$f" &&
	   [[ "$p" =~ ^[0-9]+$ && "$x" =~ ^[0-9]+$ && "$s" =~ ^[0-9]+$ ]]; then
		printf '%-14s %4d passed, %4d failed, %4d skipped%s\n' \
			"$suite:" "$p" "$x" "$s" "$t"
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + x))
		[ "$x" -eq 0 ] || status=1
	else
		printf '%-14s no results (the suite did not run or did not finish)%s\n' \
			"$suite:" "$t"
		total_fail=$((total_fail + 1))
		status=1
	fi
done
echo "$total_pass passed, $total_fail failed"
exit $status
