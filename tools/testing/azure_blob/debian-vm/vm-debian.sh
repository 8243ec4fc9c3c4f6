#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make vm-debian: the driver in a Debian 12 guest as Azure users run it
# (debian-vm/build-image.sh), checked by debian-vm/guest-test.sh.
#
#   vm-debian.sh --build DIR [--timeout S]
#
# Expects the rig (DIR/rig/vsp), vmbus_emu.ko with hv_vmbus's symbol
# versions (DIR/debian-vm/vmbus_emu, build-vmbus-emu.sh), the driver as
# `make modules` builds it (DIR/modules) and, when there, the static
# azblob (DIR/azure_blob) and the packages of `make deb` (DIR/deb). Builds
# or reuses the cached image, assembles the payload in DIR/debian-vm/
# payload, and then, in a network namespace of its own (netns.sh), starts
# Azurite on the loopback (the VSP's http backend) and a listener on
# 169.254.77.1 (the guest's NIC), and boots the guest. Writes
# DIR/results/vm-debian.counts ("PASSED FAILED SKIPPED"), the guest's
# output in DIR/results/vm-debian.log, its console in
# DIR/results/vm-debian-console.log and the VSP's log in
# DIR/debian-vm/vsp.log. Exits non-zero on any failure or when nothing
# passed.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rig=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/payload-lib.sh
. "$here/payload-lib.sh"

# ---- inside the namespace: Azurite, the listener, the guest ------------------
work='' lpid=''
inner() {
	local az_port lport token vmrc

	work=$(mktemp -d /tmp/azblob-vm-debian.XXXXXX)
	# shellcheck disable=SC2317 # runs from the trap
	inner_cleanup() {
		[ -n "$lpid" ] && kill "$lpid" 2>/dev/null
		"$rig/e2e/azurite.sh" stop "$work"
		rm -rf "$work"
	}
	trap inner_cleanup EXIT

	az_port=$("$rig/e2e/azurite.sh" start "$work") ||
		{ echo "not ok 1 - host: Azurite did not start in the namespace"; return 1; }
	lport=8077
	token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	mkdir -p "$work/www"
	echo "$token" >"$work/www/token"
	python3 -m http.server --bind 169.254.77.1 --directory "$work/www" \
		"$lport" >"$work/listener.log" 2>&1 &
	lpid=$!
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/169.254.77.1/$lport") 2>/dev/null && break
		sleep 0.1
	done
	printf 'KFLAVOUR=%s\nAZ_PORT=%s\nLISTEN_PORT=%s\nTOKEN=%s\n' \
		"$VMD_KFLAVOUR" "$az_port" "$lport" "$token" >"$VMD_PAYLOAD/env"
	echo "# namespace: $(ip -br addr | tr -s ' ' | tr '\n' ';')"
	echo "# Azurite on 127.0.0.1:$az_port, listener on 169.254.77.1:$lport"

	"$here/run-debian-vm.sh" --image "$VMD_ENTRY" \
		--payload "$VMD_PAYLOAD" --timeout "$VMD_TIMEOUT" --tap azbtap0 \
		--vsp "$VMD_BUILD/rig/vsp" --vsp-log "$VMD_BUILD/debian-vm/vsp.log" \
		--vsp-arg=--no-offer --vsp-arg=--backend=http \
		--vsp-arg=--http-endpoint="http://127.0.0.1:$az_port/devstoreaccount1" \
		--console "$VMD_RESULTS/vm-debian-console.log" \
		--output "$VMD_RESULTS/vm-debian.log"
	vmrc=$?
	echo "# run-debian-vm exit $vmrc"
	sed 's/^/# listener: /' "$work/listener.log"
	if grep -q '^169\.254\.77\.2 .*"GET /token ' "$work/listener.log"; then
		echo "ok 1 - host: the listener saw the guest's request from 169.254.77.2"
	else
		echo "not ok 1 - host: no request from 169.254.77.2 at the listener"
	fi
	return "$vmrc"
}

