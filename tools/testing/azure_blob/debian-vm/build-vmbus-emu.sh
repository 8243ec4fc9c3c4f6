#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-vmbus-emu.sh KDIR OUT - vmbus_emu.ko for the Debian guest, whose
# VMBus drivers are built against the stock kernel headers (DKMS), so
# their symbol versions are hv_vmbus's.
#
# The emulator declares every function it exports through <linux/hyperv.h>
# of the same headers, so its exports have hv_vmbus's prototypes and types.
# genksyms still gives them other CRCs: it expands every structure a
# prototype reaches, and which of those are defined depends on the headers
# the exporting file includes (hv_vmbus's files see struct irq_desc and
# msi_desc, the emulator sees seq_file and vm_struct), not on the VMBus
# types. So the emulator's exports take hv_vmbus's versions from KDIR's
# Module.symvers: the object is compiled, the "#SYMVER" lines genksyms
# left in its .cmd file (which modpost reads) are replaced, and modpost
# and the final link run on that. Every exported symbol must be one that
# hv_vmbus exports the same way (GPL or not), and OUT/Module.symvers is
# checked against KDIR's at the end.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

kdir=${1:?usage: build-vmbus-emu.sh KDIR OUT}
out=${2:?usage: build-vmbus-emu.sh KDIR OUT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rig=$(cd "$here/.." && pwd)
srctree=$(cd "$rig/../../.." && pwd)

die() { printf 'build-vmbus-emu: %s\n' "$*" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)	# kbuild wants M= absolute
cmdfile=$out/.vmbus_emu.o.cmd
ln -sf "$rig/vmbus_emu/vmbus_emu.c" "$out/vmbus_emu.c"
ln -sf "$rig/vmbus_emu/Kbuild" "$out/Kbuild"
kmake=(make -C "$kdir" M="$out" AZ_BLOB_SRCTREE="$srctree")

"${kmake[@]}" vmbus_emu.o

# hv_vmbus's versions: "crc symbol" of drivers/hv/hv_vmbus in KDIR.
declare -A hv_crc hv_kind
while read -r crc sym mod kind _; do
	[ "$mod" = drivers/hv/hv_vmbus ] || continue
	hv_crc[$sym]=$crc
	hv_kind[$sym]=$kind
done <"$kdir/Module.symvers"
[ ${#hv_crc[@]} -gt 0 ] || die "no hv_vmbus exports in $kdir/Module.symvers"

grep -q '^#SYMVER ' "$cmdfile" || die "no #SYMVER lines in $cmdfile"
tmp=$(mktemp "$out/symver.XXXXXX")
# shellcheck disable=SC2094 # reads cmdfile, writes tmp
while IFS= read -r line; do
	if [[ $line =~ ^#SYMVER\ ([^ ]+)\ 0x[0-9a-f]+$ ]]; then
		sym=${BASH_REMATCH[1]}
		[ -n "${hv_crc[$sym]:-}" ] || {
			rm -f "$tmp"
			die "hv_vmbus does not export $sym"
		}
		line="#SYMVER $sym ${hv_crc[$sym]}"
	fi
	printf '%s\n' "$line"
done <"$cmdfile" >"$tmp"
mv "$tmp" "$cmdfile"

"${kmake[@]}" modules

# Every export: hv_vmbus's version, hv_vmbus's export kind.
n=0
while read -r crc sym _ kind _; do
	[ "$crc" = "${hv_crc[$sym]:-}" ] ||
		die "$sym: version $crc, hv_vmbus has ${hv_crc[$sym]:-none}"
	[ "$kind" = "${hv_kind[$sym]}" ] ||
		die "$sym: $kind, hv_vmbus has ${hv_kind[$sym]}"
	n=$((n + 1))
done <"$out/Module.symvers"
[ "$n" -gt 0 ] || die "vmbus_emu.ko exports nothing"
echo "build-vmbus-emu: $out/vmbus_emu.ko: $n exports with hv_vmbus's versions"
