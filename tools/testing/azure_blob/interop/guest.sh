#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make interop` (the payload's `run`, as root under
# systemd in the Debian guest with the Azure clients of build-image.sh
# --clients): the packages installed with apt, azblobd configured and
# started as its package's service, then every client of CLIENTS with
# every authentication of AUTHS runs the steps of driver-steps.md twice,
# once through azblobd (and so /dev/azure_blob) and once straight to
# Azurite over the guest's NIC, as the user "interop" (a member of the
# device's group). The two runs' step lines must be equal, except where
# azblobd.md documents an answer of its own (expect_dev below); the
# driver's request counter must have risen by at least the requests the
# client sent through azblobd (less those azblobd answered itself). Prints
# TAP; ends with "GUEST-RESULT pass|fail N".
#
# ./env: KFLAVOUR; ./plan: one run a line, "CLIENT AUTH MODE SIZE..."
# (MODE matrix, or defaults: the SDKs' default transfer sizes). ./nic/ is
# nic-azurite.sh's payload, ./azblobd/ azblobd's certificate and key,
# ./interop/ the drivers, ./node/node_modules the JavaScript SDK.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

pay=/run/azblob-rig
# shellcheck source=/dev/null
. "$pay/env"
# shellcheck source=SCRIPTDIR/../debian-vm/nic-guest.sh
. "$pay/nic/nic-guest.sh"
misc=/sys/class/misc/azure_blob
user=interop
home=/home/$user
work=/var/tmp/interop
data=$work/data
max_body=33529856	# azblobd --check's max_body: one device request's body
n=0 fails=0

