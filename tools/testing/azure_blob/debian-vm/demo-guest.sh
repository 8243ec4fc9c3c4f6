#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make demo` (the payload's `run`, as root under
# systemd in the Debian guest): the packages installed as a user installs
# them, the run's CA trusted the Debian way (nic-guest.sh), then one blob
# of SIZE_MIB MiB up and down through /dev/azure_blob and over the NIC
# (HTTPS, and plain HTTP), each timed by the guest's clock with the CPU
# time of the azblob process, sha256 checked, and read back across the
# paths. Prints the report's lines; a "!! " line for every failure; exits
# non-zero on any.
#
# ./env gives KFLAVOUR and SIZE_MIB; ./nic/ is nic-azurite.sh's payload.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

pay=/run/azblob-rig
# shellcheck source=/dev/null
. "$pay/env"
# shellcheck source=SCRIPTDIR/nic-guest.sh
. "$pay/nic/nic-guest.sh"
misc=/sys/class/misc/azure_blob
user=demo
home=/home/$user
t=$(mktemp -d)
fails=0

say() { printf '%s\n' "$*"; }
fail() { fails=$((fails + 1)); say "   !! $*"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
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
pins() {
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
	awk '/^nr_foll_pin_acquired/ { a = $2 } /^nr_foll_pin_released/ { r = $2 }
	     END { print a, r }' /proc/vmstat
}
counters() { cat "$misc/submitted" "$misc/failed" "$misc/bytes" | tr '\n' ' '; }

# az KIND ARG...: azblob as the demo user, the transport and connection
# string of KIND (device, https, http, badname), the options of az_opts
# before ARG; output in $t/out, exit code returned, and in $t/time "real
# user system" of the azblob process (bash's `time`: getrusage of the
# child, user and system CPU seconds).
az_opts=()
az() {
	local kind=$1 tr=http cs

	shift
	if [ "$kind" = device ]; then
		# the user's one connection string; the host carries the requests
		tr=device cs=$(nic_cs https)
	else
		cs=$(nic_cs "$kind")
	fi
	: >"$t/time"
	# shellcheck disable=SC2016 # for the user's shell
	(cd "$home" && AZURE_STORAGE_CONNECTION_STRING=$cs runuser -u "$user" -- \
		bash -c 'TIMEFORMAT="%3R %3U %3S"
			 { time azblob "$@" >"$0" 2>&1; } 2>"$0.time"' "$t/out" \
		--transport "$tr" --no-progress "${az_opts[@]}" "$@")
	local rc=$?

	cat "$t/out.time" >"$t/time" 2>/dev/null
	return "$rc"
}
mibs() { awk -v m="$SIZE_MIB" -v s="$1" 'BEGIN { printf "%.1f", (s > 0 ? m / s : 0) }'; }
cpu() { awk -v u="$1" -v s="$2" 'BEGIN { printf "%.2f (%.2f+%.2f)", u + s, u, s }'; }

# ---- the guest ------------------------------------------------------------------
nic=''
for d in /sys/class/net/*; do
	[ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = virtio_net ] &&
		nic=$(basename "$d")
done
# shellcheck source=/dev/null
say "-- the guest: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(nproc) vCPU, $(free -m | awk '/^Mem:/ { print $2 }') MiB"
say "   NIC ${nic:-none} (virtio-net): $(ip -4 -o addr show dev "${nic:-lo}" | awk '{ print $4 }'), default route: $(ip route show default | grep -q . && echo yes || echo none)"
[ "$(uname -r)" = "$KFLAVOUR" ] || fail "the guest runs $(uname -r), not $KFLAVOUR"
dev=''
wait_for 30 test -n "$(find /sys/bus/vmbus/devices/ -mindepth 1 -maxdepth 1 2>/dev/null)" &&
	dev=$(find /sys/bus/vmbus/devices/ -mindepth 1 -maxdepth 1 | head -n 1)
if [ -n "$dev" ]; then
	say "   VMBus (vmbus_emu): the host offers the Azure Blob device $(cat "$dev/class_id"), driver: $( [ -e "$dev/driver" ] && basename "$(readlink -f "$dev/driver")" || echo none yet)"
else
	fail "no VMBus device offered"
fi

# ---- the packages -----------------------------------------------------------------
shopt -s nullglob
debs=()
for p in hv-azure-blob-dkms libazblob0 azblob; do
	f=("$pay"/debs/"${p}"_*.deb)
	if [ ${#f[@]} -eq 1 ]; then
		debs+=("./${f[0]##*/}")
	else
		fail "no single ${p}_*.deb in the payload"
	fi
done
shopt -u nullglob
say ""
say "-- installing: apt install ${debs[*]}"
t0=$(date +%s.%N)
if (cd "$pay/debs" && DEBIAN_FRONTEND=noninteractive apt-get install -y "${debs[@]}") \
	>"$t/apt" 2>&1; then
	say "   installed in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s (the DKMS build of the module included): $(dkms status 2>/dev/null | grep -i 'hv.azure.blob' | tr '\n' ' ')"
else
	fail "apt install: $(tail -n 10 "$t/apt" | tr '\n' ' ')"
fi
if wait_for 30 test -c /dev/azure_blob; then
	say "   udev loaded the DKMS-built hv_azure_blob for the offered device: $(stat -c '%n %A %U:%G' /dev/azure_blob)"
else
	fail "no /dev/azure_blob after the installation"
fi
group=$(stat -c %G /dev/azure_blob 2>/dev/null)
useradd --create-home --groups "${group:-azureblob}" "$user" 2>/dev/null
chown "$user" "$t"	# azblob's output and times, written as the user
say "   user '$user', member of '${group:-?}' (adduser $user ${group:-azureblob}), runs azblob $(dpkg-query -W -f '${Version}' azblob)"

# ---- TLS ---------------------------------------------------------------------------
say ""
say "-- HTTPS: azblob's libcurl verifies $(nic_url https) against Debian's trust store"
# No retries while a refusal is expected: it would only come later.
az_opts=(--retries 0)
err() { grep -m 1 -o -i -E '(ssl|certificate|tls)[^"[]*' "$t/out" | head -c 160; }
az https mb demo
rc=$?
if [ "$rc" = 9 ] && [ -n "$(err)" ]; then
	say "   before the CA is trusted:  refused (exit 9): $(err)"
else
	fail "before the CA is trusted: exit $rc, not a certificate error: $(head -c 300 "$t/out")"
fi
if nic_trust; then
	say "   trusted: ca.pem -> /usr/local/share/ca-certificates/azblob-rig-ca.crt, update-ca-certificates"
else
	fail "update-ca-certificates did not take the CA"
fi
if az https mb demo; then
	say "   after:                     container 'demo' created over HTTPS"
else
	fail "mb over HTTPS after trusting the CA: $(head -c 300 "$t/out")"
fi
az badname stat demo
rc=$?
if [ "$rc" = 9 ] && [ -n "$(err)" ]; then
	say "   same CA, a certificate for wrong-name.invalid (:$NIC_BADNAME_PORT): refused (exit 9): $(err)"
else
	fail "the wrong-name certificate was not refused: exit $rc: $(head -c 300 "$t/out")"
fi

# The transfers retry as azblob does by default, and say when they did.
az_opts=(--verbose)
retries() {
	local n

	n=$(grep -c '^azblob: retry ' "$t/out")
	[ "$n" -gt 0 ] && say "   ($1: $n retries: $(grep -m 1 '^azblob: retry ' "$t/out"))"
	return 0
}

# ---- the blob ----------------------------------------------------------------------
head -c $((SIZE_MIB << 20)) /dev/urandom >"$home/blob"
chown "$user" "$home/blob"
src=$(sha "$home/blob")
say ""
say "-- one blob, $SIZE_MIB MiB ($(stat -c %s "$home/blob") bytes), sha256 $src"
say "   MiB/s by the guest's clock; CPU: seconds of the azblob process, user+system"
printf '   %-44s %10s %18s %10s %18s  %s\n' path "put MiB/s" "CPU s" "get MiB/s" "CPU s" sha256
read -r s0 f0 b0 <<<"$(counters)"
read -r pa0 pr0 <<<"$(pins)"
rx0=$(cat "/sys/class/net/${nic:-lo}/statistics/rx_bytes") tx0=$(cat "/sys/class/net/${nic:-lo}/statistics/tx_bytes")
for kind in device https http; do
	case $kind in
	device) what="/dev/azure_blob (VMBus -> host -> Azurite)" ;;
	https) what="HTTPS, virtio-net -> $NIC_ADDR:$NIC_HTTPS_PORT" ;;
	http) what="HTTP, virtio-net -> $NIC_ADDR:$NIC_HTTP_PORT" ;;
	esac
	rm -f "$home/back"
	put='-' putc='-' get='-' getc='-' eq=DIFFERS
	if az "$kind" put "$home/blob" "demo/$kind.bin"; then
		read -r r u s <"$t/time"
		put=$(mibs "$r") putc=$(cpu "$u" "$s")
	else
		fail "$kind put: $(head -c 300 "$t/out")"
	fi
	retries "$kind put"
	if az "$kind" get "demo/$kind.bin" back; then
		read -r r u s <"$t/time"
		get=$(mibs "$r") getc=$(cpu "$u" "$s")
	else
		fail "$kind get: $(head -c 300 "$t/out")"
	fi
	retries "$kind get"
	[ -f "$home/back" ] && [ "$(sha "$home/back")" = "$src" ] && eq=equal
	[ "$eq" = equal ] || fail "$kind: the blob read back differs from the one sent"
	printf '   %-44s %10s %18s %10s %18s  %s\n' "$what" "$put" "$putc" "$get" "$getc" "$eq"
	if [ "$kind" = device ]; then
		read -r s1 f1 b1 <<<"$(counters)"
		read -r pa1 pr1 <<<"$(pins)"
	fi
