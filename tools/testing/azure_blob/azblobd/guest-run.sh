#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make azblobd` (busybox sh, the payload's `run`):
# azblobd on 127.0.0.1/::1 carries Blob REST requests through
# /dev/azure_blob and the VSP's http backend to Azurite on the host;
# azblob's http transport (libcurl) and probe (raw and signed requests)
# are its clients, as users who may and may not use the device.
# Prints TAP lines and, for the host half, "# GSHA <blob> <sha256>
# <size>", "# GJSON <name> <json>" and "# GCOUNT <name> <n>". ./env gives
# KEY, SAS (for container azd), PORT and HTTPS_PORT (azblobd's); ca.pem,
# server.pem and server.key are the suite's CA and azblobd's certificate,
# other-ca.pem a CA that did not sign it.
#
# Copyright (c) 2026 The hv_azure_blob authors

# busybox sh has no arrays: the client commands ($AZ, $AS_USER) are word
# lists split on purpose. ok and nok always succeed, so "A && ok || nok"
# is an if-then-else here.
# shellcheck disable=SC2086,SC2015

# shellcheck source=SCRIPTDIR/../e2e/guest-lib.sh
. /opt/azure_blob/guest-lib.sh
C=azd
DEV=/sys/class/misc/azure_blob
EP=http://127.0.0.1:$PORT

