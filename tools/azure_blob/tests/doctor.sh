#!/bin/bash
# SPDX-License-Identifier: MIT
#
# azblob doctor and the --transport auto fallbacks as a user meets them
# (TAP): the CLI on fake hosts (AZBLOB_TEST_ROOT) whose nodes give the
# kernel's own errors, run as "nobody" (setpriv) where permissions count:
# EACCES from the mode, ENXIO from a node of an unregistered major,
# ENODEV from an unregistered misc minor, EOPNOTSUPP and ENOTTY from
# /dev/zero's numbers. Each doctor --json output is parsed by python3
# and by tests/json_check (the checker the guest uses), whose own
# verdicts on valid and broken JSON come first. Needs root (mknod,
# setpriv); without it the cases are skipped.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
OUT=${1:?usage: doctor.sh BUILD_DIR}
AZ=$OUT/azblob
AZS=$OUT/azblob-static
JC=$OUT/json_check
WORK=$(mktemp -d /tmp/azb-doctor-cli.XXXXXX)
chmod 0755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
N=0

ok() { N=$((N + 1)); echo "ok $N - $*"; }
nok() { N=$((N + 1)); echo "not ok $N - $*"; }
skip() { N=$((N + 1)); echo "ok $N - $* # SKIP"; }

# --- json_check agrees with python3 ------------------------------------------
jc_case() {
	local want=$1 doc=$2 py jc
	printf '%s' "$doc" >"$WORK/j"
	python3 -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))' \
		"$WORK/j" 2>/dev/null && py=valid || py=invalid
	"$JC" "$WORK/j" 2>/dev/null && jc=valid || jc=invalid
	if [ "$jc" = "$want" ] && { [ "$py" = "$want" ] || [ "$3" = py-lax ]; }; then
		ok "json_check: $want: $(printf '%q' "$doc" | head -c 80)"
	else
		nok "json_check: '$doc': json_check $jc, python3 $py, want $want"
	fi
}
jc_case valid '{}' ""
jc_case valid ' [ ] ' ""
jc_case valid '{"a":[1,-0.5e+3,0,1E9,true,false,null,"\u00e9\ud83d\ude00\n\"\\\/"],"b":{}}' ""
jc_case valid $'{"k":"\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80"}' ""
jc_case invalid '{"a":1,}' ""
jc_case invalid '[1 2]' ""
jc_case invalid '{"a"}' ""
jc_case invalid '01' ""
jc_case invalid '{"a":1} x' ""
jc_case invalid $'"\xc3"' ""
jc_case invalid '' ""
jc_case invalid '{"a":1}/*c*/' ""
jc_case invalid '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' py-lax
printf '{"status":"usable","n":{"status":"x"},"exit":0}' >"$WORK/j"
if [ "$("$JC" "$WORK/j" status)" = '"usable"' ] && [ "$("$JC" "$WORK/j" exit)" = 0 ]; then
	"$JC" "$WORK/j" nope >/dev/null
	if [ $? -eq 3 ]; then
		ok "json_check: prints top-level members, exit 3 for a missing one"
	else
		nok "json_check: a missing member does not exit 3"
	fi
else
	nok "json_check: member values: $("$JC" "$WORK/j" status) $("$JC" "$WORK/j" exit)"
fi

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	skip "doctor on fake hosts: needs root and setpriv"
	echo "1..$N"
	exit 0
fi

# "nobody" runs copies in $WORK: the checkout may sit where it cannot reach
# (a home directory of mode 0700, /root on a fresh machine).
mkdir -p "$WORK/bin"
cp -P "$AZ" "$AZS" "$OUT"/libazblob.so* "$WORK/bin/"
AZ=$WORK/bin/azblob
AZS=$WORK/bin/azblob-static

