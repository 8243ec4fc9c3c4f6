#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make e2e: the whole path. azblob in the QEMU guest moves blobs through
# /dev/azure_blob (the real driver), the reference VSP's http backend
# carries each request to Azurite on 127.0.0.1, and the host checks the
# same blobs, ranges and errors over the http transport.
#
#   e2e.sh [--build DIR] [--timeout S] [--kernel IMAGE --modules DIR]
#          [--name NAME]
#
# TAP-ish output; writes build/results/NAME.counts ("PASSED FAILED
# SKIPPED"), build/results/NAME.log (the guest console) and
# build/NAME/vsp.log (NAME: e2e); exits non-zero on any failure.
# --kernel and --modules boot another guest kernel with modules built for
# it (the debug kernel: make vm-test-debug).
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
RIG=$(cd "$HERE/.." && pwd)
TOP=$(cd "$RIG/../../.." && pwd)
BUILD=$TOP/build
TIMEOUT=300
KERNEL="" MODULES="" NAME=e2e
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--kernel) KERNEL=$2; shift 2 ;;
	--modules) MODULES=$2; shift 2 ;;
	--name) NAME=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [--timeout S] [--kernel IMAGE --modules DIR] [--name NAME]" >&2
	   exit 2 ;;
	esac
done
KERNEL=${KERNEL:-$BUILD/vm/vmlinuz}
MODULES=${MODULES:-$BUILD/rig}
RESULTS=$BUILD/results
OUT=$BUILD/$NAME
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZBLOB=$BUILD/azure_blob/azblob
WORK=$(mktemp -d /tmp/azblob-e2e-vm.XXXXXX)
N=0 PASS=0 FAIL=0 SKIP=0
START=$(date +%s)

mkdir -p "$RESULTS" "$OUT"
rm -f "$RESULTS/$NAME.counts"

