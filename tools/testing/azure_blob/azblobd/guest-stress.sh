#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make azblobd-stress` (busybox sh, the payload's
# `run`): azblobd carries requests through /dev/azure_blob and the VSP's
# http backend to Azurite on the host, and is made to suffer:
#
#   1. hostile: STRESS_REQUESTS malformed, lying, slow and unfinished
#      requests over many connections while 64 clients make byte-exact
#      round trips; afterwards azblobd lives and serves, its peak RSS is
#      under memory_cap plus a fixed overhead, no request or buffer is
#      left, no file descriptor leaked, the pins balance;
#   2. kill -9 of azblobd during a Put Block / Put Block List upload and
#      during a single Put Blob the host holds; a new azblobd serves; the
#      pins balance once the host completed the dead process's requests;
#   3. host faults of the VSP (delay, error status, a full ring, dropped
#      requests, rescind and offer again) during azblob uploads and
#      downloads through azblobd.
#
# Prints TAP lines and, for the host half, "# GSHA <blob> <sha256>
# <size>" (an upload azblob reported done, to check against Azurite) and
# "# GKILL <blob> <old sha256> <new sha256> <client exit>" (the blob must
# be the old or, if the client said so, the new one). ./env gives KEY,
# SAS (container stress), PORT and STRESS_REQUESTS.
# shellcheck disable=SC2153 # PORT, KEY, SAS, STRESS_REQUESTS: from ./env
#
# Copyright (c) 2026 The hv_azure_blob authors

# busybox sh has no arrays: the client commands are word lists split on
# purpose. ok and nok always succeed, so "A && ok || nok" is an
# if-then-else here.
# shellcheck disable=SC2086,SC2015

# shellcheck source=SCRIPTDIR/../e2e/guest-lib.sh
. /opt/azure_blob/guest-lib.sh
C=stress
DEV=/sys/class/misc/azure_blob
EP=http://127.0.0.1:$PORT
CAP_MIB=96
# RSS above memory_cap: libmicrohttpd's 128 KiB per connection for the
# 256 connections an address takes (32 MiB), and 16 MiB for the program,
# its libraries, thread stacks and heap
OVERHEAD_MIB=48

