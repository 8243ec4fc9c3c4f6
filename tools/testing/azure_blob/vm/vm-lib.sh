# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# vm-lib.sh - what every guest of the rig shares, sourced by vm/run-vm.sh
# (busybox guest) and debian-vm/run-debian-vm.sh (Debian guest): the
# reference VSP with its ivshmem socket, the QEMU machine that gives the
# VSP the guest's RAM and the ivshmem-doorbell device, the wait with a
# time limit and the exit marker on the console. Sourced, not run.
#
# Copyright (c) 2026 The hv_azure_blob authors

VM_VSP_PID=
VM_QEMU_PID=
VM_QEMU=()

# vm_start_vsp VSP SOCKET RAM_FILE LOG [ARG...] - start the VSP in the
# background (VM_VSP_PID) and wait for its socket, which must exist before
# QEMU starts.
vm_start_vsp() {
	local vsp=$1 sock=$2 ram=$3 log=$4

	shift 4
	"$vsp" --socket "$sock" --guest-ram "$ram" --log "$log" "$@" &
	VM_VSP_PID=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && return 0
		if ! kill -0 "$VM_VSP_PID" 2>/dev/null; then
			echo "vm: VSP died" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "vm: VSP socket missing" >&2
	return 1
}

# vm_machine MEM SMP RAM_FILE SOCKET - VM_QEMU: QEMU with the pc machine
# whose RAM is RAM_FILE (shared, so the VSP maps it; file offset = GPA
# below 4 GiB) and the ivshmem-doorbell device on the VSP's socket. The
# caller adds the kernel, disks and consoles.
vm_machine() {
	local mem=$1 smp=$2 ram=$3 sock=$4

	# shellcheck disable=SC2034,SC2054 # for the caller; QEMU options
	VM_QEMU=(qemu-system-x86_64 -M pc,memory-backend=ram0
		-object "memory-backend-file,id=ram0,size=$mem,mem-path=$ram,share=on"
		-m "$mem" -smp "$smp" -vga none -no-reboot
		-chardev "socket,path=$sock,id=ivsh"
		-device "ivshmem-doorbell,chardev=ivsh,vectors=9")
}

# vm_wait TIMEOUT - wait for QEMU (VM_QEMU_PID) to exit; after TIMEOUT
# seconds kill it and return 124.
vm_wait() {
	local deadline=$(( $(date +%s) + $1 ))

	while kill -0 "$VM_QEMU_PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			kill "$VM_QEMU_PID" 2>/dev/null || true
			wait "$VM_QEMU_PID" 2>/dev/null || true
			VM_QEMU_PID=
			return 124
		fi
		sleep 0.2
	done
	wait "$VM_QEMU_PID" 2>/dev/null || true
	VM_QEMU_PID=
	return 0
}

# vm_stop - stop QEMU and the VSP if they still run (QEMU at once, the VSP
# with SIGTERM and two seconds to finish its log).
vm_stop() {
	if [ -n "$VM_QEMU_PID" ] && kill -0 "$VM_QEMU_PID" 2>/dev/null; then
		kill "$VM_QEMU_PID" 2>/dev/null || true
		sleep 0.5
		kill -9 "$VM_QEMU_PID" 2>/dev/null || true
	fi
	VM_QEMU_PID=
	if [ -n "$VM_VSP_PID" ] && kill -0 "$VM_VSP_PID" 2>/dev/null; then
		kill -TERM "$VM_VSP_PID" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$VM_VSP_PID" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$VM_VSP_PID" 2>/dev/null || true
	fi
	VM_VSP_PID=
}

# vm_exit_code LOG - the <rc> of the last "AZBLOB-VM-EXIT <rc>" line in LOG
# (empty without one).
vm_exit_code() {
	tr -d '\r' <"$1" | sed -n 's/^AZBLOB-VM-EXIT \([0-9]\+\)$/\1/p' |
		tail -n 1
}
