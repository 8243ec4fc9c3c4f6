#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make azblobd-stress: azblobd's reliability in the QEMU guest
# (azblobd/guest-stress.sh): hostile requests beside 64 valid clients,
# kill -9 during uploads, host faults of the VSP during transfers. The
# VSP's http backend carries the requests to Azurite on 127.0.0.1 with
# the Host azblobd set; here the host checks, against Azurite directly,
# that every upload azblob reported done reads back byte-exact and that
# no upload cut by a kill left a partial blob.
#
#   stress.sh [--build DIR] [--timeout S] [--requests N] --diag-modules DIR
#
# --requests: hostile requests (default 100000); --diag-modules:
# inet_diag.ko and tcp_diag.ko for the guest kernel.
#
# TAP output; writes build/results/azblobd-stress.counts ("PASSED FAILED
# SKIPPED"), build/results/azblobd-stress.log (the guest console) and
# build/azblobd-stress/vsp.log; exits non-zero on any failure.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
RIG=$(cd "$HERE/.." && pwd)
TOP=$(cd "$RIG/../../.." && pwd)
BUILD=$TOP/build
TIMEOUT=3600 REQUESTS=100000 MODS=
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--requests) REQUESTS=$2; shift 2 ;;
	--diag-modules) MODS=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [--timeout S] [--requests N] --diag-modules DIR" >&2
	   exit 2 ;;
	esac
done
NAME=azblobd-stress
RESULTS=$BUILD/results
OUT=$BUILD/$NAME
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZBLOB=$BUILD/azure_blob/azblob
WORK=$(mktemp -d /tmp/azblobd-stress.XXXXXX)
# shellcheck source=SCRIPTDIR/host-lib.sh
. "$HERE/host-lib.sh"

for f in "$AZBLOB" "$BUILD/azure_blob/azblobd" "$BUILD/azblobd-bin/probe" \
	 "$BUILD/azblobd-bin/hostile" "$BUILD/rig/vsp" \
	 "$BUILD/rig/vmbus_emu.ko" "$BUILD/rig/hv_azure_blob.ko" \
	 "$BUILD/vm/vmlinuz" "$MODS/inet_diag.ko" "$MODS/tcp_diag.ko"; do
	[ -e "$f" ] || bail "missing $f (run make azblobd-stress)"
done

# --- Azurite, and a container SAS for the guest's split GETs -------------------
PORT=$("$RIG/e2e/azurite.sh" start "$WORK") || bail "Azurite did not start"
echo "# azurite on 127.0.0.1:$PORT (pid $(cat "$WORK/azurite.pid"))"
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$PORT/devstoreaccount1"
T=(--transport http --no-progress)
# A service SAS for container stress (version 2021-08-06; the fields as
# in azblobd.sh)
SE=2099-01-01T00:00:00Z
sig=$(printf '%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s' \
	racwdl "" "$SE" /blob/devstoreaccount1/stress "" "" "" 2021-08-06 c \
	"" "" "" "" "" "" "" |
	openssl dgst -sha256 -mac HMAC \
	-macopt "hexkey:$(printf '%s' "$KEY" | base64 -d | xxd -p -c 256)" \
	-binary | base64 -w0 | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
SAS="sv=2021-08-06&sr=c&sp=racwdl&se=${SE//:/%3A}&sig=$sig"

# --- the guest's payload -------------------------------------------------------
P=$OUT/payload
rm -rf "$P"
mkdir -p "$P/lib" "$P/modules"
for b in azblobd azblob; do
	strip -o "$P/$b" "$BUILD/azure_blob/$b"
done
strip -o "$P/probe" "$BUILD/azblobd-bin/probe"
strip -o "$P/hostile" "$BUILD/azblobd-bin/hostile"
for b in "$BUILD/azure_blob/azblobd" "$BUILD/azure_blob/azblob" "$P/probe" "$P/hostile"; do
	ldd "$b" | awk '/=> \// { print $3 } /^[[:space:]]*\/.*ld-linux/ { print $1 }'
done | sort -u | while read -r lib; do
	cp -L "$lib" "$P/lib/"
done
[ -e "$P/lib/ld-linux-x86-64.so.2" ] || bail "no dynamic loader among the libraries"
install -m 0755 "$HERE/guest-stress.sh" "$P/run"
install -m 0644 "$RIG/e2e/guest-lib.sh" "$P/guest-lib.sh"
cp "$MODS/inet_diag.ko" "$MODS/tcp_diag.ko" "$P/modules/"
printf 'KEY=%s\nSAS=%s\nPORT=%s\nSTRESS_REQUESTS=%s\n' "$KEY" "'$SAS'" 10180 "$REQUESTS" >"$P/env"
rm -f "$OUT/vsp.log"	# the VSP appends
echo "# booting the guest (1 GiB RAM), $REQUESTS hostile requests, VSP backend http -> 127.0.0.1:$PORT"
"$RIG/vm/run-vm.sh" --kernel "$BUILD/vm/vmlinuz" --modules "$BUILD/rig" \
	--payload "$P" --vsp "$BUILD/rig/vsp" --vsp-log "$OUT/vsp.log" \
	--timeout "$TIMEOUT" --mem 1G \
	--vsp-arg=--backend=http --vsp-arg=--http-endpoint="http://127.0.0.1:$PORT" \
	--vsp-arg=--http-keep-host --vsp-arg=--http-max-inflight=32 \
	--vsp-arg=--http-timeout-ms=60000 \
	>"$RESULTS/$NAME.log" 2>&1
VMRC=$?
tr -d '\r' <"$RESULTS/$NAME.log" >"$WORK/console"
while IFS= read -r line; do
	case "$line" in
	"ok "*) ok "${line#ok * - }" ;;
	"not ok "*) nok "${line#not ok * - }" ;;
	"# "*) echo "$line" ;;
	esac
