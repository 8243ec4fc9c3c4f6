# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# TAP helpers of the client's shell suites (e2e.sh, auth.sh), sourced
# after the suite sets AZBLOB (the azblob binary) and WORK (its scratch
# directory); the count of tests is N.
#
#   ok DESC / nok DESC / skip DESC REASON / bail REASON
#   sha FILE                  the file's sha256
#   check DESC EXPECTED_EXIT [PATTERN] -- azblob args...
#                             runs azblob (stdout in $WORK/out, stderr in
#                             $WORK/err): ok when it exits EXPECTED_EXIT
#                             and, if given, PATTERN is in its output
#
# Copyright (c) 2026 The hv_azure_blob authors

N=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
nok() { N=$((N + 1)); echo "not ok $N - $*"; }
skip() { N=$((N + 1)); echo "ok $N - $1 # SKIP $2"; }
bail() { echo "Bail out! $*"; echo "1..$N"; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

check() {
	local desc=$1 want=$2 pat=$3 rc
	shift 4
	"$AZBLOB" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		nok "$desc (exit $rc, want $want): $(head -c 400 "$WORK/err")"
		return 1
	fi
	if [ -n "$pat" ] && ! grep -q -- "$pat" "$WORK/err" "$WORK/out"; then
		nok "$desc (no '$pat' in the output): $(head -c 400 "$WORK/err")"
		return 1
	fi
	ok "$desc"
}
