#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The payload's `early` for vm-debian (azblob-rig-early.service, before
# udev's coldplug): vmbus_emu.ko goes to /lib/modules/<kernel>/updates/
# with the module indexes the host computed for it (host-depmod.sh), so
# the coldplug loads it by its PCI alias (the ivshmem device) like any
# other driver. Nothing loads it by hand.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

pay=/run/azblob-rig
mod=/lib/modules/$(uname -r)
install -D -m 0644 "$pay/vmbus_emu.ko" "$mod/updates/vmbus_emu.ko"
# Each index is replaced by a rename, never rewritten in place: udev's
# coldplug and systemd's binfmt_misc mount run modprobe meanwhile, and a
# half-copied modules.dep.bin failed that mount.
for f in "$pay"/depmod/base/modules.*; do
	cp "$f" "$mod/.$(basename "$f").new"
	mv -f "$mod/.$(basename "$f").new" "$mod/$(basename "$f")"
done
echo "vm-debian: vmbus_emu.ko in $mod/updates, module indexes from the host"
