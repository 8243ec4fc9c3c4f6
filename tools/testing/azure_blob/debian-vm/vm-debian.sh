#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make vm-debian: the driver in a Debian 12 guest as Azure users run it
# (debian-vm/build-image.sh), checked by debian-vm/guest-test.sh, on each
# of Debian 12's cloud kernels, 6.12 and 6.1 (the default one), two
# guests side by side.
#
#   vm-debian.sh --build DIR [--timeout S]
#
# Expects the rig's VSP (DIR/rig/vsp); for each kernel vmbus_emu.ko with
# hv_vmbus's symbol versions (build-vmbus-emu.sh; DIR/debian-vm/vmbus_emu
# for 6.12, DIR/debian-vm/vmbus_emu-6.1) and the driver built against the
# stock headers (DIR/modules of `make modules` for 6.12, DIR/debian-vm/
# modules-6.1); the selftests (DIR/selftests) and, when there, the static
# azblob (DIR/azure_blob) and the packages of `make deb` (DIR/deb). Builds
# or reuses the cached image. For each kernel it assembles the payload in
# DIR/debian-vm/payload-<series> and then, for both at once, each in a
# network namespace of its own (netns.sh), starts Azurite on the loopback
# (the VSP's http backend) and a listener on 169.254.77.1 (the guest's
# NIC), and boots the guest on that kernel. The VSP's default backend is echo (the selftests'); the
# guest points slot 0 at Azurite for azblob. Writes DIR/results/
# vm-debian.counts ("PASSED FAILED SKIPPED", both boots), the guest's
# output in DIR/results/vm-debian-<series>.log, its console in
# DIR/results/vm-debian-<series>-console.log and the VSP's log in
# DIR/debian-vm/vsp-<series>.log. Exits non-zero on any failure or when
# nothing passed.
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
	printf 'KFLAVOUR=%s\nKFLAVOURS="%s"\nAZ_PORT=%s\nLISTEN_PORT=%s\nTOKEN=%s\n' \
		"${VMD_KFLAVOUR:?}" "$VMD_KFLAVOURS" "$az_port" "$lport" "$token" \
		>"$VMD_PAYLOAD/env"
	echo "# namespace: $(ip -br addr | tr -s ' ' | tr '\n' ';')"
	echo "# Azurite on 127.0.0.1:$az_port, listener on 169.254.77.1:$lport"

	"$here/run-debian-vm.sh" --image "$VMD_ENTRY" --kver "$VMD_KVER" \
		--payload "$VMD_PAYLOAD" --timeout "$VMD_TIMEOUT" --tap azbtap0 \
		--vsp "$VMD_BUILD/rig/vsp" \
		--vsp-log "$VMD_BUILD/debian-vm/vsp-$VMD_SERIES.log" \
		--vsp-arg=--no-offer --vsp-arg=--backend=echo \
		--vsp-arg=--http-endpoint="http://127.0.0.1:$az_port/devstoreaccount1" \
		--console "$VMD_RESULTS/vm-debian-$VMD_SERIES-console.log" \
		--output "$VMD_RESULTS/vm-debian-$VMD_SERIES.log"
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

# ---- outside: the parts, the payloads, the counts ------------------------------
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
entry=$DVM_ENTRY
echo "# image $entry ($(( $(date +%s) - t0 )) s): $(tail -n 1 "$entry/build.log")"
if [ ! -s "$entry/kver" ] || [ ! -s "$entry/kver61" ]; then
	bail "the image $entry lacks one of its kernels (kver, kver61)"
fi
kflavours="$(cat "$entry/kver")-cloud-amd64 $(cat "$entry/kver61")-cloud-amd64"
[ -x "$build/rig/vsp" ] || bail "missing $build/rig/vsp (make vm-debian builds it)"

# Azurite's npm install needs the network, the namespace has none.
dvm_azurite_install

# payload SERIES KFLAVOUR EMU STOCK DIR: the guest's payload for a kernel
payload() {
	local series=$1 kflavour=$2 emu=$3 stock=$4 dir=$5 f v ko

	for f in "$emu" "$stock"; do
		[ -e "$f" ] || { echo "missing $f (make vm-debian builds it)"; return 1; }
	done
	for ko in "$emu" "$stock"; do
		v=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
		[ "$v" = "$kflavour" ] ||
			{ echo "$ko is built for $v, not $kflavour"; return 1; }
	done
	rm -rf "$dir"
	mkdir -p "$dir/stock"
	install -m 0755 "$here/guest-test.sh" "$dir/run"
	cp "$stock" "$dir/stock/"
	if ! dvm_payload_base "$dir" "$emu" "$kflavour" ||
	   ! "$here/host-depmod.sh" "$entry" "$kflavour" "$dir/depmod/stock" \
			"$emu" "$stock"; then
		echo "depmod for the guest failed"
		return 1
	fi
	"$rig/selftests/payload.sh" --build "$build" --out "$dir/selftests" ||
		{ echo "no selftests in $build/selftests"; return 1; }
	if [ -x "$build/azure_blob/azblob-static" ]; then
		strip -o "$dir/azblob-static" "$build/azure_blob/azblob-static"
	fi
	dvm_payload_debs "$build" "$dir/debs" >/dev/null
	echo "# payload $series: $(cd "$dir" && find . -type f ! -path './selftests/*' |
		sort | tr '\n' ' ')selftests/: $(tr '\n' ' ' <"$dir/selftests/selftests.list")"
}

