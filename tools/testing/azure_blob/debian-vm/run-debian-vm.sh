#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the rig's Debian 12 guest (debian-vm/build-image.sh) under QEMU with
# the emulated VMBus's ivshmem device, the reference VSP as the host and a
# payload disk, and return the exit code of the payload's `run`.
#
# The guest boots Debian's kernel and initramfs from the image's entry
# with its root file system on a throw-away qcow2 overlay of the cached
# image (/dev/vda), and the payload as a read-only ext4 disk (/dev/vdb,
# label azblob-payload) that the image's azblob-rig-early.service mounts
# on /run/azblob-rig before udev's coldplug, running the payload's `early`
# if it has one. azblob-rig-run.service runs its `run` once the system is
# up. ttyS0 is the console (kernel, systemd, a getty), ttyS1 carries the
# payload's output (streamed to stdout), ending in "AZBLOB-VM-EXIT <rc>".
# With --tap the guest gets a virtio NIC on that tap device (netns.sh makes
# one in a namespace of its own); there is no other network.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rig=$(cd "$here/.." && pwd)
srctree=$(cd "$rig/../../.." && pwd)

usage() {
	cat <<EOF
usage: $0 --image DIR --payload DIR --timeout SECONDS [--kver VERSION]
          [--tap NAME] [--vsp PATH] [--vsp-log FILE] [--vsp-arg ARG]...
          [--mem SIZE] [--smp N] [--console FILE] [--output FILE]
          [--qemu-arg ARG]... [--interactive]

  --image      the image's cache entry (build-image.sh prints it)
  --payload    directory written to the payload disk; holds an executable
               'run' (its exit code becomes ours) and optionally 'early'
  --timeout    seconds until the VM is killed (exit code 124)
  --kver       kernel of the entry to boot (default: the entry's 6.12,
               e.g. 6.12.118+deb12; '-cloud-amd64' is appended)
  --tap        tap device for the guest's virtio NIC (default: no NIC)
  --vsp        VSP binary (default: build/rig/vsp)
  --vsp-log    VSP log file (default: a temporary file, shown on failure)
  --vsp-arg    extra argument for the VSP (e.g. --vsp-arg=--no-offer)
  --mem        guest RAM (default 1G)
  --smp        guest CPUs (default 1)
  --console    keep the console (ttyS0) in FILE
  --output     keep the payload's output (ttyS1) in FILE
  --qemu-arg   extra argument for QEMU, after the rig's own (e.g.
               --qemu-arg=-accel --qemu-arg=tcg,thread=single)
  --interactive  the console on this terminal (root, no password), the
               payload's 'run' is not started; 'poweroff' ends the VM
EOF
	exit 2
}

image='' payload='' timeout='' kver='' tap='' vsp_log='' console='' output=''
interactive=0
mem=1G smp=1
vsp=$srctree/build/rig/vsp
vsp_args=()
qemu_args=()

while [ $# -gt 0 ]; do
	case $1 in
	--image) image=$2; shift 2 ;;
	--payload) payload=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--kver) kver=$2; shift 2 ;;
	--tap) tap=$2; shift 2 ;;
	--vsp) vsp=$2; shift 2 ;;
	--vsp-log) vsp_log=$2; shift 2 ;;
	--vsp-arg) vsp_args+=("$2"); shift 2 ;;
	--vsp-arg=*) vsp_args+=("${1#--vsp-arg=}"); shift ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--console) console=$2; shift 2 ;;
	--output) output=$2; shift 2 ;;
	--qemu-arg) qemu_args+=("$2"); shift 2 ;;
	--qemu-arg=*) qemu_args+=("${1#--qemu-arg=}"); shift ;;
	--interactive) interactive=1; shift ;;
	-h|--help) usage ;;
	*) echo "unknown option: $1" >&2; usage ;;
	esac
done
if [ -z "$image" ] || [ -z "$payload" ]; then
	usage
fi
[ -n "$timeout" ] || timeout=900
[ -n "$kver" ] || kver=$(cat "$image/kver")
kernel=$image/vmlinuz-$kver-cloud-amd64
initrd=$image/initrd.img-$kver-cloud-amd64
for f in "$image/image.qcow2" "$kernel" "$initrd" "$vsp"; do
	[ -e "$f" ] || { echo "run-debian-vm: missing $f" >&2; exit 2; }
done
if [ "$interactive" = 0 ] && [ ! -x "$payload/run" ]; then
	echo "run-debian-vm: $payload/run is not an executable" >&2
	exit 2
fi
if [ -n "$tap" ] && [ ! -e "/sys/class/net/$tap" ] &&
		! ip link show "$tap" >/dev/null 2>&1; then
	echo "run-debian-vm: no tap device $tap here (debian-vm/netns.sh)" >&2
	exit 2
fi

work=$(mktemp -d /tmp/azblob-debvm.XXXXXX)
ram_file=/dev/shm/azblob-vm-ram.$$.$(basename "$work")
sock=$work/ivshmem.sock
[ -n "$console" ] || console=$work/console.log
[ -n "$output" ] || output=$work/output.log
[ -n "$vsp_log" ] || vsp_log=$work/vsp.log
tail_pid=''

