# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# host-lib.sh - sourced by the host halves of the azblobd suites
# (azblobd.sh, stress.sh) once they have set NAME, RESULTS, OUT, WORK and
# RIG: the TAP counters and helpers, the results file and the cleanup
# that stops the suite's Azurite (state in WORK) and removes WORK.
#
#   ok DESC / nok DESC   one TAP line, counted
#   finish               the plan, RESULTS/NAME.counts ("PASSED FAILED
#                        SKIPPED"), the summary; exits 0 only when
#                        something passed and nothing failed
#   bail DESC            nok DESC, then finish
#   sha FILE             FILE's sha256
#
# Copyright (c) 2026 The hv_azure_blob authors

N=0 PASS=0 FAIL=0 SKIP=0
START=$(date +%s)

mkdir -p "$RESULTS" "$OUT"
rm -f "$RESULTS/$NAME.counts"

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	"$RIG/e2e/azurite.sh" stop "$WORK"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N - $*"; }
nok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N - $*"; }
finish() {
	echo "1..$N"
	echo "$PASS $FAIL $SKIP" >"$RESULTS/$NAME.counts"
	echo "# $NAME: passed $PASS failed $FAIL skipped $SKIP ($(( $(date +%s) - START )) s)"
	[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
	exit $?
}
bail() { nok "$*"; finish; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
