#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# customize.sh ROOT - mmdebstrap's customize hook for the rig's Debian
# guest: the few settings a cloud image gets from its provisioning (host
# name, fstab, machine id, the NIC), boot-time noise switched off, and the
# rig's two units (image/azblob-rig-*.service). Runs on the host, ROOT is
# the new system's directory.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

root=${1:?usage: customize.sh ROOT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

echo azblob-guest >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tazblob-guest\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	>"$root/etc/hosts"
# The root file system is the first virtio disk (the per-boot overlay).
printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n' >"$root/etc/fstab"
# A fixed machine id: an empty one would make every boot a first boot.
echo 6a7a626c6f6272696764656269616e31 >"$root/etc/machine-id"
# root logs in on the console without a password (interactive runs; the
# guest's only network is the test's own namespace).
chroot "$root" passwd --delete root >/dev/null

install -D -m 0644 "$here/50-rig-nic.network" \
	"$root/etc/systemd/network/50-rig-nic.network"
systemctl --root="$root" enable systemd-networkd.service >/dev/null 2>&1
# Nothing waits for the network, and nothing fetches from the archive.
systemctl --root="$root" mask systemd-networkd-wait-online.service \
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer >/dev/null 2>&1

install -D -m 0755 "$here/early" "$root/usr/local/lib/azblob-rig/early"
install -D -m 0755 "$here/run" "$root/usr/local/lib/azblob-rig/run"
install -m 0644 "$here/azblob-rig-early.service" \
	"$here/azblob-rig-run.service" "$root/etc/systemd/system/"
systemctl --root="$root" enable azblob-rig-early.service \
	azblob-rig-run.service >/dev/null 2>&1
