#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a QEMU guest with the emulated VMBus (vmbus_emu.ko), the Azure Blob
# driver and a test payload, with the reference VSP as the host. The exit
# code is the exit code of the payload's `run` (from the console marker
# "AZBLOB-VM-EXIT <rc>"); no marker is a failure.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRCTREE=$(cd "$RIG_DIR/../../.." && pwd)

usage() {
	cat <<EOF
usage: $0 --kernel VMLINUZ --modules DIR --payload DIR --timeout SECONDS
          [--interactive] [--vsp-log FILE] [--vsp PATH] [--vsp-arg ARG]...
          [--extra-bin FILE]... [--mem SIZE] [--smp N] [--qemu-arg ARG]...

  --kernel     guest kernel image (make vm-kernel: build/vm/vmlinuz)
  --modules    directory with vmbus_emu.ko and hv_azure_blob.ko
  --payload    directory copied to /opt/azure_blob; must hold an executable
               'run' (its exit code becomes ours)
  --timeout    seconds until the VM is killed (exit code 124)
  --interactive  a busybox shell on the console instead of 'run'
  --vsp-log    VSP log file (default: a temporary file, shown on failure)
  --vsp        VSP binary (default: build/rig/vsp)
  --vsp-arg    extra argument for the VSP (e.g. --vsp-arg=--poll-us=50)
  --extra-bin  file copied to /bin in the guest (repeatable)
  --mem        guest RAM (default 512M)
  --smp        guest CPUs (default 1; more for the race tests, whose
               threads must run side by side)
  --qemu-arg   extra argument for QEMU (e.g. --qemu-arg=-icount
               --qemu-arg=shift=0: guest time counts instructions)
EOF
	exit 2
}

KERNEL= MODULES= PAYLOAD= TIMEOUT= INTERACTIVE=0 VSP_LOG= MEM=512M SMP=1
VSP="$SRCTREE/build/rig/vsp"
EXTRA_BINS=() VSP_ARGS=() QEMU_ARGS=()

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNEL=$2; shift 2 ;;
	--modules) MODULES=$2; shift 2 ;;
	--payload) PAYLOAD=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--interactive) INTERACTIVE=1; shift ;;
	--vsp-log) VSP_LOG=$2; shift 2 ;;
	--vsp) VSP=$2; shift 2 ;;
	--vsp-arg) VSP_ARGS+=("$2"); shift 2 ;;
	--vsp-arg=*) VSP_ARGS+=("${1#--vsp-arg=}"); shift ;;
	--extra-bin) EXTRA_BINS+=("$2"); shift 2 ;;
	--qemu-arg) QEMU_ARGS+=("$2"); shift 2 ;;
	--qemu-arg=*) QEMU_ARGS+=("${1#--qemu-arg=}"); shift ;;
	--mem) MEM=$2; shift 2 ;;
	--smp) SMP=$2; shift 2 ;;
	-h|--help) usage ;;
	*) echo "unknown option: $1" >&2; usage ;;
	esac
done

[ -n "$KERNEL" ] && [ -n "$MODULES" ] && [ -n "$PAYLOAD" ] || usage
[ -n "$TIMEOUT" ] || TIMEOUT=600
for f in "$KERNEL" "$MODULES/vmbus_emu.ko" "$VSP"; do
	[ -e "$f" ] || { echo "run-vm: missing $f" >&2; exit 2; }
done
if [ "$INTERACTIVE" = 0 ] && [ ! -x "$PAYLOAD/run" ]; then
	echo "run-vm: $PAYLOAD/run is not an executable" >&2
	exit 2
fi
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null |
		grep -q 'statically linked'; then
	BUSYBOX=/bin/busybox
fi

WORK=$(mktemp -d /tmp/azblob-vm.XXXXXX)
RAM_FILE=/dev/shm/azblob-vm-ram.$$.$(basename "$WORK")
SOCK=$WORK/ivshmem.sock
CONSOLE=$WORK/console.log
[ -n "$VSP_LOG" ] || VSP_LOG=$WORK/vsp.log

# shellcheck source=SCRIPTDIR/vm-lib.sh
. "$RIG_DIR/vm/vm-lib.sh"

cleanup() {
	local rc=$?

	vm_stop
	rm -f "$RAM_FILE"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- initramfs ----
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,lib/modules,opt/azure_blob}
cp "$BUSYBOX" "$ROOT/bin/busybox"
for m in vmbus_emu.ko hv_azure_blob.ko; do
	[ -e "$MODULES/$m" ] && cp "$MODULES/$m" "$ROOT/lib/modules/"
done
if [ -d "$PAYLOAD" ]; then
	cp -a "$PAYLOAD/." "$ROOT/opt/azure_blob/"
fi
for b in "${EXTRA_BINS[@]}"; do
	cp "$b" "$ROOT/bin/"
done
cp "$RIG_DIR/vm/init" "$ROOT/init"
chmod 0755 "$ROOT/init"
echo "$INTERACTIVE" > "$ROOT/interactive"
(cd "$ROOT" && find . | cpio -o -H newc --quiet) | gzip -1 > "$WORK/initrd"

# ---- the VSP (its socket must exist before QEMU starts) ----
rm -f /dev/shm/azblob-vm-ram.*."$(basename "$WORK")"
vm_start_vsp "$VSP" "$SOCK" "$RAM_FILE" "$VSP_LOG" "${VSP_ARGS[@]}" ||
	exit 1

# ---- QEMU ----
# no_timer_check: under TCG on a loaded host the kernel's check that the
# 8254 timer ticks through the IO-APIC can miss its window, and the boot
# then panics in setup_IO_APIC ("IO-APIC + timer doesn't work!").
vm_machine "$MEM" "$SMP" "$RAM_FILE" "$SOCK"
QEMU=("${VM_QEMU[@]}" -nographic -nic none
	-kernel "$KERNEL" -initrd "$WORK/initrd"
	-append "console=ttyS0 panic=-1 quiet loglevel=6 no_timer_check"
	"${QEMU_ARGS[@]}")

START=$(date +%s.%N)
if [ "$INTERACTIVE" = 1 ]; then
	"${QEMU[@]}" &
	VM_QEMU_PID=$!
	wait "$VM_QEMU_PID" || true
	VM_QEMU_PID=
	exit 0
fi

"${QEMU[@]}" < /dev/null > >(tee "$CONSOLE") 2>&1 &
VM_QEMU_PID=$!
if ! vm_wait "$TIMEOUT"; then
	echo "run-vm: timeout after ${TIMEOUT}s" >&2
	echo "---- VSP log ($VSP_LOG) ----" >&2
	tail -n 50 "$VSP_LOG" >&2 || true
	exit 124
fi
sleep 0.2	# let tee finish
END=$(date +%s.%N)

RC=$(vm_exit_code "$CONSOLE")
echo "run-vm: VM ran $(echo "$END - $START" | bc 2>/dev/null ||
	echo '?') s"
if [ -z "$RC" ]; then
	echo "run-vm: no exit marker on the console: failure" >&2
	echo "---- VSP log ($VSP_LOG) ----" >&2
	tail -n 50 "$VSP_LOG" >&2 || true
	exit 1
fi
exit "$RC"
