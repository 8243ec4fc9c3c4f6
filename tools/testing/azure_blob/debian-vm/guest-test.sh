#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of vm-debian (the payload's `run`, as root under systemd
# in the Debian guest). TAP lines on stdout, "# ..." for the record.
#
#  1. the system: Debian's cloud kernel of ./env (KFLAVOUR), systemd, no
#     failed unit; vmbus_emu loaded at coldplug by its PCI alias, hv_vmbus
#     not loaded
#  2. the NIC: 169.254.77.2/16, no default route, the host's listener
#     on 169.254.77.1 answers with the token of ./env
#  3. the driver as `make modules` builds it against the stock headers
#     (hv_vmbus's symbol versions): depmod resolves it to vmbus_emu, udev
#     loads it by its VMBus alias when the host offers the device, the
#     static azblob makes a round trip, a rescind removes the node
#  4. the packages (./debs, from make deb), with the device offered before
#     them as on an Azure VM: `apt install` of the DKMS package and azblob
#     and nothing else builds the module for every kernel of the image
#     (KFLAVOURS, each with its headers) and binds the device (udev loads
#     the DKMS-built module); after a rescind and with the module unloaded,
#     a new offer makes udev load it by its alias; the node has the group
#     and mode of the package's udev rule, a member of that group moves a
#     blob through it with azblob, a non-member gets EACCES and azblob says
#     why, the driver's counters advance and the pin counters balance.
#     Skipped, one line per check, without ./debs.
#  5. the selftests of ./selftests (selftests/payload.sh: every one but the
#     race tests, which want two CPUs) on the DKMS-built module, one line
#     per test case with the harness's reason for a skip, one per program
#     for its exit status; then the pin counters balance. Skipped without
#     ./debs.
#
# The VSP's default backend is echo (the selftests'); azblob's requests go
# to Azurite: the test sets slot 0's backend to http first, and the
# selftests' reset of the host sets it back.
# ./env gives KFLAVOUR, KFLAVOURS (every kernel of the image), AZ_PORT (Azurite for the VSP's http backend, on the
# host's loopback), LISTEN_PORT and TOKEN (the host's listener).
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u -o pipefail

