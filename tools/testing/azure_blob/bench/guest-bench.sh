#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of the Debian benchmark (bench/vm-bench.sh): the payload's
# `run`, as root under systemd in the --clients image. Installs the driver
# as `make modules` builds it, has the host offer the device, and moves
# the same blob through every path, each transfer under bench_run (one
# "BENCHRUN {json}" line, between two markers of the insn_count plugin):
#
#   dev     azblob, /dev/azure_blob (io_uring, 4 in flight)
#   http    azblob, plain HTTP over the NIC to Azurite on 169.254.77.1
#   https   azblob, HTTPS over the NIC (the host's test CA, trusted here)
#   py      python3-azure-storage (py_blob.py), HTTPS over the NIC
#
# All in 4 MiB requests, 4 in flight; the upload (put) before the download
# (get), REPS rounds. Then the seed table: SEED_N clients at once, each
# downloading its own SEED_MB MiB blob, through the device and over HTTPS.
# Last, the depth scaling of the existing rate benchmark (azblob_bench,
# null backend, 1 ms host latency, depth 1 and 32 from one thread), as
# "BENCH {json}" lines. ./env gives HTTP_PORT, HTTPS_PORT, MB, REPS,
# SEED_N, SEED_MB and PATHS.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

pay=/run/azblob-rig
# shellcheck source=/dev/null
. "$pay/env"
ctl_file=/sys/kernel/debug/vmbus_emu/host
mod=/lib/modules/$(uname -r)
key=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
cs() {	# cs PROTO PORT
	echo "DefaultEndpointsProtocol=$1;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=$1://169.254.77.1:$2/devstoreaccount1"
}
cs_http=$(cs http "$HTTP_PORT")
cs_https=$(cs https "$HTTPS_PORT")
export LD_LIBRARY_PATH=$pay
data=/dev/shm/blob
tmp=/run/azb-bench
rc=0

ctl() { echo "$*" >"$ctl_file" && cat "$ctl_file"; }
fail() { echo "bench: $*"; rc=1; }
azblob() {	# azblob CS TRANSPORT ARG...
	local c=$1 tr=$2

	shift 2
	AZURE_STORAGE_CONNECTION_STRING=$c "$pay/azblob" --transport "$tr" \
		--no-progress --chunk-size 4M --parallel 4 "$@"
}

# client PATH put|get CONTAINER/BLOB: one transfer of the blob file (a
# download goes to /dev/null)
client() {
	local p=$1 op=$2 b=$3 c=$cs_https tr=http

	case $p in
	dev) c=$cs_http tr=device ;;
	http) c=$cs_http ;;
	esac
	case $p/$op in
	py/put) AZURE_STORAGE_CONNECTION_STRING=$c python3 "$pay/py_blob.py" put "$b" "$data" ;;
	py/get) AZURE_STORAGE_CONNECTION_STRING=$c python3 "$pay/py_blob.py" get "$b" ;;
	*/put) azblob "$c" "$tr" put "$data" "$b" ;;
	*/get) azblob "$c" "$tr" get "$b" - >/dev/null ;;
	esac
}

# measure LABEL PATH OP BLOB
measure() {
	local label=$1

	shift
	"$pay/bench_run" "$label" bash -c "$(declare -f azblob client); $(declare -p cs_http cs_https pay data); client $*" \
		>"$tmp.out" 2>"$tmp.err" || fail "$label: $(tail -c 600 "$tmp.err")"
	grep '^BENCHRUN ' "$tmp.out"
}

echo "# $(uname -r), $(nproc) CPU, $(free -m | awk '/^Mem:/ { print $2 }') MiB, $(grep -m1 'model name' /proc/cpuinfo)"
grep -qw aes /proc/cpuinfo && echo "# the vCPU has AES-NI"

# ---- the driver, the device --------------------------------------------------
install -m 0644 "$pay/stock/hv_azure_blob.ko" "$mod/updates/hv_azure_blob.ko"
cp "$pay"/depmod/stock/modules.* "$mod/"
# (loaded here, not left to udev: this is no test of the autoload)
modprobe hv_azure_blob || { echo "bench: modprobe hv_azure_blob failed"; exit 1; }
[ "$(ctl offer 0)" = ok ] || { echo "bench: the offer failed"; exit 1; }
for _ in $(seq 1200); do
	[ -c /dev/azure_blob ] && break
	sleep 0.1
done
[ -c /dev/azure_blob ] || { echo "bench: no /dev/azure_blob"; exit 1; }
echo "# /dev/azure_blob: $(lsmod | grep -c '^hv_azure_blob ') hv_azure_blob loaded"
# The host's test CA for the HTTPS Azurite: curl (OpenSSL) and Python's
# requests read Debian's bundle.
cat "$pay/ca.pem" >>/etc/ssl/certs/ca-certificates.crt

# ---- the blobs -------------------------------------------------------------------
head -c $((MB << 20)) /dev/urandom >"$data"
# A container per path (c-PATH): the device's on the VSP's Azurite, the
# others on the NIC's.
for p in $PATHS seed; do
	case $p in
	dev|seed) azblob "$cs_http" device mb "c-$p" ;;
	http) azblob "$cs_http" http mb "c-$p" ;;
	*) azblob "$cs_https" http mb "c-$p" ;;
	esac >/dev/null || fail "mb c-$p"
done
azblob "$cs_https" http mb c-seed >/dev/null || fail "mb c-seed (https)"
echo "# $MB MiB blob, paths: $PATHS, $REPS rounds"

# ---- per path: upload, download ----------------------------------------------
for r in $(seq "$REPS"); do
	for p in $PATHS; do
		measure "$p put $r" "$p" put "c-$p/b"
		measure "$p get $r" "$p" get "c-$p/b"
	done
done

# ---- the seed table: SEED_N clients at once ---------------------------------------
rm -f "$data"
head -c $((SEED_MB << 20)) /dev/urandom >"$data"
# shellcheck disable=SC2317 # runs in bench_run's shell (declare -f)
seed() {	# seed PATH: SEED_N downloads at once, of c-seed/s<i>
	local i pids=() st=0

	for i in $(seq "$SEED_N"); do
		client "$1" get "c-seed/s$i" >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || st=1
	done
	return "$st"
}
for p in dev https; do
	for i in $(seq "$SEED_N"); do
		client "$p" put "c-seed/s$i" >/dev/null || fail "seed upload $p $i"
	done
	"$pay/bench_run" "seed $p" bash -c "$(declare -f azblob client seed); $(declare -p cs_http cs_https pay data SEED_N); seed $p" \
		>"$tmp.out" 2>"$tmp.err" || fail "seed $p: $(tail -c 600 "$tmp.err")"
	grep '^BENCHRUN ' "$tmp.out"
done
rm -f "$data"

# ---- depth scaling at 1 ms host latency (null backend) -----------------------------
if [ -x "$pay/azblob_bench" ]; then
	ctl backend 0 null >/dev/null || fail "backend null"
	ctl latency 0 1000 >/dev/null || fail "latency 1000"
	"$pay/azblob_bench" --seconds 1 --mode uring --depth 1 --size 4096 >/dev/null
	for q in 1 32; do
		out=$("$pay/azblob_bench" --seconds "${DEPTH_SECS:-3}" \
			--label "depth lat=1000" --mode uring --depth "$q" --size 4096) ||
			fail "azblob_bench depth $q"
		echo "BENCH $out"
	done
	ctl latency 0 0 >/dev/null
fi
exit $rc