now_ms() { sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1\20/' /proc/uptime; }
pins() {
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
	echo "$(sed -n 's/^nr_foll_pin_acquired //p' /proc/vmstat) $(sed -n 's/^nr_foll_pin_released //p' /proc/vmstat)"
}
ctl() { echo "$*" >$CTL && cat $CTL; }
fds() { find /proc/$AZBLOBD/fd -mindepth 1 -maxdepth 1 | wc -l; }
# the driver's requests: none in flight, none pinned (waits up to $1 s)
driver_idle() {
	i=0
	while [ $i -lt $(($1 * 10)) ]; do
		[ "$(cat $DEV/in_flight 2>/dev/null)" = 0 ] &&
			[ "$(cat $DEV/pinned_pages 2>/dev/null)" = 0 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
pins_balance() {
	# shellcheck disable=SC2046 # two numbers
	set -- $(pins)
	if [ -n "$1" ] && [ "$1" = "$2" ]; then
		ok "$DESC: pins balance (nr_foll_pin_acquired $1 = released $2)"
	else
		nok "$DESC: pins: acquired $1 released $2"
	fi
}

# --- the guest as a small system -------------------------------------------
ip link set lo up
mkdir -p /etc /lib64 /var/empty
cat >/etc/passwd <<EOF
root:x:0:0:root:/root:/bin/sh
azblobd:x:990:990:azblobd:/var/empty:/bin/false
EOF
cat >/etc/group <<EOF
root:x:0:
azblob:x:990:azblobd
EOF
ln -sf /opt/azure_blob/lib/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
export LD_LIBRARY_PATH=/opt/azure_blob/lib
node_perms() {
	i=0
	while [ ! -c /dev/azure_blob ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	chgrp 990 /dev/azure_blob && chmod 0660 /dev/azure_blob
}
node_perms
insmod modules/inet_diag.ko && insmod modules/tcp_diag.ko ||
	nok "cannot load inet_diag/tcp_diag"
echo "# guest: $(uname -r), $(grep MemTotal /proc/meminfo | tr -s ' '), $(grep -c ^processor /proc/cpuinfo) CPU"
export AZURE_STORAGE_CONNECTION_STRING="BlobEndpoint=$EP;AccountName=devstoreaccount1;AccountKey=$KEY"
AZ="./azblob --transport http --no-progress"

cat >/etc/azblobd.conf <<EOF
# the stress suite's configuration
port = $PORT
host = devstoreaccount1.blob.core.windows.net
memory_cap = ${CAP_MIB}M
part_size = 8M
parts_in_flight = 4
threads = 4
idle_timeout = 30
log_level = notice
EOF
start_azblobd() {
	./probe as 990 990 990 -- ./azblobd --config /etc/azblobd.conf 2>>$T/azblobd.log &
	AZBLOBD=$!
	./probe wait-port "$PORT" 60
}
if start_azblobd; then
	ok "azblobd listens on 127.0.0.1:$PORT (pid $AZBLOBD, memory_cap ${CAP_MIB}M)"
else
	nok "azblobd did not start: $(cat $T/azblobd.log)"
	exit 1
fi
stats() {
	kill -USR1 $AZBLOBD
	sleep 1
	grep "stats:" $T/azblobd.log | tail -n 1
}

run_check "mb $C" 0 "" -- $AZ mb $C
head -c $((24 * 1048576)) /dev/urandom >$T/big
run_check "a 24 MiB blob for the split GETs" 0 "" -- $AZ --chunk-size 4M put $T/big $C/big

# --- 0. cases of their own ------------------------------------------------------
raw() { ./probe raw "$@" 2>&1; }
# a client that goes away in the middle of a body larger than the
# library's read buffer (128 KiB): the connection and its buffer end too
i=0
while [ $i -lt 30 ]; do
	{ printf 'PUT /%s/gone HTTP/1.1\r\nHost: x\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 262144\r\n\r\n' $C
	  head -c $((140000 + i * 3000)) /dev/zero; } | raw --hold-ms 1 >/dev/null
	i=$((i + 1))
done
sleep 2
st=$(stats)
echo "$st" | grep -q "memory: used 0," && echo "$st" | grep -q "active 0;" &&
	ok "30 clients gone after 140-227 kB of a 256 KiB body: no request and no buffer left" ||
	nok "clients gone mid-body: left over: $st"
# a chunked body with a Content-Length as well: refused, not sent on
first() { sed -n 's/^first //p'; }
r=$(printf 'PUT /%s/te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1000000\r\n\r\n5\r\nhello\r\n0\r\n\r\n' $C |
	raw --hold-ms 5000 | first)
case "$r" in
"HTTP/1.1 400"*) ok "Transfer-Encoding and Content-Length together: 400 ($r)" ;;
*) nok "Transfer-Encoding and Content-Length together: '$r'" ;;
esac
# what the library lets through but the host refuses as malformed
for h in 'G\001T /%s/x HTTP/1.1\r\nHost: x\r\n\r\n' \
	 'GET  /%s/x  HTTP/1.1\r\nHost: x\r\n\r\n' \
	 'GET /%s/x HTTP/1.1\r\nHost : x\r\n\r\n' \
	 'GET /%s/x HTTP/1.1\r\nHost: x\r\nX-V: a\001b\r\n\r\n'; do
	# shellcheck disable=SC2059 # the request is the format
	r=$(printf "$h" $C | raw --hold-ms 5000 | first)
	case "$r" in
	"HTTP/1.1 400"*) ok "malformed for the host ($(printf '%s' "$h" | cut -c1-40)...): 400 from azblobd" ;;
	*) nok "malformed for the host ($h): '$r'" ;;
	esac
done

# --- 1. hostile requests and 64 clients at once ------------------------------
DESC=hostile
# shellcheck disable=SC2046 # two numbers
set -- $(pins)
echo "# pins before: acquired $1 released $2"
FD0=$(fds)
RSS0=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$AZBLOBD/status)
SUB0=$(cat $DEV/submitted)
echo "# azblobd before: $FD0 fds, VmRSS $RSS0 kB"
t0=$(now_ms)
./hostile --key "$KEY" --container $C --sas "$SAS" --big big \
	--requests "$STRESS_REQUESTS" --workers 48 --clients 64 \
	--max-body 1048576 >$T/hostile.out 2>&1
rc=$?
t1=$(now_ms)
sed 's/^/# /' $T/hostile.out
echo "# hostile run: $(((t1 - t0) / 1000)) s, exit $rc, device requests $(($(cat $DEV/submitted) - SUB0))"
n=$(sed -n 's/^hostile requests \([0-9]*\) .*/\1/p' $T/hostile.out)
trips=$(sed -n 's/^valid round_trips \([0-9]*\) .*/\1/p' $T/hostile.out)
failed=$(sed -n 's/^valid .* failed \([0-9]*\) .*/\1/p' $T/hostile.out)
if [ "${n:-0}" -ge "$STRESS_REQUESTS" ] && [ $rc -eq 0 ]; then
	ok "$DESC: $n hostile requests in $(((t1 - t0) / 1000)) s, none left hanging"