say() { printf '%s\n' "$*"; }
ok() { n=$((n + 1)); say "ok $n - $*"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); say "not ok $n - $*"; }
bail() { nok "$*"; say "GUEST-RESULT fail $fails"; exit 1; }
wait_for() {	# wait_for SECONDS TEST...
	local i=$(($1 * 10))

	shift
	while [ "$i" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		i=$((i - 1))
	done
	return 1
}
now() { date +%s; }

# ---- the packages, the device, the user -------------------------------------------
say "# guest: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(nproc) vCPU, $(free -m | awk '/^Mem:/ { print $2 }') MiB"
say "# clients: python3-azure-storage $(dpkg-query -W -f '${Version}' python3-azure-storage), azure-cli $(dpkg-query -W -f '${Version}' azure-cli), rclone $(dpkg-query -W -f '${Version}' rclone), nodejs $(dpkg-query -W -f '${Version}' nodejs), @azure/storage-blob $(node -p "require('$pay/node/node_modules/@azure/storage-blob/package.json').version" 2>/dev/null)"
shopt -s nullglob
debs=()
for p in hv-azure-blob-dkms libazblob0 azblob azblobd; do
	f=("$pay"/debs/"${p}"_*.deb)
	[ ${#f[@]} -eq 1 ] || bail "no single ${p}_*.deb in the payload"
	debs+=("./${f[0]##*/}")
done
shopt -u nullglob
t0=$(now)
(cd "$pay/debs" && DEBIAN_FRONTEND=noninteractive apt-get install -y "${debs[@]}") \
	>"$pay.apt.log" 2>&1 || bail "apt install: $(tail -n 5 "$pay.apt.log" | tr '\n' ' ')"
wait_for 60 test -c /dev/azure_blob || bail "no /dev/azure_blob after apt install"
ok "apt install of ${debs[*]} ($(( $(now) - t0 )) s, DKMS included): $(stat -c '%n %U:%G %a' /dev/azure_blob)"
group=$(stat -c %G /dev/azure_blob)
mkdir -p "$work/az-key" "$work/az-msi" "$data"
useradd --create-home --groups "$group" "$user" || bail "useradd $user"

# ---- names, trust, azblobd ----------------------------------------------------------
# azblobd.internal: the name README.md gives azblobd (the JavaScript SDK
# takes IP addresses for path-style URLs); ACCOUNT.azblobd.internal and
# ACCOUNT.nic.internal for rclone 1.60, which builds https://ACCOUNT.SUFFIX.
cat >>/etc/hosts <<EOF
127.0.0.1 azblobd.internal $NIC_ACCOUNT.azblobd.internal
::1 azblobd.internal $NIC_ACCOUNT.azblobd.internal
$NIC_ADDR nic.internal $NIC_ACCOUNT.nic.internal
EOF
nic_trust || bail "update-ca-certificates did not take the run's CA"
install -d -m 0750 -g "$group" /etc/azblobd
install -m 0644 "$pay/azblobd/server.pem" /etc/azblobd/server.pem
install -m 0640 -g "$group" "$pay/azblobd/server.key" /etc/azblobd/server.key
cat >/etc/azblobd.conf <<EOF
host = $NIC_ACCOUNT.blob.core.windows.net
port = 10180
https_port = 10443
tls_cert = /etc/azblobd/server.pem
tls_key = /etc/azblobd/server.key
log_level = info
EOF
listening() { ss -Hltn "sport = :$1" | grep -q .; }
systemctl enable --now azblobd >"$work/systemctl" 2>&1 ||
	bail "systemctl enable --now azblobd: $(cat "$work/systemctl"; journalctl -u azblobd -q | tail -n 5)"
{ wait_for 30 listening 10180 && wait_for 30 listening 10443; } ||
	bail "azblobd does not listen on 10180 and 10443: $(journalctl -u azblobd -q | tail -n 5)"
ok "azblobd $(dpkg-query -W -f '${Version}' azblobd) runs as its package's service: $(journalctl -u azblobd -q -o cat | grep -m 2 serving | tr '\n' ' ')"

# azblobd's counters, from the line SIGUSR1 makes it log
statlines() { journalctl -u azblobd -q -o cat | grep 'stats: requests'; }
stats() {	# prints "requests own-errors"
	local before line

	before=$(statlines | wc -l)
	systemctl kill -s USR1 azblobd
	for _ in $(seq 100); do
		[ "$(statlines | wc -l)" -gt "$before" ] && break
		sleep 0.1
	done
	line=$(statlines | tail -n 1)
	sed -E 's/.*requests ([0-9]+), denied [0-9]+, own errors ([0-9]+),.*/\1 \2/' <<<"$line"
}

# ---- credentials and data -----------------------------------------------------------
SAS=$(python3 "$pay/interop/sas.py" "$NIC_ACCOUNT" "$NIC_KEY") || bail "sas.py failed"
# what `az login --identity` leaves in the profile (it would also ask
# Azure Resource Manager for subscriptions, which the guest cannot reach)
cat >"$work/az-msi/azureProfile.json" <<EOF
{"installationId": "00000000-0000-4000-8000-000000000a2b",
 "subscriptions": [{"id": "00000000-0000-4000-8000-000000000001",
  "name": "interop", "state": "Enabled", "isDefault": true,
  "user": {"name": "systemAssignedIdentity", "type": "servicePrincipal",
           "assignedIdentityInfo": "MSI"},
  "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "homeTenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "environmentName": "AzureCloud", "managedByTenants": []}]}
EOF
for s in $(cut -d' ' -f4- "$pay/plan" | tr ' ' '\n' | sort -un); do
	head -c "$s" /dev/urandom >"$data/s$s"
done
chown -R "$user" "$work"

# ---- one client run -------------------------------------------------------------------
# endpoint CLIENT AUTH PATH: the account URL (and rclone's suffix) for a
# path, "dev" (azblobd) or "nic" (Azurite over the NIC). Shared Key and SAS
# over http, bearer tokens over https (the SDKs send them over https
# only); rclone's Shared Key and managed identity over https (it builds
# https://ACCOUNT.SUFFIX).
endpoint() {
	local client=$1 auth=$2 path=$3 scheme=http

	[ "$auth" = bearer ] && scheme=https
	if [ "$path" = dev ]; then
		url=http://azblobd.internal:10180 suffix=azblobd.internal:10443
		[ "$scheme" = https ] && url=https://azblobd.internal:10443
	else
		url=$scheme://$NIC_ADDR/$NIC_ACCOUNT suffix=nic.internal:443
	fi
	: "$client"
}

# run CLIENT AUTH PATH MODE SIZES: the driver as the user; its output in
# $work/CLIENT-AUTH-MODE.PATH (stderr in .err); sets $took (seconds),
# $dreq (device requests submitted during the run), $creq (the client's
# own count of requests), $areq and $aown (azblobd's requests and its own
# answers during the run).
run() {
	local client=$1 auth=$2 path=$3 mode=$4 sizes=$5 o t s0 a0 e0 a1 e1 drv

	o=$work/$client-$auth-$mode.$path
	endpoint "$client" "$auth" "$path"
	case $client in
	python) drv=(python3 "$pay/interop/driver-python.py") ;;
	node) drv=(node "$pay/interop/driver-node.js") ;;
	rclone) drv=(bash "$pay/interop/driver-rclone.sh") ;;
	az) drv=(bash "$pay/interop/driver-az.sh") ;;
	esac
	az_dir=$work/az-key
	[ "$auth" = bearer ] && az_dir=$work/az-msi
	t=$(now)
	read -r a0 e0 <<<"$(stats)"
	s0=$(cat "$misc/submitted")
	runuser -u "$user" -- env HOME="$home" \
		IO_URL="$url" IO_SUFFIX="$suffix" IO_AUTH="$auth" IO_ACCOUNT="$NIC_ACCOUNT" \
		IO_KEY="$NIC_KEY" IO_SAS="$SAS" IO_CONTAINER="io-$client-$auth-$mode-$path" \
		IO_DATA="$data" IO_SIZES="$sizes" IO_MODE="$mode" \
		IO_AZ_DIR="$az_dir" NODE_PATH="$pay/node/node_modules" \
		NODE_EXTRA_CA_CERTS="$NIC_DIR/ca.pem" \
		timeout 3000 "${drv[@]}" >"$o" 2>"$o.err" </dev/null
	dreq=$(( $(cat "$misc/submitted") - s0 ))
	took=$(( $(now) - t ))
	read -r a1 e1 <<<"$(stats)"
	areq=$((a1 - a0)) aown=$((e1 - e0))
	creq=$(sed -n 's/^N //p' "$o")
}