now_ms() { sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1\20/' /proc/uptime; }
submitted() { cat $DEV/submitted; }

# --- the guest as a small system: loopback, users, the shared libraries -----
ip link set lo up
mkdir -p /etc /lib64 /var/empty
cat >/etc/passwd <<EOF
root:x:0:0:root:/root:/bin/sh
azblobd:x:990:990:azblobd:/var/empty:/bin/false
blobuser:x:1001:1001:blobuser:/tmp:/bin/sh
other:x:1002:1002:other:/tmp:/bin/sh
EOF
cat >/etc/group <<EOF
root:x:0:
azblob:x:990:azblobd,blobuser
blobuser:x:1001:
other:x:1002:
EOF
ln -sf /opt/azure_blob/lib/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
export LD_LIBRARY_PATH=/opt/azure_blob/lib
chgrp 990 /dev/azure_blob
chmod 0660 /dev/azure_blob
# azblobd's key: readable by azblobd only
chown 990:990 server.key
chmod 0400 server.key
# files the clients write themselves, one directory per user
W=/tmp/w1 W2=/tmp/w2 O=/tmp/w1/out
mkdir -p $W $W2
chown 1001:1001 $W
chown 1002:1002 $W2
echo "# guest: $(uname -r), $(grep MemTotal /proc/meminfo | tr -s ' '), /dev/azure_blob $(stat -c %A /dev/azure_blob) root:azblob"
if insmod modules/inet_diag.ko && insmod modules/tcp_diag.ko; then
	ok "inet_diag and tcp_diag loaded (sock_diag for TCP)"
else
	nok "cannot load inet_diag/tcp_diag"
fi

AS_USER="./probe as 1001 1001 1001,990 --"
AS_OTHER="./probe as 1002 1002 1002 --"
export AZURE_STORAGE_CONNECTION_STRING="BlobEndpoint=$EP;AccountName=devstoreaccount1;AccountKey=$KEY"
AZ="$AS_USER ./azblob --transport http --no-progress"
AZSAS="$AS_USER ./azblob --transport http --no-progress --account-url $EP --sas $SAS"

check() { run_check "$@"; }

# --- start azblobd as its own user in group azblob --------------------------
cat >/etc/azblobd.conf <<EOF
# the suite's configuration
port = $PORT
https_port = $HTTPS_PORT
tls_cert = /opt/azure_blob/server.pem
tls_key = /opt/azure_blob/server.key
host = devstoreaccount1.blob.core.windows.net
memory_cap = 160M
part_size = 8M
parts_in_flight = 4
threads = 4
log_level = info
EOF
badconf() {
	desc=$1 pat=$2
	shift 2
	printf '%s\n' "$@" >$T/bad.conf
	./azblobd --config $T/bad.conf --check >$T/out 2>$T/err
	rc=$?
	if [ $rc -eq 2 ] && grep -q -- "$pat" $T/err; then
		ok "configuration: $desc: exit 2, '$pat'"
	else
		nok "configuration: $desc: exit $rc: $(cat $T/err)"
	fi
}
badconf "an unknown key" "bad.conf:2: unknown key 'prot'" "host = a.blob.core.windows.net" "prot = 1"
badconf "no host" "no 'host'" "port = 10180"
badconf "a bad port" "bad value '70000' for port" "host = a.blob.core.windows.net" "port = 70000"
badconf "a cap below one request" "below one full request" "host = a.blob.core.windows.net" "memory_cap = 1M"
badconf "https_port without a certificate" "https_port needs tls_cert and tls_key" "host = a.blob.core.windows.net" "https_port = 10443"
badconf "https on the http port" "https_port must differ from port" "host = a.blob.core.windows.net" "port = 10443" "https_port = 10443" "tls_cert = /a" "tls_key = /b"
./azblobd --config /etc/azblobd.conf --check >$T/out 2>&1 &&
	grep -q '^max_body = 33529856$' $T/out && grep -q '^account = devstoreaccount1$' $T/out &&
	ok "azblobd --check: account devstoreaccount1, at most 33529856 bytes of body per device request" ||
	nok "--check: $(cat $T/out)"

SUB0=$(submitted)
./probe notify-wait $T/notify 30 >$T/notify.out &
NOTIFYJ=$!
sleep 0.2
NOTIFY_SOCKET=$T/notify ./probe as 990 990 990 -- ./azblobd --config /etc/azblobd.conf 2>$T/azblobd.log &
AZBLOBD=$!
if ./probe wait-port "$PORT" 20; then
	ok "azblobd listens on 127.0.0.1:$PORT (pid $AZBLOBD, uid 990, group azblob)"
else
	nok "azblobd did not start: $(cat $T/azblobd.log)"
	exit 1
fi
wait $NOTIFYJ
grep -q '^READY=1$' $T/notify.out && ok "azblobd tells \$NOTIFY_SOCKET READY=1 (Type=notify)" ||
	nok "notify: $(cat $T/notify.out)"
grep -q "serving http://127.0.0.1:$PORT and http://\[::1\]:$PORT" $T/azblobd.log &&
	ok "azblobd serves both loopback addresses" ||
	nok "azblobd's start line: $(head -n 3 $T/azblobd.log)"
grep -q "serving https://127.0.0.1:$HTTPS_PORT and https://\[::1\]:$HTTPS_PORT" $T/azblobd.log &&
	ok "azblobd serves https on both loopback addresses (port $HTTPS_PORT)" ||
	nok "azblobd's https start line: $(head -n 3 $T/azblobd.log)"

# --- round trips with azblob's http transport (Shared Key) ---------------------
check "mb of a new container through azblobd" 0 "" -- $AZ mb $C-new
roundtrip() {
	size=$1 name=$2 f=$T/in-$2
	head -c "$size" /dev/urandom >"$f"
	want=$(sha "$f")
	t0=$(now_ms)
	if ! $AZ put "$f" "$C/$name" 2>$T/err; then
		nok "put $size B ($name): $(head -c 300 $T/err)"
		return
	fi
	t1=$(now_ms)
	rm -f $O
	if ! $AZ get "$C/$name" $O 2>$T/err; then
		nok "get $size B ($name): $(head -c 300 $T/err)"
		return
	fi
	t2=$(now_ms)
	if [ "$(sha $O)" = "$want" ] && [ "$(stat -c %s $O)" = "$size" ]; then
		ok "round trip $size B ($name) through azblobd: sha256 equal"
	else
		nok "round trip $size B ($name): sha256 $(sha $O), want $want"
	fi
	echo "# GSHA $name $want $size"
	echo "# time $name: put $((t1 - t0)) ms, get $((t2 - t1)) ms"
	rm -f $O
}
roundtrip 0 zero
roundtrip 1 one
roundtrip $((4 * 1048576 - 1)) four-mib-less-one
roundtrip $((32 * 1048576 + 1)) thirty-two-mib-plus-one
roundtrip $((64 * 1048576)) sixty-four-mib
rm -f $T/in-sixty-four-mib

# over ::1 as well
if $AS_USER ./azblob --transport http --no-progress --connection-string \
	"BlobEndpoint=http://[::1]:$PORT;AccountName=devstoreaccount1;AccountKey=$KEY" \
	get $C/one $O 2>$T/err && cmp -s $O $T/in-one; then
	ok "get over [::1]:$PORT"
else
	nok "get over ::1: $(head -c 300 $T/err)"
fi

# --- large reads: split by azblobd (SAS), refused with Shared Key --------------
split_get() {
	name=$1 f=$2
	before=$(submitted)
	t0=$(now_ms)
	rm -f $O
	if ! $AZSAS --chunk-size 64M --parallel 1 get "$C/$name" $O 2>$T/err; then
		nok "split GET of $name (SAS, one 64 MiB range): $(head -c 300 $T/err)"
		return
	fi
	t1=$(now_ms)
	n=$(($(submitted) - before))
	if cmp -s $O "$f"; then
		ok "split GET of $name ($(stat -c %s "$f") B, one HTTP request for the whole blob): byte-exact, $n device requests, $((t1 - t0)) ms"
	else
		nok "split GET of $name: bytes differ"
	fi
	echo "# GCOUNT split-$name $n"
	rm -f $O
}
split_get thirty-two-mib-plus-one $T/in-thirty-two-mib-plus-one
head -c $((64 * 1048576)) /dev/urandom >$T/in-big
$AZ put $T/in-big $C/big 2>$T/err || nok "put big: $(cat $T/err)"
split_get big $T/in-big
grep -q "GET /$C/big?.*-> 206, 8 device requests" $T/azblobd.log &&
	ok "the 64 MiB read took 8 device requests: 8 MiB first, then 7 parts of 8 MiB with If-Match" ||
	nok "azblobd's line for the split read: $(grep "GET /$C/big?" $T/azblobd.log | tail -n 1)"
# a blob that changes during a split read: the parts asked for after the
# change fail If-Match, and the client sees the connection close early
head -c $((48 * 1048576)) /dev/urandom >$T/in-changing
$AZ put $T/in-changing $C/changing 2>$T/err || nok "put changing: $(cat $T/err)"
rm -f $T/in-changing
printf 'GET /%s/changing?%s HTTP/1.1\r\nHost: x\r\n\r\n' $C "$SAS" |
	./probe raw --read 1000000 --pause-ms 4000 --hold-ms 10000 >$T/raw-changing &
PJ=$!
sleep 2
$AZ put $T/in-one $C/changing 2>$T/err || nok "overwrite changing: $(cat $T/err)"
wait $PJ
got=$(sed -n 's/^received //p' $T/raw-changing)
at=$(sed -n "s|.*GET /$C/changing?.*closing the connection after .* of 50331648 bytes: part at byte \([0-9]*\): HTTP 412 ConditionNotMet|\1|p" $T/azblobd.log)
if [ -n "$got" ] && [ -n "$at" ] && [ "$got" -gt "$at" ] && [ "$got" -lt $((48 * 1048576)) ]; then
	ok "the blob changed during a split read: the part at byte $at failed If-Match (412); the bytes before it were written ($got received with the head), then the connection closed"
else
	nok "changed blob: received '$got'; $(grep "changing" $T/azblobd.log | tail -n 2)"
fi
check "Shared Key read of 64 MiB in one request: 400 ResponseTooLargeForDevice, names max_single_get_size" 8 "max_single_get_size" -- $AZ --chunk-size 64M --parallel 1 --retries 0 get $C/big $O
grep -q "ResponseTooLargeForDevice" $T/err && ok "the refusal carries x-ms-error-code ResponseTooLargeForDevice" || nok "refusal: $(head -c 300 $T/err)"
head -c $((20 * 1048576)) /dev/urandom >$T/in-twenty
$AZ put $T/in-twenty $C/twenty 2>$T/err || nok "put twenty: $(cat $T/err)"
before=$(submitted)
rm -f $O
if $AZ --chunk-size 32M --parallel 1 get $C/twenty $O 2>$T/err && cmp -s $O $T/in-twenty; then
	ok "Shared Key read of 20 MiB in one request: asked again with a buffer of its size, byte-exact ($(( $(submitted) - before )) device requests for HEAD + GET)"
else
	nok "Shared Key 20 MiB read: $(head -c 300 $T/err)"
fi
rm -f $O $T/in-twenty

# --- https with the suite's CA ---------------------------------------------------
# the transfers retry as clients do (a loaded TCG guest may miss the 10 s
# connect timeout once); the refusals below must fail at once
AZTLS="$AS_USER ./azblob --transport http --no-progress --retries 0"
AZTLS_R="$AS_USER ./azblob --transport http --no-progress -v"
CS_TLS="BlobEndpoint=https://127.0.0.1:$HTTPS_PORT;AccountName=devstoreaccount1;AccountKey=$KEY"
head -c $((5 * 1048576 + 7)) /dev/urandom >$T/in-tls
rm -f $O
t0=$(now_ms)
if $AZTLS_R --connection-string "$CS_TLS" --ca-file ./ca.pem put $T/in-tls $C/tls 2>$T/err &&
   $AZTLS_R --connection-string "$CS_TLS" --ca-file ./ca.pem get $C/tls $O 2>>$T/err &&
   cmp -s $O $T/in-tls; then
	ok "https://127.0.0.1:$HTTPS_PORT, trusting the suite's CA: 5 MiB round trip (Shared Key), byte-exact ($(($(now_ms) - t0)) ms, $(grep -c retry $T/err) retries)"
else
	nok "https round trip: $(head -c 300 $T/err)"
fi
echo "# GSHA tls $(sha $T/in-tls) $(stat -c %s $T/in-tls)"
rm -f $O
if $AZTLS_R --connection-string "BlobEndpoint=https://[::1]:$HTTPS_PORT;AccountName=devstoreaccount1;AccountKey=$KEY" \
	--ca-file ./ca.pem get $C/tls $O 2>$T/err && cmp -s $O $T/in-tls; then
	ok "https://[::1]:$HTTPS_PORT: the same blob, byte-exact"
else
	nok "https over ::1: $(head -c 300 $T/err)"
fi
rm -f $O
if $AZTLS_R --account-url "https://127.0.0.1:$HTTPS_PORT" --sas "$SAS" --ca-file ./ca.pem \
	--chunk-size 64M --parallel 1 get $C/big $O 2>$T/err && cmp -s $O $T/in-big; then
	ok "https: the 64 MiB SAS read, split by azblobd, byte-exact"
else
	nok "https split read: $(head -c 300 $T/err)"
fi
rm -f $O
check "https without the CA (no system store here): verification fails, exit 9" 9 "certificate" -- \
	$AZTLS --connection-string "$CS_TLS" stat $C/tls
check "https trusting another CA: verification fails, exit 9" 9 "certificate" -- \
	$AZTLS --connection-string "$CS_TLS" --ca-file ./other-ca.pem stat $C/tls
check "plain http to the https port: no answer azblob can read, exit 9" 9 "" -- \
	$AZTLS --connection-string "BlobEndpoint=http://127.0.0.1:$HTTPS_PORT;AccountName=devstoreaccount1;AccountKey=$KEY" stat $C/tls
rm -f $T/in-tls

# --- errors, as the blob service gives them ------------------------------------
$AZ --json stat $C/nope >$T/j 2>/dev/null
echo "# GJSON stat404 $(cat $T/j)"
grep -q '"error_code":"BlobNotFound"' $T/j && ok "stat of a missing blob: 404 BlobNotFound" || nok "stat 404: $(cat $T/j)"
rm -f $O
$AZ --json get $C/nope $O >$T/j 2>/dev/null
echo "# GJSON get404 $(cat $T/j)"
grep -q '"http_status":404' $T/j && ok "get of a missing blob: 404" || nok "get 404: $(cat $T/j)"
./probe req --key "$KEY" GET /$C/nope >$T/r
echo "# GJSON raw404 $(grep '^header x-ms-error-code' $T/r)"
grep -q '^status 404$' $T/r && grep -q '^header x-ms-error-code: BlobNotFound$' $T/r &&
	ok "raw GET of a missing blob: 404 with x-ms-error-code BlobNotFound" || nok "raw 404: $(cat $T/r)"
rm -f $O
check "get --if-match with a stale ETag: 412 -> exit 5" 5 "HTTP 412" -- $AZ --if-match '"0x8DEADBEEF"' get $C/one $O
./probe req --key "$KEY" -H 'If-Match: "0x8DEADBEEF"' GET /$C/one >$T/r
grep -q '^status 412$' $T/r && grep -q '^header x-ms-error-code: ConditionNotMet$' $T/r &&
	ok "conditional GET with a stale If-Match: 412 ConditionNotMet" || nok "raw 412: $(cat $T/r)"
etag=$(./probe req --key "$KEY" HEAD /$C/one | sed -n 's/^header [Ee][Tt][Aa][Gg]: //p')
./probe req --key "$KEY" -H "If-None-Match: $etag" GET /$C/one >$T/r
grep -q '^status 304$' $T/r && ok "conditional GET with the current ETag ($etag): 304" || nok "raw 304 (ETag '$etag'): $(cat $T/r)"
./probe req --key "$KEY" -H 'x-ms-range: bytes=99999999-99999999' GET /$C/one >$T/r
grep -q '^status 416$' $T/r && grep -q '^header x-ms-error-code: InvalidRange$' $T/r &&
	ok "range past the end: 416 InvalidRange" || nok "raw 416: $(cat $T/r)"
./probe req --key "$KEY" -H 'x-ms-range: bytes=100-1099' --out $T/r.body GET /$C/four-mib-less-one >$T/r
if grep -q '^status 206$' $T/r && tail -c +101 $T/in-four-mib-less-one | head -c 1000 | cmp -s - $T/r.body; then
	ok "a 1000-byte range: 206, the right bytes"
else
	nok "range 100-1099: $(head -n 3 $T/r)"
fi
check "mb of an existing container: 409 -> exit 4" 4 ContainerAlreadyExists -- $AZ mb $C

# --- limits: one device request per Put ----------------------------------------
head -c $((40 * 1048576)) /dev/zero >$T/in-forty
before=$(submitted)
check "Put Blob of 40 MiB in one request: 413 RequestBodyTooLarge" 8 "RequestBodyTooLarge" -- $AZ --chunk-size 40M --put-threshold 40M --retries 0 put $T/in-forty $C/forty
grep -q "HTTP 413" $T/err && grep -q RequestBodyTooLarge $T/err && ok "the refusal is HTTP 413 RequestBodyTooLarge" || nok "413: $(head -c 300 $T/err)"
[ "$(submitted)" = "$before" ] && ok "the refused upload sent nothing to the device" || nok "the refused upload reached the device ($before -> $(submitted))"
./probe req --key "$KEY" --declare-len 40000000 -H 'x-ms-blob-type: BlockBlob' -H 'Expect: 100-continue' PUT /$C/forty >$T/r
grep -q '^status 413$' $T/r && grep -q '^message .*max_single_put_size.*maxSingleShotSize' $T/r &&
	ok "with Expect: 100-continue a 40 MB body is refused before it is sent (413, names max_single_put_size and maxSingleShotSize)" || nok "declared 413: $(cat $T/r)"
grep -q "413 RequestBodyTooLarge: Upload in blocks of at most" $T/azblobd.log &&
	ok "the refusal is in azblobd's log with its reason" || nok "no 413 line in the log"
check "the same 40 MiB in 8 MiB blocks works" 0 "" -- $AZ put $T/in-forty $C/forty
rm -f $T/in-forty

# --- large uploads: split by azblobd into Put Block + Put Block List (SAS) -------
# (no bearer token here: Azurite takes them over https with --oauth only)
SPLIT=$((40 * 1048576 + 1))
b64md5() { md5sum "$1" | cut -d' ' -f1 | xxd -r -p | base64; }
hdr() { grep -i "^header $1: " "$2" | head -n 1 | sed 's/^[^:]*: //'; }
split_put() { ./probe req --sas "$SAS" -H 'x-ms-blob-type: BlockBlob' --body-len $SPLIT "$@"; }
head -c $SPLIT /dev/urandom >$T/in-split
before=$(submitted)
if $AZSAS --chunk-size 48M --put-threshold 48M --retries 0 put $T/in-split $C/split 2>$T/err; then
	n=$(($(submitted) - before))
	rm -f $O
	if $AZSAS get $C/split $O 2>$T/err && cmp -s $O $T/in-split && [ "$n" -ge 7 ]; then
		ok "SAS Put Blob of 40 MiB + 1 in one request: 201, split by azblobd ($n device requests: 6 Put Blocks + Put Block List), reads back byte-exact"
	else
		nok "split upload: $n device requests; read back: $(head -c 300 $T/err)"
	fi
else
	nok "SAS Put Blob of 40 MiB + 1 in one request: $(head -c 300 $T/err)"
fi
echo "# GSHA split $(sha $T/in-split) $SPLIT"
grep -q "PUT /$C/split?.*-> 201, 7 device requests (6 blocks + block list)" $T/azblobd.log &&
	ok "azblobd's line for the split upload: -> 201, 7 device requests (6 blocks + block list)" ||
	nok "azblobd's line for the split upload: $(grep "PUT /$C/split?" $T/azblobd.log | tail -n 1)"
md5=$(b64md5 $T/in-split)
$AZ --json stat $C/split >$T/j 2>/dev/null
grep -qF "\"content_md5\":\"$md5\"" $T/j &&
	ok "the committed blob's Content-MD5 is the body's ($md5), as Put Blob stores it" ||
	nok "split blob's Content-MD5, want $md5: $(cat $T/j)"
split_put -H 'Content-Type: text/x-azd-split' -H 'x-ms-meta-origin: split' PUT /$C/probe-split >$T/r
rm -f $O
$AZSAS get $C/probe-split $O 2>$T/err
./probe req --sas "$SAS" HEAD /$C/probe-split >$T/r2
if grep -q '^status 201$' $T/r && [ "$(grep -ci '^header content-md5: ' $T/r)" = 1 ] &&
   [ "$(hdr content-md5 $T/r)" = "$(b64md5 $O)" ] && [ "$(stat -c %s $O)" = $SPLIT ] &&
   [ "$(hdr content-type $T/r2)" = text/x-azd-split ] && [ "$(hdr x-ms-meta-origin $T/r2)" = split ]; then
	ok "a raw split upload: 201 with Content-MD5 of the body ($(hdr content-md5 $T/r)); Content-Type and x-ms-meta-* reach the blob"
else
	nok "raw split upload: $(head -n 1 $T/r), Content-MD5 '$(grep -i '^header content-md5: ' $T/r | tr '\n' ' ')', read back $(stat -c %s $O) B MD5 $(b64md5 $O) ($(head -c 200 $T/err)), blob: $(head -n 1 $T/r2) type '$(hdr content-type $T/r2)' meta '$(hdr x-ms-meta-origin $T/r2)'"
fi
rm -f $O
before=$(submitted)
split_put -H 'Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==' PUT /$C/md5bad >$T/r
n=$(($(submitted) - before))
./probe req --sas "$SAS" HEAD /$C/md5bad >$T/r2
if grep -q '^status 400$' $T/r && [ "$(hdr x-ms-error-code $T/r)" = Md5Mismatch ] &&
   grep -q '^status 404$' $T/r2 && [ "$n" = 6 ]; then
	ok "a split upload whose Content-MD5 does not match: 400 Md5Mismatch after its 6 blocks, no Put Block List: the blob does not exist (404)"
else
	nok "Md5Mismatch: $(head -n 1 $T/r) '$(hdr x-ms-error-code $T/r)', $n device requests, then $(head -n 1 $T/r2)"
fi
# split_refused STATUS CODE WHAT HEADER: a split upload over the existing
# blob "split" with HEADER is refused with STATUS and CODE, the blob unchanged
split_refused() {
	split_put -H "$4" PUT /$C/split >$T/r
	rm -f $O
	if grep -q "^status $1\$" $T/r && [ "$(hdr x-ms-error-code $T/r)" = "$2" ] &&
	   $AZSAS get $C/split $O 2>$T/err && cmp -s $O $T/in-split; then
		ok "$3"
	else
		nok "$3: $(head -n 1 $T/r) '$(hdr x-ms-error-code $T/r)': $(head -c 200 $T/err)"
	fi
}
split_refused 400 Md5Mismatch \
	"the same over an existing blob: 400 Md5Mismatch, the blob keeps its content" \
	'Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg=='
split_refused 409 BlobAlreadyExists \
	"If-None-Match: * on a split upload of an existing blob: Put Block List carries it, 409 BlobAlreadyExists, content unchanged" \
	'If-None-Match: *'
rm -f $O
split_put PUT /$C-nope/split >$T/r
if grep -q '^status 4[0-9][0-9]$' $T/r && [ -n "$(hdr x-ms-error-code $T/r)" ] &&
   grep -Eq "PUT /$C-nope/split\?.*-> 4[0-9]+, [0-9]+ device requests? \(0 blocks, no block list\)" $T/azblobd.log; then
	ok "a split upload whose Put Blocks fail: the first one's $(sed -n 's/^status //p' $T/r) $(hdr x-ms-error-code $T/r) comes back after the body, no Put Block List"
else
	nok "failed Put Block: $(head -n 1 $T/r) '$(hdr x-ms-error-code $T/r)': $(grep "PUT /$C-nope/" $T/azblobd.log | tail -n 1)"
fi
# the client goes away after half of its body
before=$(submitted)
{ printf 'PUT /%s/gone?%s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\nx-ms-blob-type: BlockBlob\r\nx-ms-version: 2021-08-06\r\n\r\n' $C "$SAS" $SPLIT
  head -c $((20 * 1048576)) /dev/zero; } | ./probe raw --hold-ms 1000 >$T/raw-gone 2>&1
sleep 1
n=$(($(submitted) - before))
./probe req --sas "$SAS" HEAD /$C/gone >$T/r
kill -USR1 $AZBLOBD
sleep 1
stats=$(grep "stats:" $T/azblobd.log | tail -n 1)
if grep -q '^status 404$' $T/r && [ "$n" -ge 2 ] && echo "$stats" | grep -q "memory: used 0," &&
   echo "$stats" | grep -q "active 0;" && $AZSAS stat $C/split >/dev/null 2>$T/err; then
	ok "the client closed after 20 of 40 MiB ($n Put Blocks had reached the device): no blob committed (404), no buffer held, azblobd still serves"
else
	nok "client gone mid-upload: $n device requests, $(head -n 1 $T/r); $stats"
fi
grep -q "PUT /$C/gone?.*(connection ended early), [0-9]* device requests ([0-9]* blocks, no block list)" $T/azblobd.log &&
	ok "azblobd's line for it: connection ended early, no block list" ||
	nok "azblobd's line for the abandoned upload: $(grep "PUT /$C/gone?" $T/azblobd.log | tail -n 1)"
rm -f $T/in-split

# --- path-style URLs need a new signature -------------------------------------
./probe req --key "$KEY" GET /devstoreaccount1/$C/one >$T/r
if grep -q '^status 400$' $T/r && grep -q '^header x-ms-error-code: PathStyleNotSupported$' $T/r &&
   grep -q "BlobEndpoint=http://127.0.0.1" $T/r; then
	ok "path-style request: 400 PathStyleNotSupported, names the BlobEndpoint setting"
else
	nok "path-style: $(cat $T/r)"
fi
check "azblob with a path-style endpoint gets the same answer" 8 "PathStyleNotSupported" -- $AS_USER ./azblob --transport http --no-progress --connection-string "BlobEndpoint=$EP/devstoreaccount1;AccountName=devstoreaccount1;AccountKey=$KEY" --retries 0 stat $C/one
rm -f $O
if $AS_USER ./azblob --transport http --no-progress --account-url "$EP/devstoreaccount1" --sas "$SAS" get $C/one $O 2>$T/err && cmp -s $O $T/in-one; then
	ok "a path-style URL with a SAS (nothing signs the path) is served without the account segment"
else
	nok "path-style SAS: $(head -c 300 $T/err)"
fi

# --- who may use it --------------------------------------------------------------
$AS_OTHER ./probe req --key "$KEY" GET /$C/one >$T/r
if grep -q '^status 403$' $T/r && grep -q '^header x-ms-error-code: DeviceAccessDenied$' $T/r &&
   grep -q 'uid 1002 (other)' $T/r && grep -q 'group azblob' $T/r; then
	ok "uid 1002 (not in group azblob): 403 DeviceAccessDenied, says why"
else
	nok "non-member: $(cat $T/r)"
fi
$AS_OTHER ./probe req --v6 --key "$KEY" GET /$C/one >$T/r
grep -q '^status 403$' $T/r && ok "uid 1002 over ::1: 403 as well" || nok "non-member over ::1: $(cat $T/r)"
check "azblob as uid 1002: exit 7 (403)" 7 "DeviceAccessDenied" -- $AS_OTHER ./azblob --transport http --no-progress --retries 0 get $C/one $W2/out
$AS_USER ./probe req --key "$KEY" GET /$C/one >$T/r
grep -q '^status 200$' $T/r && ok "uid 1001 (member of azblob): 200" || nok "member: $(cat $T/r)"
./probe req --key "$KEY" GET /$C/one >$T/r
grep -q '^status 200$' $T/r && ok "uid 0: 200" || nok "root: $(cat $T/r)"
chmod 0666 /dev/azure_blob
$AS_OTHER ./probe req --key "$KEY" GET /$C/one >$T/r
grep -q '^status 200$' $T/r && ok "node mode 0666: uid 1002 may use it (checked per connection)" || nok "0666: $(cat $T/r)"
chmod 0660 /dev/azure_blob
if rmmod tcp_diag && rmmod inet_diag; then
	$AS_USER ./probe req --key "$KEY" GET /$C/one >$T/r
	$AS_OTHER ./probe req --key "$KEY" GET /$C/one >$T/r2
	if grep -q '^status 200$' $T/r && grep -q '^status 403$' $T/r2 &&
	   grep -q "using /proc/net/tcp" $T/azblobd.log; then
		ok "without tcp_diag the peer is found in /proc/net/tcp: member 200, non-member 403"
	else
		nok "fallback: $(head -n 1 $T/r) / $(head -n 1 $T/r2) / $(grep -c 'proc/net' $T/azblobd.log)"
	fi
	insmod modules/inet_diag.ko && insmod modules/tcp_diag.ko
else
	nok "cannot unload tcp_diag"
fi

# --- a batch of malformed requests; azblobd keeps serving ---------------------
raw() { name=$1; shift; ./probe raw "$@" >$T/raw-$name 2>&1; }
printf 'GARBAGE\r\n\r\n' | raw garbage
printf 'GET /%s/one HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n' $C | raw nocolon
printf 'GET /%s/one HTTP/9.9\r\nHost: x\r\n\r\n' $C | raw version
printf 'GET http://evil.example/%s/one HTTP/1.1\r\nHost: x\r\n\r\n' $C | raw absolute
{ printf 'GET /%s/one HTTP/1.1\r\nHost: x\r\nX-Big: ' $C; head -c 300000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } | raw hugeheader
{ printf 'GET /'; head -c 200000 /dev/zero | tr '\0' a; printf ' HTTP/1.1\r\nHost: x\r\n\r\n'; } | raw hugeline
printf 'PUT /%s/lie HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nx-ms-blob-type: BlockBlob\r\n\r\nonly ten b' $C | raw lie-short --hold-ms 1500
printf 'PUT /%s/lie HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nx-ms-blob-type: BlockBlob\r\n\r\n0123456789GET / HTTP/1.1\r\n\r\n' $C | raw lie-long
printf 'PUT /%s/lie HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n' $C | raw negative-length
printf 'PUT /%s/lie HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n01234' $C | raw two-lengths
printf 'GET /%s/one HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n' $C | raw two-hosts
printf 'PUT /%s/lie HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' $C | raw chunked
printf 'PUT /%s/lie HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n' $C | raw bad-chunk
printf 'GET /%s/one HTTP/1.1\r\nHost: x\r\n' $C | raw unfinished --hold-ms 500
printf '\0\1\2\3\377\376\r\n\r\n' | raw binary
printf 'GET /%s/big?%s HTTP/1.1\r\nHost: x\r\n\r\n' $C "$SAS" | raw early-close --read 1000000
printf 'GET /%s/big?%s HTTP/1.1\r\nHost: x\r\n\r\n' $C "$SAS" | raw early-reset --read 100000 --linger0
printf 'GET /%s/big?%s HTTP/1.1\r\nHost: x\r\n\r\n' $C "$SAS" | raw no-read --read 0 --hold-ms 1
i=0
while [ $i -lt 20 ]; do
	printf 'GET /%s/one HTTP/1.1\r\nHost: x\r\n\r\n' $C | ./probe raw --hold-ms 1 --linger0 >/dev/null 2>&1 &
	i=$((i + 1))
done
wait_jobs() { for j in $(jobs -p); do [ "$j" = "$AZBLOBD" ] || wait "$j"; done; }
wait_jobs
echo "# malformed: $(for f in "$T"/raw-*; do printf '%s=[%s] ' "${f#"$T"/raw-}" "$(sed -n 's/^first //p' "$f")"; done)"
grep -Eq '^first (HTTP/1.1 400.*)?$' $T/raw-garbage && ok "bad request line: 400 or closed ($(sed -n 's/^first //p' $T/raw-garbage))" || nok "garbage: $(cat $T/raw-garbage)"
grep -q '^first HTTP/1.1 4' $T/raw-hugeheader && ok "a 300 kB header line: 4xx ($(sed -n 's/^first //p' $T/raw-hugeheader))" || nok "huge header: $(cat $T/raw-hugeheader)"
grep -q '^first HTTP/1.1 4' $T/raw-hugeline && ok "a 200 kB request line: 4xx" || nok "huge line: $(cat $T/raw-hugeline)"
grep -q '^first HTTP/1.1 400' $T/raw-absolute && ok "absolute-form request-target: 400" || nok "absolute: $(cat $T/raw-absolute)"
grep -q '^first HTTP/1.1 400' $T/raw-two-lengths && ok "two Content-Length headers: 400" || nok "two lengths: $(cat $T/raw-two-lengths)"
grep -q '^first HTTP/1.1 400' $T/raw-two-hosts && ok "two Host headers: 400" || nok "two hosts: $(cat $T/raw-two-hosts)"
grep -q '^first HTTP/1.1 411' $T/raw-chunked && ok "a chunked upload: 411 (the service takes Content-Length only)" || nok "chunked: $(cat $T/raw-chunked)"
grep -q '^received 0$' $T/raw-lie-short && ok "a body shorter than its Content-Length: no answer, the connection ends" || nok "short body: $(cat $T/raw-lie-short)"
grep -q '^received [1-9]' $T/raw-early-close && ok "early close during a split GET" || nok "early close: $(cat $T/raw-early-close)"
if kill -0 $AZBLOBD 2>/dev/null; then
	ok "azblobd is alive after the malformed batch"
else
	nok "azblobd died: $(tail -n 20 $T/azblobd.log)"
fi
sleep 2
rm -f $O
if $AZ get $C/thirty-two-mib-plus-one $O 2>$T/err && cmp -s $O $T/in-thirty-two-mib-plus-one; then
	ok "and still serves: 32 MiB + 1 byte-exact after the batch"
else
	nok "after the batch: $(head -c 300 $T/err)"
fi
rm -f $O

# --- counts: every request went through the device ---------------------------------
kill -USR1 $AZBLOBD
sleep 1
stats=$(grep "stats:" $T/azblobd.log | tail -n 1)
echo "# $stats"
dsub=$(echo "$stats" | sed -n 's/.*device: submitted \([0-9]*\),.*/\1/p')
drv=$(($(submitted) - SUB0))
if [ -n "$dsub" ] && [ "$dsub" -gt 50 ] && [ "$dsub" = "$drv" ]; then
	ok "the driver's sysfs counter moved by the $dsub requests azblobd sent to the device"
else
	nok "driver counter moved by $drv, azblobd sent '$dsub'"
fi
echo "# GCOUNT driver $drv"
hst=$(echo "stats 0" >$CTL && cat $CTL)
hreq=$(echo "$hst" | sed -n 's/.* requests=\([0-9]*\) .*/\1/p')
if [ -n "$hreq" ] && [ "$hreq" = "$(submitted)" ]; then
	ok "the emulated host received as many requests ($hreq) as the driver sent"
else
	nok "host requests '$hreq', driver submitted $(submitted)"
fi
echo "$stats" | grep -q "memory: used 0," && echo "$stats" | grep -q "active 0;" &&
	ok "no request active and no buffer held after the batch" || nok "left over: $stats"
hst=$(echo "stats 0" >$CTL && cat $CTL)
echo "# host: $hst"
case "$hst" in
*" violations=0"*) ok "the host saw no protocol violation" ;;
*) nok "host: $hst" ;;
esac

