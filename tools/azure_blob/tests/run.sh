#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run the client's unit and end-to-end tests, print a TAP-like summary and
# write build/results/client.counts ("PASSED FAILED SKIPPED").
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
OUT=${1:?usage: run.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../../.." && pwd)
RESULTS=$TOP/build/results
mkdir -p "$RESULTS"
LOG=$RESULTS/client.tap
: >"$LOG"

pass=0 fail=0 skipped=0
for suite in unit doctor e2e auth; do
	echo "# --- $suite"
	"$HERE/$suite.sh" "$OUT" >"$RESULTS/client-$suite.tap" 2>&1
	rc=$?
	sed 's/^/  /' "$RESULTS/client-$suite.tap"
	cat "$RESULTS/client-$suite.tap" >>"$LOG"
	p=$(grep -c '^ok ' "$RESULTS/client-$suite.tap" | tr -d ' ')
	s=$(grep -c '^ok .*# SKIP' "$RESULTS/client-$suite.tap" | tr -d ' ')
	f=$(grep -c '^not ok ' "$RESULTS/client-$suite.tap" | tr -d ' ')
	p=$((p - s))
	# a suite that died without reporting a failure still failed
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $suite exited with status $rc"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skipped=$((skipped + s))
	echo "# $suite: passed $p failed $f skipped $s"
done
echo "$pass $fail $skipped" >"$RESULTS/client.counts"
echo "# client total: passed $pass failed $fail skipped $skipped"
[ -f "$RESULTS/client.rss" ] && sed 's/^/# rss: /' "$RESULTS/client.rss"
[ "$fail" -eq 0 ]