# --- fake hosts -----------------------------------------------------------------
ROOT=$WORK/root
BLOB=$ROOT/sys/bus/vmbus/devices/6f2a3c1e-57d0-4b7a-9a1e-0c3d5e7f9b21
NIC=$ROOT/sys/bus/vmbus/devices/9c1f3a20-0b44-4d1e-8d0a-5f6e7a8b9c0d
host_nic() {
	mkdir -p "$NIC" "$ROOT/dev"
	echo "{f8615163-df3e-46c5-913f-f2d2f965ed0e}" >"$NIC/class_id"
}
host_offer() {
	mkdir -p "$BLOB"
	echo "{0590b792-db64-45cc-81db-b8d70c577c9e}" >"$BLOB/class_id"
}
host_driver() {
	mkdir -p "$ROOT/sys/module/hv_azure_blob" \
		"$ROOT/sys/bus/vmbus/drivers/hv_azure_blob" \
		"$ROOT/sys/class/misc/azure_blob"
	echo live >"$ROOT/sys/module/hv_azure_blob/initstate"
	echo 10:123 >"$ROOT/sys/class/misc/azure_blob/dev"
	ln -sfn ../../../../bus/vmbus/drivers/hv_azure_blob "$BLOB/driver"
}
node() {	# node MAJOR MINOR MODE GROUP
	rm -f "$ROOT/dev/azure_blob"
	mknod -m "$3" "$ROOT/dev/azure_blob" c "$1" "$2" &&
		chgrp "$4" "$ROOT/dev/azure_blob"
}
chmod -R a+rX "$WORK" 2>/dev/null
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		env AZBLOB_TEST_ROOT="$ROOT" "$@"
}
as_root() { env AZBLOB_TEST_ROOT="$ROOT" "$@"; }

# doctor_case DESC WANT_EXIT WANT_STATUS PATTERN RUNNER
doctor_case() {
	local desc=$1 want=$2 status=$3 pat=$4 run=$5 rc s
	chmod -R a+rX "$ROOT"
	$run "$AZ" doctor >"$WORK/out" 2>&1
	rc=$?
	$run "$AZ" doctor --json >"$WORK/json" 2>"$WORK/err"
	s=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["status"], d["exit"], d["usable"])' \
		"$WORK/json" 2>&1)
	if [ "$rc" -eq "$want" ] && [ "$s" = "$status $want $([ "$want" -eq 0 ] && echo True || echo False)" ] &&
	   grep -q -- "$pat" "$WORK/out" && "$JC" "$WORK/json" >/dev/null &&
	   [ "$("$JC" "$WORK/json" status)" = "\"$status\"" ]; then
		ok "doctor, $desc: exit $rc, $status, '$pat'"
	else
		nok "doctor, $desc: exit $rc (want $want), json '$s' (want $status), pattern '$pat':"
		sed 's/^/#   /' "$WORK/out" "$WORK/err"
	fi
}

# free numbers: a character major nothing registered, a misc minor
free_major() {
	local m
	for m in 240 241 242 243 244 60 61 62 63 120 121; do
		sed -n '/^Character/,/^$/p' /proc/devices | grep -qw "^ *$m" || { echo "$m"; return; }
	done
}
free_misc() {
	local m
	for m in $(seq 64 127); do
		grep -qw "^ *$m" /proc/misc || { echo "$m"; return; }
	done
}

# a port that refuses connections: the http transport fails fast
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
CS="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$DEAD/devstoreaccount1"

# auto_case DESC RUNNER NOTICE_PATTERN -- azblob args: exit 9, the error
# from the http transport (not the device), the notice exactly once
auto_case() {
	local desc=$1 run=$2 pat=$3 rc n
	shift 4
	$run "$AZ" --connection-string "$CS" --retries 0 --no-progress \
		--transport auto "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	n=$(grep -c -- "$pat" "$WORK/err")
	if [ "$rc" -eq 9 ] && [ "$n" -eq 1 ] && grep -q "using the http transport" "$WORK/err" &&
	   ! grep -q "ioctl" "$WORK/err" && grep -qi "connect" "$WORK/err"; then
		ok "auto, $desc: one notice, then http (exit $rc: $(tail -n 1 "$WORK/err" | head -c 120))"
	else
		nok "auto, $desc: exit $rc, $n notices matching '$pat':"
		sed 's/^/#   /' "$WORK/err"
	fi
}