# --- stop; a small memory cap: transfers wait for room and still finish -----------
stop_azblobd() {
	kill -TERM $AZBLOBD
	i=0
	while kill -0 $AZBLOBD 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if ! kill -0 $AZBLOBD 2>/dev/null; then
		wait $AZBLOBD
		rc=$?
		[ $rc -eq 0 ] && ok "azblobd stops on SIGTERM (exit 0, $((i * 100)) ms)" || nok "azblobd exit $rc"
	else
		nok "azblobd still runs 10 s after SIGTERM"
	fi
}
stop_azblobd
sed -i 's/^memory_cap = .*/memory_cap = 40M/' /etc/azblobd.conf
./probe as 990 990 990 -- ./azblobd --config /etc/azblobd.conf 2>$T/azblobd2.log &
AZBLOBD=$!
./probe wait-port "$PORT" 20 || nok "azblobd did not start again: $(cat $T/azblobd2.log)"
head -c $((32 * 1048576)) /dev/urandom >$T/in-cap
t0=$(now_ms)
for k in 1 2 3; do
	$AS_USER ./azblob --transport http --no-progress --account-url $EP --sas "$SAS" \
		--chunk-size 64M --parallel 1 get $C/big $W/cap$k 2>$T/cap-err$k &
done
$AZ --chunk-size 8M --parallel 4 put $T/in-cap $C/cap 2>$T/cap-errp &
wait_jobs
t1=$(now_ms)
good=0
for k in 1 2 3; do cmp -s $W/cap$k $T/in-big && good=$((good + 1)); done
rm -f $O
$AZ get $C/cap $O 2>>$T/cap-errp && cmp -s $O $T/in-cap && good=$((good + 1))
kill -USR1 $AZBLOBD
sleep 1
stats=$(grep "stats:" $T/azblobd2.log | tail -n 1)
echo "# cap 40M: $stats"
peak=$(echo "$stats" | sed -n 's/.*peak \([0-9]*\),.*/\1/p')
waits=$(echo "$stats" | sed -n 's/.*waits \([0-9]*\)$/\1/p')
if [ "$good" = 4 ] && [ -n "$peak" ] && [ "$peak" -le $((40 * 1048576)) ] && [ "${waits:-0}" -gt 0 ]; then
	ok "memory_cap 40M: three split 64 MiB reads and a 32 MiB upload in 8 MiB blocks at once, byte-exact; peak $peak bytes, $waits waits for room ($((t1 - t0)) ms)"
