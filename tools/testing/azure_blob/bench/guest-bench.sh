#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of the Debian benchmark (bench/vm-bench.sh): the payload's
# `run`, as root under systemd in the --clients image. Installs the driver
# as `make modules` builds it, has the host offer the device, and moves
# the same blob through every path, each transfer under bench_run (one
# "BENCHRUN {json}" line, between two markers of the insn_count plugin):
#
#   dev         azblob, /dev/azure_blob (io_uring, 4 in flight)
#   dev-nomd5   the same with --no-md5
#   http        azblob, plain HTTP over the NIC to Azurite on 169.254.77.1
#   https       azblob, HTTPS over the NIC (the host's test CA, trusted here)
#   https-nomd5 the same with --no-md5
#   azd         azblob's http transport through azblobd (loopback, device)
#   py          python3-azure-storage (py_blob.py), HTTPS over the NIC
#   pyd         python3-azure-storage through azblobd
#   rclone      rclone (copyto, cat) over HTTPS, a container SAS URL
#   rcloned     rclone through azblobd, the same
#
# All in 4 MiB requests, 4 in flight (rclone's download is its one
# stream); the upload (put) before the download (get), REPS rounds.
# azblobd (the tree's build) serves http on 127.0.0.1:10180 as
# azblobd.internal, for the devstoreaccount1 account on the VSP's Azurite.
# Then the seed table: SEED_N clients at once, each downloading its own
# SEED_MB MiB blob, through the device and over HTTPS. Then the depth
# scaling of the existing rate benchmark (azblob_bench, null backend, 1 ms
# host latency, depth 1 and 32 from one thread), as "BENCH {json}" lines.
# Every transfer's client memory map is kept (bench_run --maps) and,
# after the paths, shipped with the guest's kallsyms and the clients' function
# symbols (elf_syms.py) as a base64 tarball on "PT " lines, for the
# attribution of the plugin's profile (vm_profile.py). ./env gives
# HTTP_PORT, HTTPS_PORT, MB, REPS, SEED_N, SEED_MB and PATHS.
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
# The device's: host-style, as on Azure (the VSP keeps the Host, and
# Azurite takes the account from it, as from azblobd's requests).
cs_dev="DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=https://devstoreaccount1.blob.core.windows.net"
cs_https=$(cs https "$HTTPS_PORT")
azd_ep=http://azblobd.internal:10180
cs_azd="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=$azd_ep"
sas=''
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
	local p=$1 op=$2 b=$3 c=$cs_https tr=http x=()

	case $p in
	dev|dev-nomd5) c=$cs_dev tr=device ;;
	http) c=$cs_http ;;
	azd|pyd) c=$cs_azd ;;
	esac
	case $p in
	*-nomd5) x=(--no-md5) ;;
	esac
	case $p/$op in
	py*/put) AZURE_STORAGE_CONNECTION_STRING=$c python3 "$pay/py_blob.py" put "$b" "$data" ;;
	py*/get) AZURE_STORAGE_CONNECTION_STRING=$c python3 "$pay/py_blob.py" get "$b" ;;
	rclone*/*) rcl "$p" "$op" "$b" ;;
	*/put) azblob "$c" "$tr" "${x[@]}" put "$data" "$b" ;;
	*/get) azblob "$c" "$tr" "${x[@]}" get "$b" - >/dev/null ;;
	esac
}

# rcl rclone|rcloned put|get CONTAINER/BLOB: rclone 1.60 with a remote of
# the environment, the container's URL with an account SAS (its account
# and key form builds https://ACCOUNT.blob.core.windows.net, no other
# endpoint); rclone's defaults otherwise (the upload computes the file's
# MD5 first). Runs in bench_run's shell: the exports end with it.
rcl() {
	local u=https://169.254.77.1:$HTTPS_PORT/devstoreaccount1

	[ "$1" = rcloned ] && u=$azd_ep
	export RCLONE_CONFIG=/nonexistent RCLONE_CONFIG_RB_TYPE=azureblob \
		RCLONE_CONFIG_RB_SAS_URL="$u/${3%%/*}?$sas" \
		RCLONE_AZUREBLOB_CHUNK_SIZE=4Mi \
		RCLONE_AZUREBLOB_UPLOAD_CONCURRENCY=4
	case $2 in
	put) rclone -q --transfers 1 copyto "$data" "rb:$3" ;;
	get) rclone -q cat "rb:$3" >/dev/null ;;
	esac
}