host_nic
doctor_case "no device offered" 3 no_device "offers no Azure Blob device" as_root
host_offer
doctor_case "offered, driver not loaded" 9 no_driver "modprobe hv_azure_blob" as_root
host_driver
doctor_case "driver bound, no node" 9 no_node "mknod -m 0600 /dev/azure_blob c 10 123" as_root

node 10 123 0660 disk
doctor_case "node 0660 root:disk, as nobody (EACCES)" 7 permission \
	"usermod -aG disk \$USER" as_nobody
auto_case "EACCES as nobody" as_nobody "cannot be opened: Permission denied; using the http transport" -- stat c/b
as_nobody "$AZS" --connection-string "$CS" --transport auto --no-progress stat c/b >"$WORK/out" 2>"$WORK/err"
rc=$?
if [ "$rc" -eq 9 ] && grep -q "no transport: .*Permission denied, and this azblob has no http transport" "$WORK/err"; then
	ok "auto, EACCES, device-only azblob: exit 9, says why ($(head -c 160 "$WORK/err"))"
else
	nok "auto, EACCES, device-only azblob: exit $rc: $(cat "$WORK/err")"
fi
as_nobody "$AZ" --connection-string "$CS" --transport device --device "$ROOT/dev/azure_blob" \
	--no-progress stat c/b >"$WORK/out" 2>"$WORK/err"
rc=$?
if [ "$rc" -eq 9 ] && grep -q "cannot open .*Permission denied (azblob doctor tells why)" "$WORK/err" &&
   ! grep -q "using the http" "$WORK/err"; then
	ok "--transport device, EACCES: no fallback, exit 9, points at doctor"
else
	nok "--transport device, EACCES: exit $rc: $(cat "$WORK/err")"
fi

node 10 123 0600 root
doctor_case "node 0600 root:root, as nobody (EACCES)" 7 permission \
	"60-azure-blob.rules" as_nobody

MA=$(free_major)
if [ -n "$MA" ] && node "$MA" 0 0600 root; then
	doctor_case "node $MA:0, no driver has the major (ENXIO)" 9 broken \
		"No such device or address" as_root
	auto_case "ENXIO" as_root "No such device or address; using the http transport" -- stat c/b
else
	skip "ENXIO: no free character major"
fi
MI=$(free_misc)
if [ -n "$MI" ] && node 10 "$MI" 0600 root; then
	doctor_case "node 10:$MI, no misc device has the minor (ENODEV)" 9 broken \
		"the node is stale: the driver's node is azure_blob, 10:123" as_root
	auto_case "ENODEV" as_root "No such device; using the http transport" -- stat c/b
else
	skip "ENODEV: no free misc minor"
fi

# /dev/zero's numbers: opens, takes neither io_uring commands nor the ioctl
node 1 5 0600 root
doctor_case "node 1:5 (/dev/zero)" 9 broken "not the Azure Blob driver's node" as_root
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["io_uring"]["errno"] == 95 and d["io_uring"]["stage"] == "command" and d["ioctl"]["errno"] == 25 and d["auto"]["transport"] == "device"))' "$WORK/json"; then
	ok "doctor, /dev/zero: io_uring command EOPNOTSUPP, ioctl ENOTTY, auto would pick the device"
else
	nok "doctor, /dev/zero: $(cat "$WORK/json")"
fi
head -c 16384 /dev/urandom >"$WORK/blob"
as_root "$AZ" --connection-string "$CS" --retries 0 --no-progress --transport auto \
	--parallel 4 --chunk-size 4K put "$WORK/blob" c/b >"$WORK/out" 2>"$WORK/err"
rc=$?
n=$(grep -c "the driver does not take io_uring commands (Operation not supported); using its ioctl" "$WORK/err")
if [ "$rc" -eq 9 ] && [ "$n" -eq 1 ] && grep -q "ioctl: Inappropriate ioctl for device" "$WORK/err"; then
	ok "auto, io_uring EOPNOTSUPP on a parallel put: one notice, then the ioctl (ENOTTY, exit 9)"
else
	nok "auto, io_uring EOPNOTSUPP: exit $rc, $n notices:"
	sed 's/^/#   /' "$WORK/err"
fi
echo "1..$N"