else
	nok "$DESC: $n of $STRESS_REQUESTS hostile requests, exit $rc"
fi
hung=$(awk '$1 == "kind" && $NF > 0 { print $2 "=" $NF }' $T/hostile.out | tr '\n' ' ')
[ -z "$hung" ] && ok "$DESC: every connection had its answers or a close within 90 s" || nok "$DESC: hung: $hung"
if [ "${trips:-0}" -ge 128 ] && [ "$failed" = 0 ]; then
	ok "$DESC: 64 clients meanwhile: $trips Put Blob + Get Blob round trips, byte-exact, none failed"
else
	nok "$DESC: round trips $trips, failed $failed: $(grep '^valid-failure' $T/hostile.out | head -n 3)"
fi
if kill -0 $AZBLOBD 2>/dev/null; then
	ok "$DESC: azblobd is alive"
else
	nok "$DESC: azblobd died: $(tail -n 20 $T/azblobd.log)"
	exit 1
fi
rm -f $T/o
$AZ get $C/big $T/o 2>$T/err && cmp -s $T/o $T/big &&
	ok "$DESC: and serves: the 24 MiB blob byte-exact" || nok "$DESC: after: $(head -c 300 $T/err)"
rm -f $T/o
sleep 3
st=$(stats)
echo "# $st"
echo "$st" | grep -q "memory: used 0," && echo "$st" | grep -q "active 0;" &&
	ok "$DESC: no request active and no buffer held" || nok "$DESC: left over: $st"
peak=$(echo "$st" | sed -n 's/.*peak \([0-9]*\),.*/\1/p')
[ -n "$peak" ] && [ "$peak" -le $((CAP_MIB * 1048576)) ] &&
	ok "$DESC: buffers at most $peak bytes at once, under memory_cap ${CAP_MIB}M" ||
	nok "$DESC: buffer peak '$peak'"
hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$AZBLOBD/status)
lim=$(((CAP_MIB + OVERHEAD_MIB) * 1024))
[ -n "$hwm" ] && [ "$hwm" -le $lim ] &&
	ok "$DESC: peak RSS (VmHWM) $hwm kB <= memory_cap ${CAP_MIB} MiB + $OVERHEAD_MIB MiB ($lim kB)" ||
	nok "$DESC: peak RSS $hwm kB above $lim kB"
# connections the clients closed last may still be closing: 40 s (more
# than idle_timeout) for the count to come back
i=0
while [ "$(fds)" != "$FD0" ] && [ $i -lt 40 ]; do sleep 1; i=$((i + 1)); done
FD1=$(fds)
# shellcheck disable=SC2012 # busybox: ls -l shows where each fd points
[ "$FD1" = "$FD0" ] && ok "$DESC: no descriptor leaked ($FD1 open, as before)" ||
	nok "$DESC: $FD0 descriptors before, $FD1 after: $(ls -l /proc/$AZBLOBD/fd | sed 's/.*-> //' | sort | uniq -c | sort -rn | head -n 5 | tr '\n' ' ')"
driver_idle 60 && ok "$DESC: driver idle (in_flight 0, pinned_pages 0)" ||
	nok "$DESC: driver: in_flight $(cat $DEV/in_flight) pinned $(cat $DEV/pinned_pages)"
pins_balance
hst=$(ctl stats 0)
case "$hst" in
*" violations=0"*) ok "$DESC: the host saw no protocol violation ($hst)" ;;
*) nok "$DESC: host: $hst" ;;
esac

