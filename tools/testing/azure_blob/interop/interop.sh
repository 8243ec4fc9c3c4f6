#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make interop: the Azure clients as Debian ships them (python3-azure-
# storage, azure-cli, rclone; @azure/storage-blob from npm on Debian's
# Node.js) in the Debian 12 guest, each through azblobd and so
# /dev/azure_blob, and each straight to the same Azurite over the guest's
# NIC, step by step compared (guest.sh). Shared Key, SAS and bearer tokens:
# Azurite checks tokens (--oauth basic, behind TLS: nic-azurite.sh's
# NIC_OAUTH), an IMDS stand-in (tools/azure_blob/tests/imds.py) answers on
# 169.254.169.254 in the test's own network namespace. Prints TAP, writes
# build/results/interop.counts.
#
#   interop.sh --build DIR [--timeout S]
#
# The default plan fits about an hour here (see the plan below);
# INTEROP_FULL=1 runs every client with every authentication and every
# size, 300 MiB included. INTEROP_CLIENTS ("python node rclone az"),
# INTEROP_AUTHS ("key sas bearer") and INTEROP_SIZES (bytes, for every
# run) narrow it.
#
# Expects the VSP (DIR/rig/vsp), vmbus_emu.ko with hv_vmbus's symbol
# versions (DIR/debian-vm/vmbus_emu) and the packages of make deb-build
# (DIR/deb); `make interop` builds them. Logs in DIR/interop/: console.log,
# guest.log, vsp.log, imds.log, socat-*.log.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dvm=$(cd "$here/../debian-vm" && pwd)
srctree=$(cd "$here/../../../.." && pwd)
# shellcheck source=SCRIPTDIR/../debian-vm/nic-azurite.sh
. "$dvm/nic-azurite.sh"
tap=azbtap0

# ---- inside the namespace: the store, its front ends, IMDS, the guest -----------------
inner() {
	local vmrc

	work=$(mktemp -d /tmp/azblob-interop.XXXXXX)
	imds_pid=''
	# shellcheck disable=SC2317 # runs from the trap
	inner_cleanup() {
		[ -n "$imds_pid" ] && kill "$imds_pid" 2>/dev/null
		nic_azurite_stop "$work"
		cp "$work"/socat-*.log "$IO_OUT/" 2>/dev/null
		cp "$work/imds/count" "$IO_OUT/imds.count" 2>/dev/null
		rm -rf "$work"
	}
	trap inner_cleanup EXIT
	trap 'exit 130' INT TERM

	# IMDS's address, on the guest's link
	ip addr add 169.254.169.254/32 dev "$tap" || return 1
	mkdir -p "$work/imds"
	python3 "$srctree/tools/azure_blob/tests/imds.py" 169.254.169.254 80 "$work/imds" \
		>"$IO_OUT/imds.log" 2>&1 &
	imds_pid=$!
	if ! NIC_OAUTH=1 nic_azurite_start "$work" >/dev/null ||
	   ! nic_azurite_payload "$work" "$IO_PAYLOAD"; then
		echo "# Azurite and its front ends did not start"
		return 1
	fi
	# azblobd's certificate, from the run's CA (the guest trusts it)
	mkdir -p "$work/azblobd" "$IO_PAYLOAD/azblobd"
	cp "$work/ca.pem" "$work/ca.key" "$work/azblobd/"
	"$nic_rig/scripts/local-ca.sh" "$work/azblobd" azblobd.internal \
		"$NIC_ACCOUNT.azblobd.internal" localhost IP:127.0.0.1 IP:::1 >/dev/null &&
		cp "$work/azblobd/server.pem" "$work/azblobd/server.key" "$IO_PAYLOAD/azblobd/" ||
		return 1
	grep -q '^ready ' "$IO_OUT/imds.log" || sleep 1
	echo "# Azurite (--oauth basic, https) on 127.0.0.1:$AZ_TLS_PORT, plain relay :$AZ_PORT for the VSP;" \
		"NIC http $NIC_ADDR:$NIC_HTTP_PORT, https :$NIC_HTTPS_PORT; IMDS 169.254.169.254:80 ($(head -n 1 "$IO_OUT/imds.log"))"
	"$dvm/run-debian-vm.sh" --image "$IO_ENTRY" --payload "$IO_PAYLOAD" \
		--timeout "$IO_TIMEOUT" --tap "$tap" --mem 2G \
		--vsp "$IO_BUILD/rig/vsp" --vsp-log "$IO_OUT/vsp.log" \
		--vsp-arg=--backend=http \
		--vsp-arg=--http-endpoint="http://127.0.0.1:$AZ_PORT" --vsp-arg=--http-keep-host \
		--console "$IO_OUT/console.log" --output "$IO_OUT/guest.log" |
		sed -u -e 's/\r$//' -e '/^AZBLOB-VM-/d' -e '/^GUEST-RESULT /d'
	vmrc=${PIPESTATUS[0]}
	echo "$vmrc" >"$IO_OUT/guest.rc"
	nic_azurite_peers "$work" >"$IO_OUT/peers"
	return 0
}

