#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Unit tests of libazblob (TAP): the C unit tests, then the Shared Key
# signatures of the known-answer vectors checked against the openssl CLI
# (HMAC-SHA256 of the string-to-sign with the base64-decoded key).
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
OUT=${1:?usage: unit.sh BUILD_DIR}
UT=$OUT/unit_test
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
echo "1..$n"
