#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the rig's VM suites on the debug kernel (KASAN, lockdep,
# DEBUG_ATOMIC_SLEEP, debug objects, kmemleak) and fail on any report of
# the kernel's debug facilities.
#
#   vm-test-debug.sh --build DIR [--timeout S]
#   vm-test-debug.sh --scan LOG
#
# Expects the debug kernel (DIR/debug/obj/arch/x86/boot/bzImage), the
# modules built against it (DIR/debug/modules), the VSP (DIR/rig/vsp) and
# the selftests (DIR/selftests). Assembles the payload in DIR/debug/payload
# (debug/run plus one directory per suite), boots the guest with 1 GiB,
# streams the console to stdout and to DIR/results/vm-test-debug.log, then
# scans the whole log for reports (debug/allow-list holds the accepted
# ones, each with its reason). A second boot with two CPUs runs the race
# tests (selftests/race.list) the same way, its console in
# DIR/results/vm-test-debug-race.log. Writes DIR/results/vm-test-debug.counts
# ("PASSED FAILED SKIPPED": the selftests plus one check "no debug
# reports") and the reports with their context to
# DIR/results/vm-test-debug.reports. When the e2e binaries are built
# (make e2e-bin), e2e/e2e.sh runs on the same kernel and modules, in a
# guest of its own beside the first boot (console in DIR/results/e2e-debug.log, E2E_DEBUG_TIMEOUT seconds, default
# 600); its tests, a scan of its console and its kmemleak count (0
# objects after the transfers) join the counts. --scan only scans a console log
# saved earlier (after a change of the allow-list, or to check the scan
# itself) and prints the result; it writes nothing.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
rig=$(cd "$here/.." && pwd)
build=""
timeout=1200
e2e_timeout=${E2E_DEBUG_TIMEOUT:-600}
scan=""

while [ $# -gt 0 ]; do
	case $1 in
	--build)	build=$2; shift 2 ;;
	--timeout)	timeout=$2; shift 2 ;;
	--scan)		scan=$2; shift 2 ;;
	*)		echo "usage: $0 --build DIR [--timeout S] | --scan LOG" >&2
			exit 2 ;;
	esac
done
[ -n "$build" ] || [ -n "$scan" ] ||
	{ echo "$0: --build DIR or --scan LOG is required" >&2; exit 2; }

kernel=$build/debug/obj/arch/x86/boot/bzImage
modules=$build/debug/modules
payload=$build/debug/payload
results=$build/results
log=$results/vm-test-debug.log
race_log=$results/vm-test-debug-race.log
counts=$results/vm-test-debug.counts
reports=$results/vm-test-debug.reports
allow=$here/allow-list

# What the kernel prints when one of its checkers fires.
report_re='BUG:|KASAN|WARNING:|possible circular locking|possible recursive locking'
report_re+='|inconsistent lock state|sleeping function called from invalid context'
report_re+='|unreferenced object|Oops|general protection|list_add corruption'
report_re+='|list_del corruption|ODEBUG|suspicious RCU usage|Kernel panic'
report_re+='|kernel BUG|INFO: task .* blocked'

if [ -n "$scan" ]; then
	log=$scan race_log=/dev/null counts=/dev/null reports=/dev/stdout
	vm_rc=0 start=0 end=0
else
mkdir -p "$results"
exec 9> "$build/debug/.vm-test.lock"
if ! flock -n 9; then
	echo "vm-test-debug: another run is using $build/debug; waiting"
	flock 9
fi
rm -f "$counts" "$log" "$race_log" "$reports"

for f in "$kernel" "$modules/vmbus_emu.ko" "$modules/hv_azure_blob.ko" \
	 "$build/rig/vsp"; do
	[ -e "$f" ] || { echo "vm-test-debug: missing $f" >&2; exit 1; }
done

# The payload: debug/run and the suites it runs, in order.
rm -rf "$payload"
mkdir -p "$payload"
install -m 0755 "$here/run" "$payload/run"
install -m 0644 "$here/kmemleak.sh" "$payload/kmemleak.sh"
"$rig/selftests/payload.sh" --build "$build" --out "$payload/selftests" ||
	exit 1
echo selftests > "$payload/suites.list"

# The fuzzers (fuzz/, make fuzz-bin) when they are built: the same guest
# side as make fuzz, with sizes for a kernel that runs several times
# slower. The seeds are printed so a run can be repeated.
if [ -x "$rig/fuzz/run" ] && [ -x "$build/fuzz/user_fuzz" ] &&
   [ -x "$build/fuzz/host_fuzz" ]; then
	seed=${FUZZ_SEED:-$(( $(date +%s%N) % 4294967296 ))}
	host_seed=${FUZZ_HOST_SEED:-$(( (seed * 2654435761) & 4294967295 ))}
	mkdir -p "$payload/fuzz"
	install -m 0755 "$rig/fuzz/run" "$build/fuzz/user_fuzz" \
		"$build/fuzz/host_fuzz" "$payload/fuzz/" || exit 1
	cat > "$payload/fuzz/fuzz.env" <<EOT
