#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: what the driver saves the VM. One boot of the Debian 12
# guest with the Azure clients (debian-vm/build-image.sh --clients) moves
# the same blobs through /dev/azure_blob and over the guest's virtio NIC
# (plain HTTP and HTTPS, to Azurite), with every guest instruction counted
# by the insn_count TCG plugin; bench/guest-bench.sh is the guest's half,
# bench/vm-report.py turns the samples into build/bench/vm-bench.json,
# report.md and the PNGs. See bench/README.md for the method.
#
#   vm-bench.sh --build DIR [--quick] [--timeout S]
#
# Expects what `make bench` builds: DIR/rig/vsp, DIR/debian-vm/vmbus_emu/
# vmbus_emu.ko, DIR/modules/hv_azure_blob.ko, DIR/azure_blob/azblob with
# libazblob.so.0 and azblobd, DIR/bench/azblob_bench. Three Azurite instances of the
# same install run in a network namespace of their own (debian-vm/netns.sh):
# the VSP's http backend on 127.0.0.1 (the VSP takes loopback endpoints
# only), plain HTTP and HTTPS for the guest's NIC on 169.254.77.1.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rig=$(cd "$here/.." && pwd)
srctree=$(cd "$rig/../../.." && pwd)
vm=$rig/debian-vm
host_ip=169.254.77.1
http_port=10000
https_port=10001

# ---- inside the namespace: the two Azurites, the guest ---------------------------
azurite_pids=()
azurite() {	# azurite DIR ADDRESS PORT [--cert F --key F]
	local dir=$1 addr=$2 port=$3

	shift 3
	mkdir -p "$dir"
	node "$srctree/build/azurite/node_modules/azurite/dist/src/blob/main.js" \
		--blobHost "$addr" --blobPort "$port" --inMemoryPersistence \
		--skipApiVersionCheck --disableTelemetry --silent "$@" \
		>"$dir/azurite.log" 2>&1 </dev/null &
	azurite_pids+=($!)
	for _ in $(seq 120); do
		(exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null && return 0
		sleep 0.25
	done
	echo "vm-bench: Azurite on $addr:$port did not start: $(tail -n 5 "$dir/azurite.log")" >&2
	return 1
}

inner() {
	local w=$VMB_OUT/azurite vmrc

	# shellcheck disable=SC2317 # runs from the trap
	inner_cleanup() {
		local p

		for p in "${azurite_pids[@]}"; do
			kill "$p" 2>/dev/null
		done
	}
	trap inner_cleanup EXIT
	azurite "$w/vsp" 127.0.0.1 "$http_port" || return 1
	azurite "$w/http" "$host_ip" "$http_port" || return 1
	azurite "$w/https" "$host_ip" "$https_port" --cert "$VMB_OUT/ca/server.pem" \
		--key "$VMB_OUT/ca/server.key" || return 1
	echo "# namespace: $(ip -br addr | tr -s ' ' | tr '\n' ';')"
	echo "# Azurite: http://127.0.0.1:$http_port (the VSP's), http://$host_ip:$http_port, https://$host_ip:$https_port"
	"$vm/run-debian-vm.sh" --image "$VMB_ENTRY" --payload "$VMB_OUT/payload" \
		--timeout "$VMB_TIMEOUT" --tap azbtap0 --mem 2G --smp 2 \
		--vsp "$VMB_BUILD/rig/vsp" --vsp-log "$VMB_OUT/vsp.log" \
		--vsp-arg=--no-offer --vsp-arg=--backend=http \
		--vsp-arg=--http-endpoint="http://127.0.0.1:$http_port" \
		--vsp-arg=--http-keep-host \
		--qemu-arg=-accel --qemu-arg=tcg,thread=single \
		--qemu-arg=-cpu --qemu-arg=max,la57=off \
		--qemu-arg=-plugin --qemu-arg="$VMB_OUT/insn_count.so,out=$VMB_OUT/marks.txt,prof=$VMB_OUT/prof.txt" \
		--console "$VMB_OUT/console.log" --output "$VMB_OUT/guest.log"
	vmrc=$?
	echo "# run-debian-vm exit $vmrc"
	return "$vmrc"
}

if [ "${1:-}" = --inner ]; then
	inner
	exit $?
fi

# ---- outside: the parts, the payload, the report ------------------------------------
build='' timeout=3600 quick=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	*) echo "usage: $0 --build DIR [--quick] [--timeout S]" >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "$0: --build DIR is required" >&2; exit 2; }
build=$(cd "$build" && pwd)
out=$build/bench
start=$(date +%s)
mkdir -p "$out"
exec 9>"$out/.vm-bench.lock"
flock 9

die() { echo "vm-bench: $*" >&2; exit 1; }