else
	nok "memory cap: $good of 4 transfers right, peak '$peak', waits '$waits': $(cat $T/cap-err1 $T/cap-errp | head -c 300)"
fi
rm -f $W/cap1 $W/cap2 $W/cap3 $O $T/in-cap $T/in-big
# a split upload while a split read whose client stalls holds 4 parts of
# 8 MiB: the upload's first block does not fit the cap and waits for room
head -c $SPLIT /dev/urandom >$T/in-split2
printf 'GET /%s/big?%s HTTP/1.1\r\nHost: x\r\n\r\n' $C "$SAS" |
	./probe raw --read 1 --pause-ms 4000 --hold-ms 3000 >$T/raw-stall 2>&1 &
sleep 1.5
t0=$(now_ms)
$AZSAS --chunk-size 48M --put-threshold 48M --retries 0 put $T/in-split2 $C/capsplit 2>$T/caps-err
rc=$?
t1=$(now_ms)
wait_jobs
rm -f $O
[ $rc -eq 0 ] && $AZSAS get $C/capsplit $O 2>>$T/caps-err && cmp -s $O $T/in-split2 &&
	grep -q "PUT /$C/capsplit?.*-> 201, 7 device requests (6 blocks + block list)" $T/azblobd2.log
good=$?
kill -USR1 $AZBLOBD
sleep 1
stats=$(grep "stats:" $T/azblobd2.log | tail -n 1)
echo "# cap 40M, split upload: $stats"
peak=$(echo "$stats" | sed -n 's/.*peak \([0-9]*\),.*/\1/p')
waits2=$(echo "$stats" | sed -n 's/.*waits \([0-9]*\)$/\1/p')
got=$(sed -n 's/^received //p' $T/raw-stall)
if [ "$good" = 0 ] && [ -n "$peak" ] && [ "$peak" -le $((40 * 1048576)) ] &&
   [ "${waits2:-0}" -gt "${waits:-0}" ] && [ "${got:-0}" -gt $((64 * 1048576)) ] &&
   echo "$stats" | grep -q "memory: used 0,"; then
	ok "memory_cap 40M: a SAS Put Blob of 40 MiB + 1 beside a stalled split read holding 4 parts waits for room ($((waits2 - waits)) waits, $((t1 - t0)) ms), then commits 6 blocks + block list, byte-exact; the read completes; peak $peak bytes, nothing held after"