FUZZ_PROGS="user_fuzz host_fuzz"
USER_SEED=$seed
USER_ITERATIONS=${DEBUG_FUZZ_ITERATIONS:-20000}
HOST_SEED=$host_seed
HOST_SECONDS=${DEBUG_FUZZ_HOST_SECONDS:-30}
FUZZ_TIMEOUT=900
EOT
	echo fuzz >> "$payload/suites.list"
	echo "vm-test-debug: fuzz user seed $seed, host seed $host_seed;" \
		"repeat with FUZZ_SEED=$seed FUZZ_HOST_SEED=$host_seed"
else
	echo "vm-test-debug: fuzzers not built, running the selftests only"
fi

# The race tests, for the boot with two CPUs.
race_payload=$build/debug/payload-race
rm -rf "$race_payload"
mkdir -p "$race_payload"
install -m 0755 "$here/run" "$race_payload/run"
install -m 0644 "$here/kmemleak.sh" "$race_payload/kmemleak.sh"
"$rig/selftests/payload.sh" --build "$build" --out "$race_payload/race" \
	--list race.list || exit 1
echo race > "$race_payload/suites.list"

vm_pid=""
trap '[ -n "$vm_pid" ] && rm -f /dev/shm/azblob-vm-ram."$vm_pid".*' EXIT

# e2e on the debug kernel, when its binaries are built (make e2e-bin), in
# a guest of its own beside the first boot: both have one virtual CPU,
# which TCG runs on one host thread. Its results are read further down.
e2e_pid="" e2e_out=$build/debug/e2e-debug.out
rm -f "$e2e_out"
if [ -x "$build/azure_blob/azblob-static" ] && [ -x "$build/e2e/rawreq" ]; then
	echo "vm-test-debug: e2e on the debug kernel beside the first boot" \
		"(timeout ${e2e_timeout}s)"
	"$rig/e2e/e2e.sh" --build "$build" --kernel "$kernel" \
		--modules "$modules" --name e2e-debug --timeout "$e2e_timeout" \
		> "$e2e_out" 2>&1 &
	e2e_pid=$!
fi

start=$(date +%s.%N)
echo "vm-test-debug: booting the debug kernel (timeout ${timeout}s)"
"$rig/vm/run-vm.sh" --kernel "$kernel" --modules "$modules" \
	--payload "$payload" --timeout "$timeout" --mem 1G \
	--vsp "$build/rig/vsp" --vsp-log "$results/vm-test-debug-vsp.log" \
	> >(tee "$log") 2>&1 &
vm_pid=$!
wait "$vm_pid"
vm_rc=$?
sleep 1	# let the console reader drain

echo "vm-test-debug: booting the debug kernel with 2 CPUs for the race tests"
"$rig/vm/run-vm.sh" --kernel "$kernel" --modules "$modules" \
	--payload "$race_payload" --timeout "$timeout" --mem 1G --smp 2 \
	--vsp "$build/rig/vsp" --vsp-log "$results/vm-test-debug-race-vsp.log" \
	> >(tee "$race_log") 2>&1 &
vm_pid=$!
wait "$vm_pid"
race_rc=$?
[ "$race_rc" -eq 0 ] || vm_rc=$race_rc
sleep 1
end=$(date +%s.%N)
fi

# strip_log - the console without carriage returns, the guest's line
# prefixes and the kernel's time stamps, so that a report logged three
# times (live, in the selftests' dmesg, in the final dmesg) reads the same
strip_log() {
	tr -d '\r' < "$log" | sed -E \
		-e 's/^# (kmsg|dmesg|dmesg-final|kmemleak-[a-z-]+): //' \
		-e 's/^<[0-9]+>//' -e 's/^\[ *[0-9]+\.[0-9]+\] //'
}

# The allow-list: one extended regular expression per line, comments and
# blank lines ignored.
allow_re=$(sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' "$allow" |
	paste -s -d '|')

# reports allowed|unallowed - the distinct report lines of $log that the
# allow-list accepts, or those it does not
reports() {
	strip_log | grep -a -E "$report_re" | {
		if [ -z "$allow_re" ]; then
			[ "$1" = allowed ] || cat
		elif [ "$1" = allowed ]; then
			grep -a -E "$allow_re"
		else
			grep -a -v -E "$allow_re"
		fi
	} | awk '!seen[$0]++'
}

found=$(reports unallowed)
allowed=$(reports allowed)
main_log=$log
if [ -s "$race_log" ]; then
	log=$race_log
	found=$(printf '%s\n%s\n' "$found" "$(reports unallowed)" |
		sed '/^$/d' | awk '!seen[$0]++')
	allowed=$(printf '%s\n%s\n' "$allowed" "$(reports allowed)" |
		sed '/^$/d' | awk '!seen[$0]++')
	log=$main_log
fi

# The context of every report: the final kernel log when the guest got
# that far (complete, in order), else the whole console; the kmemleak
# lists always (they are not in the kernel log).
if [ -n "$found" ]; then
	for l in "$log" "$race_log"; do
		[ -s "$l" ] || continue
		echo "==== $l"
		if grep -aq '^# dmesg-final: ' "$l"; then
			tr -d '\r' < "$l" | sed -n 's/^# dmesg-final: //p'
		else
			tr -d '\r' < "$l"
		fi | grep -a -E -B 2 -A 60 "$report_re"
		echo "----"
		tr -d '\r' < "$l" | grep -a '^# kmemleak-' |
			grep -a -v ': *$' || true
	done > "$reports"
