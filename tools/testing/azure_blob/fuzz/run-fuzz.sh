#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the fuzzers in the rig's guest and count the results.
#
#   run-fuzz.sh --build DIR [--progs "user_fuzz host_fuzz"] [--timeout S]
#
# Seeds and sizes come from the environment: FUZZ_SEED (user_fuzz; default
# from the clock), FUZZ_ITERATIONS (user_fuzz requests, default 200000),
# FUZZ_HOST_SEED, FUZZ_HOST_SECONDS (host_fuzz, default 40). Both seeds are
# printed, so a run can be repeated. Writes DIR/results/fuzz.log and
# DIR/results/fuzz.counts ("PASSED FAILED SKIPPED"); exits non-zero on any
# failure.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
rig=$(cd "$here/.." && pwd)
build=""
timeout=400
progs="user_fuzz host_fuzz"

while [ $# -gt 0 ]; do
	case $1 in
	--build)	build=$2; shift 2 ;;
	--progs)	progs=$2; shift 2 ;;
	--timeout)	timeout=$2; shift 2 ;;
	*)		echo "usage: $0 --build DIR [--progs LIST] [--timeout S]" >&2
			exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "$0: --build DIR is required" >&2; exit 2; }

seed=${FUZZ_SEED:-$(( $(date +%s%N) % 4294967296 ))}
iterations=${FUZZ_ITERATIONS:-200000}
host_seed=${FUZZ_HOST_SEED:-$(( (seed * 2654435761) & 4294967295 ))}
host_seconds=${FUZZ_HOST_SECONDS:-40}

payload=$build/fuzz/payload
results=$build/results
log=$results/fuzz.log
counts=$results/fuzz.counts
mkdir -p "$results"
rm -f "$counts" "$log"
rm -rf "$payload"
mkdir -p "$payload"
install -m 0755 "$here/run" "$payload/run"
for p in $progs; do
	install -m 0755 "$build/fuzz/$p" "$payload/$p" || exit 1
done
cat > "$payload/fuzz.env" <<EOT
FUZZ_PROGS="$progs"
USER_SEED=$seed
USER_ITERATIONS=$iterations
HOST_SEED=$host_seed
HOST_SECONDS=$host_seconds
FUZZ_TIMEOUT=$((timeout - 30))
EOT

echo "fuzz: user seed $seed ($iterations requests), host seed $host_seed" \
	"(${host_seconds} s); repeat with FUZZ_SEED=$seed FUZZ_HOST_SEED=$host_seed"
vm_pid=""
cleanup() {
	[ -n "$vm_pid" ] && rm -f /dev/shm/azblob-vm-ram."$vm_pid".*
}
trap cleanup EXIT

start=$(date +%s)
"$rig/vm/run-vm.sh" --kernel "$build/vm/vmlinuz" --modules "$build/rig" \
	--payload "$payload" --timeout "$timeout" --vsp "$build/rig/vsp" \
	--vsp-log "$results/fuzz-vsp.log" > >(tee "$log") 2>&1 &
vm_pid=$!
wait "$vm_pid"
vm_rc=$?
sleep 1

read -r passed failed skipped < <(awk -f "$rig/selftests/tap-count.awk" "$log")
grep -aq 'AZBLOB-FUZZ-END' "$log" || failed=$((failed + 1))
echo "$passed $failed $skipped" > "$counts"
echo
echo "fuzz: run-vm.sh exit code $vm_rc, $(( $(date +%s) - start )) s"
echo "fuzz: user seed $seed, host seed $host_seed"
echo "fuzz: $passed passed, $failed failed, $skipped skipped (counts in $counts)"
grep -a -E '^not ok ' "$log" | tr -d '\r' | sed 's/^/fuzz: FAILED: /'
[ "$vm_rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
