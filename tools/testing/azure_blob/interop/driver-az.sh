#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The interop suite's driver for azure-cli (Debian's azure-cli 2.45): the
# steps of driver-steps.md with one `az storage` command each, one
# "R ..." line per step, "N <count>" at the end: the HTTP requests az
# made, from the request lines urllib3 logs under --debug, which also
# give each step's HTTP status (the last one of the command). The error
# code is az's "ErrorCode:..." (or x-ms-error-code in the debug log).
# The environment is driver-python.py's; IO_AZ_DIR is az's configuration
# directory: for bearer tokens it holds the profile of a managed identity
# (what `az login --identity` writes), so az asks the instance metadata
# service for each command's token.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

export AZURE_CONFIG_DIR=$IO_AZ_DIR AZURE_CORE_COLLECT_TELEMETRY=false \
	AZURE_CORE_SURVEY_MESSAGE=false AZURE_CORE_NO_COLOR=true \
	AZURE_CORE_ONLY_SHOW_ERRORS=true
case $IO_AUTH in
key)
	proto=${IO_URL%%:*}
	auth=(--connection-string "DefaultEndpointsProtocol=$proto;AccountName=$IO_ACCOUNT;AccountKey=$IO_KEY;BlobEndpoint=$IO_URL") ;;
sas)
	auth=(--blob-endpoint "$IO_URL" --sas-token "$IO_SAS") ;;
bearer)
	auth=(--blob-endpoint "$IO_URL" --auth-mode login) ;;
esac
log=$(mktemp)
trap 'rm -f "$log" "$log.out" "$log.err"' EXIT
c=$IO_CONTAINER
requests=0

# azc STEP ARGS...: `az storage ARGS` with the run's authentication; the
# JSON in $log.out; sets $st (the last HTTP status) and $code.
azc() {
	local step=$1 ok=0

	shift
	az storage "$@" "${auth[@]}" --debug -o json >"$log.out" 2>"$log.err" || ok=1
	n=$(grep -c -E 'urllib3.connectionpool.*"[A-Z]+ [^ ]+ HTTP/1\.1" [0-9]+' "$log.err")
	requests=$((requests + n))
	st=$(grep -o -E '"[A-Z]+ [^ ]+ HTTP/1\.1" [0-9]+' "$log.err" | tail -n 1 |
		grep -o '[0-9]*$')
	code=-
	if [ "$ok" != 0 ]; then
		code=$(grep -o -m 1 'ErrorCode:[A-Za-z]*' "$log.err" | cut -d: -f2)
		[ -n "$code" ] || code=$(grep -o -i "'x-ms-error-code': '[A-Za-z]*'" "$log.err" |
			tail -n 1 | cut -d"'" -f4)
		echo "# $step: $(grep -v -E '^(DEBUG|INFO)' "$log.err" | grep -m 1 . | cut -c1-300)" >&2
	fi
	st=${st:-err} code=${code:--}
	return "$ok"
}
# j EXPR: a value of the JSON in $log.out (python3: Debian's az needs it)
j() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$log.out"; }
md5of() {	# md5of BASE64 FILE
	if [ -z "$1" ] || [ "$1" = None ]; then
		echo none
	elif [ "$1" = "$(python3 -c 'import base64, hashlib, sys
print(base64.b64encode(hashlib.md5(open(sys.argv[1], "rb").read()).digest()).decode())' "$2")" ]; then
		echo match
	else
		echo other
	fi
}
out() { echo "R $*"; }

azc create container create -n "$c"
out create "$st" "$code"
for n in $IO_SIZES; do
	src=$IO_DATA/s$n
	if ! azc "put:$n" blob upload -f "$src" -c "$c" -n "p/s$n" --overwrite; then
		out "put:$n" "$st" "$code"
		for s in props get del; do out "$s:$n" skip -; done
		continue
	fi
	etag=$(j 'd.get("etag")')
	out "put:$n" "$st" "$code" "md5=$(md5of "$(j 'd.get("content_md5") or ""')" "$src")"
	if azc "props:$n" blob show -c "$c" -n "p/s$n"; then
		p=$(j '"%s %s %s" % (d["properties"]["contentLength"], d["properties"]["contentSettings"]["contentMd5"] or "", d["properties"]["etag"])')
		read -r size md5 e <<<"$p"
		[ "$e" = "$etag" ] && e=same || e=differs
		out "props:$n" "$st" "$code" "size=$size" "md5=$(md5of "$md5" "$src")" "etag=$e"
	else
		out "props:$n" "$st" "$code"
	fi
	if azc "get:$n" blob download -c "$c" -n "p/s$n" -f "$IO_DATA/out"; then
		b=differ
		cmp -s "$src" "$IO_DATA/out" && b=exact
		e=$(j 'd["properties"]["etag"]')
		[ "$e" = "$etag" ] && e=same || e=differs
		out "get:$n" "$st" "$code" "bytes=$b" "etag=$e"
	else
		out "get:$n" "$st" "$code"
	fi
	rm -f "$IO_DATA/out"
	azc "del:$n" blob delete -c "$c" -n "p/s$n"
	out "del:$n" "$st" "$code"
done
printf x >"$IO_DATA/one"
for b in l/a l/b m/c; do
	azc "put:$b" blob upload -f "$IO_DATA/one" -c "$c" -n "$b" --overwrite ||
		out "put:$b" "$st" "$code"
done
if azc list blob list -c "$c" --prefix l/; then
	out list "$st" "$code" "names=$(j '",".join("%s:%s" % (b["name"], b["properties"]["contentLength"]) for b in d)')"
else
	out list "$st" "$code"
fi
azc ifmatch blob download -c "$c" -n l/a -f "$IO_DATA/out" --if-match '"0x8D000000DEADBEE"'
out ifmatch "$st" "$code"
azc missing blob download -c "$c" -n l/missing -f "$IO_DATA/out"
out missing "$st" "$code"
azc range blob download -c "$c" -n l/a -f "$IO_DATA/out" --start-range 5 --end-range 14
out range "$st" "$code"
rm -f "$IO_DATA/out"
azc delc container delete -n "$c"
out delc "$st" "$code"
echo "N $requests"