# prepare SERIES KVER EMU STOCK: the payload of a boot (one at a time: the
# selftests' payload is built in the shared build directory)
prepare() {
	local series=$1 kver=$2 emu=$3 stock=$4 dir=$build/debian-vm/payload-$1
	local why

	rm -f "$results/vm-debian-$series.log" "$build/debian-vm/run-$series.log"
	if ! why=$(payload "$series" "$kver-cloud-amd64" "$emu" "$stock" "$dir"); then
		nok "$series: payload: $(tail -n 1 <<<"$why")"
		return 1
	fi
	echo "$why"
}

# boot SERIES KVER: one boot of the guest on a kernel, in a network
# namespace of its own; its output in run-SERIES.log, its exit status and
# time in run-SERIES.rc
boot() {
	local series=$1 kver=$2 run=$build/debian-vm/run-$1.log t0 vmrc

	t0=$(date +%s)
	# (9>&-: what the namespace starts must not hold the lock)
	VMD_SERIES=$series VMD_KVER=$kver VMD_KFLAVOUR=$kver-cloud-amd64 \
		VMD_PAYLOAD=$build/debian-vm/payload-$series \
		"$here/netns.sh" "$here/vm-debian.sh" --inner 9>&- >"$run" 2>&1
	vmrc=$?
	echo "$vmrc $(( $(date +%s) - t0 ))" >"$build/debian-vm/run-$series.rc"
}

# tally SERIES: the boot's TAP lines (the guest's and the host's)
# renumbered into ours with the series
tally() {
	local series=$1 log=$results/vm-debian-$1.log run=$build/debian-vm/run-$1.log
	local vmrc=1 secs='?' line

	read -r vmrc secs <"$build/debian-vm/run-$series.rc" 2>/dev/null
	echo "# ---- vm-debian: Linux $series ----"
	cat "$run" 2>/dev/null
	echo "# ---- vm-debian: the checks on $series ($secs s) ----"
	while IFS= read -r line; do
		case $line in
		"ok "*"# SKIP"*)
			n=$((n + 1)); skipped=$((skipped + 1))
			echo "ok $n - $series: ${line#ok * - }" ;;
		"ok "*) ok "$series: ${line#ok * - }" ;;
		"not ok "*) nok "$series: ${line#not ok * - }" ;;
		esac
	done < <({ tr -d '\r' <"$log" | grep -E '^(ok|not ok) [0-9]+ - '
		   grep -E '^(ok|not ok) 1 - host: ' "$run"; } 2>/dev/null)
	if [ "$vmrc" -eq 0 ]; then
		ok "$series: the guest ran to the end"
	else
		nok "$series: the guest run failed (exit $vmrc); console: $results/vm-debian-$series-console.log"
	fi
}

export VMD_ENTRY=$entry VMD_KFLAVOURS=$kflavours VMD_TIMEOUT=$timeout \
	VMD_BUILD=$build VMD_RESULTS=$results
kver612=$(cat "$entry/kver") kver61=$(cat "$entry/kver61")
series=()
prepare 6.12 "$kver612" "$build/debian-vm/vmbus_emu/vmbus_emu.ko" \
	"$build/modules/hv_azure_blob.ko" && series+=(6.12)
prepare 6.1 "$kver61" "$build/debian-vm/vmbus_emu-6.1/vmbus_emu.ko" \
	"$build/debian-vm/modules-6.1/hv_azure_blob.ko" && series+=(6.1)
# The two guests run side by side: each has one virtual CPU, which TCG
# runs on one host thread, so two cores carry both in the time of one.
# Each has its own namespace, tap, VSP, Azurite and disk overlay.
t0=$(date +%s)
pids=()
for s in "${series[@]}"; do
	rm -f "$build/debian-vm/run-$s.rc"
	if [ "$s" = 6.12 ]; then boot 6.12 "$kver612" & else boot 6.1 "$kver61" & fi
	pids+=($!)
done
[ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
echo "# both boots side by side: $(( $(date +%s) - t0 )) s"
for s in "${series[@]}"; do
	tally "$s"
done
finish
