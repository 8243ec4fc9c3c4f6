# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# payload-lib.sh - sourced by the host halves of the Debian guest's runs
# (vm-debian.sh, demo.sh): the pieces of a payload that every run of the
# image needs. Bash; the caller has `set -u`.
#
#   dvm_image                      builds or reuses the cached image
#                                  (build-image.sh); sets DVM_ENTRY (its
#                                  directory) and DVM_KFLAVOUR (its 6.12
#                                  kernel, <kver>-cloud-amd64); fails when
#                                  it did not build
#   dvm_payload_base PAYLOAD EMU KFLAVOUR
#                                  PAYLOAD/early (guest-early.sh), the
#                                  emulated VMBus EMU (vmbus_emu.ko) and
#                                  PAYLOAD/depmod/base, the indexes of
#                                  KFLAVOUR's modules with it: coldplug
#                                  loads vmbus_emu by its PCI alias
#                                  (after dvm_image: DVM_ENTRY)
#   dvm_payload_debs BUILD DEST    copies BUILD/deb's hv-azure-blob-dkms,
#                                  azblob and libazblob packages to DEST;
#                                  prints how many
#   dvm_azurite_install            installs Azurite (build/azurite, npm)
#                                  unless it is there: run it outside the
#                                  network namespace, which has no route
#                                  to the registry
#
# Copyright (c) 2026 The hv_azure_blob authors

dvm_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dvm_rig=$(cd "$dvm_here/.." && pwd)

dvm_image() {
	DVM_ENTRY=$("$dvm_here/build-image.sh" | tail -n 1)
	[ -d "${DVM_ENTRY:-/nonexistent}" ] || return 1
	# shellcheck disable=SC2034 # for the caller
	DVM_KFLAVOUR=$(cat "$DVM_ENTRY/kver")-cloud-amd64
}

dvm_payload_base() {
	local payload=$1 emu=$2 kflavour=$3

	mkdir -p "$payload"
	install -m 0755 "$dvm_here/guest-early.sh" "$payload/early"
	cp "$emu" "$payload/vmbus_emu.ko"
	"$dvm_here/host-depmod.sh" "$DVM_ENTRY" "$kflavour" \
		"$payload/depmod/base" "$emu"
}

dvm_payload_debs() {
	local build=$1 dest=$2 d n=0

	mkdir -p "$dest"
	for d in "$build"/deb/hv-azure-blob-dkms_*.deb "$build"/deb/azblob_*.deb \
		 "$build"/deb/libazblob*.deb; do
		[ -e "$d" ] || continue
		cp "$d" "$dest/"
		n=$((n + 1))
	done
	echo "$n"
}

dvm_azurite_install() {
	local w

	[ -d "$dvm_rig/../../../build/azurite/node_modules/azurite" ] &&
		return 0
	w=$(mktemp -d)
	"$dvm_rig/e2e/azurite.sh" start "$w" >/dev/null &&
		"$dvm_rig/e2e/azurite.sh" stop "$w"
	rm -rf "$w"
}