if [ "${1:-}" = --inner ]; then
	inner
	exit $?
fi

# ---- outside ----------------------------------------------------------------------------
build='' timeout=5400
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	*) echo "usage: $0 --build DIR [--timeout S]" >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "$0: --build DIR is required" >&2; exit 2; }
build=$(cd "$build" && pwd)
out=$build/interop
payload=$out/payload
results=$build/results
mkdir -p "$out" "$results"
start=$(date +%s)

# The plan: one line per run, "CLIENT AUTH MODE SIZE...". By default every
# client with every authentication, except azure-cli (about 30 s a
# command under TCG here): Shared Key only, one small blob; 300 MiB with
# the Python SDK and a SAS; the SDKs' default transfer sizes with Shared
# Key (azblobd refuses their 32 MiB + 1 Put Blob as documented), with a
# SAS from Python and a bearer token from Node.js (azblobd splits it into
# Put Block + Put Block List). INTEROP_FULL=1: everything, 300 MiB
# everywhere, the defaults with every authentication.
clients=${INTEROP_CLIENTS:-python node rclone az}
auths=${INTEROP_AUTHS:-key sas bearer}
all='0 1 4194303 4194305 33554431 33554433'
big=314572800
full=${INTEROP_FULL:-0}
plan=''
for c in $clients; do
	for a in $auths; do
		case $full:$c:$a in
		1:*) s="$all $big" ;;
		0:python:sas) s="$all $big" ;;
		0:python:*|0:node:*) s=$all ;;
		0:rclone:*) s='0 4194305 33554433' ;;
		0:az:key) s=1 ;;
		*) continue ;;
		esac
		plan+="$c $a matrix ${INTEROP_SIZES:-$s}"$'\n'
		case $full:$c:$a in
		?:python:key|?:node:key|?:python:sas|?:node:bearer|1:python:*|1:node:*)
			plan+="$c $a defaults 33554433"$'\n' ;;
		esac
	done
done

# TAP from here on: the host's own checks, then the guest's lines.
hn=0 hfail=0
hok() { hn=$((hn + 1)); echo "ok $hn - $*"; }
hnok() { hn=$((hn + 1)); hfail=$((hfail + 1)); echo "not ok $hn - $*"; }
# before the guest ran
finish() {
	echo "1..$hn"
	echo "$((hn - hfail)) $hfail 0" >"$results/interop.counts"
	echo "# interop: $((hn - hfail)) passed, $hfail failed in $(( $(date +%s) - start )) s; logs in $out/"
	exit 1
}
rm -f "$out/guest.log"

entry=$("$dvm/build-image.sh" --clients | tail -n 1)
if [ ! -d "${entry:-/nonexistent}" ]; then
	hnok "the Debian image with the clients (build-image.sh --clients) did not build"
	finish
fi
kflavour=$(cat "$entry/kver")-cloud-amd64
emu=$build/debian-vm/vmbus_emu/vmbus_emu.ko
missing=''
for f in "$build/rig/vsp" "$emu"; do
	[ -e "$f" ] || missing+=" $f"
done
if [ -n "$missing" ] || [ "$(modinfo -F vermagic "$emu" | cut -d' ' -f1)" != "$kflavour" ]; then
	hnok "the VSP and a vmbus_emu.ko for $kflavour (make interop builds them):${missing:- $emu is for another kernel}"
	finish
fi
hok "image $entry ($kflavour, $(( $(date +%s) - start )) s to reuse or build)"

# The JavaScript SDK: from npm on the host (the guest reaches no registry),
# the versions of node/package-lock.json, which run on Node.js 18.
nodedir=$build/interop-node
if ! cmp -s "$here/node/package-lock.json" "$nodedir/package-lock.json" ||
   [ ! -d "$nodedir/node_modules/@azure/storage-blob" ]; then
	rm -rf "$nodedir"
	mkdir -p "$nodedir"
	cp "$here/node/package.json" "$here/node/package-lock.json" "$nodedir/"
	(cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error) >"$out/npm.log" 2>&1
