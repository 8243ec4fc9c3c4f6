#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-image.sh - the rig's Debian 12 guest, built from Debian's packages
# and cached.
#
#   build-image.sh [--clients] [--force]
#
# mmdebstrap installs a bookworm system (systemd, udev, kmod, apt,
# python3, ca-certificates, dkms with gcc and make, both of Debian 12's
# cloud kernels with their headers: the default one, 6.1
# (linux-image-cloud-amd64), and the 6.12 one of scripts/deb-kver.sh; the
# client's run-time libraries) into a directory; mke2fs -d writes it into
# an ext4 image (no loop mount) that qemu-img turns into a qcow2. The
# kernels and the initramfs images Debian generated go beside it, so one
# image boots either kernel, and DKMS builds for both.
# --clients adds the Azure clients as Debian ships them (python3-azure-storage,
# azure-cli, rclone, nodejs with npm): another, larger image, for the
# benchmark and the interoperability runs.
#
# The result is cached in /var/cache/hv_azure_blob/debian-vm/<key>/
# (DEBIAN_VM_CACHE overrides the parent): image.qcow2,
# vmlinuz-<kver>-cloud-amd64, initrd.img-<kver>-cloud-amd64, kver (the
# 6.12 version), kver61 (the 6.1 version), modules/ (a copy of the image's /lib/modules), manifest
# ("package version" of every installed package) and build.log. <key> hashes this script, image/ and the package list;
# an entry is rebuilt when one of its packages has a newer version in apt
# (apt-cache policy; a candidate only the host's dpkg status knows, like
# a package from elsewhere installed on the host, does not count) or with
# --force. Downloaded packages are kept in
# debs/ beside the entries, so a rebuild downloads only what changed.
# Prints the entry's directory as the last line on stdout.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rig=$(cd "$here/.." && pwd)
cache=${DEBIAN_VM_CACHE:-/var/cache/hv_azure_blob/debian-vm}
mirror=${DEBIAN_VM_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_VM_SECURITY:-http://deb.debian.org/debian-security}
clients=0 force=0

while [ $# -gt 0 ]; do
	case $1 in
	--clients) clients=1; shift ;;
	--force) force=1; shift ;;
	*) echo "usage: $0 [--clients] [--force]" >&2; exit 2 ;;
	esac
done

log() { printf 'debian-vm: %s\n' "$*" >&2; }
die() { printf 'debian-vm: error: %s\n' "$*" >&2; exit 1; }

"$rig/scripts/apt-need.sh" mmdebstrap e2fsprogs qemu-utils
kver=$("$rig/scripts/deb-kver.sh")
kflavour=$kver-cloud-amd64
kver61=$("$rig/scripts/deb-kver.sh" 6.1)
kflavour61=$kver61-cloud-amd64

packages=(
	systemd-sysv udev kmod apt python3 iproute2 passwd adduser procps
	initramfs-tools ca-certificates
	"linux-image-$kflavour" "linux-headers-$kflavour"
	linux-image-6.12-cloud-amd64 linux-headers-6.12-cloud-amd64
	"linux-image-$kflavour61" "linux-headers-$kflavour61"
	linux-image-cloud-amd64 linux-headers-cloud-amd64
	dkms gcc make libc6-dev
	libcurl4 libxml2 liburing2 libssl3 libmicrohttpd12
)
[ "$clients" = 1 ] && packages+=(python3-azure-storage azure-cli rclone nodejs npm)
sources=(
	"deb $mirror bookworm main"
	"deb $mirror bookworm-updates main"
	"deb $security bookworm-security main"
)