# --- 2. kill -9 during uploads ------------------------------------------------
DESC="kill -9"
# wait until the driver moved by $1 requests or $2 seconds passed
wait_sub() {
	i=0
	while [ $(($(cat $DEV/submitted) - SUBK)) -lt "$1" ] && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
head -c $((4 * 1048576 + 3)) /dev/urandom >$T/old
head -c $((24 * 1048576 + 5)) /dev/urandom >$T/new
run_check "$DESC: the old content of kb and kp" 0 "" -- $AZ put $T/old $C/kb
run_check "$DESC: kp" 0 "" -- $AZ put $T/old $C/kp
# a. in the middle of Put Block ... Put Block List
SUBK=$(cat $DEV/submitted)
$AZ --retries 0 --chunk-size 1M --parallel 2 put $T/new $C/kb 2>$T/kb.err &
CL=$!
wait_sub 6 120
kill -9 $AZBLOBD
wait $CL
rc=$?
wait $AZBLOBD 2>/dev/null
echo "# GKILL kb $(sha $T/old) $(sha $T/new) $rc"
echo "# kb: $(($(cat $DEV/submitted) - SUBK)) device requests before the kill, client exit $rc: $(tail -c 200 $T/kb.err)"
[ $rc -ne 0 ] && ok "$DESC: the client of the block upload saw the failure (exit $rc)" ||
	nok "$DESC: the block upload reported success through a killed azblobd"
driver_idle 120 && ok "$DESC: the dead process's block requests completed (in_flight 0, pinned_pages 0)" ||
	nok "$DESC: driver after kill: in_flight $(cat $DEV/in_flight) pinned $(cat $DEV/pinned_pages)"
# b. a single Put Blob of 24 MiB the host holds for 20 s when the daemon dies
start_azblobd || nok "$DESC: azblobd did not start again"
ctl fault 0 delay 20000 >/dev/null
SUBK=$(cat $DEV/submitted)
$AZ --retries 0 --put-threshold 32M --chunk-size 32M put $T/new $C/kp 2>$T/kp.err &
CL=$!
wait_sub 1 120
sleep 1
inflight=$(cat $DEV/in_flight)
kill -9 $AZBLOBD
k0=$(now_ms)
wait $CL
rc=$?
wait $AZBLOBD 2>/dev/null
held=$(cat $DEV/pinned_pages)
echo "# kp: $(($(now_ms) - k0)) ms after the kill: in_flight $(cat $DEV/in_flight), pinned_pages $held"
echo "# GKILL kp $(sha $T/old) $(sha $T/new) $rc"
echo "# kp: in_flight $inflight when killed, client exit $rc: $(tail -c 200 $T/kp.err)"
[ "$inflight" -ge 1 ] && [ $rc -ne 0 ] &&
	ok "$DESC: killed with its Put Blob at the host ($inflight in flight), the client saw the failure (exit $rc)" ||
	nok "$DESC: kp: in_flight $inflight, client exit $rc"
[ "$held" -ge 1 ] && ok "$DESC: the host still holds the dead process's request: its $held pages stay pinned" ||
	nok "$DESC: nothing pinned after the kill (in_flight $(cat $DEV/in_flight))"
driver_idle 120 && ok "$DESC: the host completed it: in_flight 0, pinned_pages 0" ||
	nok "$DESC: driver after kill: in_flight $(cat $DEV/in_flight) pinned $(cat $DEV/pinned_pages)"
ctl fault 0 none >/dev/null
pins_balance
start_azblobd && ok "$DESC: a new azblobd starts on the same port" ||
	nok "$DESC: azblobd did not start again: $(tail -n 5 $T/azblobd.log)"
rm -f $T/o
$AZ get $C/kb $T/o 2>$T/err && { cmp -s $T/o $T/old || cmp -s $T/o $T/new; } &&
	ok "$DESC: and serves: kb reads back whole ($(stat -c %s $T/o) bytes), never partial" ||
	nok "$DESC: kb after restart: $(head -c 300 $T/err)"
rm -f $T/o $T/new

# --- 3. host faults during transfers -----------------------------------------
# fault NAME WINDOW_S ON OFF: four clients (three uploads of $FSRC with
# the put options $POPT; a download of the 24 MiB blob in 4 MiB ranges,
# two in flight); after 1 s the VSP gets the commands ON (";"-separated;
# "node": wait for the device node and give it to group azblob, as udev
# would), after WINDOW_S more OFF; then each client's outcome
head -c $((6 * 1048576 + 11)) /dev/urandom >$T/f
head -c $((20 * 1048576 + 13)) /dev/urandom >$T/f20
FSRC=$T/f POPT="--chunk-size 1M --parallel 2"
FAULTS=0
fault() {
	name=$1 win=$2 on=$3 off=$4
	t0=$(now_ms)
	for k in 1 2 3; do
		$AZ $POPT put $FSRC $C/$name-$k 2>$T/$name-$k.err &
		eval P$k=$!
	done
	rm -f $T/$name.got
	$AZ --chunk-size 4M --parallel 2 get $C/big $T/$name.got 2>$T/$name-4.err &
	# shellcheck disable=SC2034 # read by the eval below
	P4=$!
	sleep 1
	echo "$on" | tr ';' '\n' | while read -r cmd; do
		case "$cmd" in
		node) node_perms ;;
		*) r=$(ctl $cmd) || echo "# $name: '$cmd' failed: $r" ;;
		esac
	done
	if [ ! -e /dev/azure_blob ]; then
		r=$(./probe req --key "$KEY" GET /$C/big)
		echo "$r" | grep -q '^header x-ms-error-code: DeviceUnavailable$' &&
			ok "fault $name: without the device node a request gets 503 DeviceUnavailable, which clients retry" ||
			nok "fault $name: without the device node: $(echo "$r" | head -n 3 | tr '\n' ' ')"
	fi
	sleep "$win"
	echo "$off" | tr ';' '\n' | while read -r cmd; do
		case "$cmd" in
		node) node_perms ;;
		*) r=$(ctl $cmd) || echo "# $name: '$cmd' failed: $r" ;;
		esac
	done
	good=0 bad=0 unclear=0 why=
	for k in 1 2 3 4; do
		eval wait \$P$k
		rc=$?
		if [ $rc -eq 0 ]; then
			good=$((good + 1))
			[ $k -le 3 ] && echo "# GSHA $name-$k $(sha $FSRC) $(stat -c %s $FSRC)"
			[ $k -eq 4 ] && ! cmp -s $T/$name.got $T/big && { bad=$((bad + 1)); why="$why download differs;"; }
		else
			msg=$(grep -v '^azblob: retry' $T/$name-$k.err | tail -n 1)
			why="$why client $k exit $rc: $msg;"
			# a clear error: an exit code of azblob's and a message
			# that names the HTTP status or the transport's failure
			case "$msg" in
			*HTTP\ 5[0-9][0-9]*|*transport*|*DeviceUnavailable*|*DeviceRequestFailed*) ;;
			*) unclear=$((unclear + 1)) ;;
			esac
		fi
	done
	retries=$(cat $T/$name-[1-4].err | grep -c '^azblob: retry')
	t1=$(now_ms)
	echo "# fault $name: $good of 4 clients succeeded, $(((t1 - t0) / 1000)) s;$why"
	if [ $bad -eq 0 ] && [ $unclear -eq 0 ]; then
		ok "fault $name: $good of 4 transfers succeeded, the others failed with a clear error; downloads byte-exact"
	else
		nok "fault $name: $bad wrong downloads, $unclear unclear failures:$why"
	fi
	FAULTS=$((FAULTS + good))
	echo "# fault $name: $retries retries (azblob -v lines)"
}
AZ="$AZ -v"
fault delay 6 "fault 0 delay 1500" "fault 0 none"
fault status 3 "fault 0 status 5" "fault 0 none"
# a full ring: three Put Blobs of 20 MiB (a packet of 40 KiB each, the
# ring has 128 KiB) and the reads while the host takes one packet every
# 3 s
FSRC=$T/f20 POPT="--put-threshold 32M --chunk-size 32M"
w0=$(cat $DEV/ring_full_waits)
fault ring-full 15 "pace 0 3000000" "pace 0 0"
w1=$(cat $DEV/ring_full_waits)
[ "$w1" -gt "$w0" ] && ok "fault ring-full: the driver waited for room in the ring $((w1 - w0)) times" ||
	nok "fault ring-full: the ring never filled (ring_full_waits $w0 -> $w1)"