# shellcheck source=SCRIPTDIR/../vm/vm-lib.sh
. "$rig/vm/vm-lib.sh"

# shellcheck disable=SC2317 # runs from the trap
cleanup() {
	local rc=$?

	vm_stop
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	rm -f "$ram_file"
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- disks: the overlay of the cached image, the payload ----
# (touch: build-image.sh drops the entries nobody used for two weeks)
touch "$image/last-used" 2>/dev/null || true
qemu-img create -q -f qcow2 -b "$image/image.qcow2" -F qcow2 \
	"$work/root.qcow2"
mkdir -p "$work/payload"
if [ -d "$payload" ]; then
	cp -a "$payload/." "$work/payload/"
fi
size_mb=$(( $(du -sm "$work/payload" | cut -f1) * 2 + 32 ))
truncate -s "${size_mb}M" "$work/payload.img"
mke2fs -q -F -t ext4 -L azblob-payload -d "$work/payload" \
	"$work/payload.img"

# ---- the VSP ----
vm_start_vsp "$vsp" "$sock" "$ram_file" "$vsp_log" "${vsp_args[@]}" ||
	exit 1

# ---- QEMU ----
# Under TCG on a loaded machine a unit may take minutes to start: give
# every unit 15 minutes before systemd calls it failed (the default 90 s
# failed binfmt_misc's mount at load 17; a unit that hangs still fails).
# no_timer_check: the IO-APIC timer check can miss its window under TCG on
# a loaded host and panic the boot (see vm/run-vm.sh).
append="root=/dev/vda rw console=ttyS0 panic=-1 quiet azblob.rig"
append+=" no_timer_check"
append+=" systemd.default_timeout_start_sec=900"
vm_machine "$mem" "$smp" "$ram_file" "$sock"
qemu=("${VM_QEMU[@]}" -nodefaults -display none
	-kernel "$kernel" -initrd "$initrd"
	-drive "file=$work/root.qcow2,if=virtio,format=qcow2,cache=unsafe,discard=unmap"
	-drive "file=$work/payload.img,if=virtio,format=raw,readonly=on")
if [ -n "$tap" ]; then
	qemu+=(-netdev "tap,id=nic0,ifname=$tap,script=no,downscript=no"
		-device "virtio-net-pci,netdev=nic0,mac=52:54:00:a2:77:02")
fi
qemu+=("${qemu_args[@]}")

if [ "$interactive" = 1 ]; then
	qemu+=(-serial mon:stdio -serial "file:$output"
		-append "$append azblob.interactive")
	"${qemu[@]}" &
	VM_QEMU_PID=$!
	wait "$VM_QEMU_PID" || true
	VM_QEMU_PID=
	exit 0
fi

qemu+=(-monitor none -serial "file:$console" -serial "file:$output"
	-append "$append")
: >"$console"
: >"$output"
start=$(date +%s.%N)
"${qemu[@]}" </dev/null >"$work/qemu.log" 2>&1 &
VM_QEMU_PID=$!
tail -n +1 -F --pid="$VM_QEMU_PID" "$output" 2>/dev/null &
tail_pid=$!

# Time to the console's login prompt and to the payload's start.
login='' ready=''
elapsed() { echo "$(date +%s.%N) - $start" | bc | sed 's/^\./0./'; }
deadline=$(( $(date +%s) + timeout ))
rc=0
while kill -0 "$VM_QEMU_PID" 2>/dev/null; do
	if [ -z "$login" ] && grep -q 'login:' "$console"; then
		login=$(elapsed)
	fi
	if [ -z "$ready" ] && grep -q '^AZBLOB-VM-READY' "$output"; then
		ready=$(elapsed)
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		rc=124
		break
	fi
	sleep 0.2
done
if [ "$rc" = 124 ]; then
	vm_wait 0 || true
else
	vm_wait "$timeout" || rc=124
fi
wait "$tail_pid" 2>/dev/null || true
tail_pid=
end=$(elapsed)

printf 'run-debian-vm: login prompt after %s s, payload started after %s s, VM ran %s s\n' \
	"${login:-?}" "${ready:-?}" "$end"
show_logs() {
	echo "---- console (tail) ----" >&2
	tr -d '\r' <"$console" | tail -n 40 >&2 || true
	echo "---- QEMU ----" >&2
	tail -n 10 "$work/qemu.log" >&2 || true
	echo "---- VSP log ($vsp_log) ----" >&2
	tail -n 30 "$vsp_log" >&2 || true
}
if [ "$rc" = 124 ]; then
	echo "run-debian-vm: timeout after ${timeout}s" >&2
	show_logs
	exit 124
fi
rc=$(vm_exit_code "$output")
if [ -z "$rc" ]; then
	echo "run-debian-vm: no exit marker from the guest: failure" >&2
	show_logs
	exit 1
fi
exit "$rc"