cleanup() {
	[ -n "${HANG_PID:-}" ] && kill "$HANG_PID" 2>/dev/null
	"$HERE/azurite.sh" stop "$WORK"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N - $*"; }
nok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N - $*"; }
finish() {
	echo "1..$N"
	echo "$PASS $FAIL $SKIP" >"$RESULTS/$NAME.counts"
	echo "# $NAME: passed $PASS failed $FAIL skipped $SKIP ($(( $(date +%s) - START )) s)"
	[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
	exit $?
}
bail() { nok "$*"; finish; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# check DESC WANT_EXIT PATTERN -- azblob args... (http transport)
check() {
	local desc=$1 want=$2 pat=$3 rc
	shift 4
	"$AZBLOB" $T "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		nok "host: $desc (exit $rc, want $want): $(head -c 300 "$WORK/err")"
		return 1
	fi
	if [ -n "$pat" ] && ! grep -q -- "$pat" "$WORK/err" "$WORK/out"; then
		nok "host: $desc (no '$pat'): $(head -c 300 "$WORK/err")"
		return 1
	fi
	ok "host: $desc"
}

for f in "$AZBLOB" "$BUILD/azure_blob/azblob-static" \
	 "$BUILD/azure_blob/json_check" "$BUILD/e2e/rawreq" \
	 "$BUILD/rig/vsp" "$MODULES/vmbus_emu.ko" \
	 "$MODULES/hv_azure_blob.ko" "$KERNEL"; do
	[ -e "$f" ] || bail "missing $f (run make e2e, or make vm-test-debug)"
done

# --- Azurite ----------------------------------------------------------------
PORT=$("$HERE/azurite.sh" start "$WORK") || bail "Azurite did not start"
DEAD_PORT=$((PORT + 1))
while (exec 3<>"/dev/tcp/127.0.0.1/$DEAD_PORT") 2>/dev/null; do
	DEAD_PORT=$((DEAD_PORT + 1))
done
# a listener that accepts and never answers: transfers stay in flight
python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
' >"$WORK/hang.port" 2>/dev/null &
HANG_PID=$!
for _ in $(seq 1 50); do [ -s "$WORK/hang.port" ] && break; sleep 0.1; done
HANG_PORT=$(cat "$WORK/hang.port")
[ -n "$HANG_PORT" ] || bail "the never-answering listener did not start"
ENDPOINT=http://127.0.0.1:$PORT/devstoreaccount1
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=$ENDPOINT"
echo "# azurite on 127.0.0.1:$PORT (pid $(cat "$WORK/azurite.pid")); closed port $DEAD_PORT"
T="--transport http --no-progress"
C=e2e

# --- host, before the guest: blobs uploaded over http -----------------------
check "mb creates the container over http" 0 "" -- mb $C
: >"$WORK/expect"
for spec in "h-zero 0 " "h-odd 1000003 " "h-multi $((6 * 1048576 + 3)) --chunk-size 1M --parallel 4"; do
	read -r name size extra <<<"$spec"
	head -c "$size" /dev/urandom >"$WORK/$name"
	# shellcheck disable=SC2086
	if "$AZBLOB" $T $extra put "$WORK/$name" "$C/$name" 2>"$WORK/err"; then
		ok "host: put $name ($size B) over http"
		echo "$name $(sha "$WORK/$name") $size" >>"$WORK/expect"
	else
		nok "host: put $name over http: $(cat "$WORK/err")"
	fi
done

# --- the guest ----------------------------------------------------------------
P=$OUT/payload
rm -rf "$P"
mkdir -p "$P"
strip -o "$P/azblob" "$BUILD/azure_blob/azblob-static"
strip -o "$P/rawreq" "$BUILD/e2e/rawreq"
strip -o "$P/json_check" "$BUILD/azure_blob/json_check"
install -m 0755 "$HERE/guest-run.sh" "$P/run"
install -m 0644 "$HERE/guest-lib.sh" "$P/guest-lib.sh"
install -m 0644 "$RIG/debug/kmemleak.sh" "$P/kmemleak.sh"
printf 'PORT=%s\nDEAD_PORT=%s\nHANG_PORT=%s\n' "$PORT" "$DEAD_PORT" \
	"$HANG_PORT" >"$P/env"
cp "$WORK/expect" "$P/expect"
rm -f "$OUT/vsp.log"	# the VSP appends
echo "# booting the guest (1 GiB RAM), VSP backend http -> $ENDPOINT"
"$RIG/vm/run-vm.sh" --kernel "$KERNEL" --modules "$MODULES" \
	--payload "$P" --vsp "$BUILD/rig/vsp" --vsp-log "$OUT/vsp.log" \
	--timeout "$TIMEOUT" --mem 1G \
	--vsp-arg=--backend=http --vsp-arg=--http-endpoint="$ENDPOINT" \
	--vsp-arg=--http-max-inflight=32 --vsp-arg=--http-timeout-ms=60000 \
	>"$RESULTS/$NAME.log" 2>&1
VMRC=$?
tr -d '\r' <"$RESULTS/$NAME.log" >"$WORK/console"
# the guest's TAP lines, renumbered into ours
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
grep -c '^ok ' "$WORK/console" >/dev/null || nok "no guest test ran"

# --- host, after the guest: the same through http ------------------------------
n=0
while read -r _ _ blob want size; do
	n=$((n + 1))
	if "$AZBLOB" $T --chunk-size 4M --parallel 4 get "$C/$blob" "$WORK/g" 2>"$WORK/err" &&
	   [ "$(sha "$WORK/g")" = "$want" ] && [ "$(stat -c %s "$WORK/g")" = "$size" ]; then
		ok "host: device-uploaded $blob ($size B) reads back over http, sha256 equal"
	else
		nok "host: device-uploaded $blob over http: $(head -c 300 "$WORK/err")"
	fi
	[ "$blob" = g-multi-block ] && cp "$WORK/g" "$WORK/multi"
	rm -f "$WORK/g"
done < <(grep '^# GSHA ' "$WORK/console")
[ "$n" -ge 8 ] || nok "host: the guest reported $n of 8 blobs"

while read -r _ _ name gsha; do
	case "$name" in
	first-byte) r=0-0 ;; 100-1099) r=100-1099 ;;
	across-chunks) r=1000000-3500000 ;; open-tail) r=10485000- ;;
	clipped) r=10485700-99999999 ;; *) continue ;;
	esac
	"$AZBLOB" $T --range "$r" get $C/g-multi-block "$WORK/r" 2>"$WORK/err"
	if [ "$(sha "$WORK/r")" = "$gsha" ]; then
		ok "host: range $name over http = the device's bytes"
	else
		nok "host: range $name over http differs from the device's"
	fi
done < <(grep '^# GRANGE ' "$WORK/console")

