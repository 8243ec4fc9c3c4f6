#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: a real blob goes up and down through /dev/azure_blob in the
# QEMU guest, then the same through the http transport on the host, with
# sizes, sha256 and throughput; ends with "PASS" or "FAIL".
#
#   demo.sh [--build DIR]        DEMO_SIZE_MIB=N (default 64)
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
RIG=$(cd "$HERE/.." && pwd)
TOP=$(cd "$RIG/../../.." && pwd)
BUILD=$TOP/build
[ "${1:-}" = --build ] && BUILD=$2
SIZE_MIB=${DEMO_SIZE_MIB:-64}
OUT=$BUILD/demo
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZBLOB=$BUILD/azure_blob/azblob
WORK=$(mktemp -d /tmp/azblob-demo.XXXXXX)
FAILS=()

cleanup() {
	"$HERE/azurite.sh" stop "$WORK"
	echo "azurite stopped"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*"; }
fail() { FAILS+=("$*"); say "  !! $*"; }
now_ns() { date +%s%N; }
rate() {	# bytes nanoseconds -> "12.34 s   56.7 MiB/s"
	awk -v b="$1" -v ns="$2" 'BEGIN {
		s = ns / 1e9; if (s <= 0) s = 0.01;
		printf "%7.2f s %8.1f MiB/s", s, b / 1048576 / s }'
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

mkdir -p "$OUT"
say "== hv_azure_blob: a blob through /dev/azure_blob =="
say "real:     the driver hv_azure_blob.ko, unchanged, in Debian's $(readlink "$BUILD/vm/vmlinuz" | sed 's/^vmlinuz-//') kernel (QEMU guest, TCG)"
say "real:     the Azure Blob REST API (Shared Key, Put Block/List, ranges), served by Azurite on 127.0.0.1"
say "emulated: VMBus (vmbus_emu.ko in the guest) and the Azure host (the reference VSP: its http backend"
say "          turns each request into an HTTP exchange with Azurite and writes the answer into guest pages)"

PORT=$("$HERE/azurite.sh" start "$WORK") || { say "FAIL: Azurite did not start"; exit 1; }
ENDPOINT=http://127.0.0.1:$PORT/devstoreaccount1
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=$ENDPOINT"
say "azurite:  $(node -p "require('$TOP/build/azurite/node_modules/azurite/package.json').version") listening on 127.0.0.1:$PORT"
T="--transport http --no-progress"
"$AZBLOB" $T mb demo >/dev/null 2>"$WORK/err" || fail "create container: $(cat "$WORK/err")"

P=$OUT/payload
rm -rf "$P"
mkdir -p "$P"
strip -o "$P/azblob" "$BUILD/azure_blob/azblob-static"
install -m 0755 "$HERE/demo-guest.sh" "$P/run"
printf 'PORT=%s\nSIZE_MIB=%s\n' "$PORT" "$SIZE_MIB" >"$P/env"

say ""
say "-- guest: azblob --transport device (ioctl + io_uring on /dev/azure_blob)"
say "   booting QEMU (1 GiB, 1 vCPU), VSP backend http -> $ENDPOINT ..."
rm -f "$OUT/vsp.log"	# the VSP appends
t0=$(now_ns)
"$RIG/vm/run-vm.sh" --kernel "$BUILD/vm/vmlinuz" --modules "$BUILD/rig" \
	--payload "$P" --vsp "$BUILD/rig/vsp" --vsp-log "$OUT/vsp.log" \
	--timeout 300 --mem 1G --vsp-arg=--backend=http \
	--vsp-arg=--http-endpoint="$ENDPOINT" >"$OUT/console.log" 2>&1
VMRC=$?
t1=$(now_ns)
tr -d '\r' <"$OUT/console.log" | sed -n 's/^DEMO //p' >"$WORK/demo"
g() { sed -n "s/^$1 //p" "$WORK/demo" | head -n 1; }
say "   guest ran $(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", ns / 1e9 }') s (boot included), exit $VMRC; console: $OUT/console.log"
say "   kernel $(g kernel); module (name refcount state) $(g driver); node $(g node)"
SIZE=$(g size) GSHA=$(g sha_local)
if [ -z "$SIZE" ] || ! grep -q '^done$' "$WORK/demo"; then
	fail "the guest did not finish: $(tail -n 5 "$OUT/console.log" | tr '\n' ' ')"
	SIZE=0