if [ "${1:-}" = --inner ]; then
	inner
	exit $?
fi

# ---- outside: the parts, the payload, the counts --------------------------------
build='' timeout=1200
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	*) echo "usage: $0 --build DIR [--timeout S]" >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || { echo "$0: --build DIR is required" >&2; exit 2; }
build=$(cd "$build" && pwd)
results=$build/results
payload=$build/debian-vm/payload
counts=$results/vm-debian.counts
start=$(date +%s)
mkdir -p "$results" "$build/debian-vm"
exec 9>"$results/.vm-debian.lock"
flock 9
rm -f "$counts"

n=0 pass=0 fail=0 skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }
finish() {
	echo "1..$n"
	echo "$pass $fail $skipped" >"$counts"
	echo "# vm-debian: passed $pass failed $fail skipped $skipped ($(( $(date +%s) - start )) s)"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
	exit $?
}
bail() { nok "$*"; finish; }

t0=$(date +%s)
dvm_image || bail "the Debian image did not build"
entry=$DVM_ENTRY kflavour=$DVM_KFLAVOUR
echo "# image $entry ($(( $(date +%s) - t0 )) s): $(tail -n 1 "$entry/build.log")"
emu=$build/debian-vm/vmbus_emu/vmbus_emu.ko
stock=$build/modules/hv_azure_blob.ko
for f in "$build/rig/vsp" "$emu" "$stock"; do
	[ -e "$f" ] || bail "missing $f (make vm-debian builds it)"
done
for ko in "$emu" "$stock"; do
	v=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
	[ "$v" = "$kflavour" ] || bail "$ko is built for $v, the image runs $kflavour"
done

rm -rf "$payload"
mkdir -p "$payload/stock"
install -m 0755 "$here/guest-test.sh" "$payload/run"
cp "$stock" "$payload/stock/"
if ! dvm_payload_base "$payload" "$emu" "$kflavour" ||
   ! "$here/host-depmod.sh" "$entry" "$kflavour" "$payload/depmod/stock" \
		"$emu" "$stock"; then
	bail "depmod for the guest failed"
fi
if [ -x "$build/azure_blob/azblob-static" ]; then
	strip -o "$payload/azblob-static" "$build/azure_blob/azblob-static"
fi
dvm_payload_debs "$build" "$payload/debs" >/dev/null
echo "# payload: $(cd "$payload" && find . -type f | sort | tr '\n' ' ')"

# Azurite's npm install needs the network, the namespace has none.
dvm_azurite_install

export VMD_ENTRY=$entry VMD_KFLAVOUR=$kflavour VMD_PAYLOAD=$payload \
	VMD_TIMEOUT=$timeout VMD_BUILD=$build VMD_RESULTS=$results
# (9>&-: what the namespace starts must not hold the lock)
"$here/netns.sh" "$here/vm-debian.sh" --inner 9>&- 2>&1 |
	tee "$build/debian-vm/run.log"
vmrc=${PIPESTATUS[0]}

# The guest's TAP lines (its output) and the host's, renumbered into ours.
echo "# ---- vm-debian: the checks ----"
while IFS= read -r line; do
	case $line in
	"ok "*"# SKIP"*)
		n=$((n + 1)); skipped=$((skipped + 1))
		echo "ok $n - ${line#ok * - }" ;;
	"ok "*) ok "${line#ok * - }" ;;
	"not ok "*) nok "${line#not ok * - }" ;;
	esac
done < <({ tr -d '\r' <"$results/vm-debian.log" | grep -E '^(ok|not ok) [0-9]+ - '
	   grep -E '^(ok|not ok) 1 - host: ' "$build/debian-vm/run.log"; } 2>/dev/null)
if [ "$vmrc" -eq 0 ]; then
	ok "the guest ran to the end"
else
	nok "the guest run failed (exit $vmrc); console: $results/vm-debian-console.log"
fi
finish
