#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End-to-end tests of azblob against Azurite over the http transport (TAP).
# Starts Azurite's blob service on 127.0.0.1:10000 (in memory, silent)
# through the rig's azurite.sh, which installs Node.js from apt and
# azurite@3.35.0 into build/azurite when missing, and always stops it.
#
#   e2e.sh BUILD_DIR
#   AZBLOB_E2E_RSS=0   skip the 1 GiB peak-RSS measurement
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
OUT=${1:?usage: e2e.sh BUILD_DIR}
TOP=$(cd "$(dirname "$0")/../../.." && pwd)
AZURITE=$TOP/tools/testing/azure_blob/e2e/azurite.sh
PORT=${AZBLOB_E2E_PORT:-}
AZBLOB=$OUT/azblob
RESULTS=$TOP/build/results
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
WORK=$(mktemp -d /tmp/azblob-e2e.XXXXXX)

cleanup() {
	[ -n "${FP_PID:-}" ] && kill "$FP_PID" 2>/dev/null
	"$AZURITE" stop "$WORK/az"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck source=tap.sh
. "$TOP/tools/azure_blob/tests/tap.sh"


md5b64() { openssl dgst -md5 -binary "$1" | openssl base64 -A; }

# --- Azurite ---------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Azurite's own port when free (the connection string shortcut is tested
# then), else the first free one azurite.sh finds.
if [ -n "$PORT" ] && port_busy "$PORT"; then
	bail "127.0.0.1:$PORT is already in use (set AZBLOB_E2E_PORT)"
fi
PORT=$("$AZURITE" start "$WORK/az" "$PORT") || bail "azurite did not start"
echo "# azurite pid $(cat "$WORK/az/azurite.pid") on 127.0.0.1:$PORT"

if [ "$PORT" = 10000 ]; then
	export AZURE_STORAGE_CONNECTION_STRING="UseDevelopmentStorage=true"
else
	export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$PORT/devstoreaccount1"
fi
T="--transport http --no-progress"
C=e2e-cont

# --- containers ------------------------------------------------------------
check "mb creates a container" 0 "" -- $T mb $C
check "mb on an existing container: 409 -> exit 4" 4 ContainerAlreadyExists -- $T mb $C
check "stat of a container" 0 "etag:" -- $T stat $C
check "mb of an invalid name: 400 -> exit 8" 8 "HTTP 400" -- $T mb ab

# --- round trips -----------------------------------------------------------
roundtrip() {
	local size=$1 name=$2 extra=$3 f=$WORK/in-$2 g=$WORK/out-$2
	head -c "$size" /dev/urandom >"$f"
	# shellcheck disable=SC2086
	if ! "$AZBLOB" $T $extra put "$f" "$C/$name" 2>"$WORK/err"; then
		nok "put $size B ($name $extra): $(cat "$WORK/err")"
		return
	fi
	# shellcheck disable=SC2086
	if ! "$AZBLOB" $T $extra get "$C/$name" "$g" 2>"$WORK/err"; then
		nok "get $size B ($name $extra): $(cat "$WORK/err")"
		return
	fi
	if [ "$(sha "$f")" = "$(sha "$g")" ] && [ "$(stat -c %s "$g")" = "$size" ]; then
		ok "round trip $size B ($name${extra:+ $extra}): sha256 equal"
	else
		nok "round trip $size B ($name $extra): data differs"
	fi
	rm -f "$g"
}
roundtrip 0 zero ""
roundtrip 1 one ""
roundtrip 4095 odd4095 ""
roundtrip 1000003 odd1000003 ""
roundtrip $((4 << 20)) four-mib ""
roundtrip $((64 << 20)) sixty-four-mib ""
roundtrip $((10 * 1048576 + 7)) multi-block "--chunk-size 1M --parallel 8"
roundtrip $((3 * 1048576 + 5)) serial-blocks "--chunk-size 512K --parallel 1"
roundtrip 333333 tiny-chunks "--chunk-size 4K --parallel 16"

# the blob's MD5 is set by single and block uploads and verified on get
check "stat reports the MD5 of a single-shot upload" 0 "$(md5b64 "$WORK/in-odd4095")" -- $T stat $C/odd4095
check "stat reports the MD5 of a block upload" 0 "$(md5b64 "$WORK/in-multi-block")" -- $T stat $C/multi-block
check "stat size of the 64 MiB blob" 0 "size:          67108864" -- $T stat $C/sixty-four-mib

# --no-md5: the same bytes, and a block upload leaves the blob without MD5
roundtrip $((10 * 1048576 + 7)) no-md5-blocks "--no-md5 --chunk-size 1M --parallel 4"
roundtrip 4095 no-md5-single "--no-md5"
if out=$("$AZBLOB" $T --json stat $C/no-md5-blocks 2>"$WORK/err") &&
   printf '%s' "$out" | grep -q '"content_md5":""'; then
	ok "a --no-md5 block upload sets no blob MD5"
else
	nok "a --no-md5 block upload: stat says ${out:-$(cat "$WORK/err")}"
fi

# streaming: stdin to blob, blob to stdout, in blocks
f=$WORK/in-multi-block
if cat "$f" | "$AZBLOB" $T --chunk-size 2M put - $C/piped 2>"$WORK/err" &&
   [ "$("$AZBLOB" $T --chunk-size 3M get $C/piped - 2>>"$WORK/err" | sha256sum | cut -d' ' -f1)" = "$(sha "$f")" ]; then
	ok "stdin upload and stdout download (blocks, in order)"
else
	nok "stdin/stdout streaming: $(cat "$WORK/err")"
fi

# --- ranges ----------------------------------------------------------------
rangecheck() {
	local desc=$1 range=$2 skipb=$3 count=$4 extra=$5
	# shellcheck disable=SC2086
	"$AZBLOB" $T $extra --range "$range" get $C/multi-block "$WORK/r" 2>"$WORK/err"
	local rc=$?
	if [ $rc -ne 0 ]; then
		nok "range $desc: exit $rc $(cat "$WORK/err")"
		return
	fi
	if [ "$count" = end ]; then
		tail -c +$((skipb + 1)) "$f" >"$WORK/want"
	else
		tail -c +$((skipb + 1)) "$f" | head -c "$count" >"$WORK/want"
	fi
	if cmp -s "$WORK/r" "$WORK/want"; then
		ok "range $desc"
	else
		nok "range $desc: bytes differ"
	fi
}
rangecheck "first byte (0-0)" 0-0 0 1 ""
rangecheck "100-1099" 100-1099 100 1000 ""
rangecheck "across chunk boundaries, parallel" 1000000-3500000 1000000 2500001 "--chunk-size 1M --parallel 4"
rangecheck "open-ended tail (A-)" 10485000- 10485000 end ""
rangecheck "past the end is clipped" 10485700-99999999 10485700 end ""
check "range starting beyond the end: exit 8 (416)" 8 "beyond" -- $T --range 99999999-99999999 get $C/multi-block "$WORK/r"

# --- errors ----------------------------------------------------------------
check "get of a missing blob: 404 -> exit 3" 3 BlobNotFound -- $T get $C/nope "$WORK/r"
check "stat of a missing blob: 404 -> exit 3" 3 "HTTP 404" -- $T stat $C/nope
check "rm of a missing blob: 404 -> exit 3" 3 BlobNotFound -- $T rm $C/nope
check "ls of a missing container: 404 -> exit 3" 3 ContainerNotFound -- $T ls no-such-container
check "json error object carries status and code" 3 '"http_status":404,"error_code":"BlobNotFound"' -- $T --json stat $C/nope

etag=$("$AZBLOB" $T stat $C/one | sed -n 's/^etag: *//p')
check "json stat gives the same ETag" 0 "\"etag\":\"${etag//\"/\\\\\"}\"" -- $T --json stat $C/one
check "put --if-none-match '*' on an existing blob: 409 -> exit 4" 4 BlobAlreadyExists -- $T --if-none-match '*' put "$WORK/in-one" $C/one
check "put --if-match with a stale ETag: 412 -> exit 5" 5 ConditionNotMet -- $T --if-match '"0x8DEADBEEF"' put "$WORK/in-one" $C/one
check "get --if-match with a stale ETag: 412 -> exit 5" 5 "HTTP 412" -- $T --if-match '"0x8DEADBEEF"' get $C/one "$WORK/r"
check "get --if-none-match with the current ETag: 304 -> exit 6" 6 "HTTP 304" -- $T --if-none-match "$etag" get $C/one "$WORK/r"
check "stat --if-none-match with the current ETag: 304 -> exit 6" 6 "HTTP 304" -- $T --if-none-match "$etag" stat $C/one
check "get --if-match with the current ETag succeeds" 0 "" -- $T --if-match "$etag" get $C/one "$WORK/r"
check "put --if-none-match '*' on a new blob succeeds" 0 "" -- $T --if-none-match '*' put "$WORK/in-one" $C/fresh
check "rm --if-match with a stale ETag: 412 -> exit 5" 5 "HTTP 412" -- $T --if-match '"0x8DEADBEEF"' rm $C/one
check "rm with the current ETag succeeds" 0 "" -- $T --if-match "$etag" rm $C/one
check "the removed blob is gone" 3 BlobNotFound -- $T stat $C/one
check "block upload with --if-none-match '*' on an existing blob: 409 -> exit 4" 4 BlobAlreadyExists -- $T --chunk-size 1M --if-none-match '*' put "$WORK/in-multi-block" $C/multi-block

# --- list with paging --------------------------------------------------------
for i in $(seq -w 1 25); do
	printf 'blob %s\n' "$i" | "$AZBLOB" $T put - "$C/pg/item-$i" 2>>"$WORK/err" || break
done
printf 'x' | "$AZBLOB" $T put - "$C/pg/sub/deeper" 2>>"$WORK/err"
check "ls --page-size 10 pages through 26 blobs in 3 pages" 0 '"count":26,"pages":3' -- $T --json --page-size 10 ls $C/pg/
if [ "$("$AZBLOB" $T --page-size 7 ls $C/pg/ | grep -c ' pg/')" = 26 ]; then
	ok "ls text output lists every blob once"
else
	nok "ls text output"
fi
check "ls --delimiter shows the virtual directory" 0 "PRE .*pg/sub/" -- $T --delimiter / ls $C/pg/
check "ls of a prefix with no match is empty" 0 '"count":0' -- $T --json ls $C/nothing-here

# --- transport and usage errors ---------------------------------------------
check "unknown command: exit 2" 2 "unknown command" -- $T frobnicate
check "bad --range: exit 2" 2 "range" -- $T --range 9-3 get $C/zero -
check "wrong account key: 403 -> exit 7" 7 "HTTP 403" -- --account-url "http://127.0.0.1:$PORT/devstoreaccount1" --account-key "c2VjcmV0" $T stat $C/zero
check "connection refused: transport error, exit 9" 9 "transport error" -- --connection-string "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;AccountName=devstoreaccount1;AccountKey=$KEY" --retries 1 $T stat $C/zero
check "device transport without a device: exit 9 with errno" 9 "errno 2" -- --transport device --device "$WORK/no-such-device" stat $C/zero
if [ -e /dev/azure_blob ]; then
	roundtrip $((5 << 20)) device-rt "--transport device --chunk-size 1M --parallel 4"
else
	skip "device transport round trip" "no /dev/azure_blob here (runs in the VM rig)"
fi

# --- retries (fault-injecting proxy in front of Azurite) -----------------------
FP_PID=
fp_start() {	# every Nth request gets 503 ServerBusy, Retry-After: 0
	python3 "$(dirname "$0")/faultproxy.py" "$FP_PORT" "$PORT" "$1" \
		>"$WORK/fp.out" 2>"$WORK/fp.err" &
	FP_PID=$!
	for _ in $(seq 1 40); do
		grep -q ready "$WORK/fp.out" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
fp_stop() {
	kill "$FP_PID" 2>/dev/null
	wait "$FP_PID" 2>/dev/null
	FP_PID=
}
FP_PORT=$((PORT + 57))
if command -v python3 >/dev/null && fp_start 1; then
	FP_CS="BlobEndpoint=http://127.0.0.1:$FP_PORT/devstoreaccount1;AccountName=devstoreaccount1;AccountKey=$KEY"
	check "503 on every attempt: retries exhausted -> exit 8, ServerBusy" 8 ServerBusy -- --connection-string "$FP_CS" --retries 2 $T stat $C/zero
	fp_stop
	if grep -q "requests=3$" "$WORK/fp.err"; then
		ok "--retries 2 made exactly 3 attempts"
	else
		nok "--retries 2: proxy saw $(cat "$WORK/fp.err")"
	fi
	fp_start 3
	if "$AZBLOB" --connection-string "$FP_CS" $T --chunk-size 256K --parallel 4 put "$WORK/in-odd1000003" $C/retried 2>"$WORK/err" &&
	   "$AZBLOB" --connection-string "$FP_CS" $T --chunk-size 256K --parallel 4 get $C/retried "$WORK/r" 2>>"$WORK/err" &&
	   cmp -s "$WORK/r" "$WORK/in-odd1000003"; then
		fp_stop
		ok "parallel block put/get through every 3rd request failing: data equal ($(cat "$WORK/fp.err"))"
	else
		fp_stop
		nok "put/get with injected 503s: $(cat "$WORK/err")"
	fi
else
	skip "retries against injected 503s" "python3 missing or proxy did not start"
fi

# --- cleanup operations --------------------------------------------------------
check "rb deletes the container" 0 "" -- $T rb $C
check "rb again: 404 -> exit 3" 3 ContainerNotFound -- $T rb $C

# --- peak RSS of a 1 GiB transfer -------------------------------------------------
if [ "${AZBLOB_E2E_RSS:-1}" = 1 ]; then
	"$AZBLOB" $T mb rss-cont 2>/dev/null
	head -c $((1 << 30)) /dev/urandom >"$WORK/gib"
	mkdir -p "$RESULTS"
	limit=$(((4 * 8 + 48) * 1024))	# KiB: 4 x 8 MiB chunks + 48 MiB
	rss_ok=1
	for dir in put get; do
		if [ $dir = put ]; then
			args="put $WORK/gib rss-cont/gib"
		else
			args="get rss-cont/gib $WORK/gib.out"
		fi
		start=$(date +%s.%N)
		# shellcheck disable=SC2086
		/usr/bin/time -v "$AZBLOB" $T --chunk-size 8M --parallel 4 $args \
			2>"$WORK/time-$dir" || rss_ok=0
		end=$(date +%s.%N)
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time-$dir")
		secs=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
		echo "# 1 GiB $dir over http: peak RSS ${rss} KiB, ${secs} s"
		echo "$dir rss_kib=$rss seconds=$secs chunk=8M parallel=4" >>"$RESULTS/client.rss.new"
		[ "${rss:-999999999}" -le $limit ] || rss_ok=0
	done
	mv -f "$RESULTS/client.rss.new" "$RESULTS/client.rss"
	if [ $rss_ok = 1 ] && cmp -s "$WORK/gib" "$WORK/gib.out"; then
		ok "1 GiB put+get within $limit KiB peak RSS, data equal"
	else
		nok "1 GiB put+get: RSS over $limit KiB or data differs ($(tail -c 300 "$WORK/time-put"))"
	fi
	rm -f "$WORK/gib" "$WORK/gib.out"
else
	skip "1 GiB peak RSS" "AZBLOB_E2E_RSS=0"
fi

echo "1..$N"
