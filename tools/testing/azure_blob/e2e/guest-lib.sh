# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the guest halves of `make e2e` and `make azblobd` (busybox
# sh; the payload's guest-lib.sh): into the payload directory, its ./env,
# and the TAP helpers both print with ("ok N - guest: ...").
#
#   run_check DESC WANT_EXIT PATTERN -- command...
#       runs the command (stdout in $T/out, stderr in $T/err); ok when it
#       exits WANT_EXIT and, unless PATTERN is empty, PATTERN is in its
#       output; returns 1 otherwise
#
# Copyright (c) 2026 The hv_azure_blob authors

cd /opt/azure_blob || exit 1
# shellcheck source=/dev/null
. ./env
N=0
T=/tmp
# shellcheck disable=SC2034 # for the scripts that source this file
CTL=/sys/kernel/debug/vmbus_emu/host

ok() { N=$((N + 1)); echo "ok $N - guest: $*"; }
nok() { N=$((N + 1)); echo "not ok $N - guest: $*"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

run_check() {
	desc=$1 want=$2 pat=$3
	shift 4
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		nok "$desc (exit $rc, want $want): $(head -c 400 "$T/err")"
		return 1
	fi
	if [ -n "$pat" ] && ! grep -q -- "$pat" "$T/err" "$T/out"; then
		nok "$desc (no '$pat' in the output): $(head -c 400 "$T/err" "$T/out")"
		return 1
	fi
	ok "$desc"
}
