#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the selftests in the QEMU guest of the test rig and count the results.
#
#   vm-test.sh --build DIR [--timeout S] [--name NAME] [--rig DIR]
#              [--kernel FILE] [--vsp FILE]
#
# Expects the rig (--rig, default DIR/rig: vmbus_emu.ko, hv_azure_blob.ko),
# the VSP (--vsp, default DIR/rig/vsp), the guest kernel (--kernel, default
# DIR/vm/vmlinuz) and the selftest binaries (DIR/selftests) to be built.
# Assembles the payload in DIR/vm-payload, boots the guest with
# vm/run-vm.sh, streams the console (TAP) to stdout and to
# DIR/results/vm-test.log; then boots it again with two CPUs for the race
# tests (DIR/vm-payload-race, DIR/results/vm-test-race.log, which must hold
# no kernel report), and writes DIR/results/vm-test.counts as one line
# "PASSED FAILED SKIPPED" for both. Exits non-zero when a test failed, when
# no test ran, or when the guest did not finish. --name vm-test-6.1 (the
# run on another kernel) makes those vm-test-6.1.log, vm-test-6.1.counts,
# vm-payload-6.1 and so on.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
rig=$(cd "$here/.." && pwd)
build="" timeout=900 name=vm-test rig_dir="" kernel="" vsp=""

while [ $# -gt 0 ]; do
	case $1 in
	--build)	build=$2; shift 2 ;;
	--timeout)	timeout=$2; shift 2 ;;
	--name)		name=$2; shift 2 ;;
	--rig)		rig_dir=$2; shift 2 ;;
	--kernel)	kernel=$2; shift 2 ;;
	--vsp)		vsp=$2; shift 2 ;;
	*)		echo "usage: $0 --build DIR [--timeout S] [--name NAME]" \
			     "[--rig DIR] [--kernel FILE] [--vsp FILE]" >&2
			exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "$0: --build DIR is required" >&2; exit 2; }
case $name in
vm-test|vm-test-*) ;;
*)	echo "$0: --name must be vm-test or vm-test-SOMETHING" >&2; exit 2 ;;
esac
suffix=${name#vm-test}
rig_dir=${rig_dir:-$build/rig}
kernel=${kernel:-$build/vm/vmlinuz}
vsp=${vsp:-$build/rig/vsp}

payload=$build/vm-payload$suffix
results=$build/results
log=$results/$name.log
counts=$results/$name.counts
mkdir -p "$results"
# One run at a time per build directory and name: the payload and the
# results are shared.
exec 9> "$results/.$name.lock"
if ! flock -n 9; then
	echo "$name: another $name is running in $build; waiting"
	flock 9
fi
rm -f "$counts" "$log"

# The payload: the run script, the binaries, their order.
"$here/payload.sh" --build "$build" --out "$payload" || exit 1

vsp_args=()
[ -x "$vsp" ] && vsp_args=(--vsp "$vsp")

# run-vm.sh backs the guest RAM with /dev/shm/azblob-vm-ram.<its pid>.*;
# remove this run's files however it ends (they outlive QEMU).
vm_pid=""
cleanup() {
	[ -n "$vm_pid" ] && rm -f /dev/shm/azblob-vm-ram."$vm_pid".*
	rm -f "$results/.$name-first"
}
trap cleanup EXIT

# Time-stamp the first test line as it streams by.
stamp_first() {
	local line first=""

	while IFS= read -r line; do
		if [ -z "$first" ] && [[ $line == *AZBLOB-SELFTESTS-START* ]]; then
			first=$(date +%s.%N)
			echo "$first" > "$results/.$name-first"
		fi
		printf '%s\n' "$line"
	done
}

start=$(date +%s.%N)
echo "$name: booting the guest with $(readlink -f "$kernel") (timeout ${timeout}s)"
"$rig/vm/run-vm.sh" --kernel "$kernel" --modules "$rig_dir" \
	--payload "$payload" --timeout "$timeout" \
	--vsp-log "$results/$name-vsp.log" "${vsp_args[@]}" \
	> >(stamp_first | tee "$log") 2>&1 &
vm_pid=$!
wait "$vm_pid"
vm_rc=$?
sleep 1	# let the console reader drain
end=$(date +%s.%N)

read -r passed failed skipped < <(awk -f "$here/tap-count.awk" "$log")

# The race tests: a boot of their own with two CPUs, so that the io-wq
# worker, the task running the completions and io_uring's cancellation run
# side by side. Any kernel report on its console fails one more check.
race_payload=$build/vm-payload-race$suffix
race_log=$results/$name-race.log
race_rc=1
if "$here/payload.sh" --build "$build" --out "$race_payload" \
		--list race.list; then
	echo "$name: booting the guest with 2 CPUs for the race tests"
	"$rig/vm/run-vm.sh" --kernel "$kernel" --modules "$rig_dir" \
		--payload "$race_payload" --timeout "$timeout" --smp 2 \
		--vsp-log "$results/$name-race-vsp.log" "${vsp_args[@]}" \
		> >(tee "$race_log") 2>&1 &
	race_pid=$!
	wait "$race_pid"
	race_rc=$?
	sleep 1
fi
read -r rp rf rs < <(awk -f "$here/tap-count.awk" "$race_log" 2>/dev/null)
passed=$((passed + ${rp:-0})) failed=$((failed + ${rf:-0}))
skipped=$((skipped + ${rs:-0}))
race_reports=$(tr -d '\r' < "$race_log" 2>/dev/null |
	grep -a -E 'BUG:|WARNING:|Oops|general protection|refcount_t:|list_(add|del) corruption|RCU.*stall|blocked for more than' |
	awk '!seen[$0]++')
if [ "$race_rc" -eq 0 ] && [ -z "$race_reports" ] &&
   grep -aq 'AZBLOB-SELFTESTS-END' "$race_log"; then
	passed=$((passed + 1))
	echo "ok - race boot: no kernel reports"
else
	failed=$((failed + 1))
	echo "not ok - race boot: exit code $race_rc, kernel reports:"
	sed "s/^/$name:   /" <<<"$race_reports" | head -n 20
fi
echo "$passed $failed $skipped" > "$counts"

echo
echo "$name: run-vm.sh exit code $vm_rc"
if [ -s "$results/.$name-first" ]; then
	first=$(cat "$results/.$name-first")
	guest_up=$(sed -n 's/.*AZBLOB-SELFTESTS-START uptime=\([0-9.]*\).*/\1/p' \
		"$log" | tr -d '\r' | head -1)
	awk -v a="$start" -v b="$first" -v up="${guest_up:-?}" -v n="$name" '
		BEGIN { printf "%s: boot to first test %.1f s (guest uptime %s s)\n",
			n, b - a, up }'
else
	echo "$name: the tests never started"
fi
rm -f "$results/.$name-first"
awk -v a="$start" -v b="$end" -v n="$name" \
	'BEGIN { printf "%s: total %.1f s\n", n, b - a }'
echo "$name: $passed passed, $failed failed, $skipped skipped" \
	"(counts in $counts)"
cat "$log" "$race_log" 2>/dev/null | grep -a -E '^not ok ' | tr -d '\r' |
	sed "s/^/$name: FAILED: /"

if ! grep -aq 'AZBLOB-SELFTESTS-END' "$log"; then
	echo "$name: the guest did not finish the tests" >&2
	exit 1
fi
[ "$vm_rc" -eq 0 ] || exit 1
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -gt 0 ] || { echo "$name: no test passed" >&2; exit 1; }
exit 0
