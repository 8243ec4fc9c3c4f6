#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmark matrix in two boots of the test VM (rates, sizes and
# echo in real time; the depth-1 CPU pairs with an instruction-counting
# guest clock) and write the report:
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

# The HTTP round of the host measures azblob with /usr/bin/time.
"$RIG_DIR/scripts/apt-need.sh" time >/dev/null

payload=$OUT/payload
console=$OUT/console.log
status=0
rm -rf "$payload"
mkdir -p "$payload"
cp "$OUT/azblob_bench" "$BENCH_DIR/bench-guest.sh" "$payload/"
chmod +x "$payload/bench-guest.sh" "$payload/azblob_bench"

# boot PART [QEMU ARG]...: one boot of the VM running bench-guest.sh's
# PART; its console is added to console.log.
boot() {
	local part=$1

	shift
	{
		echo '#!/bin/sh'
		echo "export AZB_BENCH_SECS=$SECS AZB_BENCH_QUICK=$QUICK AZB_BENCH_PART=$part"
		echo 'exec /bin/sh /opt/azure_blob/bench-guest.sh'
	} > "$payload/run"
	chmod +x "$payload/run"
	"$RIG_DIR/vm/run-vm.sh" --kernel "$BUILD/vm/vmlinuz" \
		--modules "$BUILD/rig" --payload "$payload" --mem 1G \
		--timeout 1500 --vsp-log "$OUT/vsp-$part.log" "$@" |
		tee -a "$console" || status=$?
}

rm -f "$console"
# Rates, sizes and the echo backend in real time.
boot main
# The guest CPU comparison at depth 1 in a second boot whose guest clock
# counts instructions (QEMU -icount, shift 0: 1 ns per instruction). Busy
# time then measures the guest's work per request exactly, free of the
# host's noise, which in real time is as large as the difference sought.
boot cpu --qemu-arg=-icount --qemu-arg=shift=0

sed -n 's/^.*BENCH //p' "$console" | tr -d '\r' > "$OUT/results.jsonl"

# For reference: the client's http transport on the host against Azurite,
# 64 MiB up and down (8 MiB chunks, 4 in flight). Not comparable with the
# rows above (those never reach a Blob service); it shows what the plain
# HTTP path of the same client costs on this machine.
http_reference() {
	local work=$OUT/http-ref port key endpoint t0 t1 op
	local azblob=$BUILD/azure_blob/azblob

	[ -x "$azblob" ] || return 0
	rm -rf "$work" && mkdir -p "$work"
	port=$("$RIG_DIR/e2e/azurite.sh" start "$work") || return 1
	# shellcheck disable=SC2064
	trap "'$RIG_DIR/e2e/azurite.sh' stop '$work'" RETURN
	key=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
	endpoint=http://127.0.0.1:$port/devstoreaccount1
	export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=$endpoint"
	head -c $((64 << 20)) /dev/urandom > "$work/blob"
	"$azblob" --transport http mb bench >/dev/null || return 1
	for op in put get; do
		if [ $op = put ]; then
			set -- put "$work/blob" bench/blob
		else
			set -- get bench/blob "$work/back"
		fi
		t0=$(date +%s.%N)
		/usr/bin/time -f '%M %U %S' -o "$work/time" "$azblob" \
			--transport http --no-progress --chunk-size 8M \
			--parallel 4 "$@" || return 1
		t1=$(date +%s.%N)
		read -r rss usr sys < "$work/time"
		awk -v op=$op -v t0="$t0" -v t1="$t1" -v rss="$rss" \
		    -v usr="$usr" -v sys="$sys" 'BEGIN {
			s = t1 - t0; g = 64 / 1024; cpu = usr + sys;
			printf "{\"label\":\"http reference\",\"mode\":\"http\","
			printf "\"size\":67108864,\"threads\":1,\"depth\":4,"
			printf "\"upload\":%s,\"ops\":1,\"errors\":0,", op == "put" ? "true" : "false"
			printf "\"first_errno\":0,\"secs\":%.4f,\"ops_per_s\":%.3f,", s, 1 / s
			printf "\"gib_per_s\":%.5f,\"guest_cpu_s\":%.3f,", g / s, cpu
			printf "\"proc_cpu_s\":%.3f,\"cpu_us_per_op\":%.1f,", cpu, cpu * 1e6
			printf "\"cpu_s_per_gib\":%.4f,\"maxrss_kib\":%d}\n", cpu / g, rss
		}' >> "$OUT/results.jsonl"
	done
	cmp -s "$work/blob" "$work/back" || { echo "bench: http round trip differs" >&2; return 1; }
	rm -f "$work/blob" "$work/back"
}
if [ "${BENCH_HTTP:-1}" = 1 ]; then
	http_reference || { echo "bench: http reference failed" >&2; status=1; }
fi
if [ ! -s "$OUT/results.jsonl" ]; then
	echo "bench: no measurements (VM exit $status); see $console" >&2
	exit 1
fi
python3 "$BENCH_DIR/report.py" "$OUT/results.jsonl" "$OUT"
[ "$status" -eq 0 ] || echo "bench: the guest reported errors (exit $status)" >&2
exit "$status"
