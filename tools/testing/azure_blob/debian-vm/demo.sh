#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: the driver in a Debian 12 guest as Azure users run it. The
# packages go in with `apt install` (DKMS builds the module, udev binds
# the device the host offers), then one blob goes up and down through
# /dev/azure_blob and over HTTPS (and plain HTTP) through the guest's own
# virtio NIC, to the same Azurite store (nic-azurite.sh): MiB/s and the
# azblob process's CPU seconds per direction, sha256 checked, the blob
# read back across the paths. Ends with one "PASS: ..." or "FAIL: ..."
# line.
#
#   demo.sh --build DIR [--timeout S]       DEMO_SIZE=MiB (default 64)
#
# Expects the VSP (DIR/rig/vsp), vmbus_emu.ko with hv_vmbus's symbol
# versions (DIR/debian-vm/vmbus_emu) and the packages of make deb-build
# (DIR/deb); `make demo` builds them. The guest's console goes to
# DIR/demo/console.log, its output to DIR/demo/guest.log, the VSP's log to
# DIR/demo/vsp.log, the front ends' logs to DIR/demo/socat-*.log.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/nic-azurite.sh
. "$here/nic-azurite.sh"

# ---- inside the namespace: the store and its front ends, the guest ----------------
work=''
inner() {
	local vmrc

	work=$(mktemp -d /tmp/azblob-demo.XXXXXX)
	# shellcheck disable=SC2317 # runs from the trap
	inner_cleanup() {
		nic_azurite_stop "$work"
		cp "$work"/socat-*.log "$DEMO_OUT/" 2>/dev/null
		rm -rf "$work"
	}
	trap inner_cleanup EXIT
	trap 'exit 130' INT TERM

	if ! nic_azurite_start "$work" || ! nic_azurite_payload "$work" "$DEMO_PAYLOAD"; then
		echo "   !! Azurite and its front ends did not start"
		return 1
	fi
	echo "   Azurite $(node -p "require('$nic_rig/../../../build/azurite/node_modules/azurite/package.json').version"):" \
		"127.0.0.1:$AZ_PORT (the VSP's http backend), HTTP $NIC_ADDR:$NIC_HTTP_PORT and" \
		"HTTPS $NIC_ADDR:$NIC_HTTPS_PORT (socat relays, TLS with a CA made for this run)"
	echo "   booting the guest (QEMU TCG, 1 vCPU, 1 GiB) ..."
	"$here/run-debian-vm.sh" --image "$DEMO_ENTRY" --payload "$DEMO_PAYLOAD" \
		--timeout "$DEMO_TIMEOUT" --tap azbtap0 \
		--vsp "$DEMO_BUILD/rig/vsp" --vsp-log "$DEMO_OUT/vsp.log" \
		--vsp-arg=--backend=http \
		--vsp-arg=--http-endpoint="http://127.0.0.1:$AZ_PORT/$NIC_ACCOUNT" \
		--console "$DEMO_OUT/console.log" --output "$DEMO_OUT/guest.log" |
		sed -u -e 's/\r$//' -e '/^AZBLOB-VM-/d' -e '/^GUEST-RESULT /d'
	vmrc=${PIPESTATUS[0]}
	echo "$vmrc" >"$DEMO_OUT/guest.rc"
	nic_azurite_peers "$work" >"$DEMO_OUT/peers"
	return 0
}

if [ "${1:-}" = --inner ]; then
	inner
	exit $?
fi

