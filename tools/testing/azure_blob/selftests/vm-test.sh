#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the selftests in the QEMU guest of the test rig and count the results.
#
#   vm-test.sh --build DIR [--timeout S]
#
# Expects the rig (DIR/rig: vmbus_emu.ko, hv_azure_blob.ko, vsp), the guest
# kernel (DIR/vm/vmlinuz) and the selftest binaries (DIR/selftests) to be
# built. Assembles the payload in DIR/vm-payload, boots the guest with
# vm/run-vm.sh, streams the console (TAP) to stdout and to
# DIR/results/vm-test.log, and writes DIR/results/vm-test.counts as one line
# "PASSED FAILED SKIPPED". Exits non-zero when a test failed, when no test
# ran, or when the guest did not finish.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
rig=$(cd "$here/.." && pwd)
build=""
timeout=900

while [ $# -gt 0 ]; do
	case $1 in
	--build)	build=$2; shift 2 ;;
	--timeout)	timeout=$2; shift 2 ;;
	*)		echo "usage: $0 --build DIR [--timeout S]" >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "$0: --build DIR is required" >&2; exit 2; }

payload=$build/vm-payload
results=$build/results
log=$results/vm-test.log
counts=$results/vm-test.counts
mkdir -p "$results"
# One run at a time per build directory: the payload and the results are
# shared.
exec 9> "$results/.vm-test.lock"
if ! flock -n 9; then
	echo "vm-test: another vm-test is running in $build; waiting"
	flock 9
fi
rm -f "$counts" "$log"

# The payload: the run script, the binaries, their order.
"$here/payload.sh" --build "$build" --out "$payload" || exit 1

vsp_args=()
[ -x "$build/rig/vsp" ] && vsp_args=(--vsp "$build/rig/vsp")

# run-vm.sh backs the guest RAM with /dev/shm/azblob-vm-ram.<its pid>.*;
# remove this run's files however it ends (they outlive QEMU).
vm_pid=""
cleanup() {
	[ -n "$vm_pid" ] && rm -f /dev/shm/azblob-vm-ram."$vm_pid".*
	rm -f "$results/.vm-test-first"
}
trap cleanup EXIT

# Time-stamp the first test line as it streams by.
stamp_first() {
	local line first=""

	while IFS= read -r line; do
		if [ -z "$first" ] && [[ $line == *AZBLOB-SELFTESTS-START* ]]; then
			first=$(date +%s.%N)
			echo "$first" > "$results/.vm-test-first"
		fi
		printf '%s\n' "$line"
	done
}

start=$(date +%s.%N)
echo "vm-test: booting the guest (timeout ${timeout}s)"
"$rig/vm/run-vm.sh" --kernel "$build/vm/vmlinuz" --modules "$build/rig" \
	--payload "$payload" --timeout "$timeout" \
	--vsp-log "$results/vm-test-vsp.log" "${vsp_args[@]}" \
	> >(stamp_first | tee "$log") 2>&1 &
vm_pid=$!
wait "$vm_pid"
vm_rc=$?
sleep 1	# let the console reader drain
end=$(date +%s.%N)

read -r passed failed skipped < <(awk -f "$here/tap-count.awk" "$log")
echo "$passed $failed $skipped" > "$counts"

echo
echo "vm-test: run-vm.sh exit code $vm_rc"
if [ -s "$results/.vm-test-first" ]; then
	first=$(cat "$results/.vm-test-first")
	guest_up=$(sed -n 's/.*AZBLOB-SELFTESTS-START uptime=\([0-9.]*\).*/\1/p' \
		"$log" | tr -d '\r' | head -1)
	awk -v a="$start" -v b="$first" -v up="${guest_up:-?}" 'BEGIN {
		printf "vm-test: boot to first test %.1f s (guest uptime %s s)\n",
			b - a, up }'
else
	echo "vm-test: the tests never started"
fi
rm -f "$results/.vm-test-first"
awk -v a="$start" -v b="$end" 'BEGIN { printf "vm-test: total %.1f s\n", b - a }'
echo "vm-test: $passed passed, $failed failed, $skipped skipped" \
	"(counts in $counts)"
grep -a -E '^not ok ' "$log" | tr -d '\r' | sed 's/^/vm-test: FAILED: /'

if ! grep -aq 'AZBLOB-SELFTESTS-END' "$log"; then
	echo "vm-test: the guest did not finish the tests" >&2
	exit 1
fi
[ "$vm_rc" -eq 0 ] || exit 1
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -gt 0 ] || { echo "vm-test: no test passed" >&2; exit 1; }
exit 0
