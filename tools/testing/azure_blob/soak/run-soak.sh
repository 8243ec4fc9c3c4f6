#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Soak the driver in the rig's guest for SOAK_SECONDS (default 600) and
# write the report to DIR/soak/report.txt and the counts to
# DIR/results/soak.counts.
#
#   run-soak.sh --build DIR
#
# The traffic uses the VSP's echo and null backends on slot 0 and, unless
# SOAK_HTTP=0, its http backend on slot 1: azblob in the guest moves blobs
# through /dev/azure_blob1 to Azurite on 127.0.0.1 (e2e/azurite.sh starts
# it and a trap stops it).
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
rig=$(cd "$here/.." && pwd)
[ "${1:-}" = --build ] && [ -n "${2:-}" ] || {
	echo "usage: $0 --build DIR" >&2; exit 2; }
build=$2
seconds=${SOAK_SECONDS:-600}
http=${SOAK_HTTP:-1}
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

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
work=$(mktemp -d /tmp/azblob-soak.XXXXXX)
cleanup() {
	[ -n "$vm_pid" ] && rm -f /dev/shm/azblob-vm-ram."$vm_pid".*
	"$rig/e2e/azurite.sh" stop "$work"
	rm -rf "$work"
}
trap cleanup EXIT
vsp_args=()
backends="echo and null"
if [ "$http" = 1 ]; then
	port=$("$rig/e2e/azurite.sh" start "$work") || {
		echo "soak: Azurite did not start" >&2; exit 1; }
	endpoint=http://127.0.0.1:$port/devstoreaccount1
	strip -o "$payload/azblob" "$build/azure_blob/azblob-static" || exit 1
	{
		echo "SOAK_HTTP=1"
		echo "AZURE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=$endpoint'"
	} >> "$payload/soak.env"
	vsp_args=(--vsp-arg=--http-endpoint="$endpoint"
		  --vsp-arg=--http-max-inflight=32)
	backends="echo and null, http to Azurite on 127.0.0.1:$port"
fi
rm -f "$build/soak/vsp.log"	# the VSP appends
"$rig/vm/run-vm.sh" --kernel "$build/vm/vmlinuz" --modules "$build/rig" \
	--payload "$payload" --timeout $((seconds + 300)) \
	--vsp "$build/rig/vsp" --vsp-log "$build/soak/vsp.log" "${vsp_args[@]}" \
	> >(tee "$log") 2>&1 &
vm_pid=$!
wait "$vm_pid"
vm_rc=$?
sleep 1

{
	echo "soak report ($(date -u +%Y-%m-%dT%H:%M:%SZ), ${seconds} s, backends $backends)"
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