# measure LABEL PATH OP BLOB (the client's memory map in $maps/<n>)
nmeasure=0
measure() {
	local label=$1 m

	shift
	nmeasure=$((nmeasure + 1))
	m=$maps/$nmeasure
	"$pay/bench_run" --maps "$m" "$label" bash -c "$(declare -f azblob client rcl); $(declare -p cs_http cs_https cs_dev cs_azd azd_ep sas pay data HTTPS_PORT); client $*" \
		>"$tmp.out" 2>"$tmp.err" || fail "$label: $(tail -c 600 "$tmp.err")"
	grep '^BENCHRUN ' "$tmp.out"
	printf '%s\t%s\n' "$label" "$nmeasure" >>"$maps/index"
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
# The host's test CA for the HTTPS Azurite: curl (OpenSSL), Python's
# requests and Go (rclone) read Debian's bundle.
cat "$pay/ca.pem" >>/etc/ssl/certs/ca-certificates.crt
maps=/run/azb-maps
mkdir -p "$maps"
: >"$maps/index"
# Kernel addresses for the profile (kallsyms shows them to root).
sysctl -q kernel.kptr_restrict=0
# What the Python SDK checks by default (it is not told otherwise here).
py_vc=$(grep -rhoE "pop\(.validate_content., [A-Za-z]+\)" \
	/usr/lib/python3/dist-packages/azure/storage/blob/ 2>/dev/null |
	sort | uniq -c | tr -s ' \n' '  ')
echo "# python3-azure-storage, validate_content defaults (count, code): ${py_vc:-none found}"

# ---- azblobd --------------------------------------------------------------------
azblobd_pid=''
case " $PATHS " in
*" azd "*|*" pyd "*|*" rcloned "*)
	# its peer check (the client may open the device) asks sock_diag
	modprobe -q inet_diag; modprobe -q tcp_diag
	printf '127.0.0.1 azblobd.internal\n::1 azblobd.internal\n' >>/etc/hosts
	printf 'host = devstoreaccount1.blob.core.windows.net\nport = 10180\nlog_level = warning\n' \
		>/run/azblobd-bench.conf
	"$pay/azblobd" --config /run/azblobd-bench.conf 2>/run/azblobd.log &
	azblobd_pid=$!
	for _ in $(seq 300); do
		(exec 3<>/dev/tcp/127.0.0.1/10180) 2>/dev/null && break
		sleep 0.2
	done
	(exec 3<>/dev/tcp/127.0.0.1/10180) 2>/dev/null ||
		fail "azblobd did not start: $(tail -n 5 /run/azblobd.log)"
	echo "# azblobd pid $azblobd_pid on $azd_ep"
	;;
esac

# ---- the blobs -------------------------------------------------------------------
head -c $((MB << 20)) /dev/urandom >"$data"
# A container per path (c-PATH): the device's on the VSP's Azurite, the
# others on the NIC's.
for p in $PATHS seed; do
	case $p in
	dev|dev-nomd5|azd|pyd|rcloned|seed) azblob "$cs_dev" device mb "c-$p" ;;
	http) azblob "$cs_http" http mb "c-$p" ;;
	*) azblob "$cs_https" http mb "c-$p" ;;
	esac >/dev/null || fail "mb c-$p"
done
azblob "$cs_https" http mb c-seed >/dev/null || fail "mb c-seed (https)"
case " $PATHS " in
*" rclone"*)
	# an account SAS: it signs no host, and both Azurites have the
	# same account and key
	sas=$(AZURE_STORAGE_CONNECTION_STRING=$cs_https python3 "$pay/py_blob.py" sas) ||
		fail "no SAS for rclone"
	;;
esac
if [ -n "$azblobd_pid" ]; then
	# azblobd's memory map, once it has served a request
	azblob "$cs_azd" http ls c-azd >/dev/null 2>&1
	{ echo "# pid $azblobd_pid comm azblobd"; cat "/proc/$azblobd_pid/maps"; } >"$maps/azblobd"
fi
echo "# $MB MiB blob, paths: $PATHS, $REPS rounds"

# ---- per path: upload, download ----------------------------------------------
for r in $(seq "$REPS"); do
	for p in $PATHS; do
		measure "$p put $r" "$p" put "c-$p/b"
		measure "$p get $r" "$p" get "c-$p/b"
	done
done

# ---- the profile's symbols: kallsyms, the clients' ELF files -------------------------
# (now, so that a timeout in what follows does not lose the profile)
[ -n "$azblobd_pid" ] && kill "$azblobd_pid"
awk '$2 == "t" || $2 == "T"' /proc/kallsyms >"$maps/kallsyms"
cat "$maps"/[0-9]* "$maps"/azblobd 2>/dev/null |
	awk '$2 ~ /x/ && $6 ~ /^\// { print $6 }' | sort -u >"$maps/files"
mapfile -t files <"$maps/files"
python3 "$pay/elf_syms.py" "${files[@]}" >"$maps/syms" ||
	fail "elf_syms.py failed"
echo "# profile: $(wc -l <"$maps/kallsyms") kernel symbols, ${#files[@]} files, $(grep -c '^S ' "$maps/syms") user symbols"
tar -C "$maps" -czf - . | base64 -w 100 | sed 's/^/PT /'
echo "PT-END"

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
	"$pay/bench_run" "seed $p" bash -c "$(declare -f azblob client seed); $(declare -p cs_http cs_https cs_dev pay data SEED_N); seed $p" \
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