fi

# The checks of the debug run itself (on a copy: grep -q in a pipe would
# fail the pipe with SIGPIPE under pipefail).
problems=()
[ -z "$found" ] || problems+=("$(wc -l <<<"$found") distinct report lines")
markers=$(tr -d '\r' < "$log" | grep -a '^AZBLOB-DEBUG ')
for m in kmemleak-boot kmemleak-after-suites "rmmod hv_azure_blob" \
	 "rmmod vmbus_emu" kmemleak-after-rmmod; do
	grep -q "^AZBLOB-DEBUG $m rc=0" <<<"$markers" ||
		problems+=("no successful '$m'")
done
grep -q '^AZBLOB-DEBUG end ' <<<"$markers" ||
	problems+=("the guest did not finish")
if [ -z "$scan" ]; then
	markers=$(tr -d '\r' < "$race_log" 2>/dev/null | grep -a '^AZBLOB-DEBUG ')
	for m in kmemleak-boot kmemleak-after-suites "rmmod hv_azure_blob" \
		 "rmmod vmbus_emu" kmemleak-after-rmmod; do
		grep -q "^AZBLOB-DEBUG $m rc=0" <<<"$markers" ||
			problems+=("race boot: no successful '$m'")
	done
	grep -q '^AZBLOB-DEBUG end ' <<<"$markers" ||
		problems+=("race boot: the guest did not finish")
fi

read -r passed failed skipped < <(cat "$log" "$race_log" 2>/dev/null |
	awk -f "$rig/selftests/tap-count.awk")
if [ ${#problems[@]} -eq 0 ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

# e2e on the debug kernel (started beside the first boot): azblob in the
# guest through the driver to Azurite, then the same scan of its console,
# and kmemleak after the transfers.
e2e_summary=""
if [ -z "$scan" ] && [ -n "$e2e_pid" ]; then
	wait "$e2e_pid"
	echo "vm-test-debug: e2e on the debug kernel exited with $?"
	sed 's/^/vm-test-debug: e2e: /' "$e2e_out"
	read -r ep ef es < "$results/e2e-debug.counts" 2>/dev/null ||
		{ ep=0 ef=1 es=0; }
	passed=$((passed + ep)) failed=$((failed + ef)) skipped=$((skipped + es))
	log=$results/e2e-debug.log
	e2e_found=$(reports unallowed)
	leaks=$(tr -d '\r' < "$log" |
		sed -n 's/^AZBLOB-DEBUG kmemleak-after-transfers rc=0 objects=\([0-9]*\)$/\1/p')
	if [ -z "$e2e_found" ] && [ "$leaks" = 0 ]; then
		passed=$((passed + 1))
		e2e_summary="e2e: $ep passed, $ef failed; no debug reports, kmemleak 0 objects"
	else
		failed=$((failed + 1))
		problems+=("e2e: kmemleak '${leaks:-no scan}', reports: $(wc -l <<<"$e2e_found")")
		found+=$'\n'$e2e_found
		e2e_summary="e2e: $ep passed, $ef failed; DEBUG CHECK FAILED"
	fi
fi
echo "$passed $failed $skipped" > "$counts"

echo
echo "vm-test-debug: run-vm.sh exit code $vm_rc"
tr -d '\r' < "$log" | sed -n 's/^AZBLOB-DEBUG \(suite .*\)/vm-test-debug: \1/p'
awk -v a="$start" -v b="$end" 'BEGIN {
	printf "vm-test-debug: total %.1f s (boot, suites, kmemleak, unload)\n",
		b - a }'
cat "$main_log" "$race_log" "$log" 2>/dev/null | grep -a -E '^not ok ' | tr -d '\r' | awk '!seen[$0]++' |
	sed 's/^/vm-test-debug: FAILED: /'
if [ -n "$allowed" ]; then
	echo "vm-test-debug: allowed by $(basename "$allow"):"
	sed 's/^/vm-test-debug:   /' <<<"$allowed"
fi
[ -z "$e2e_summary" ] || echo "vm-test-debug: $e2e_summary"
if [ ${#problems[@]} -eq 0 ]; then
	echo "vm-test-debug: no debug reports"
else
	for p in "${problems[@]}"; do
		echo "vm-test-debug: DEBUG CHECK FAILED: $p"
	done
	if [ -n "$found" ]; then
		sed 's/^/vm-test-debug: REPORT: /' <<<"$found" | head -n 40
		[ -n "$scan" ] ||
			echo "vm-test-debug: the reports with context: $reports"
	fi
fi
echo "vm-test-debug: $passed passed, $failed failed, $skipped skipped" \
	"(counts in $counts)"

[ "$vm_rc" -eq 0 ] || exit 1
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -gt 1 ] || { echo "vm-test-debug: no test passed" >&2; exit 1; }
exit 0