check "range starting beyond the end: exit 8" 8 "beyond" -- --range 99999999-99999999 get $C/g-multi-block "$WORK/r"
check "get of a missing blob: 404 -> exit 3" 3 BlobNotFound -- get $C/nope "$WORK/r"
check "stat of a missing blob: 404 -> exit 3" 3 "HTTP 404" -- stat $C/nope
check "rm of a missing blob: 404 -> exit 3" 3 BlobNotFound -- rm $C/nope
check "ls of a missing container: 404 -> exit 3" 3 ContainerNotFound -- ls no-such-container
check "mb of an existing container: 409 -> exit 4" 4 ContainerAlreadyExists -- mb $C
etag=$("$AZBLOB" $T stat $C/g-one | sed -n 's/^etag: *//p')
head -c 1 /dev/zero >"$WORK/one"
check "put --if-none-match '*' on an existing blob: 409 -> exit 4" 4 BlobAlreadyExists -- --if-none-match '*' put "$WORK/one" $C/g-one
check "put --if-match with a stale ETag: 412 -> exit 5" 5 ConditionNotMet -- --if-match '"0x8DEADBEEF"' put "$WORK/one" $C/g-one
check "get --if-match with a stale ETag: 412 -> exit 5" 5 "HTTP 412" -- --if-match '"0x8DEADBEEF"' get $C/g-one "$WORK/r"
check "get --if-none-match with the current ETag: 304 -> exit 6" 6 "HTTP 304" -- --if-none-match "$etag" get $C/g-one "$WORK/r"
check "stat --if-none-match with the current ETag: 304 -> exit 6" 6 "HTTP 304" -- --if-none-match "$etag" stat $C/g-one

# the same error objects through both transports
jfields() { sed -n 's/.*\("exit":[0-9]*,"code":"[a-z_]*","http_status":[0-9]*,"error_code":"[A-Za-z]*"\).*/\1/p'; }
while read -r _ _ name json; do
	case "$name" in
	stat404) h=$("$AZBLOB" $T --json stat $C/nope 2>/dev/null) ;;
	mb409) h=$("$AZBLOB" $T --json mb $C 2>/dev/null) ;;
	get412) h=$("$AZBLOB" $T --json --if-match '"0x8DEADBEEF"' stat $C/g-one 2>/dev/null) ;;
	*) continue ;;
	esac
	g=$(jfields <<<"$json") h=$(jfields <<<"$h")
	if [ -n "$g" ] && [ "$g" = "$h" ]; then
		ok "host: $name error is the same through both transports ($g)"
	else
		nok "host: $name error differs: device '$g' http '$h'"
	fi
done < <(grep '^# GJSON ' "$WORK/console")

# the guest's azblob doctor --json, parsed by python3 here as well
doc=$(grep '^# GDOCTOR ' "$WORK/console" | head -n 1)
if got=$(python3 -c '
import json, sys
d = json.loads(sys.argv[1][len("# GDOCTOR "):])
assert d["usable"] and d["exit"] == 0 and d["io_uring"]["works"], d
print(d["status"], d["driver"]["kernel"], "srcversion", d["driver"]["srcversion"] or "none",
      d["device"], "%d:%d" % (d["node"]["major"], d["node"]["minor"]))
' "$doc" 2>&1); then
	ok "host: the guest's doctor --json parses (python3): $got"
else
	nok "host: the guest's doctor --json: $(tail -n 1 <<<"$got") in '$(head -c 300 <<<"$doc")'"
fi

# the VSP: every request answered, the non-zero host statuses logged
if grep -q "http: requests [0-9]*, host failures" "$OUT/vsp.log"; then
	ok "host: VSP http backend summary: $(grep -o 'http: requests.*' "$OUT/vsp.log" | tail -n 1)"
else
	nok "host: no http backend summary in $OUT/vsp.log"
fi
n=$(grep -c "cancelled (channel closed)" "$OUT/vsp.log")
if [ "$n" -eq 4 ]; then
	ok "host: the VSP cancelled the 4 transfers in flight at the rescind"
else
	nok "host: $n cancelled transfers in the VSP log, want 4"
fi
for st in 74 75 90 111; do
	if grep -q "host status $st" "$OUT/vsp.log"; then
		ok "host: the VSP logged host status $st"
	else
		nok "host: no host status $st in the VSP log"
	fi
done
finish