done < <(grep -E '^(ok |not ok |# )' "$WORK/console")
if [ "$VMRC" -eq 0 ]; then
	ok "guest ran to the end (run-vm exit 0)"
else
	nok "guest run failed: run-vm exit $VMRC; console tail:"
	tail -n 20 "$WORK/console" | sed 's/^/#   /'
fi

# --- host: every upload azblob reported done is in Azurite, byte-exact ---------
n=0 good=0
while read -r _ _ blob want size; do
	n=$((n + 1))
	if "$AZBLOB" "${T[@]}" get "stress/$blob" "$WORK/g" 2>"$WORK/err" &&
	   [ "$(sha "$WORK/g")" = "$want" ] && [ "$(stat -c %s "$WORK/g")" = "$size" ]; then
		good=$((good + 1))
	else
		nok "host: $blob, acknowledged during a fault, from Azurite: $(head -c 300 "$WORK/err")"
	fi
	rm -f "$WORK/g"
done < <(grep '^# GSHA ' "$WORK/console")
if [ "$n" -gt 0 ] && [ "$good" = "$n" ]; then
	ok "host: all $n uploads acknowledged during the faults read back from Azurite directly, sha256 equal"
else
	nok "host: $good of $n acknowledged uploads read back"
fi

# --- host: azblobd sent the host no head it refuses as malformed -----------------
n=$(grep -c 'host status 74' "$OUT/vsp.log")
if [ "$n" -eq 0 ]; then
	ok "host: the VSP refused no request head as malformed (host status 74): azblobd answered those itself"
else
	nok "host: $n request heads from azblobd refused as malformed: $(grep 'host status 74' "$OUT/vsp.log" | head -n 3 | tr '\n' ' ')"
fi

# --- host: a kill -9 left each blob old or new, never partial -------------------
n=0
while read -r _ _ blob old new rc; do
	n=$((n + 1))
	rm -f "$WORK/g"
	if ! "$AZBLOB" "${T[@]}" get "stress/$blob" "$WORK/g" 2>"$WORK/err"; then
		nok "host: $blob after the kill: $(head -c 300 "$WORK/err")"
		continue
	fi
	got=$(sha "$WORK/g")
	if [ "$got" = "$old" ]; then
		ok "host: $blob after the kill (client exit $rc): Azurite has the old content whole ($(stat -c %s "$WORK/g") bytes)"
	elif [ "$got" = "$new" ]; then
		ok "host: $blob after the kill (client exit $rc): Azurite has the new content whole ($(stat -c %s "$WORK/g") bytes): the host had it all before the daemon died"
	else
		nok "host: $blob after the kill: $(stat -c %s "$WORK/g") bytes, neither the old nor the new content"
	fi
done < <(grep '^# GKILL ' "$WORK/console")
[ "$n" -eq 2 ] || nok "host: the guest reported $n of 2 killed uploads"
finish
