#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Soak the driver in the rig's guest for SOAK_SECONDS (default 600) and
# write the report to DIR/soak/report.txt and the counts to
# DIR/results/soak.counts.
#
#   run-soak.sh --build DIR
#
# The traffic uses the VSP's echo and null backends (the http backend is
# exercised by the e2e suite).
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
rig=$(cd "$here/.." && pwd)
[ "${1:-}" = --build ] && [ -n "${2:-}" ] || {
	echo "usage: $0 --build DIR" >&2; exit 2; }
build=$2
seconds=${SOAK_SECONDS:-600}

payload=$build/soak/payload
results=$build/results
log=$build/soak/console.log
report=$build/soak/report.txt
mkdir -p "$results" "$build/soak"
rm -rf "$payload" "$results/soak.counts" "$report"
mkdir -p "$payload"
install -m 0755 "$here/run" "$build/soak/soak" "$payload/" || exit 1
echo "SOAK_SECONDS=$seconds" > "$payload/soak.env"

vm_pid=""
trap '[ -n "$vm_pid" ] && rm -f /dev/shm/azblob-vm-ram."$vm_pid".*' EXIT
"$rig/vm/run-vm.sh" --kernel "$build/vm/vmlinuz" --modules "$build/rig" \
	--payload "$payload" --timeout $((seconds + 300)) \
	--vsp "$build/rig/vsp" --vsp-log "$build/soak/vsp.log" \
	> >(tee "$log") 2>&1 &
vm_pid=$!
wait "$vm_pid"
vm_rc=$?
sleep 1

{
	echo "soak report ($(date -u +%Y-%m-%dT%H:%M:%SZ), ${seconds} s, backends echo and null)"
	sed -n '/SOAK-REPORT-BEGIN/,/SOAK-REPORT-END/p' "$log" | tr -d '\r' |
		grep -v 'SOAK-REPORT-'
	grep -a -E '^(ok|not ok) ' "$log" | tr -d '\r'
} > "$report"
read -r passed failed skipped < <(awk -f "$rig/selftests/tap-count.awk" "$log")
grep -aq 'AZBLOB-SOAK-END' "$log" || failed=$((failed + 1))
echo "$passed $failed $skipped" > "$results/soak.counts"
cat "$report"
echo "soak: $passed passed, $failed failed (report in $report)"
[ "$vm_rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