fi
if [ -d "$nodedir/node_modules/@azure/storage-blob" ]; then
	hok "@azure/storage-blob $(node -p "require('$nodedir/node_modules/@azure/storage-blob/package.json').version") from npm (node/package-lock.json)"
else
	hnok "npm ci of node/package.json failed: $(tail -n 5 "$out/npm.log")"
	finish
fi
if ! nic_azurite_install >"$out/install.log" 2>&1; then
	hnok "socat, openssl or Azurite did not install: $(tail -n 5 "$out/install.log")"
	finish
fi

rm -rf "$payload"
mkdir -p "$payload/interop" "$payload/node" "$payload/debs"
install -m 0755 "$here/guest.sh" "$payload/run"
install -m 0755 "$here"/driver-* "$here/sas.py" "$payload/interop/"
cp -a "$nodedir/node_modules" "$payload/node/"
# shellcheck disable=SC2034 # read by dvm_payload_base
DVM_ENTRY=$entry
dvm_payload_base "$payload" "$emu" "$kflavour" >/dev/null || { hnok "depmod for the guest failed"; finish; }
ndebs=$(dvm_payload_debs "$build" "$payload/debs")
for d in "$build"/deb/azblobd_*.deb; do
	[ -e "$d" ] && cp "$d" "$payload/debs/" && ndebs=$((ndebs + 1))
done
if [ "$ndebs" -lt 4 ]; then
	hnok "not the four packages in $build/deb (make deb-build): $ndebs"
	finish
fi
printf 'KFLAVOUR=%s\n' "$kflavour" >"$payload/env"
printf '%s' "$plan" >"$payload/plan"
echo "# plan (client, authentication, mode, sizes in bytes):"
printf '%s' "$plan" | sed 's/^/#   /'

rm -f "$out/vsp.log" "$out/guest.rc" "$out/peers" "$out"/socat-*.log "$out/imds.count"
export IO_ENTRY=$entry IO_PAYLOAD=$payload IO_TIMEOUT=$timeout IO_BUILD=$build IO_OUT=$out
# The guest's TAP lines as they come, numbered after the host's.
gn=$hn
"$dvm/netns.sh" --tap "$tap" "$here/interop.sh" --inner |
	while IFS= read -r line; do
		case $line in
		"ok "[0-9]*" - "*) gn=$((gn + 1)); line="ok $gn - ${line#* - }" ;;
		"not ok "[0-9]*" - "*) gn=$((gn + 1)); line="not ok $gn - ${line#* - }" ;;
		esac
		printf '%s\n' "$line"
	done
rc=$(cat "$out/guest.rc" 2>/dev/null)
hn=$((hn + $(grep -c -E '^(ok|not ok) [0-9]' "$out/guest.log" 2>/dev/null)))
hfail=$((hfail + $(grep -c '^not ok [0-9]' "$out/guest.log" 2>/dev/null)))
if grep -q '^GUEST-RESULT ' "$out/guest.log" 2>/dev/null && [ "${rc:-1}" != 124 ]; then
	hok "the guest ran the matrix to its end (exit ${rc:-?})"
else
	hnok "the guest did not finish (exit ${rc:-?}; console: $out/console.log)"
fi
read -r _ http _ https _ _ <"$out/peers" 2>/dev/null
if [ "${http:-0}" -gt 0 ] && [ "${https:-0}" -gt 0 ]; then
	hok "the direct runs reached Azurite over the guest's NIC: $http http and $https https connections"
else
	hnok "the NIC's front ends saw no connections from the guest (http ${http:-?}, https ${https:-?})"
fi
case " $auths " in
*" bearer "*)
	ic=$(cat "$out/imds.count" 2>/dev/null)
	if [ "${ic:-0}" -gt 0 ]; then
		hok "the clients took their bearer tokens from IMDS on 169.254.169.254: $ic token requests"
	else
		hnok "no token request reached the IMDS stand-in"
	fi ;;
esac
req=$(grep -o 'http: requests.*' "$out/vsp.log" 2>/dev/null | tail -n 1)
echo "# VSP: ${req:-no http backend summary in $out/vsp.log}"
echo "1..$hn"
echo "$((hn - hfail)) $hfail 0" >"$results/interop.counts"
echo "# interop: $((hn - hfail)) passed, $hfail failed in $(( $(date +%s) - start )) s; logs in $out/"
[ "$hfail" = 0 ]