# expect_dev CLIENT AUTH STEP: azblobd's own answer for a step, where
# azblobd.md documents one ("413 RequestBodyTooLarge": a Shared Key Put
# Blob larger than one device request; "400 ResponseTooLargeForDevice": a
# Shared Key read whose answer is larger than one), else nothing.
expect_dev() {
	local client=$1 auth=$2 step=${3%%:*} size=${3#*:} single first

	case $size in ''|*[!0-9]*) return 0 ;; esac
	case $client:$step in
	az:put|python:dput) single=$((64 << 20)) ;;	# max_single_put_size
	node:dput) single=$((256 << 20)) ;;		# maxSingleShotSize
	*:put|*:dput) single=0 ;;			# the 4 MiB settings, or rclone's 4 MiB chunks
	esac
	case $step in
	put|dput)
		# SAS and bearer: azblobd splits it (Put Block + Put Block List)
		[ "$auth" = key ] || return 0
		[ "$size" -gt "$max_body" ] && [ "$size" -le "$single" ] &&
			echo "413 RequestBodyTooLarge"
		return 0 ;;
	get|dget) [ "$auth" = key ] || return 0 ;;
	*) return 0 ;;
	esac
	case $client:$step in
	az:get|python:dget) first=$((32 << 20)) ;;	# max_single_get_size
	rclone:get|node:dget) first=$size ;;		# one GET of the whole blob
	*) first=0 ;;					# 4 MiB ranges
	esac
	[ "$first" -gt "$size" ] && first=$size
	[ "$first" -gt "$max_body" ] && echo "400 ResponseTooLargeForDevice"
	return 0
}

# the client setting azblobd's message must name, for a client that has one
setting() {
	case $1:$2 in
	python:413*) echo max_single_put_size ;;
	python:400*) echo max_single_get_size ;;
	node:413*) echo maxSingleShotSize ;;
	node:400*) echo blockSize ;;
	esac
}