pay=/run/azblob-rig
# shellcheck source=/dev/null
. "$pay/env"
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$AZ_PORT/devstoreaccount1"
ctl_file=/sys/kernel/debug/vmbus_emu/host
mod=/lib/modules/$(uname -r)
misc=/sys/class/misc/azure_blob
t=$(mktemp -d)
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check DESC CMD...: ok when CMD succeeds
check() {
	local desc=$1

	shift
	if "$@" >"$t/out" 2>&1; then
		ok "$desc"
	else
		nok "$desc: $(head -c 400 "$t/out" | tr '\n' ' ')"
	fi
}
ctl() { echo "$*" >"$ctl_file" && cat "$ctl_file"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
wait_for() {	# wait_for SECONDS TEST...
	local i=$(($1 * 10))

	shift
	while [ "$i" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		i=$((i - 1))
	done
	return 1
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
cursor() { journalctl --show-cursor -n 0 -q | sed -n 's/^-- cursor: //p'; }
# udev_inserted CURSOR MODULE: udevd (debug level) logged loading MODULE
udev_inserted() {
	journalctl -q -u systemd-udevd --after-cursor "$1" |
		grep -q "Inserted module '$2'"
}
pins() {
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
	awk '/^nr_foll_pin_acquired/ { a = $2 } /^nr_foll_pin_released/ { r = $2 }
	     END { print a, r }' /proc/vmstat
}
# offer_and_wait CURSOR_VAR: offer slot 0, wait for the node (30 s)
offer() {
	local t0

	t0=$(now)
	[ "$(ctl offer 0)" = ok ] || return 1
	wait_for 30 test -c /dev/azure_blob || return 1
	echo "# /dev/azure_blob $(since "$t0") s after the offer"
}
rescind() {
	[ "$(ctl rescind 0)" = ok ] && wait_for 10 test ! -e /dev/azure_blob
}
vmbus_dev() {
	find /sys/bus/vmbus/devices/ -mindepth 1 -maxdepth 1 2>/dev/null |
		head -n 1
}
modalias_matches() {
	local dev alias

	dev=$(vmbus_dev)
	[ -n "$dev" ] || return 1
	alias=$(udevadm info -q property -p "$dev" | sed -n 's/^MODALIAS=//p')
	echo "# uevent MODALIAS=$alias, module alias $(modinfo -F alias hv_azure_blob)"
	[[ $alias =~ ^vmbus:[0-9a-f]{32}$ ]] &&
		[ "$alias" = "$(modinfo -F alias hv_azure_blob)" ] &&
		[ "$alias" = "$(cat "$dev/modalias")" ]
}
deps_via_emu() {	# deps_via_emu PATH_SUFFIX
	modprobe --show-depends hv_azure_blob >"$t/deps" 2>&1 || return 1
	sed 's/^/# modprobe --show-depends: /' "$t/deps"
	grep -q "/updates/vmbus_emu.ko" "$t/deps" &&
		grep -q "$1" "$t/deps" && ! grep -q hv_vmbus "$t/deps"
}
no_version_complaints() {
	! journalctl -k -q | grep -E 'disagrees about version|Unknown symbol|no symbol version'
}
loaded() { grep -q "^$1 " /proc/modules; }
# the kernels with headers here are the image's, and DKMS installed the
# module for each of them
dkms_installed() {
	local k have=''

	for k in /lib/modules/*; do
		[ -e "$k/build/Makefile" ] && have+=" ${k##*/}"
	done
	echo "# kernels with headers:$have"
	[ "$(tr ' ' '\n' <<<"$have" | sort | xargs)" = \
	  "$(tr ' ' '\n' <<<"$KFLAVOURS" | sort | xargs)" ] || return 1
	for k in $KFLAVOURS; do
		dkms status -m hv-azure-blob -k "$k" | grep ': installed' >/dev/null &&
			ls "/lib/modules/$k/updates/dkms/hv_azure_blob.ko"* ||
			return 1
	done
}

# ---- 1. the system ---------------------------------------------------------
# The boot as systemd-analyze counts it, up to multi-user.target (the boot
# is not finished while this runs). Debian's initramfs runs no systemd, so
# the kernel's time includes the initramfs.
user_us=$(systemctl show -p UserspaceTimestampMonotonic --value)
multi_us=$(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target)
awk -v u="$user_us" -v m="$multi_us" 'BEGIN {
	printf "# boot: kernel and initramfs %.1f s, userspace %.1f s: multi-user.target after %.1f s\n",
		u / 1e6, (m - u) / 1e6, m / 1e6 }'
# shellcheck source=/dev/null
echo "# $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(nproc) CPU, $(free -m | awk '/^Mem:/ { print $2 }') MiB"
check "boots Debian's $KFLAVOUR kernel" test "$(uname -r)" = "$KFLAVOUR"
check "systemd is PID 1" test "$(readlink /proc/1/exe)" = /usr/lib/systemd/systemd
state=$(systemctl is-system-running 2>&1)
systemctl --failed --no-legend --plain >"$t/failed" 2>&1
if [ "$state" = running ] || [ "$state" = starting ] && [ ! -s "$t/failed" ]; then
	ok "no failed unit (system $state)"
else
	nok "system $state, failed units: $(tr '\n' ' ' <"$t/failed")"
fi
emu_pci=$(readlink -f /sys/bus/pci/drivers/vmbus_emu/0000:* 2>/dev/null | head -n 1)
if loaded vmbus_emu && [ -n "$emu_pci" ] &&
   udevadm info -q property -p "$emu_pci" | grep -q '^MODALIAS=pci:v00001AF4d00001110'; then
	ok "vmbus_emu loaded at coldplug for the ivshmem device $(basename "$emu_pci") (pci:v00001AF4d00001110)"
else
	nok "vmbus_emu is not bound to the ivshmem device"
fi
check "hv_vmbus is not loaded (it needs Hyper-V; vmbus_emu takes its place)" \
	bash -c '! grep -q "^hv_vmbus " /proc/modules'
check "vmbus_emu attached to the host" test -w "$ctl_file"

# ---- 2. the NIC ----------------------------------------------------------------
echo "# uptime $(cut -d' ' -f1 /proc/uptime) s"
nic=''
for d in /sys/class/net/*; do
	[ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = virtio_net ] &&
		nic=$(basename "$d")
done
# networkd configures the address on its own time: at load a boot reached
# this point before it had (wait up to two minutes, then check).
for _ in $(seq 1 240); do
	ip -4 -o addr show dev "${nic:-none}" 2>/dev/null | grep -q ' 169\.254\.77\.2/16 ' && break
	sleep 0.5
done
ip -br addr | sed 's/^/# ip: /'
ip route | sed 's/^/# route: /'
check "the virtio NIC ${nic:-?} has 169.254.77.2/16" \
	bash -c "ip -4 -o addr show dev '${nic:-none}' | grep -q ' 169.254.77.2/16 '"
# shellcheck disable=SC2016 # for the inner shell
check "no default route, IPv4 or IPv6" \
	bash -c '[ -z "$(ip route show default)" ] && [ -z "$(ip -6 route show default)" ]'
check "the host's listener on 169.254.77.1:$LISTEN_PORT answers over the NIC" \
	python3 -c '
import sys, urllib.request
body = urllib.request.urlopen(sys.argv[1], timeout=20).read().decode()
sys.exit(0 if body.strip() == sys.argv[2] else "got %r" % body)
' "http://169.254.77.1:$LISTEN_PORT/token" "$TOKEN"

# ---- 3. the driver built against the stock headers -------------------------
echo "# uptime $(cut -d' ' -f1 /proc/uptime) s"
check "the host carries slot 0's requests to Azurite (backend http)" \
	test "$(ctl backend 0 http)" = ok
check "slot 0 not offered yet, hv_azure_blob not loaded" \
	bash -c '[ ! -e /dev/azure_blob ] && ! grep -q "^hv_azure_blob " /proc/modules'
install -m 0644 "$pay/stock/hv_azure_blob.ko" "$mod/updates/hv_azure_blob.ko"
cp "$pay"/depmod/stock/modules.* "$mod/"
check "stock-built module: depmod resolves its hv_vmbus symbols to vmbus_emu" \
	deps_via_emu /updates/hv_azure_blob.ko
udevadm control --log-level=debug
c=$(cursor)
if offer; then
	ok "stock-built module: /dev/azure_blob when the host offers the device"
else
	nok "stock-built module: no /dev/azure_blob after the offer"
fi
check "stock-built module: loaded by udev (\"Inserted module 'hv_azure_blob'\")" \
	udev_inserted "$c" hv_azure_blob
check "the uevent's MODALIAS is vmbus:<class GUID bytes>, as sysfs and the module's alias say" \
	modalias_matches
check "no symbol version complaint in the kernel log" no_version_complaints
if [ -x "$pay/azblob-static" ]; then
	head -c 300007 /dev/urandom >"$t/a"
	az=("$pay/azblob-static" --transport device --no-progress)
	if "${az[@]}" mb deb-a >"$t/out" 2>&1 &&
	   "${az[@]}" put "$t/a" deb-a/a >>"$t/out" 2>&1 &&
	   "${az[@]}" get deb-a/a "$t/a2" >>"$t/out" 2>&1 &&
	   [ "$(sha "$t/a")" = "$(sha "$t/a2")" ]; then
		ok "stock-built module: 300007 B up and down with the static azblob, sha256 equal"
	else
		nok "stock-built module: azblob round trip: $(head -c 400 "$t/out")"
	fi
else
	skip "stock-built module: azblob round trip" "no static azblob in the payload"
fi
check "rescind removes /dev/azure_blob" rescind
check "hv_azure_blob unloads" rmmod hv_azure_blob
udevadm control --log-level=info
rm -f "$mod/updates/hv_azure_blob.ko"
cp "$pay"/depmod/base/modules.* "$mod/"

# ---- 4. the packages -------------------------------------------------------
echo "# uptime $(cut -d' ' -f1 /proc/uptime) s"
# The device is there before the packages, as on an Azure VM that boots
# with it: the installation itself must bind it. Then a rescind and a new
# offer with the module unloaded: udev loads it by its alias.
pkg_checks=(
	"the device offered before the packages has no driver"
	"apt install of the DKMS package and azblob, nothing else"
	"DKMS built and installed hv_azure_blob for every kernel: ${KFLAVOURS// /, }"
	"the packages' udev rule and group are in place"
	"DKMS-built module: depmod resolves it to vmbus_emu"
	"the installation binds the device offered before it, through udev"
	"a new offer with the module unloaded: udev loads it, /dev/azure_blob appears"
	"/dev/azure_blob has the rule's group and mode"
	"a member of the group moves a blob with azblob through the device"
	"a non-member gets EACCES opening /dev/azure_blob"
	"azblob tells a non-member the device refused it and which group opens it"
	"the driver's counters advanced"
	"pins balanced (nr_foll_pin_acquired = released)"
)
shopt -s nullglob
dkms_deb=("$pay"/debs/hv-azure-blob-dkms_*.deb)
cli_deb=("$pay"/debs/azblob_*.deb)
shopt -u nullglob
if [ ${#dkms_deb[@]} -ne 1 ] || [ ${#cli_deb[@]} -ne 1 ]; then
	for c in "${pkg_checks[@]}"; do
		skip "$c" "no hv-azure-blob-dkms_*.deb and azblob_*.deb in build/deb (make deb)"
	done
else
	udevadm control --log-level=debug
	c=$(cursor)
	[ "$(ctl offer 0)" = ok ] && wait_for 10 test -n "$(vmbus_dev)"
	check "${pkg_checks[0]}" bash -c "[ -n '$(vmbus_dev)' ] &&
		[ ! -e '$(vmbus_dev)/driver' ] && [ ! -e /dev/azure_blob ]"

	# azblob's own library, when it comes as a package of its own
	debs=("${dkms_deb[0]}" "${cli_deb[0]}")
	for d in "$pay"/debs/libazblob*.deb; do
		[ -e "$d" ] || continue
		p=$(dpkg-deb -f "$d" Package)
		dpkg-deb -f "${cli_deb[0]}" Depends | grep -qw "$p" && debs+=("$d")
	done
	rel=()
	for d in "${debs[@]}"; do
		rel+=("./${d##*/}")
	done
	echo "# apt install ${rel[*]}"
	t0=$(now)
	if (cd "$pay/debs" && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y "${rel[@]}") >"$t/apt" 2>&1; then
		ok "${pkg_checks[1]} ($(since "$t0") s, the DKMS build included)"
	else
		nok "${pkg_checks[1]}: $(tail -n 15 "$t/apt" | tr '\n' ' ')"
	fi
	sed 's/^/# apt: /' "$t/apt" | tail -n 25
	dkms status 2>&1 | sed 's/^/# dkms status: /'
	check "${pkg_checks[2]}" dkms_installed
	rule=''
	for p in $(dpkg-deb -f "${dkms_deb[0]}" Package) $(dpkg-deb -f "${cli_deb[0]}" Package); do
		for f in $(dpkg -L "$p" 2>/dev/null | grep '/rules\.d/.*\.rules$'); do
			grep -q azure_blob "$f" && rule=$f
		done
	done
	group=$(sed -n 's/.*GROUP="\([^"]*\)".*/\1/p' "${rule:-/dev/null}" | head -n 1)
	mode=$(sed -n 's/.*MODE="\([0-7]*\)".*/\1/p' "${rule:-/dev/null}" | head -n 1)
	echo "# udev rule ${rule:-none}: GROUP=${group:-?} MODE=${mode:-?}"
	check "${pkg_checks[3]} (${rule:-no rule}, group ${group:-?})" \
		bash -c "[ -n '$group' ] && [ -n '$mode' ] && getent group '$group' >/dev/null"
	check "${pkg_checks[4]}" deps_via_emu /updates/dkms/hv_azure_blob.ko
	if wait_for 30 test -c /dev/azure_blob && udev_inserted "$c" hv_azure_blob; then
		ok "${pkg_checks[5]} (\"Inserted module 'hv_azure_blob'\" from udevd)"
	else
		nok "${pkg_checks[5]}"
	fi

	rescind
	rmmod hv_azure_blob 2>/dev/null
	c=$(cursor)
	if ! loaded hv_azure_blob && offer && udev_inserted "$c" hv_azure_blob; then
		ok "${pkg_checks[6]} (\"Inserted module 'hv_azure_blob'\" from udevd)"
	else
		nok "${pkg_checks[6]}"
	fi
	udevadm control --log-level=info
	stat -c '# %n: %U:%G %a' /dev/azure_blob
	want="$group $(printf '%o' "$((8#${mode:-0}))")"
	check "${pkg_checks[7]} ($want)" test "$(stat -c '%G %a' /dev/azure_blob)" = "$want"

	useradd --create-home --groups "$group" blobuser 2>/dev/null
	useradd --create-home outsider 2>/dev/null
	read -r s0 c0 b0 < <(cat "$misc/submitted" "$misc/completed" "$misc/bytes" | tr '\n' ' ')
	read -r acq0 rel0 <<<"$(pins)"
	head -c 1048583 /dev/urandom >/home/blobuser/in
	chown blobuser /home/blobuser/in
	as_member=(runuser -u blobuser -- azblob --transport device --no-progress)
	if (cd /home/blobuser &&
	    "${as_member[@]}" mb deb-b &&
	    "${as_member[@]}" put in deb-b/blob &&
	    "${as_member[@]}" get deb-b/blob out) >"$t/out" 2>&1 &&
	   [ "$(sha /home/blobuser/in)" = "$(sha /home/blobuser/out)" ]; then
		ok "${pkg_checks[8]} (1048583 B up and down, sha256 equal)"
	else
		nok "${pkg_checks[8]}: $(head -c 400 "$t/out" | tr '\n' ' ')"
	fi
	check "${pkg_checks[9]}" runuser -u outsider -- python3 -c '
import errno, os, sys
try:
    os.open("/dev/azure_blob", os.O_RDWR)
except OSError as e:
    sys.exit(0 if e.errno == errno.EACCES else "errno %d" % e.errno)
sys.exit("opened")
'
	# azblob's error, then its doctor's verdict
	runuser -u outsider -- azblob --transport device --no-progress \
		get deb-b/blob /tmp/outsider.out >"$t/azout" 2>&1
	rc=$?
	runuser -u outsider -- azblob doctor >"$t/doctor" 2>&1
	sed 's/^/# azblob as outsider: /' "$t/azout"
	sed 's/^/# azblob doctor as outsider: /' "$t/doctor"
	if [ "$rc" -ne 0 ] &&
	   grep -q 'cannot open /dev/azure_blob: Permission denied.*\[errno 13\]' "$t/azout" &&
	   grep -q "members of group $group may open it" "$t/doctor"; then
		ok "${pkg_checks[10]} (exit $rc)"
	else
		nok "${pkg_checks[10]}: exit $rc: $(head -c 300 "$t/azout" | tr '\n' ' ')"
	fi
	read -r s1 c1 b1 < <(cat "$misc/submitted" "$misc/completed" "$misc/bytes" | tr '\n' ' ')
	echo "# submitted, completed, bytes: $s0 $c0 $b0 before, $s1 $c1 $b1 after"
	if [ "$s1" -gt "$s0" ] && [ "$c1" -gt "$c0" ] &&
	   [ "$b1" -ge $((b0 + 2 * 1048583)) ]; then
		ok "${pkg_checks[11]}"
	else
		nok "${pkg_checks[11]}"
	fi
	read -r acq1 rel1 <<<"$(pins)"
	echo "# pins acquired/released: $acq0/$rel0 before, $acq1/$rel1 after"
	check "${pkg_checks[12]}" test "$acq1" = "$rel1" -a "$acq1" -gt "$acq0"
fi

# ---- 5. the selftests on the DKMS-built module --------------------------------
echo "# uptime $(cut -d' ' -f1 /proc/uptime) s"
# selftests_tap: the harness's lines of selftests/run's output (one
# kselftest program after the other, framed by AZBLOB-SUITE-BEGIN/END) as
# ours: a line per test case, a line per program for its exit status and
# for its plan (a program that dies reports fewer cases than it planned).
selftests_tap() {
	local line prog='' plan=0 seen=0 name why

	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"# AZBLOB-SUITE-BEGIN "*)
			prog=${line#"# AZBLOB-SUITE-BEGIN "} plan=0 seen=0 ;;
		"# AZBLOB-SUITE-END "*)
			read -r _ _ _ res rc <<<"$line"
			if [ "$res" = ok ] && [ "$seen" -eq "$plan" ] && [ "$plan" -gt 0 ]; then
				ok "selftest $prog: $plan cases reported, $rc"
			else
				nok "selftest $prog: $res $rc, $seen of $plan cases reported"
			fi ;;
		1..*)
			plan=${line#1..} plan=${plan%% *} ;;
		"ok "*"# SKIP"*)
			seen=$((seen + 1))
			name=${line#ok * } name=${name%% # SKIP*}
			why=${line#*# SKIP} why=${why# }
			skip "selftest $name" "${why:-no reason given}"
			echo "$name: $why" >>"$t/skipped" ;;
		"ok "*)
			seen=$((seen + 1))
			ok "selftest ${line#ok * }" ;;
		"not ok "*)
			seen=$((seen + 1))
			nok "selftest ${line#not ok * }" ;;
		esac
	done
}
if [ ${#dkms_deb[@]} -ne 1 ] || [ ${#cli_deb[@]} -ne 1 ]; then
	skip "the selftests' module: loaded afresh by udev" "no packages (make deb)"
	skip "selftests on the DKMS-built module" "no packages (make deb)"
	skip "pins balanced after the selftests" "no packages (make deb)"
else
	# On the DKMS-built module loaded afresh by udev, the kernel's ring
	# buffer cleared first (the journal keeps it): its line at load is
	# the only one there, as uring_kernel.support_as_kernel expects.
	c=$(cursor)
	udevadm control --log-level=debug
	if rescind && rmmod hv_azure_blob && dmesg --clear && offer &&
	   udev_inserted "$c" hv_azure_blob; then
		ok "the selftests' module: loaded afresh by udev on a new offer, ring buffer cleared"
	else
		nok "the selftests' module: no fresh load by udev on a new offer"
	fi
	udevadm control --log-level=info
	echo "# selftests: $(tr '\n' ' ' <"$pay/selftests/selftests.list")on $(uname -r)"
	t0=$(now)
	"$pay/selftests/run" >"$t/selftests.log" 2>&1
	rc=$?
	grep -v '^# dmesg: ' "$t/selftests.log" | sed 's/^/# selftests: /'
	echo "# selftests: exit $rc after $(since "$t0") s"
	: >"$t/skipped"
	selftests_tap <"$t/selftests.log"
	echo "# selftests skipped on $(uname -r): $(wc -l <"$t/skipped")"
	sed "s/^/# skipped on $(uname -r): /" "$t/skipped"
	check "the selftests ran to their end (AZBLOB-SELFTESTS-END status=0)" \
		grep -q '^AZBLOB-SELFTESTS-END .* status=0' "$t/selftests.log"
	# (pages_kept: pages a test left pinned on purpose, the driver's count)
	kept=$(cat /sys/kernel/debug/hv_azure_blob/pages_kept 2>/dev/null || echo 0)
	read -r acq2 rel2 <<<"$(pins)"
	echo "# pins acquired/released after the selftests: $acq2/$rel2, kept by the driver $kept"
	check "pins balanced after the selftests (nr_foll_pin_acquired = released + the driver's pages_kept, $kept)" \
		test "$((acq2 - rel2))" = "$kept" -a "$acq2" -gt "${acq1:-0}"
fi

# ---- the kernel log ---------------------------------------------------------
echo "# uptime $(cut -d' ' -f1 /proc/uptime) s"
journalctl -k -q -p warning | sed 's/^/# kernel: /' | tail -n 20
check "no kernel report (BUG, WARNING, Oops, call trace)" bash -c \
	"! journalctl -k -q | grep -E 'BUG:|WARNING:|Oops|Call Trace|general protection'"

echo "1..$n"
rm -rf "$t"
[ "$failed" -eq 0 ]