# (BENCH_IMAGE: an entry of build-image.sh --clients to use as it is)
entry=${BENCH_IMAGE:-$("$vm/build-image.sh" --clients | tail -n 1)}
[ -d "${entry:-/nonexistent}" ] || die "the Debian image (--clients) did not build"
echo "# image $entry: $(tail -n 1 "$entry/build.log")"
kflavour=$(cat "$entry/kver")-cloud-amd64
emu=$build/debian-vm/vmbus_emu/vmbus_emu.ko
stock=$build/modules/hv_azure_blob.ko
for f in "$build/rig/vsp" "$emu" "$stock" "$build/azure_blob/azblob" \
	 "$build/azure_blob/libazblob.so.0" "$build/azure_blob/azblobd" \
	 "$build/bench/azblob_bench"; do
	[ -e "$f" ] || die "missing $f (make bench builds it)"
done
for ko in "$emu" "$stock"; do
	v=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
	[ "$v" = "$kflavour" ] || die "$ko is built for $v, the image runs $kflavour"
done

# The plugin (against the installed QEMU's plugin API) and bench_run.
hdr=$("$here/qemu-plugin-h.sh") || die "no qemu-plugin.h"
gcc -shared -fPIC -O2 -Wall -Wextra -Werror -I"$hdr" \
	-o "$out/insn_count.so" "$here/insn_count.c" || die "insn_count.so"
gcc -static -O2 -Wall -Wextra -Werror -o "$out/bench_run" \
	"$here/bench_run.c" || die "bench_run"
"$rig/scripts/local-ca.sh" "$out/ca" "IP:$host_ip" || die "local-ca.sh"

if [ "$quick" = 1 ]; then
	mb=32 reps=1 seed_n=4 seed_mb=16
else
	mb=${BENCH_MB:-256} reps=${BENCH_REPS:-1} seed_n=${BENCH_SEED_N:-8}
	seed_mb=${BENCH_SEED_MB:-16}
fi
paths=${BENCH_PATHS:-dev dev-nomd5 http https https-nomd5 azd py pyd rclone rcloned}

payload=$out/payload
rm -rf "$payload"
mkdir -p "$payload/stock"
install -m 0755 "$here/guest-bench.sh" "$payload/run"
install -m 0755 "$vm/guest-early.sh" "$payload/early"
cp "$emu" "$payload/"
cp "$stock" "$payload/stock/"
if ! "$vm/host-depmod.sh" "$entry" "$kflavour" "$payload/depmod/base" "$emu" ||
   ! "$vm/host-depmod.sh" "$entry" "$kflavour" "$payload/depmod/stock" \
		"$emu" "$stock"; then
	die "depmod for the guest failed"
fi
# (their function symbols kept, for the profile)
for f in azblob libazblob.so.0 azblobd; do
	strip --strip-debug -o "$payload/$f" "$build/azure_blob/$f"
done
install -m 0755 "$out/bench_run" "$build/bench/azblob_bench" \
	"$here/py_blob.py" "$here/elf_syms.py" "$payload/"
cp "$out/ca/ca.pem" "$payload/"
printf 'HTTP_PORT=%s\nHTTPS_PORT=%s\nMB=%s\nREPS=%s\nSEED_N=%s\nSEED_MB=%s\nPATHS="%s"\n' \
	"$http_port" "$https_port" "$mb" "$reps" "$seed_n" "$seed_mb" "$paths" \
	>"$payload/env"

# Azurite's npm install needs the network, the namespace has none.
if [ ! -d "$srctree/build/azurite/node_modules/azurite" ]; then
	w=$(mktemp -d)
	"$rig/e2e/azurite.sh" start "$w" >/dev/null && "$rig/e2e/azurite.sh" stop "$w"
	rm -rf "$w"
fi

rm -f "$out/marks.txt" "$out/prof.txt" "$out/guest.log"
export VMB_ENTRY=$entry VMB_OUT=$out VMB_TIMEOUT=$timeout VMB_BUILD=$build
t0=$(date +%s)
# (the profile's symbols, base64 on "PT " lines, stay in guest.log only)
"$vm/netns.sh" "$here/vm-bench.sh" --inner 9>&- 2>&1 |
	grep --line-buffered -v '^PT ' | tee "$out/run.log"
vmrc=${PIPESTATUS[0]}
vm_s=$(( $(date +%s) - t0 ))

"$rig/scripts/apt-need.sh" gnuplot-nox >/dev/null
python3 "$here/vm-report.py" --guest "$out/guest.log" --marks "$out/marks.txt" \
	--prof "$out/prof.txt" --out "$out" --meta "image=$entry" --meta "kernel=$kflavour" \
	--meta "blob_mib=$mb" --meta "reps=$reps" --meta "seed_n=$seed_n" \
	--meta "seed_mib=$seed_mb" --meta "vm_seconds=$vm_s" ||
	die "the report failed (VM exit $vmrc)"
echo "# vm-bench: VM exit $vmrc, $(( $(date +%s) - start )) s in all; $out/report.md"
exit "$vmrc"