# compare CLIENT AUTH MODE: the step lines of both paths, one TAP line each
compare() {
	local client=$1 auth=$2 mode=$3 d=$work/$1-$2-$3 step rest drest exp set \
		refused=' '

	if ! grep -q '^R ' "$d.nic"; then
		nok "$client $auth $mode: the direct run gave no results: $(tail -n 3 "$d.nic.err" | tr '\n' ' ')"
		return
	fi
	while read -r _ step rest; do
		drest=$(awk -v s="$step" '$1 == "R" && $2 == s { $1 = $2 = ""; sub(/^ +/, ""); print; exit }' "$d.dev")
		exp=$(expect_dev "$client" "$auth" "$step")
		if [ -n "$exp" ]; then
			set=$(setting "$client" "$exp")
			if [[ "$drest" != "$exp"* ]]; then
				nok "$client $auth $step: through azblobd '${drest:-nothing}', expected azblobd's documented '$exp' (direct: $rest)"
			elif [ -n "$set" ] && ! grep -q "^# $step:.*$set" "$d.dev.err"; then
				nok "$client $auth $step: azblobd's $exp does not name $set: $(grep -m 1 "^# $step:" "$d.dev.err")"
			elif [[ "$rest" != 2* ]] && [[ "$rest" != ok* ]]; then
				nok "$client $auth $step: direct '$rest' (through azblobd the documented $exp)"
			else
				ok "$client $auth $step: through azblobd $exp as documented${set:+ (names $set)}, direct: $rest"
			fi
			[ "${step%%:*}" = put ] && refused+="${step#*:} "
			continue
		fi
		case $step in
		props:*|get:*|del:*)
			# after a Put Blob azblobd refused as documented
			case "$refused" in
			*" ${step#*:} "*) [ "$drest" = "skip -" ] && continue ;;
			esac ;;
		esac
		if [ "$drest" = "$rest" ]; then
			ok "$client $auth $step: $rest (both paths)"
		else
			nok "$client $auth $step: direct '$rest', through azblobd '${drest:-nothing}' ($(grep -m 1 "^# $step:" "$d.dev.err" | cut -c1-200))"
		fi
	done < <(grep '^R ' "$d.nic")
}

# matrix CLIENT AUTH MODE SIZES: both runs, the comparison, the counters
matrix() {
	local client=$1 auth=$2 mode=$3 sizes=$4 tn td

	run "$client" "$auth" nic "$mode" "$sizes"
	tn=$took
	run "$client" "$auth" dev "$mode" "$sizes"
	td=$took
	compare "$client" "$auth" "$mode"
	local need=$((${creq:-0} - aown))
	if [ "${creq:-0}" -gt 0 ] && [ "$areq" -ge "$creq" ] && [ "$dreq" -ge "$need" ] &&
	   [ "$dreq" -gt 0 ]; then
		ok "$client $auth $mode: through azblobd $creq client requests, azblobd served $areq ($aown its own answers), the driver submitted $dreq device requests (${td} s; direct ${tn} s)"
	else
		nok "$client $auth $mode: client requests ${creq:-?}, azblobd $areq ($aown own), device requests $dreq: the azblobd path did not go through the device"
	fi
	say "# $client $auth $mode: sizes $sizes: direct $tn s, through azblobd $td s"
}

while read -r client auth mode sizes; do
	matrix "$client" "$auth" "$mode" "$sizes"
done <"$pay/plan"

journalctl -k -q | grep -E 'BUG:|WARNING:|Oops|Call Trace' | head -n 5 | sed 's/^/# kernel: /'
if journalctl -k -q | grep -qE 'BUG:|WARNING:|Oops|Call Trace'; then
	nok "the kernel log has a report"
else
	ok "no kernel report (BUG, WARNING, Oops) in the guest's log"
fi
say "# azblobd: $(journalctl -u azblobd -q -o cat | grep 'stats: requests' | tail -n 1)"
say "# driver: submitted $(cat "$misc/submitted"), failed $(cat "$misc/failed"), bytes $(cat "$misc/bytes")"
say "# guest: $n checks"
say "GUEST-RESULT $([ "$fails" -eq 0 ] && echo pass || echo fail) $fails"
[ "$fails" -eq 0 ]