FSRC=$T/f POPT="--chunk-size 1M --parallel 2"
fault drop 3 "fault 0 hold" "rescind 0;fault 0 none;offer 0;node"
fault rescind 2 "rescind 0" "offer 0;node"
AZ="./azblob --transport http --no-progress"
[ $FAULTS -ge 10 ] && ok "faults: $FAULTS of 20 transfers went through" ||
	nok "faults: only $FAULTS of 20 transfers went through"

DESC=end
rm -f $T/o $T/f20
$AZ get $C/big $T/o 2>$T/err && cmp -s $T/o $T/big &&
	ok "$DESC: azblobd serves after the faults (24 MiB byte-exact)" || nok "$DESC: $(head -c 300 $T/err)"
rm -f $T/o
st=$(stats)
echo "# $st"
echo "$st" | grep -q "memory: used 0," && echo "$st" | grep -q "active 0;" &&
	ok "$DESC: no request active and no buffer held" || nok "$DESC: left over: $st"
driver_idle 60 && ok "$DESC: driver idle (in_flight 0, pinned_pages 0)" ||
	nok "$DESC: driver: in_flight $(cat $DEV/in_flight) pinned $(cat $DEV/pinned_pages)"
pins_balance
hst=$(ctl stats 0)
echo "# host: $hst"
kill -TERM $AZBLOBD
wait $AZBLOBD
rc=$?
[ $rc -eq 0 ] && ok "$DESC: azblobd stops on SIGTERM (exit 0)" || nok "$DESC: azblobd exit $rc"
grep -c "" $T/azblobd.log | sed 's/^/# azblobd log lines: /'
grep -E "warning|error" $T/azblobd.log | sort | uniq -c | sort -rn | head -n 15 | sed 's/^/# azblobd: /'
echo "# guest: $N tests"
exit 0