done
rx1=$(cat "/sys/class/net/${nic:-lo}/statistics/rx_bytes") tx1=$(cat "/sys/class/net/${nic:-lo}/statistics/tx_bytes")

# The same blob across the paths: what went up one way comes down the other.
cross() {	# cross BLOB-KIND READ-KIND
	rm -f "$home/back"
	if az "$2" get "demo/$1.bin" back && [ "$(sha "$home/back")" = "$src" ]; then
		say "   the blob put through the $1 path, read over $2: sha256 equal"
	else
		fail "the blob put through the $1 path, read over $2: $(head -c 300 "$t/out")"
	fi
}
cross device https
cross https device
say "   driver: $((s1 - s0)) requests, $(( (b1 - b0) >> 20 )) MiB, $((f1 - f0)) failed during the device's put and get; pins acquired/released $pa1/$pr1"
[ "$((f1 - f0))" = 0 ] || fail "the driver counted failed requests"
[ "$((b1 - b0))" -ge $((2 * SIZE_MIB << 20)) ] || fail "the driver moved less than the blob, twice"
{ [ "$pa1" = "$pr1" ] && [ "$pa1" -gt "$pa0" ]; } || fail "pins: acquired $pa0 -> $pa1, released $pr0 -> $pr1"
say "   NIC ${nic:-none}: $(( (tx1 - tx0) >> 20 )) MiB sent, $(( (rx1 - rx0) >> 20 )) MiB received during the three paths (the device's requests never touch it)"
{ [ "$((tx1 - tx0))" -ge $((2 * SIZE_MIB << 20)) ] &&
  [ "$((rx1 - rx0))" -ge $((2 * SIZE_MIB << 20)) ]; } ||
	fail "the NIC carried less than the HTTPS and HTTP transfers"
journalctl -k -q | grep -E 'BUG:|WARNING:|Oops|Call Trace' | head -n 5 | sed 's/^/   !! kernel: /'
journalctl -k -q | grep -qE 'BUG:|WARNING:|Oops|Call Trace' && fail "the kernel log has a report"

rm -rf "$t" "$home/blob" "$home/back"
say "GUEST-RESULT $([ "$fails" -eq 0 ] && echo pass || echo fail) $fails"
[ "$fails" -eq 0 ]