# ---- outside ---------------------------------------------------------------------
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
size=${DEMO_SIZE:-64}
case $size in
''|*[!0-9]*|0) echo "$0: DEMO_SIZE is a number of MiB, not '$size'" >&2; exit 2 ;;
esac
out=$build/demo
payload=$out/payload
fails=()
fail() { fails+=("$*"); echo "   !! $*"; }
finish() {
	echo ""
	if [ ${#fails[@]} -eq 0 ]; then
		echo "PASS: $size MiB up and down through /dev/azure_blob, HTTPS and HTTP on the guest's NIC, sha256 equal, read back across the paths"
		exit 0
	fi
	echo "FAIL: ${fails[*]}"
	exit 1
}

mkdir -p "$out"
start=$(date +%s)
echo "== hv_azure_blob: a Debian 12 VM as Azure users run it =="
echo "real:     Debian 12 (systemd, udev, apt, DKMS) on its 6.12 cloud kernel, the packages of make deb-build,"
echo "          the driver built by DKMS in the guest, azblob and libazblob0, libcurl and OpenSSL of Debian,"
echo "          TLS verified against Debian's trust store, the Blob REST API served by Azurite"
echo "emulated: VMBus (vmbus_emu.ko) and the Azure host (the reference VSP: its http backend carries each"
echo "          request of /dev/azure_blob to the same Azurite); QEMU TCG, so the figures are an emulator's"

dvm_image || { fail "the Debian image did not build"; finish; }
emu=$build/debian-vm/vmbus_emu/vmbus_emu.ko
for f in "$build/rig/vsp" "$emu"; do
	[ -e "$f" ] || { fail "missing $f (make demo builds it)"; finish; }
done
v=$(modinfo -F vermagic "$emu" | cut -d' ' -f1)
[ "$v" = "$DVM_KFLAVOUR" ] || { fail "$emu is built for $v, the image runs $DVM_KFLAVOUR"; finish; }
rm -rf "$payload"
mkdir -p "$payload"
install -m 0755 "$here/demo-guest.sh" "$payload/run"
dvm_payload_base "$payload" "$emu" "$DVM_KFLAVOUR" >/dev/null ||
	{ fail "depmod for the guest failed"; finish; }
[ "$(dvm_payload_debs "$build" "$payload/debs")" -ge 3 ] ||
	{ fail "no packages in $build/deb (make deb-build)"; finish; }
printf 'KFLAVOUR=%s\nSIZE_MIB=%s\n' "$DVM_KFLAVOUR" "$size" >"$payload/env"
nic_azurite_install || { fail "socat, openssl or Azurite did not install"; finish; }
echo "image:    $DVM_ENTRY ($(( $(date +%s) - start )) s to reuse or build)"
echo "packages: $build/deb/ (debian-packaging/build-deb.sh, from the work tree)"
echo ""
echo "-- the host: a network namespace of its own (netns.sh), tap azbtap0 169.254.77.1/16, no route out"

rm -f "$out/vsp.log" "$out/guest.rc" "$out/peers" "$out"/socat-*.log
export DEMO_ENTRY=$DVM_ENTRY DEMO_PAYLOAD=$payload DEMO_TIMEOUT=$timeout \
	DEMO_BUILD=$build DEMO_OUT=$out
"$here/netns.sh" "$here/demo.sh" --inner
rc=$(cat "$out/guest.rc" 2>/dev/null)

echo ""
echo "-- the host's view"
read -r _ http _ https _ badname <"$out/peers" 2>/dev/null
echo "   connections from the guest's 169.254.77.2: HTTP ${http:-?}, HTTPS ${https:-?}, wrong-name HTTPS ${badname:-?}"
{ [ "${https:-0}" -gt 0 ] && [ "${http:-0}" -gt 0 ] && [ "${badname:-0}" -gt 0 ]; } ||
	fail "the front ends did not all see the guest"
req=$(grep -o 'http: requests.*' "$out/vsp.log" 2>/dev/null | tail -n 1)
echo "   VSP: ${req:-no http backend summary in $out/vsp.log}"
if ! grep -q '^GUEST-RESULT pass' "$out/guest.log" 2>/dev/null; then
	n=$(sed -n 's/^GUEST-RESULT fail //p' "$out/guest.log" 2>/dev/null | tr -d '\r')
	fail "the guest reported ${n:-an unknown number of} failure(s)"
fi
[ "${rc:-1}" = 0 ] || fail "the guest run ended with exit ${rc:-?} (console: $out/console.log)"
echo "   $(( $(date +%s) - start )) s in all; logs in $out/"
finish
