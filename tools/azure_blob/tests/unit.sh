#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Unit tests of libazblob (TAP): the C unit tests, then the Shared Key
# signatures of the known-answer vectors checked against the openssl CLI
# (HMAC-SHA256 of the string-to-sign with the base64-decoded key), then
# what must not follow the locale, under non-English locales that
# localedef compiles into BUILD_DIR/locale (Debian's `locales` sources)
# and LOCPATH selects, so the machine's own locales are left alone; then
# the device fallbacks (tests/fallback_test.c) and azblob doctor
# (tests/doctor_test.c), whose JSON reports python3 must parse.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
OUT=${1:?usage: unit.sh BUILD_DIR}
UT=$OUT/unit_test
HERE=$(cd "$(dirname "$0")" && pwd)
APT_NEED=$HERE/../../testing/azure_blob/scripts/apt-need.sh
LOCDIR=$OUT/locale
LOCALES=(de_DE.UTF-8 tr_TR.UTF-8 tr_TR.ISO-8859-9)
KEYS=(
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	"c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU2Nzg5"
)
ACCOUNTS=(devstoreaccount1 myaccount)

out=$("$UT")
printf '%s\n' "$out" | grep -v '^1\.\.'
n=$(printf '%s\n' "$out" | grep -c '^\(not \)\?ok ')

for i in 0 1; do
	n=$((n + 1))
	hexkey=$(printf '%s' "${KEYS[$i]}" | openssl base64 -d -A | xxd -p | tr -d '\n')
	want="SharedKey ${ACCOUNTS[$i]}:$("$UT" sts $i |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary |
		openssl base64 -A)"
	got=$("$UT" sig $i)
	if [ "$got" = "$want" ]; then
		echo "ok $n - Shared Key vector $i matches openssl HMAC-SHA256"
	else
		echo "not ok $n - Shared Key vector $i: got '$got' want '$want'"
	fi
done

# tap PREFIX: renumber a TAP stream into ours, the plan line dropped
tap() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"ok "*) n=$((n + 1)); echo "ok $n - $1${line#ok * - }" ;;
		"not ok "*) n=$((n + 1)); echo "not ok $n - $1${line#not ok * - }" ;;
		"1.."*) ;;
		*) echo "$line" ;;
		esac
	done
}

"$APT_NEED" locales >/dev/null 2>&1
for loc in "${LOCALES[@]}"; do
	if [ ! -s "$LOCDIR/$loc/LC_TIME" ]; then
		mkdir -p "$LOCDIR"
		localedef -i "${loc%%.*}" -f "${loc#*.}" "$LOCDIR/$loc" \
			>"$LOCDIR/$loc.log" 2>&1
	fi
	if [ ! -s "$LOCDIR/$loc/LC_TIME" ]; then
		n=$((n + 1))
		echo "not ok $n - locale $loc: localedef made nothing: $(head -c 300 "$LOCDIR/$loc.log" 2>/dev/null)"
		continue
	fi
	out=$(LOCPATH=$LOCDIR LC_ALL=$loc "$UT" locale)
	rc=$?
	tap "[$loc] " <<<"$out"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok ' <<<"$out"; then
		n=$((n + 1))
		echo "not ok $n - [$loc] unit_test locale exited with status $rc"
	fi
done

# suite BINARY ARGS...: a test binary's TAP, renumbered into ours
suite() {
	local out rc
	out=$("$@")
	rc=$?
	tap "" <<<"$out"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok ' <<<"$out"; then
		n=$((n + 1))
		echo "not ok $n - $(basename "$1") exited with status $rc"
	fi
}

suite "$OUT/fallback_test"

JSON_DIR=$OUT/doctor-json
rm -rf "$JSON_DIR"
mkdir -p "$JSON_DIR"
suite "$OUT/doctor_test" "$JSON_DIR"
for f in "$JSON_DIR"/*.json; do
	n=$((n + 1))
	name=$(basename "$f" .json)
	case "$name" in
	permission_*) want="permission 7" ;;
	usable*) want="usable 0" ;;
	stale) want="broken 9" ;;
	escapes) want="no_node 9 device-as-sent" ;;
	no_device) want="no_device 3" ;;
	*) want="$name 9" ;;
	esac
	got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
dev = "/tmp/x\"y\\z\n\x01\x7f\ufffd\u00e4"
extra = [] if sys.argv[2] != "escapes" else \
	["device-as-sent" if d["device"] == dev else repr(d["device"])]
print(d["status"], d["exit"], *extra)
' "$f" "$name" 2>&1)
	if [ "$got" = "$want" ]; then
		echo "ok $n - doctor --json of case $name parses (python3): $got"
	else
		echo "not ok $n - doctor --json of case $name: '$got', want '$want'"
	fi
done
echo "1..$n"
