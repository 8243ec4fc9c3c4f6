#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make azblobd: the Blob REST daemon in the QEMU guest. azblobd listens
# on the guest's loopback and carries each request through
# /dev/azure_blob (the real driver); the VSP's http backend passes it on
# to Azurite on 127.0.0.1 with the Host azblobd set (--http-keep-host),
# so Azurite sees a host-style account endpoint as Azure would. In the
# guest, azblob's http transport and probe are the clients
# (azblobd/guest-run.sh); here the host checks the blobs and errors
# directly against Azurite and the request counts against the VSP.
#
#   azblobd.sh [--build DIR] [--timeout S] --diag-modules DIR
#
# --diag-modules: inet_diag.ko and tcp_diag.ko for the guest kernel.
#
# TAP-ish output; writes build/results/azblobd.counts ("PASSED FAILED
# SKIPPED"), build/results/azblobd.log (the guest console) and
# build/azblobd/vsp.log; exits non-zero on any failure.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
RIG=$(cd "$HERE/.." && pwd)
TOP=$(cd "$RIG/../../.." && pwd)
BUILD=$TOP/build
TIMEOUT=600 MODS=
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--diag-modules) MODS=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [--timeout S] --diag-modules DIR" >&2
	   exit 2 ;;
	esac
done
NAME=azblobd
RESULTS=$BUILD/results
OUT=$BUILD/$NAME
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZBLOB=$BUILD/azure_blob/azblob
WORK=$(mktemp -d /tmp/azblobd-vm.XXXXXX)
# shellcheck source=SCRIPTDIR/host-lib.sh
. "$HERE/host-lib.sh"

for f in "$AZBLOB" "$BUILD/azure_blob/azblobd" "$BUILD/$NAME-bin/probe" \
	 "$BUILD/rig/vsp" "$BUILD/rig/vmbus_emu.ko" \
	 "$BUILD/rig/hv_azure_blob.ko" "$BUILD/vm/vmlinuz" \
	 "$MODS/inet_diag.ko" "$MODS/tcp_diag.ko"; do
	[ -e "$f" ] || bail "missing $f (run make azblobd)"
done

# --- Azurite, and a container SAS for the guest -------------------------------
PORT=$("$RIG/e2e/azurite.sh" start "$WORK") || bail "Azurite did not start"
echo "# azurite on 127.0.0.1:$PORT (pid $(cat "$WORK/azurite.pid"))"
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$PORT/devstoreaccount1"
T=(--transport http --no-progress)

