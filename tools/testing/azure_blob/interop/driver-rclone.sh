#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The interop suite's driver for rclone (Debian's rclone 1.60): the steps
# of driver-steps.md with one rclone command each, one "R ..." line per
# step, "N <count>" (the HTTP requests to the storage endpoint that rclone
# logged with --dump headers) at the end. The environment is driver-python.py's, plus IO_SUFFIX: rclone
# 1.60 builds https://ACCOUNT.ENDPOINT from its account and endpoint
# settings for Shared Key and managed identity, so the endpoint there is
# a host suffix (e.g. azblobd.internal:10443), and https only; a SAS goes
# in as sas_url (IO_URL?IO_SAS), plain http allowed.
#
# rclone reports no HTTP status on success ("ok" here); on failure the
# status and error code come from its error text (the Blob SDK's
# "RESPONSE Status: 412 ..." and "ServiceCode=ConditionNotMet"), or 404
# ObjectNotFound for rclone's own "object not found" (or "is a directory
# or doesn't exist": its HEAD of the blob met a 404).
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

export RCLONE_CONFIG_IO_TYPE=azureblob
case $IO_AUTH in
key)
	export RCLONE_CONFIG_IO_ACCOUNT=$IO_ACCOUNT RCLONE_CONFIG_IO_KEY=$IO_KEY
	export RCLONE_CONFIG_IO_ENDPOINT=$IO_SUFFIX ;;
sas)
	export RCLONE_CONFIG_IO_SAS_URL="$IO_URL?$IO_SAS" ;;
bearer)
	export RCLONE_CONFIG_IO_ACCOUNT=$IO_ACCOUNT RCLONE_CONFIG_IO_USE_MSI=true
	export RCLONE_CONFIG_IO_ENDPOINT=$IO_SUFFIX ;;
esac
export RCLONE_CONFIG=/dev/null
log=$(mktemp)
trap 'rm -f "$log" "$log.err"' EXIT
c=io:$IO_CONTAINER

# rc STEP ARGS...: one rclone command; its stdout in $log.out; sets $st
# and $code from the outcome.
rc() {
	local step=$1

	shift
	st=ok code=-
	if rclone --retries 1 --low-level-retries 2 -vv --dump headers \
		"$@" >"$log.out" 2>"$log.err"; then
		cat "$log.err" >>"$log"
		return 0
	fi
	cat "$log.err" >>"$log"
	st=$(grep -o -m 1 'RESPONSE Status: [0-9]*' "$log.err" | grep -o '[0-9]*$')
	code=$(grep -o -m 1 'ServiceCode=[A-Za-z]*' "$log.err" | cut -d= -f2)
	if grep -q -E "object not found|is a directory or doesn't exist" "$log.err"; then
		st=${st:-404} code=${code:-ObjectNotFound}
	fi
	st=${st:-err} code=${code:--}
	echo "# $step: $(grep -m 1 -E 'ERROR|Failed' "$log.err" | cut -c1-300)" >&2
	return 1
}
out() { echo "R $*"; }
hex_md5() { md5sum "$1" | cut -d' ' -f1; }

rc create mkdir "$c"
out create "$st" "$code"
for n in $IO_SIZES; do
	src=$IO_DATA/s$n
	if ! rc "put:$n" copyto "$src" "$c/p/s$n"; then
		out "put:$n" "$st" "$code"
		for s in props get del; do out "$s:$n" skip -; done
		continue
	fi
	out "put:$n" "$st" "$code" md5=n/a
	if rc "props:$n" lsjson --hash --stat "$c/p/s$n"; then
		size=$(grep -o '"Size": *[0-9]*' "$log.out" | grep -o '[0-9]*$')
		md5=$(grep -o '"md5": *"[0-9a-f]*"' "$log.out" | cut -d'"' -f4)
		m=none
		[ -n "$md5" ] && { [ "$md5" = "$(hex_md5 "$src")" ] && m=match || m=other; }
		out "props:$n" "$st" "$code" "size=$size" "md5=$m" etag=n/a
	else
		out "props:$n" "$st" "$code"
	fi
	if rc "get:$n" copyto "$c/p/s$n" "$IO_DATA/out"; then
		b=differ
		cmp -s "$src" "$IO_DATA/out" && b=exact
		out "get:$n" "$st" "$code" "bytes=$b" etag=n/a
	else
		out "get:$n" "$st" "$code"
	fi
	rm -f "$IO_DATA/out"
	rc "del:$n" deletefile "$c/p/s$n"
	out "del:$n" "$st" "$code"
done
printf x >"$IO_DATA/one"
for b in l/a l/b m/c; do
	rc "put:$b" copyto "$IO_DATA/one" "$c/$b" || out "put:$b" "$st" "$code"
done
if rc list lsf --format ps --separator : "$c/l/"; then
	out list "$st" "$code" "names=$(sed 's|^|l/|' "$log.out" | paste -sd, -)"
else
	out list "$st" "$code"
fi
# rclone has no conditional read of its own: --header puts If-Match on
# each of the command's requests (the HEAD of the object, then the GET).
rc ifmatch cat --header 'If-Match: "0x8D000000DEADBEE"' "$c/l/a"
out ifmatch "$st" "$code"
# rclone reads only what it listed or found with a HEAD first: its
# deletefile of a missing blob is the request that meets the 404.
rc missing deletefile "$c/l/missing"
out missing "$st" "$code"
rc range cat --offset 5 --count 10 "$c/l/a"
out range "$st" "$code" "bytes=$(wc -c <"$log.out")"
rc delc purge "$c"
out delc "$st" "$code"
# the requests to the storage endpoint: not those to IMDS for tokens
echo "N $(grep '^Host: ' "$log" | grep -c -v -F 169.254.169.254)"
