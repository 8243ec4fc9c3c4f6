#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmark matrix in one boot of the test VM and write the report:
# build/bench/{results.jsonl,results.json,report.md,*.png}.
#
#   run-bench.sh [--quick] [--seconds S]
#
# Expects the rig built (make -C tools/testing/azure_blob rig-modules vsp
# vm-kernel bench-bin); the `bench` make target does all of it.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_DIR=$(cd "$BENCH_DIR/.." && pwd)
SRCTREE=$(cd "$RIG_DIR/../../.." && pwd)
BUILD=${BUILD:-$SRCTREE/build}
OUT=$BUILD/bench
QUICK=0
SECS=2

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1; shift ;;
	--seconds) SECS=$2; shift 2 ;;
	*) echo "usage: $0 [--quick] [--seconds S]" >&2; exit 2 ;;
	esac
done

payload=$OUT/payload
rm -rf "$payload"
mkdir -p "$payload"
cp "$OUT/azblob_bench" "$payload/"
{
	echo '#!/bin/sh'
	echo "export AZB_BENCH_SECS=$SECS AZB_BENCH_QUICK=$QUICK"
	echo 'exec /bin/sh /opt/azure_blob/bench-guest.sh'
} > "$payload/run"
cp "$BENCH_DIR/bench-guest.sh" "$payload/"
chmod +x "$payload/run" "$payload/bench-guest.sh" "$payload/azblob_bench"

console=$OUT/console.log
status=0
"$RIG_DIR/vm/run-vm.sh" --kernel "$BUILD/vm/vmlinuz" \
	--modules "$BUILD/rig" --payload "$payload" --mem 1G \
	--timeout 1500 --vsp-log "$OUT/vsp.log" | tee "$console" || status=$?

sed -n 's/^.*BENCH //p' "$console" | tr -d '\r' > "$OUT/results.jsonl"
if [ ! -s "$OUT/results.jsonl" ]; then
	echo "bench: no measurements (VM exit $status); see $console" >&2
	exit 1
fi
python3 "$BENCH_DIR/report.py" "$OUT/results.jsonl" "$OUT"
[ "$status" -eq 0 ] || echo "bench: the guest reported errors (exit $status)" >&2
exit "$status"