# A service SAS for container azd (version 2021-08-06: permissions, start,
# expiry, resource, identifier, IP, protocol, version, resource type,
# snapshot time, encryption scope, five response headers).
SE=2099-01-01T00:00:00Z
# (a pipe, not $(...), which would drop the empty fields at the end)
sig=$(printf '%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s' \
	racwdl "" "$SE" /blob/devstoreaccount1/azd "" "" "" 2021-08-06 c \
	"" "" "" "" "" "" "" |
	openssl dgst -sha256 -mac HMAC \
	-macopt "hexkey:$(printf '%s' "$KEY" | base64 -d | xxd -p -c 256)" \
	-binary | base64 -w0 | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
SAS="sv=2021-08-06&sr=c&sp=racwdl&se=${SE//:/%3A}&sig=$sig"
"$AZBLOB" "${T[@]}" mb azd 2>"$WORK/err" || bail "host: mb azd: $(cat "$WORK/err")"
if "$AZBLOB" "${T[@]}" --account-url "http://127.0.0.1:$PORT/devstoreaccount1" --sas "$SAS" \
	ls azd >/dev/null 2>"$WORK/err"; then
	ok "host: the container SAS works against Azurite directly"
else
	nok "host: the container SAS: $(head -c 300 "$WORK/err")"
fi

# --- the guest's payload: the daemon, the clients, their libraries -------------
P=$OUT/payload
rm -rf "$P"
mkdir -p "$P/lib"
for b in azblobd azblob; do
	strip -o "$P/$b" "$BUILD/azure_blob/$b"
done
strip -o "$P/probe" "$BUILD/$NAME-bin/probe"
# ldd on the built binaries: azblob finds libazblob.so.0 beside itself
# (RUNPATH $ORIGIN), which the stripped copies do not have.
for b in "$BUILD/azure_blob/azblobd" "$BUILD/azure_blob/azblob" "$P/probe"; do
	ldd "$b" | awk '/=> \// { print $3 } /^[[:space:]]*\/.*ld-linux/ { print $1 }'
done | sort -u | while read -r lib; do
	cp -L "$lib" "$P/lib/"
done
[ -e "$P/lib/ld-linux-x86-64.so.2" ] || bail "no dynamic loader among the libraries"
install -m 0755 "$HERE/guest-run.sh" "$P/run"
install -m 0644 "$RIG/e2e/guest-lib.sh" "$P/guest-lib.sh"
# https: a CA for the suite, azblobd's certificate for the loopback names,
# and a second CA that did not sign it
"$RIG/scripts/local-ca.sh" "$OUT/ca" localhost IP:127.0.0.1 IP:::1 ||
	bail "local-ca.sh failed"
"$RIG/scripts/local-ca.sh" "$OUT/other-ca" other.invalid || bail "local-ca.sh failed"
cp "$OUT/ca/ca.pem" "$OUT/ca/server.pem" "$OUT/ca/server.key" "$P/"
cp "$OUT/other-ca/ca.pem" "$P/other-ca.pem"
mkdir -p "$P/modules"
cp "$MODS/inet_diag.ko" "$MODS/tcp_diag.ko" "$P/modules/"
printf 'KEY=%s\nSAS=%s\nPORT=%s\nHTTPS_PORT=%s\n' "$KEY" "'$SAS'" 10180 10443 >"$P/env"
echo "# payload: $(du -sh "$P" | cut -f1) ($(find "$P/lib" -type f | wc -l) libraries)"
rm -f "$OUT/vsp.log"	# the VSP appends
echo "# booting the guest (1 GiB RAM), VSP backend http -> 127.0.0.1:$PORT, Host from the request"
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

# --- host: what the guest wrote is in Azurite ----------------------------------
n=0
while read -r _ _ blob want size; do
	n=$((n + 1))
	if "$AZBLOB" "${T[@]}" get "azd/$blob" "$WORK/g" 2>"$WORK/err" &&
	   [ "$(sha "$WORK/g")" = "$want" ] && [ "$(stat -c %s "$WORK/g")" = "$size" ]; then
		ok "host: $blob ($size B), written through azblobd, reads back from Azurite directly, sha256 equal"
	else
		nok "host: $blob from Azurite: $(head -c 300 "$WORK/err")"
	fi
	rm -f "$WORK/g"
done < <(grep '^# GSHA ' "$WORK/console")
[ "$n" -ge 5 ] || nok "host: the guest reported $n of 5 blobs"

# --- host: the same errors from Azurite directly -------------------------------
jfields() { sed -n 's/.*\("exit":[0-9]*,"code":"[a-z_]*","http_status":[0-9]*,"error_code":"[A-Za-z]*"\).*/\1/p'; }
while read -r _ _ name json; do
	case "$name" in
	stat404) h=$("$AZBLOB" "${T[@]}" --json stat azd/nope 2>/dev/null) ;;
	get404) h=$("$AZBLOB" "${T[@]}" --json get azd/nope "$WORK/r" 2>/dev/null) ;;
	raw404)
		if [ "$json" = "header x-ms-error-code: BlobNotFound" ]; then
			ok "host: a raw GET of a missing blob has Azurite's x-ms-error-code (BlobNotFound)"
		else
			nok "host: raw 404 through azblobd: '$json'"
		fi
		continue ;;
	*) continue ;;
	esac
	g=$(jfields <<<"$json") h=$(jfields <<<"$h")
	if [ -n "$g" ] && [ "$g" = "$h" ]; then
		ok "host: $name through azblobd = Azurite directly ($g)"
	else
		nok "host: $name differs: azblobd '$g' Azurite '$h'"
	fi
done < <(grep '^# GJSON ' "$WORK/console")

# --- host: the VSP logged each host failure azblobd turned into an answer --------
n=$(grep -c 'host status 75 (Value too large' "$OUT/vsp.log")
if [ "$n" -ge 3 ]; then
	ok "host: the VSP cut $n answers at their data buffer (host status 75), each a split or asked again by azblobd"
else
	nok "host: $n answers cut at the data buffer in the VSP log, want 3 or more"
fi
finish
