#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Bearer tokens and managed identity against Azurite (TAP). Azurite checks
# tokens with "--oauth basic", over https only: it gets a certificate
# from a throw-away local CA. The tests' IMDS (imds.py) runs on 127.0.0.1
# and azblob finds it through AZBLOB_IMDS_ENDPOINT (for tests only); one
# more test, as root, puts it on 169.254.169.254 inside a network
# namespace of its own, where azblob uses its built-in address.
#
#   auth.sh BUILD_DIR
#
# Copyright (c) 2026 The hv_azure_blob authors

# ok and nok always succeed: "A && ok || nok" is an if-then-else here.
# shellcheck disable=SC2015

set -u
OUT=${1:?usage: auth.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../../.." && pwd)
RIG=$TOP/tools/testing/azure_blob
AZBLOB=$OUT/azblob
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
WORK=$(mktemp -d /tmp/azblob-auth.XXXXXX)
IMDS_PID=

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$IMDS_PID" ] && kill "$IMDS_PID" 2>/dev/null
	"$RIG/e2e/azurite.sh" stop "$WORK/az"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck source=tap.sh
. "$HERE/tap.sh"

count() { cat "$WORK/imds/count" 2>/dev/null || echo 0; }
mode() { echo "$*" >"$WORK/imds/mode"; }

# --- a CA, Azurite on https with token checks, the IMDS stand-in ---------------
"$RIG/scripts/local-ca.sh" "$WORK/ca" localhost IP:127.0.0.1 >/dev/null ||
	bail "local-ca.sh failed"
CA=$WORK/ca/ca.pem
PORT=$("$RIG/e2e/azurite.sh" start "$WORK/az" 10300 -- --oauth basic \
	--cert "$WORK/ca/server.pem" --key "$WORK/ca/server.key") ||
	PORT=$("$RIG/e2e/azurite.sh" start "$WORK/az" -- --oauth basic \
	--cert "$WORK/ca/server.pem" --key "$WORK/ca/server.key") ||
	bail "Azurite did not start"
URL=https://127.0.0.1:$PORT/devstoreaccount1
echo "# azurite (https, --oauth basic) on 127.0.0.1:$PORT"

mkdir -p "$WORK/imds"
python3 "$HERE/imds.py" 127.0.0.1 0 "$WORK/imds" >"$WORK/imds.out" 2>"$WORK/imds.err" &
IMDS_PID=$!
for _ in $(seq 1 50); do
	grep -q '^ready ' "$WORK/imds.out" 2>/dev/null && break
	sleep 0.1
done
IPORT=$(sed -n 's/^ready //p' "$WORK/imds.out")
[ -n "$IPORT" ] || bail "imds.py did not start: $(cat "$WORK/imds.err")"
export AZBLOB_IMDS_ENDPOINT=http://127.0.0.1:$IPORT/metadata/identity/oauth2/token
echo "# IMDS stand-in on 127.0.0.1:$IPORT"
unset AZURE_STORAGE_CONNECTION_STRING AZBLOB_BEARER_TOKEN
A=(--no-progress --transport http --account-url "$URL")

# --- https and the CA ----------------------------------------------------------
check "https with --ca-file: Shared Key creates container authc" 0 "" -- \
	"${A[@]}" --account-key "$KEY" --ca-file "$CA" mb authc
check "https without the CA: certificate verification fails (exit 9)" 9 "certificate" -- \
	"${A[@]}" --account-key "$KEY" ls authc
check "Shared Key still works with --oauth basic" 0 "" -- \
	"${A[@]}" --account-key "$KEY" --ca-file "$CA" ls authc

# --- managed identity ----------------------------------------------------------
A+=(--ca-file "$CA")
head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$WORK/in"
mode ok 3600
c0=$(count)
if check "msi: put 3 MiB in 4 blocks" 0 "" -- "${A[@]}" --auth msi \
	--chunk-size 1M --parallel 2 put "$WORK/in" authc/msi.bin &&
   check "msi: get it back" 0 "" -- "${A[@]}" --auth msi get authc/msi.bin "$WORK/got"; then
	[ "$(sha "$WORK/got")" = "$(sha "$WORK/in")" ] &&
		ok "msi: round trip sha256 equal" || nok "msi: data differs"
fi
# two processes, each fetches once and uses its token for every request
[ $(($(count) - c0)) -eq 2 ] &&
	ok "msi: one IMDS request per process for 6 Blob requests" ||
	nok "msi: $(($(count) - c0)) IMDS requests for two processes, want 2"
[ "$(cat "$WORK/imds/client_id")" = "-" ] &&
	ok "msi: no client_id for the VM's own identity" ||
	nok "msi: client_id '$(cat "$WORK/imds/client_id")'"
check "msi --msi-client-id: ls" 0 "msi.bin" -- "${A[@]}" --auth msi \
	--msi-client-id 0bd1e2a8-5c2f-4b7e-9a0c-0123456789ab ls authc
[ "$(cat "$WORK/imds/client_id")" = "0bd1e2a8-5c2f-4b7e-9a0c-0123456789ab" ] &&
	ok "msi --msi-client-id: IMDS got client_id" ||
	nok "msi: client_id '$(cat "$WORK/imds/client_id")'"

# refresh: a token for 10 s is due again after 5 s (half its life, as it is
# shorter than 10 minutes); the second block waits 6 s on the pipe. A
# token used just before it is due still has 4 s or more to live, so a
# slow request under load still reaches Azurite before it expires.
stream_put() {
	{ head -c 1048576 "$WORK/in"; sleep 6; tail -c +1048577 "$WORK/in" | head -c 1048576; } |
		"$AZBLOB" "${A[@]}" --auth msi --chunk-size 1M --parallel 1 \
		put - "authc/$1" 2>"$WORK/err"
}
head -c 2097152 "$WORK/in" >"$WORK/in2"
mode ok 10
c0=$(count)
if stream_put refresh.bin; then
	n=$(($(count) - c0))
	[ "$n" -ge 2 ] && ok "msi: the token is fetched again when due ($n IMDS requests for one upload of 6 s)" ||
		nok "msi: $n IMDS requests, want a refresh (2 or more)"
else
	nok "msi: streamed upload: $(head -c 300 "$WORK/err")"
fi
mode ok 3600
c0=$(count)
if stream_put norefresh.bin; then
	n=$(($(count) - c0))
	[ "$n" -eq 1 ] && ok "msi: a token valid for an hour is not fetched again (1 IMDS request)" ||
		nok "msi: $n IMDS requests with a 1 h token, want 1"
else
	nok "msi: streamed upload: $(head -c 300 "$WORK/err")"
fi
check "msi: the refreshed upload reads back" 0 "" -- "${A[@]}" --auth msi get authc/refresh.bin "$WORK/got2"
cmp -s "$WORK/got2" "$WORK/in2" && ok "msi: refreshed upload byte-exact" ||
	nok "msi: refreshed upload differs"

mode expired
check "msi: an expired token from IMDS: exit 7, says it expired" 7 "expired at" -- \
	"${A[@]}" --auth msi ls authc
mode status 400
check "msi: IMDS 400 (no identity): exit 7 with IMDS's description" 7 "Identity not found" -- \
	"${A[@]}" --auth msi ls authc
mode status 503
c0=$(count)
check "msi: IMDS 503: retried, then exit 8" 8 "answered 503" -- \
	"${A[@]}" --auth msi --retries 2 ls authc
[ $(($(count) - c0)) -eq 3 ] && ok "msi: IMDS 503 asked 3 times (--retries 2)" ||
	nok "msi: IMDS asked $(($(count) - c0)) times, want 3"
AZBLOB_IMDS_ENDPOINT=http://127.0.0.1:9/metadata/identity/oauth2/token \
	check "msi: IMDS unreachable: exit 9, names the service" 9 \
	"cannot reach the Instance Metadata Service" -- \
	"${A[@]}" --auth msi --retries 0 ls authc
mode ok 3600

# --- a static bearer token -----------------------------------------------------
curl -sf -H 'Metadata: true' \
	"$AZBLOB_IMDS_ENDPOINT?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' >"$WORK/token"
check "bearer --token-file: ls" 0 "refresh.bin" -- "${A[@]}" --auth bearer \
	--token-file "$WORK/token" ls authc
AZBLOB_BEARER_TOKEN=$(cat "$WORK/token") check "bearer from AZBLOB_BEARER_TOKEN: stat" 0 "" -- \
	"${A[@]}" --auth bearer stat authc/msi.bin
mode expired
curl -sf -H 'Metadata: true' \
	"$AZBLOB_IMDS_ENDPOINT?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' >"$WORK/old"
mode ok 3600
check "bearer: an expired token: exit 7, 'expired at' from its exp claim" 7 \
	"bearer token was refused: it expired at" -- "${A[@]}" --auth bearer \
	--token-file "$WORK/old" ls authc
grep -q "(AuthenticationFailed)" "$WORK/err" &&
	ok "bearer: the service's error code is in the message" ||
	nok "bearer: no service reason: $(head -c 300 "$WORK/err")"
echo "not-a-jwt" >"$WORK/bad"
check "bearer: a malformed token: exit 7, the token was refused" 7 \
	"bearer token was refused" -- "${A[@]}" --auth bearer --token-file "$WORK/bad" ls authc
printf 'two words\n' >"$WORK/bad2"
check "bearer: a token with a blank: usage error" 2 "blank" -- \
	"${A[@]}" --auth bearer --token-file "$WORK/bad2" ls authc
check "bearer without a token: usage error" 2 "AZBLOB_BEARER_TOKEN" -- \
	"${A[@]}" --auth bearer ls authc
check "bearer over plain http to a remote host: refused" 2 "https only" -- \
	--no-progress --transport http --account-url http://acct.blob.core.windows.net \
	--auth bearer --token-file "$WORK/token" ls authc
check "--token-file without --auth bearer: usage error" 2 "goes with --auth bearer" -- \
	"${A[@]}" --token-file "$WORK/token" ls authc

# --- 169.254.169.254 in a network namespace of the test's own -------------------
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
	skip "msi: IMDS at 169.254.169.254 in a namespace" "needs root, unshare and ip"
else
	mkdir -p "$WORK/ns"
	cat >"$WORK/ns.sh" <<EOF
# ok and nok always succeed: "A && ok || nok" is an if-then-else here.
# shellcheck disable=SC2015

set -u
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
python3 "$HERE/imds.py" 169.254.169.254 80 "$WORK/ns" >"$WORK/ns/out" 2>&1 &
p=\$!
for _ in \$(seq 1 50); do grep -q '^ready' "$WORK/ns/out" && break; sleep 0.1; done
env -u AZBLOB_IMDS_ENDPOINT "$AZBLOB" --no-progress --transport http --retries 0 \
	--auth msi --account-url https://127.0.0.1:9/devstoreaccount1 ls authc
echo "rc=\$?"
kill \$p
EOF
	unshare -n bash "$WORK/ns.sh" >"$WORK/ns.log" 2>&1
	if grep -q '^rc=9$' "$WORK/ns.log" && [ "$(cat "$WORK/ns/count" 2>/dev/null)" = 1 ]; then
		ok "msi: the token from 169.254.169.254:80 (built-in address, own namespace), then the storage endpoint's failure (exit 9)"
	else
		nok "msi in a namespace: $(tr '\n' ' ' <"$WORK/ns.log" | head -c 400); count $(cat "$WORK/ns/count" 2>/dev/null)"
	fi
fi
echo "1..$N"