key=$({
	cat "$0" "$here"/image/*
	printf '%s\n' "${packages[@]}" "${sources[@]}"
} | sha256sum | cut -c1-16)
entry=$cache/$key
mkdir -p "$cache/debs"

# Whether an entry is complete and no package in it has a newer version
# in apt than the one it holds.
entry_current() {
	local stale

	[ -s "$entry/image.qcow2" ] && [ -s "$entry/manifest" ] &&
		[ -s "$entry/vmlinuz-$kflavour" ] &&
		[ -s "$entry/vmlinuz-$kflavour61" ] &&
		[ -d "$entry/modules/$kflavour" ] || return 1
	# shellcheck disable=SC2046
	stale=$(apt-cache policy $(cut -d' ' -f1 "$entry/manifest") 2>/dev/null |
		awk '/^[^ ].*:$/ { p = substr($0, 1, length($0) - 1); v = "" }
		     /^  Candidate:/ { cand = $2 }
		     /^ (\*\*\*|   ) [^ ]+ [0-9]+$/ { v = $(NF - 1) }
		     v == cand && $2 ~ /^https?:/ { print p, cand; v = "" }' |
		LC_ALL=C join - <(LC_ALL=C sort "$entry/manifest") |
		while read -r p cand have; do
			[ "$cand" = "(none)" ] && continue
			if dpkg --compare-versions "$cand" gt "$have"; then
				echo "$p $have -> $cand"
			fi
		done)
	if [ -n "$stale" ]; then
		log "newer packages in apt, rebuilding $entry:"
		printf '  %s\n' "$stale" | head -n 20 >&2
		return 1
	fi
}

exec 9>"$cache/.lock"
flock 9
if [ "$force" = 0 ] && entry_current; then
	touch "$entry/last-used"
	log "cached image $entry (kernel $kflavour)"
	echo "$entry"
	exit 0
fi

start=$(date +%s)
tmp=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
log "building the image in $tmp (packages: ${packages[*]})"

# The hooks run on the host, "$1" is the new root. The package cache goes
# in before anything is downloaded and comes back out (with the essential
# set, which mmdebstrap would unlink), the .debs themselves stay out of
# the image.
nice -n 19 mmdebstrap --mode=root --format=directory --variant=apt \
	--include="${packages[*]}" \
	--skip=essential/unlink \
	--setup-hook="mkdir -p \"\$1/var/cache/apt/archives\"" \
	--setup-hook="sync-in $cache/debs /var/cache/apt/archives" \
	--customize-hook="sync-out /var/cache/apt/archives $cache/debs" \
	--customize-hook="rm -f \"\$1\"/var/cache/apt/archives/*.deb" \
	--customize-hook="$here/image/customize.sh \"\$1\"" \
	bookworm "$root" "${sources[@]}" </dev/null >"$tmp/build.log" 2>&1 ||
	{ tail -n 40 "$tmp/build.log" >&2; die "mmdebstrap failed"; }
t_debootstrap=$(( $(date +%s) - start ))

dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Package} ${Version}\n' |
	LC_ALL=C sort >"$tmp/manifest"
for k in "$kflavour" "$kflavour61"; do
	if [ ! -d "$root/lib/modules/$k" ] ||
		[ ! -d "$root/usr/src/linux-headers-$k" ]; then
		die "the image lacks the kernel or the headers of $k"
	fi
done
others=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 \
	! -name "$kflavour" ! -name "$kflavour61" -printf '%f ')
[ -z "$others" ] ||
	die "the image holds another kernel ($others): apt-get update, then retry"
for f in "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-*; do
	[ -e "$f" ] || die "no kernel or initramfs in /boot of the image"
	cp "$f" "$tmp/"
done
echo "$kver" >"$tmp/kver"
echo "$kver61" >"$tmp/kver61"
# The module trees, for depmod on the host (debian-vm/host-depmod.sh): in
# the guest, depmod -a reads every module under TCG, about a minute.
cp -a "$root/lib/modules" "$tmp/modules"
# Old versions of packages leave the deb cache.
(cd "$cache/debs" && for d in *.deb; do
	p=${d%%_*}
	v=$(echo "$d" | cut -d_ -f2 | sed 's/%3a/:/')
	grep -qx "$p $v" "$tmp/manifest" || rm -f "$d"
done)

# ext4 from the directory, with room for the packages the tests install
# and the modules DKMS builds.
size_mb=$(( $(du -sm "$root" | cut -f1) + 2048 ))
truncate -s "${size_mb}M" "$tmp/root.raw"
nice -n 19 mke2fs -q -F -t ext4 -L azblob-root -d "$root" "$tmp/root.raw" ||
	die "mke2fs -d failed"
nice -n 19 qemu-img convert -f raw -O qcow2 "$tmp/root.raw" "$tmp/image.qcow2"
rm -rf "$root" "$tmp/root.raw"
t_all=$(( $(date +%s) - start ))
printf 'mmdebstrap %d s, whole build %d s, %d packages, %s\n' \
	"$t_debootstrap" "$t_all" "$(wc -l <"$tmp/manifest")" \
	"$(du -h "$tmp/image.qcow2" | cut -f1)" >>"$tmp/build.log"
log "built in ${t_all} s (mmdebstrap ${t_debootstrap} s): $entry"

rm -rf "$entry"
chmod 0755 "$tmp"
mv "$tmp" "$entry"
trap - EXIT
touch "$entry/last-used"
# Entries nobody used for two weeks go, and what killed builds left.
find "$cache" -mindepth 2 -maxdepth 2 -name last-used -mtime +14 \
	-printf '%h\n' | xargs -r rm -rf
find "$cache" -mindepth 1 -maxdepth 1 -name 'tmp.*' -mtime +1 \
	-exec rm -rf {} +
echo "$entry"