else
	say "   blob     $(mib "$SIZE") ($SIZE bytes), sha256 $GSHA"
	say "   put      $(mib "$SIZE")  $(rate "$SIZE" $(( $(g put_cs) * 10000000 )))   guest -> driver -> VSP -> Azurite"
	say "   get      $(mib "$SIZE")  $(rate "$SIZE" $(( $(g get_cs) * 10000000 )))   Azurite -> VSP -> guest pages"
	say "   get sha256 $(g sha_back)"
	[ "$(g sha_back)" = "$GSHA" ] && say "   sha256 equal after the round trip" ||
		fail "device round trip: sha256 differs"
	say "   driver: $(g requests) requests, $(mib "$(g bytes)") moved, $(g failed) failed; pins acquired/released $(g pins)"
	read -r pa pr <<<"$(g pins)"
	[ "$pa" = "$pr" ] || fail "pin counters differ: $pa / $pr"
	[ "$(g failed)" = 0 ] || fail "the driver counted failed requests"
fi
say "   VSP: $(grep -o 'http: requests.*' "$OUT/vsp.log" | tail -n 1)"
[ "$VMRC" -eq 0 ] || fail "guest exit $VMRC"

say ""
say "-- host: azblob --transport http (libcurl -> Azurite)"
if [ "$SIZE" -gt 0 ]; then
	t0=$(now_ns)
	"$AZBLOB" $T get demo/blob.bin "$WORK/fromguest" 2>"$WORK/err" ||
		fail "http get of the guest's blob: $(cat "$WORK/err")"
	t1=$(now_ns)
	HSHA=$(sha256sum "$WORK/fromguest" 2>/dev/null | cut -d' ' -f1)
	say "   get of the blob the guest uploaded: $(rate "$SIZE" $((t1 - t0))), sha256 $( [ "$HSHA" = "$GSHA" ] && echo equal || echo DIFFERS)"
	[ "$HSHA" = "$GSHA" ] || fail "the guest's blob over http: sha256 differs"
	rm -f "$WORK/fromguest"
fi
head -c $((SIZE_MIB << 20)) /dev/urandom >"$WORK/hblob"
HS=$(stat -c %s "$WORK/hblob") HSHA=$(sha256sum "$WORK/hblob" | cut -d' ' -f1)
say "   blob     $(mib "$HS") ($HS bytes), sha256 $HSHA"
t0=$(now_ns)
"$AZBLOB" $T put "$WORK/hblob" demo/host.bin 2>"$WORK/err" || fail "http put: $(cat "$WORK/err")"
t1=$(now_ns)
"$AZBLOB" $T get demo/host.bin "$WORK/hback" 2>"$WORK/err" || fail "http get: $(cat "$WORK/err")"
t2=$(now_ns)
say "   put      $(mib "$HS")  $(rate "$HS" $((t1 - t0)))"
say "   get      $(mib "$HS")  $(rate "$HS" $((t2 - t1)))"
[ "$(sha256sum "$WORK/hback" | cut -d' ' -f1)" = "$HSHA" ] &&
	say "   sha256 equal after the round trip" || fail "http round trip: sha256 differs"

say ""
say "(device figures are timed by the guest's clock under TCG emulation, host figures by the host)"
if [ ${#FAILS[@]} -eq 0 ]; then
	say "PASS: $(mib "$SIZE") up and down through /dev/azure_blob and over http, sha256 equal"
	exit 0
fi
say "FAIL: ${FAILS[*]}"
exit 1
