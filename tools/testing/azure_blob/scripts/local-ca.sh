#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A throw-away certificate authority for the tests' HTTPS endpoints, and
# server certificates signed by it (openssl; nothing leaves the machine).
#
#   local-ca.sh DIR NAME...   writes DIR/ca.pem (the CA to trust),
#                             DIR/server.pem and DIR/server.key (a
#                             certificate for every NAME: DNS names, or
#                             IP addresses as IP:a.b.c.d)
#
# Keys are EC P-256, valid for 30 days. An existing DIR/ca.pem is kept, so
# that a guest image which trusts it stays valid; the server certificate
# is issued again whenever the names differ.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 DIR NAME..." >&2; exit 2; }
dir=$1
shift
command -v openssl >/dev/null ||
	"$(dirname "$0")/apt-need.sh" openssl
mkdir -p "$dir"
umask 077

san=
for n in "$@"; do
	case $n in
	IP:*) san+="${san:+,}$n" ;;
	*) san+="${san:+,}DNS:$n" ;;
	esac
done

if [ ! -s "$dir/ca.pem" ] || [ ! -s "$dir/ca.key" ]; then
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" -days 30 \
		-subj "/CN=hv_azure_blob test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	rm -f "$dir/server.pem"
fi
if [ -s "$dir/server.pem" ] && [ "$(cat "$dir/server.san" 2>/dev/null)" = "$san" ] &&
   openssl x509 -in "$dir/server.pem" -noout -checkend 86400 >/dev/null; then
	exit 0
fi
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-keyout "$dir/server.key" -out "$dir/server.csr" \
	-subj "/CN=$1" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' \
	"$san" > "$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
	-CAcreateserial -out "$dir/server.pem" -days 29 \
	-extfile "$dir/server.ext" 2>/dev/null
rm -f "$dir/server.csr" "$dir/server.ext"
echo "$san" > "$dir/server.san"
chmod 0644 "$dir/ca.pem" "$dir/server.pem"
openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null