else
	nok "memory cap, split upload: exit $rc, check $good, peak '$peak', waits '$waits' -> '$waits2', stalled read got '$got': $(head -c 300 $T/caps-err)"
fi
rm -f $O $T/in-split2
stop_azblobd
cat $T/azblobd2.log >>$T/azblobd.log

# --- kill -9 during a split upload: no partial blob is committed ----------------
./probe as 990 990 990 -- ./azblobd --config /etc/azblobd.conf 2>$T/azblobd3.log &
AZBLOBD=$!
./probe wait-port "$PORT" 20 || nok "azblobd did not start again: $(cat $T/azblobd3.log)"
before=$(submitted)
{ printf 'PUT /%s/killed?%s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\nx-ms-blob-type: BlockBlob\r\nx-ms-version: 2021-08-06\r\n\r\n' $C "$SAS" $SPLIT
  head -c $((24 * 1048576)) /dev/zero; sleep 30; head -c $((16 * 1048576 + 1)) /dev/zero; } |
	./probe raw --hold-ms 1000 >$T/raw-killed 2>&1 &
PJ=$!
# the body stalls after 24 MiB: kill once two of its blocks reached the device
i=0
while [ $(($(submitted) - before)) -lt 2 ] && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
n=$(($(submitted) - before))
kill -KILL $AZBLOBD
wait $AZBLOBD
kill $PJ 2>/dev/null
wait $PJ
cat $T/azblobd3.log >>$T/azblobd.log
./probe as 990 990 990 -- ./azblobd --config /etc/azblobd.conf 2>$T/azblobd4.log &
AZBLOBD=$!
./probe wait-port "$PORT" 20 || nok "azblobd did not start again: $(cat $T/azblobd4.log)"
./probe req --sas "$SAS" HEAD /$C/killed >$T/r
if grep -q '^status 404$' $T/r && [ "$n" -ge 2 ]; then
	ok "kill -9 of azblobd during a split upload ($n Put Blocks sent): no blob committed (404 after a restart)"
else
	nok "kill -9 during a split upload: $n device requests before the kill; then $(head -n 1 $T/r)"
fi
stop_azblobd
cat $T/azblobd4.log >>$T/azblobd.log
[ "$(cat $DEV/in_flight)" = 0 ] && [ "$(cat $DEV/pinned_pages)" = 0 ] &&
	ok "driver idle: in_flight 0, pinned_pages 0" || nok "driver: in_flight $(cat $DEV/in_flight) pinned $(cat $DEV/pinned_pages)"
echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
acq=$(sed -n 's/^nr_foll_pin_acquired //p' /proc/vmstat)
rel=$(sed -n 's/^nr_foll_pin_released //p' /proc/vmstat)
if [ -n "$acq" ] && [ "$acq" = "$rel" ]; then
	ok "pin counters match (nr_foll_pin_acquired $acq = released $rel)"
else
	nok "pin counters: acquired $acq released $rel"
fi
grep -c "" $T/azblobd.log | sed 's/^/# azblobd log lines: /'
grep -E "warning|error" $T/azblobd.log | head -n 20 | sed 's/^/# azblobd: /'
echo "# guest: $N tests"
exit 0
