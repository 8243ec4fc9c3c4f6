#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark matrix, run inside the guest (busybox sh) as the payload's
# `run`. Sets the host's backend and latency through the rig's control file
# and prints one "BENCH {json}" line per measurement on the console; the host
# side (run-bench.sh) collects them. Every comparison of the report is made
# of measurements taken here, one after another, in this one boot.
#
# Copyright (c) 2026 The hv_azure_blob authors

HERE=$(dirname "$0")
BENCH="$HERE/azblob_bench"
CTL=/sys/kernel/debug/vmbus_emu/host
SECS=${AZB_BENCH_SECS:-2}
QUICK=${AZB_BENCH_QUICK:-0}
# main: rates, sizes, echo; cpu: the depth-1 CPU pairs (run-bench.sh boots
# the guest for those with an instruction-counting clock)
PART=${AZB_BENCH_PART:-main}
rc=0

host() {
	echo "$*" > "$CTL" || { echo "bench: host command failed: $*"; rc=1; }
}

run() {
	label=$1
	shift
	out=$("$BENCH" --seconds "$SECS" --label "$label" "$@")
	st=$?
	[ -n "$out" ] && echo "BENCH $out"
	[ $st -eq 0 ] || { echo "bench: $label $* exited $st"; rc=1; }
}

host_latency() {
	if ! echo "stats 0" > "$CTL" || ! reply=$(cat "$CTL"); then
		echo "bench: host stats failed"
		rc=1
		return
	fi
	fired=${reply##*latency_fired=}
	fired=${fired%% *}
	late=${reply##*latency_late_ns=}
	late=${late%% *}
	echo "BENCH {\"label\":\"host latency\",\"latency_us\":$1,\"fired\":$fired,\"late_ns\":$late}"
}

[ -c /dev/azure_blob ] || { echo "bench: /dev/azure_blob missing"; exit 1; }
[ -w "$CTL" ] || { echo "bench: $CTL missing"; exit 1; }

host reset

if [ "$PART" = cpu ]; then
	# Guest CPU at depth 1, sync against io_uring, in pairs run back to
	# back after a warm-up; the median pair is the result.
	host backend 0 null
	host latency 0 0
	"$BENCH" --seconds 1 --mode sync --threads 1 --size 4096 >/dev/null
	"$BENCH" --seconds 1 --mode uring --depth 1 --size 4096 >/dev/null
	if [ "$QUICK" = 1 ]; then pairs="1 2 3"; else pairs="1 2 3 4 5"; fi
	for p in $pairs; do
		run "cpu pair $p" --mode sync --threads 1 --size 4096
		run "cpu pair $p" --mode uring --depth 1 --size 4096
	done
	host reset
	exit $rc
fi

# 1. Request rate against host latency: sync ioctl with T threads versus
#    io_uring with depth Q from one thread, 4 KiB downloads, null backend.
host backend 0 null
if [ "$QUICK" = 1 ]; then
	lats="0 1000"
	threads="1 4"
	depths="1 32"
else
	lats="0 100 1000"
	threads="1 4 16 32"
	depths="1 4 16 32 64 128"
fi
for lat in $lats; do
	host latency 0 "$lat"
	for t in $threads; do
		run "rate lat=$lat" --mode sync --threads "$t" --size 4096
	done
	for q in $depths; do
		run "rate lat=$lat" --mode uring --depth "$q" --size 4096
	done
	# How late the host's latency timers ended over this block.
	[ "$lat" = 0 ] || host_latency "$lat"
done

# 2. Throughput by request size at no host latency, null backend. The
#    largest data buffer is 8190 pages: with one page each for the request
#    and the response buffer that is AZ_BLOB_MAX_PAGES.
host latency 0 0
if [ "$QUICK" = 1 ]; then
	sizes="4096 1048576"
else
	sizes="4096 65536 1048576 8388608 33546240"
fi
for sz in $sizes; do
	run "size" --mode sync --threads 1 --size "$sz"
	run "size" --mode uring --depth 1 --size "$sz"
	run "size" --mode uring --depth 4 --size "$sz"
done

# 3. The echo backend: the host really reads or writes every data byte.
host backend 0 echo
for sz in 65536 1048576; do
	run "echo" --mode sync --threads 1 --size "$sz"
	run "echo" --mode uring --depth 8 --size "$sz"
	run "echo upload" --mode uring --depth 8 --size "$sz" --upload
done

host reset
exit $rc
