#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make e2e` (busybox sh, run as the payload's `run`):
# azblob over /dev/azure_blob, the VSP's http backend, Azurite on the
# host. Prints TAP lines ("ok N - guest: ...") and, for the host half to
# compare, "# GSHA <blob> <sha256> <size>", "# GRANGE <name> <sha256>" and
# "# GJSON <name> <json>"; then azblob doctor (as root, as a user the
# node refuses, with io_uring disabled, on a stale node) and its --json
# checked by ./json_check. ./env gives PORT, DEAD_PORT (closed) and
# HANG_PORT (accepts, never answers); ./expect lists
# the blobs the host uploaded over http ("<blob> <sha256> <size>").
#
# Copyright (c) 2026 The hv_azure_blob authors

# shellcheck source=SCRIPTDIR/guest-lib.sh
. /opt/azure_blob/guest-lib.sh
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$PORT/devstoreaccount1"
AZ="./azblob --transport device --no-progress"
C=e2e

# On a kernel with kmemleak (the debug kernel), a pass before and one after
# the transfers (debug/kmemleak.sh); the caller scans the console.
if [ -w /sys/kernel/debug/kmemleak ]; then
	. ./kmemleak.sh
	kmemleak_pass before-transfers
fi

now_cs() { sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1\2/' /proc/uptime; }
ctl() { echo "$*" > $CTL && cat $CTL; }

# check DESC WANT_EXIT PATTERN -- azblob args...
check() {
	desc=$1 want=$2 pat=$3
	shift 4
	# shellcheck disable=SC2086 # $AZ is a word list
	run_check "$desc" "$want" "$pat" -- $AZ "$@"
}

echo "# guest: $(uname -r), $(grep MemTotal /proc/meminfo | tr -s ' ')"
ctl "stats 0" | sed 's/^/# host: /'

# --- round trips through the device ----------------------------------------
roundtrip() {
	size=$1 name=$2 extra=$3 f=$T/in-$2
	head -c "$size" /dev/urandom >"$f"
	want=$(sha "$f")
	t0=$(now_cs)
	# shellcheck disable=SC2086
	if ! $AZ $extra put "$f" "$C/g-$name" 2>$T/err; then
		nok "put $size B (g-$name $extra): $(head -c 300 $T/err)"
		return
	fi
	t1=$(now_cs)
	# shellcheck disable=SC2086
	if ! $AZ $extra get "$C/g-$name" $T/out 2>$T/err; then
		nok "get $size B (g-$name $extra): $(head -c 300 $T/err)"
		return
	fi
	t2=$(now_cs)
	got=$(sha $T/out)
	if [ "$got" = "$want" ] && [ "$(stat -c %s $T/out)" = "$size" ]; then
		ok "device round trip $size B (g-$name${extra:+ $extra}): sha256 equal"
	else
		nok "device round trip $size B (g-$name $extra): sha256 $got, want $want"
	fi
	echo "# GSHA g-$name $want $size"
	echo "# time g-$name: put $(((t1 - t0) * 10)) ms, get $(((t2 - t1) * 10)) ms"
	rm -f $T/out
}

roundtrip 0 zero ""
roundtrip 1 one ""
roundtrip 4095 odd4095 ""
roundtrip 1000003 odd1000003 ""
roundtrip $((4 << 20)) four-mib ""
roundtrip $((10 * 1048576 + 7)) multi-block "--chunk-size 1M --parallel 4"
roundtrip 777777 serial-blocks "--chunk-size 256K --parallel 1"
roundtrip $((64 << 20)) sixty-four-mib ""
rm -f $T/in-sixty-four-mib $T/in-four-mib

check "stat size of the 64 MiB blob" 0 "size:          67108864" -- stat $C/g-sixty-four-mib
check "stat lists the block blob's MD5 set through the device" 0 "content-md5:   [A-Za-z0-9+/]" -- stat $C/g-multi-block

# --- blobs the host uploaded over http ------------------------------------
while read -r blob want size; do
	if $AZ --chunk-size 2M --parallel 4 get "$C/$blob" $T/out 2>$T/err &&
	   [ "$(sha $T/out)" = "$want" ] && [ "$(stat -c %s $T/out)" = "$size" ]; then
		ok "http-uploaded $blob ($size B) reads back through the device"
	else
		nok "http-uploaded $blob through the device: $(head -c 300 $T/err)"
	fi
	rm -f $T/out
done <expect

# --- ranges ------------------------------------------------------------------
f=$T/in-multi-block
rangecheck() {
	name=$1 range=$2 skipb=$3 count=$4 extra=$5
	# shellcheck disable=SC2086
	if ! $AZ $extra --range "$range" get $C/g-multi-block $T/r 2>$T/err; then
		nok "range $name: $(head -c 300 $T/err)"
		return
	fi
	if [ "$count" = end ]; then
		tail -c +$((skipb + 1)) "$f" >$T/want
	else
		tail -c +$((skipb + 1)) "$f" | head -c "$count" >$T/want
	fi
	if cmp -s $T/r $T/want; then
		ok "range $name"
	else
		nok "range $name: bytes differ"
	fi
	echo "# GRANGE $name $(sha $T/r)"
	rm -f $T/r $T/want
}
rangecheck first-byte 0-0 0 1 ""
rangecheck 100-1099 100-1099 100 1000 ""
rangecheck across-chunks 1000000-3500000 1000000 2500001 "--chunk-size 1M --parallel 4"
rangecheck open-tail 10485000- 10485000 end ""
rangecheck clipped 10485700-99999999 10485700 end ""
check "range starting beyond the end: exit 8" 8 "beyond" -- --range 99999999-99999999 get $C/g-multi-block $T/r

# --- HTTP errors arrive as host status 0 with the head ----------------------
check "get of a missing blob: 404 -> exit 3" 3 BlobNotFound -- get $C/nope $T/r
check "stat of a missing blob: 404 -> exit 3" 3 "HTTP 404" -- stat $C/nope
check "rm of a missing blob: 404 -> exit 3" 3 BlobNotFound -- rm $C/nope
check "ls of a missing container: 404 -> exit 3" 3 ContainerNotFound -- ls no-such-container
check "mb of an existing container: 409 -> exit 4" 4 ContainerAlreadyExists -- mb $C
etag=$($AZ stat $C/g-one | sed -n 's/^etag: *//p')
check "put --if-none-match '*' on an existing blob: 409 -> exit 4" 4 BlobAlreadyExists -- --if-none-match '*' put $T/in-one $C/g-one
check "put --if-match with a stale ETag: 412 -> exit 5" 5 ConditionNotMet -- --if-match '"0x8DEADBEEF"' put $T/in-one $C/g-one
check "get --if-match with a stale ETag: 412 -> exit 5" 5 "HTTP 412" -- --if-match '"0x8DEADBEEF"' get $C/g-one $T/r
check "get --if-none-match with the current ETag: 304 -> exit 6" 6 "HTTP 304" -- --if-none-match "$etag" get $C/g-one $T/r
check "stat --if-none-match with the current ETag: 304 -> exit 6" 6 "HTTP 304" -- --if-none-match "$etag" stat $C/g-one
check "get --if-match with the current ETag succeeds" 0 "" -- --if-match "$etag" get $C/g-one $T/r
for w in "stat404 stat $C/nope" "mb409 mb $C" "get412 --if-match \"0x8DEADBEEF\" stat $C/g-one"; do
	set -- $w
	name=$1
	shift
	echo "# GJSON $name $($AZ --json "$@" 2>/dev/null)"
done

# --- host statuses (rawreq: buffers the client never uses) -----------------
raw() { ./rawreq "$@" >$T/raw 2>&1; }
printf 'GARBAGE\r\n\r\n' >$T/h1
raw --head-file $T/h1
if grep -q '^status 74$' $T/raw; then ok "malformed request line: host status 74 (EBADMSG)"; else nok "malformed request line: $(cat $T/raw)"; fi
printf 'GET /e2e/g-one HTTP/1.1\r\nx-ms-version: 2021-08-06\r\n' >$T/h2
raw --head-file $T/h2
if grep -q '^status 74$' $T/raw; then ok "head without its empty line: host status 74"; else nok "head without its empty line: $(cat $T/raw)"; fi
printf 'PUT /e2e/g-x HTTP/1.1\r\nContent-Length: 5\r\n\r\n' >$T/h3
raw --head-file $T/h3
if grep -q '^status 74$' $T/raw; then ok "Content-Length without a body: host status 74"; else nok "Content-Length without a body: $(cat $T/raw)"; fi
raw --resp-len 32 --data-len 8192 GET /e2e/g-odd4095
if grep -q '^status 90$' $T/raw && grep -q '^response_len 0$' $T/raw; then ok "response head larger than the response buffer: host status 90 (EMSGSIZE)"; else nok "head too large: $(cat $T/raw)"; fi
raw --data-len 100 --out $T/d GET /e2e/g-odd4095
head -c 100 $T/in-odd4095 >$T/want
if grep -q '^status 75$' $T/raw && grep -qi '^content-length: 4095' $T/raw && cmp -s $T/d $T/want; then
	ok "body larger than the data buffer: host status 75 (EOVERFLOW), head with Content-Length 4095, first 100 bytes"
else
	nok "body too large: $(head -c 400 $T/raw)"
fi
raw --data-len 8192 --out $T/d GET /e2e/g-odd4095
if grep -q '^status 0$' $T/raw && grep -q '^HTTP/1.1 200' $T/raw && [ "$(head -c 4095 $T/d | sha256sum | cut -d' ' -f1)" = "$(sha $T/in-odd4095)" ]; then ok "raw GET: status 0, 200, body in the data buffer"; else nok "raw GET: $(head -c 400 $T/raw)"; fi
raw --data-len 4096 GET /e2e/nope
if grep -q '^status 0$' $T/raw && grep -q '^HTTP/1.1 404' $T/raw && grep -qi '^x-ms-error-code: BlobNotFound' $T/raw; then ok "raw GET of a missing blob: status 0, HTTP 404 in the head"; else nok "raw 404: $(head -c 400 $T/raw)"; fi

# --- transport failure: a slot whose endpoint refuses connections ----------
if echo "backend 1 http http://10.1.2.3:10000/devstoreaccount1" >$CTL 2>/dev/null; then
	nok "a non-loopback endpoint is refused by the host"
else
	ok "a non-loopback endpoint is refused by the host"
fi
ctl "backend 1 http http://127.0.0.1:$DEAD_PORT/devstoreaccount1" >/dev/null
ctl "offer 1" >/dev/null
i=0
while [ ! -c /dev/azure_blob1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "connection refused: exit 9, host status 111 shown" 9 "host status 111" -- --device /dev/azure_blob1 --retries 0 stat $C/g-one
grep -q "refused the connection" $T/err && ok "the CLI names the host status" || nok "the CLI message: $(cat $T/err)"
raw --device /dev/azure_blob1 --data-len 4096 GET /e2e/g-one
if grep -q '^status 111$' $T/raw; then ok "raw request to a dead endpoint: host status 111 (ECONNREFUSED)"; else nok "dead endpoint: $(cat $T/raw)"; fi
STALE_DEV=$(cat /sys/class/misc/azure_blob1/dev)
ctl "rescind 1" >/dev/null

# --- rescind with HTTP transfers in flight (an endpoint that never answers) --
ctl "backend 1 http http://127.0.0.1:$HANG_PORT/devstoreaccount1" >/dev/null
ctl "offer 1" >/dev/null
i=0
while [ ! -c /dev/azure_blob1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
for k in 1 2 3 4; do
	./rawreq --device /dev/azure_blob1 --data-len 65536 GET /e2e/g-one >$T/hang$k 2>&1 &
done
sleep 1
st=$(ctl "stats 1")
echo "# host slot 1 before the rescind: $st"
ctl "rescind 1" >/dev/null
wait
if [ "$(grep -l 'ioctl errno 19' $T/hang1 $T/hang2 $T/hang3 $T/hang4 | wc -l)" = 4 ]; then
	ok "rescind with 4 HTTP transfers in flight: every request fails with ENODEV"
else
	nok "rescind with transfers in flight: $(cat $T/hang1 $T/hang2 $T/hang3 $T/hang4 | tr '\n' ' ')"
fi
rq=$(echo "$st" | sed -n 's/.* requests=\([0-9]*\) completed=\([0-9]*\).*/\1 \2/p')
if [ -n "$rq" ] && [ $((${rq% *} - ${rq#* })) -eq 4 ]; then
	ok "the 4 requests were in flight at the host ($st)"
else
	nok "slot 1 before the rescind: $st"
fi
ctl "backend 1 http" >/dev/null
ctl "offer 1" >/dev/null
i=0
while [ ! -c /dev/azure_blob1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "after the cancel, the re-offered slot works against Azurite" 0 "size:          1$" -- --device /dev/azure_blob1 stat $C/g-one
ctl "rescind 1" >/dev/null
ctl "reset" >/dev/null

# --- azblob doctor -----------------------------------------------------------
# doctor_check DESC WANT_EXIT PATTERN [RUNNER] -- doctor args
doctor_check() {
	desc=$1 want=$2 pat=$3 run=${4:-}
	shift 5
	$run ./azblob doctor "$@" >$T/doc 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pat" $T/doc; then
		ok "doctor, $desc: exit $rc, '$pat'"
	else
		nok "doctor, $desc: exit $rc (want $want), no '$pat':"
		sed 's/^/#   /' $T/doc
	fi
	sed 's/^/# doctor: /' $T/doc
}
doctor_check "as root" 0 "verdict     usable" "" --
./azblob doctor --json >$T/doc.json 2>$T/err
rc=$?
st=$(./json_check $T/doc.json status)
uring=$(./json_check $T/doc.json io_uring)
auto=$(./json_check $T/doc.json auto)
offer=$(./json_check $T/doc.json offer)
if [ "$rc" -eq 0 ] && [ "$st" = '"usable"' ] &&
   echo "$uring" | grep -q '"works":true,"errno":22' &&
   echo "$auto" | grep -q '"transport":"device","io":"io_uring"' &&
   echo "$offer" | grep -q '"offered":1,'; then
	ok "doctor --json: valid JSON (json_check), usable, io_uring works, one device offered, auto: device with io_uring"
else
	nok "doctor --json: exit $rc status $st: $(head -c 600 $T/doc.json) $(cat $T/err)"
fi
echo "# GDOCTOR $(cat $T/doc.json)"

# a user the node refuses: group azureblob as the udev rule of the rst
# gives it, the user not in it; then in it
mkdir -p /etc
printf 'root:x:0:0:root:/root:/bin/sh\nazuser:x:1000:1000:azuser:/tmp:/bin/sh\n' >/etc/passwd
printf 'root:x:0:\nazuser:x:1000:\nazureblob:x:990:\n' >/etc/group
chgrp 990 /dev/azure_blob && chmod 0660 /dev/azure_blob
as_user() { su -s /bin/sh azuser -c "cd /opt/azure_blob && $*"; }
if [ "$(as_user id -u 2>&1)" = 1000 ]; then
	doctor_check "as a user outside the node's group (EACCES)" 7 "usermod -aG azureblob" as_user --
	as_user ./azblob --transport auto --no-progress stat $C/g-one >$T/out 2>$T/err
	rc=$?
	if [ "$rc" -eq 9 ] && grep -q "cannot be opened: Permission denied, and this azblob has no http transport (azblob doctor tells why)" $T/err; then
		ok "auto as a refused user, device-only azblob: exit 9, says why"
	else
		nok "auto as a refused user: exit $rc: $(cat $T/err)"
	fi
	# a login from before the user joined the group
	rm -f $T/ready $T/joined
	as_user "touch $T/ready; while [ ! -e $T/joined ]; do sleep 0.1; done; ./azblob doctor" >$T/doc 2>&1 &
	upid=$!
	i=0
	while [ ! -e $T/ready ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	printf 'root:x:0:\nazuser:x:1000:\nazureblob:x:990:azuser\n' >/etc/group
	touch $T/joined
	wait $upid
	rc=$?
	if [ "$rc" -eq 7 ] && grep -q "azuser is in group azureblob, but this login started before that: log in again" $T/doc; then
		ok "doctor, a login older than the group membership: exit 7, 'log in again'"
	else
		nok "doctor, a login older than the group membership: exit $rc:"
		sed 's/^/#   /' $T/doc
	fi
	doctor_check "as a user in the node's group" 0 "verdict     usable" as_user --
	if as_user ./azblob --no-progress --parallel 4 --chunk-size 256K get $C/g-odd1000003 $T/user-get 2>$T/err &&
	   [ "$(sha $T/user-get)" = "$(sha $T/in-odd1000003)" ]; then
		ok "a user in the node's group reads a blob through the device (io_uring, 4 in flight)"
	else
		nok "a user in the node's group: $(cat $T/err)"
	fi
	rm -f $T/user-get
else
	nok "su to a user: $(as_user id -u 2>&1)"
fi
chgrp 0 /dev/azure_blob && chmod 0600 /dev/azure_blob

# io_uring disabled: the device's requests take the ioctl, one notice
if echo 2 >/proc/sys/kernel/io_uring_disabled; then
	doctor_check "with io_uring disabled" 0 "io_uring is disabled" "" --
	$AZ --parallel 4 --chunk-size 1M get $C/g-multi-block $T/out 2>$T/err
	rc=$?
	n=$(grep -c "io_uring is not available" $T/err)
	if [ "$rc" -eq 0 ] && [ "$n" -eq 1 ] && [ "$(sha $T/out)" = "$(sha $T/in-multi-block)" ]; then
		ok "io_uring disabled: a parallel get takes the ioctl after one notice, sha256 equal"
	else
		nok "io_uring disabled: exit $rc, $n notices: $(cat $T/err)"
	fi
	echo 0 >/proc/sys/kernel/io_uring_disabled
	rm -f $T/out
else
	nok "cannot set kernel.io_uring_disabled"
fi

# a node left behind by the rescinded slot 1: ENODEV
if [ -n "$STALE_DEV" ] && mknod $T/stale c "${STALE_DEV%:*}" "${STALE_DEV#*:}"; then
	doctor_check "stale node $STALE_DEV of the rescinded device (ENODEV)" 9 "No such device" "" -- --device $T/stale
	./azblob --device $T/stale --no-progress stat $C/g-one >$T/out 2>$T/err
	rc=$?
	if [ "$rc" -eq 9 ] && grep -q "No such device, and this azblob has no http transport" $T/err; then
		ok "auto on the stale node, device-only azblob: exit 9, says why"
	else
		nok "auto on the stale node: exit $rc: $(cat $T/err)"
	fi
	rm -f $T/stale
else
	nok "no stale node (slot 1 was $STALE_DEV)"
fi

# --- the host saw no protocol violation; pins balance ---------------------
st=$(ctl "stats 0")
echo "# host: $st"
case "$st" in
*" violations=0"*) ok "host: no protocol violation ($st)" ;;
*) nok "host: $st" ;;
esac
echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
acq=$(sed -n 's/^nr_foll_pin_acquired //p' /proc/vmstat)
rel=$(sed -n 's/^nr_foll_pin_released //p' /proc/vmstat)
if [ -n "$acq" ] && [ "$acq" = "$rel" ]; then
	ok "pin counters match (nr_foll_pin_acquired $acq = released $rel)"
else
	nok "pin counters: acquired $acq released $rel"
fi
[ -w /sys/kernel/debug/kmemleak ] && kmemleak_pass after-transfers
echo "# guest: $N tests"
exit 0
