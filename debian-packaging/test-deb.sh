#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-deb.sh - the "deb" suite: builds the Debian packages (build-deb.sh)
# and checks them as a user of Debian would meet them:
#   - dpkg-buildpackage -us -uc -b in a staged copy builds the five packages
#   - lintian --pedantic: no error, no warning; every override has a reason
#   - contents: the DKMS tree and dkms.conf, the udev rule, the group in
#     postinst, SONAME, exports = azblob.h, symbols file, no RUNPATH, the
#     pc file, headers, man pages, licences, nothing linux-libc-dev ships;
#     azblobd's unit (Type=notify, loopback only), conffile, and a postinst
#     that enables and starts nothing
#   - man pages render with man --warnings and groff -ww without a warning
#     and document every command and every exported function
#   - a program compiled and linked via pkg-config against an extracted
#     root (dpkg -x) runs against a local Blob service stub, in C and C++;
#     internal functions cannot be linked; the packaged azblob runs
#   - dkms add/build/install of the packaged source for Debian's 6.12
#     cloud kernel headers, in a private mount namespace (scratch dkms tree,
#     /var/lib/dkms and /lib/modules), then modinfo's alias, vermagic and
#     modprobe's alias resolution; the host's dkms tree and /lib/modules
#     are compared before and after
#   - the packages installed with apt in a Debian 12 root (mmdebstrap,
#     cached) with dkms and those headers: DKMS builds and installs the
#     module, the group exists, azblob and pkg-config work, azblobd reads
#     its configuration and is not enabled; then removed and purged
# TAP on standard output and in build/results/deb.tap, counts "PASSED
# FAILED SKIPPED" in build/results/deb.counts.
#
# DEB_DKMS_KERNELS="KVER..." builds the module for these kernels (headers
# installed if missing) instead of the newest Debian 12 6.12 cloud kernel.
#
# Copyright (c) 2026 The hv_azure_blob authors
#
# The checks are functions that t() runs, which shellcheck cannot follow:
# shellcheck disable=SC2317
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=$top/build/deb
results=$top/build/results
work=$out/test
tap=$results/deb.tap
apt_need=$top/tools/testing/azure_blob/scripts/apt-need.sh
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
libdir=usr/lib/$multiarch
# The VMBus class of the Azure Blob device (protocol.md).
class_guid=0590b792-db64-45cc-81db-b8d70c577c9e

mkdir -p "$results"
rm -rf "$work"
mkdir -p "$work/log"
: >"$tap"
n=0 pass=0 fail=0 skip=0

emit() { printf '%s\n' "$*" | tee -a "$tap"; }
ok() { n=$((n + 1)) pass=$((pass + 1)); emit "ok $n - $1"; }
notok() {
	n=$((n + 1)) fail=$((fail + 1))
	emit "not ok $n - $1"
	[ -z "${2:-}" ] || [ ! -s "$2" ] || sed 's/^/#   /' "$2" | head -n 30 | tee -a "$tap"
}
skipped() { n=$((n + 1)) skip=$((skip + 1)); emit "ok $n - $1 # SKIP $2"; }
# t DESCRIPTION CMD... - one test, run in a subshell: CMD's status decides
# (fails ends it), its output is shown when it fails
t() {
	local what=$1 log rc
	shift
	log=$work/log/$((n + 1)).log
	("$@") >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "$what"; else notok "$what" "$log"; fi
}
finish() {
	emit "1..$n"
	echo "$pass $fail $skip" >"$results/deb.counts"
	emit "# deb: passed $pass failed $fail skipped $skip"
	if [ "${build_ok:-0}" -eq 1 ]; then
		echo "packages:"
		find "$out" -maxdepth 1 -name '*.deb' | sort
	fi
	[ "$fail" -eq 0 ]
	exit
}
say() { printf '%s\n' "$*"; }
# fails MESSAGE - end the test (the subshell of t) as failed
fails() { say "$*"; exit 1; }

"$apt_need" lintian dkms groff man-db iproute2 python3 g++ pkg-config kmod \
	xz-utils binutils ||
	{ notok "the test tools are installed"; finish; }

# ---- build ----------------------------------------------------------------
start=$(date +%s)
if "$here/build-deb.sh" >"$work/log/build.log" 2>&1; then
	build_ok=1
else
	build_ok=0
fi
build_s=$(( $(date +%s) - start ))
cat "$work/log/build.log"
version=$("$here/version.sh" "$top")
base=$(tr -d '[:space:]' <"$top/VERSION")
declare -A deb
for p in hv-azure-blob-dkms libazblob0 libazblob-dev azblob azblobd; do
	deb[$p]=$(find "$out" -maxdepth 1 -name "${p}_${version}_*.deb" |
		head -n 1)
done
build_check() {
	[ "$build_ok" -eq 1 ] || fails "build-deb.sh failed (build/deb/build.log)"
	local p count
	for p in "${!deb[@]}"; do
		[ -n "${deb[$p]}" ] || fails "no ${p}_${version}_*.deb"
	done
	count=$(find "$out" -maxdepth 1 -name '*.deb' | wc -l)
	[ "$count" -eq 5 ] || fails "$count .deb files in build/deb, not 5"
	say "built in $build_s s"
}
t "dpkg-buildpackage -us -uc -b builds hv-azure-blob-dkms, libazblob0, libazblob-dev, azblob and azblobd $version (${build_s} s)" build_check
if [ "$build_ok" -ne 1 ]; then
	finish
fi

# ---- lintian --------------------------------------------------------------
lintian_check() {
	lintian --pedantic -I --show-overrides "$out"/*.deb \
		>"$out/lintian.txt" 2>&1
	grep -v '^running with root privileges' "$out/lintian.txt" || true
	! grep -Eq '^[EW]: ' "$out/lintian.txt" ||
		fails "lintian reports errors or warnings"
	! grep -Eq 'unused-override|mismatched-override' "$out/lintian.txt" ||
		fails "an override no longer matches"
}
t "lintian --pedantic: no error, no warning, no stale override" lintian_check

overrides_reasoned() {
	local f line reason
	for f in "$here"/debian/*.lintian-overrides; do
		reason=0
		while IFS= read -r line; do
			case $line in
			'#'*) reason=1 ;;
			'') reason=0 ;;
			*) [ "$reason" -eq 1 ] ||
				fails "$f: '$line' has no reason above it" ;;
			esac
		done <"$f"
		say "$f: every override follows its reason"
	done
}
t "every lintian override has a written reason" overrides_reasoned

# ---- contents -------------------------------------------------------------
root=$work/root
for p in "${!deb[@]}"; do
	mkdir -p "$root/$p" && dpkg-deb -x "${deb[$p]}" "$root/$p"
	mkdir -p "$work/ctl/$p" && dpkg-deb -e "${deb[$p]}" "$work/ctl/$p"
done
dk=$root/hv-azure-blob-dkms
src=usr/src/hv-azure-blob-$version

dkms_tree_check() {
	local conf=$dk/$src/dkms.conf f
	[ -f "$conf" ] || fails "no /$src/dkms.conf"
	grep -qx 'PACKAGE_NAME="hv-azure-blob"' "$conf" || fails "PACKAGE_NAME"
	grep -qx "PACKAGE_VERSION=\"$version\"" "$conf" ||
		fails "PACKAGE_VERSION is not $version"
	grep -qx 'AUTOINSTALL="yes"' "$conf" || fails "AUTOINSTALL"
	grep -qx 'BUILT_MODULE_NAME\[0\]="hv_azure_blob"' "$conf" ||
		fails "BUILT_MODULE_NAME"
	for f in drivers/hv/hv_azure_blob.c drivers/hv/hv_azure_blob.h \
		 include/uapi/misc/hv_azure_blob.h \
		 $(cd "$top" && { git ls-files kbuild 2>/dev/null | grep . ||
				  find kbuild -type f; }); do
		cmp "$top/$f" "$dk/$src/$f" || fails "/$src/$f differs"
	done
	for f in Kbuild hv_azure_blob.c; do
		[ -L "$dk/$src/module/$f" ] || fails "module/$f is no link"
		case $(readlink "$dk/$src/module/$f") in
		/*) fails "module/$f is an absolute link" ;;
		esac
		[ -f "$dk/$src/module/$f" ] || fails "module/$f points nowhere"
	done
	! grep -q MODULE_VERSION "$top/drivers/hv/hv_azure_blob.c" ||
		grep -q "MODULE_VERSION(\"$version\")" \
			"$top/drivers/hv/hv_azure_blob.c" ||
		fails "MODULE_VERSION differs from the DKMS version"
	say "dkms.conf and the source tree of /$src are complete"
}
t "hv-azure-blob-dkms: /$src holds dkms.conf (version $version, AUTOINSTALL) and the driver, uapi header and kbuild/ as in the repository" dkms_tree_check

udev_check() {
	local rule=$dk/lib/udev/rules.d/60-hv-azure-blob.rules
	[ -f "$rule" ] || fails "no /lib/udev/rules.d/60-hv-azure-blob.rules"
	grep -v '^#' "$rule" | grep -v '^$' >"$work/rule"
	cat "$work/rule"
	[ "$(wc -l <"$work/rule")" -eq 1 ] || fails "not one rule"
	local want
	for want in 'SUBSYSTEM=="misc"' 'KERNEL=="azure_blob\*"' \
		    'GROUP="azureblob"' 'MODE="0660"'; do
		grep -q "$want" "$work/rule" || fails "the rule lacks $want"
	done
	! find "$dk" -path '*modules-load.d*' | grep -q . ||
		fails "a modules-load.d file: the alias loads the module"
}
t "hv-azure-blob-dkms: udev rule: /dev/azure_blob* group azureblob, mode 0660; no modules-load.d" udev_check

postinst_check() {
	local pi=$work/ctl/hv-azure-blob-dkms/postinst
	sh -n "$pi" || fails "postinst is not valid sh"
	grep -q 'addgroup --system --quiet azureblob' "$pi" ||
		fails "postinst does not create the system group azureblob"
	grep -q '/usr/lib/dkms/common.postinst' "$pi" ||
		fails "postinst does not run dkms"
	dpkg-deb -f "${deb[hv-azure-blob-dkms]}" Depends | tee "$work/deps"
	grep -q 'adduser' "$work/deps" || fails "Depends lacks adduser"
	grep -q 'dkms' "$work/deps" || fails "Depends lacks dkms"
	[ "$(dpkg-deb -f "${deb[hv-azure-blob-dkms]}" Architecture)" = all ] ||
		fails "not Architecture: all"
}
t "hv-azure-blob-dkms: postinst creates the azureblob system group and runs DKMS; Depends: adduser, dkms" postinst_check

lib=$root/libazblob0/$libdir
lib_check() {
	local real
	[ -L "$lib/libazblob.so.0" ] || fails "no libazblob.so.0 link"
	real=$(readlink "$lib/libazblob.so.0")
	[ "$real" = "libazblob.so.$base" ] ||
		fails "libazblob.so.0 -> $real, not libazblob.so.$base"
	[ -f "$lib/$real" ] || fails "no $real"
	readelf -d "$lib/$real" | tee "$work/dyn" | grep -E 'SONAME|RPATH|RUNPATH'
	grep -q 'Library soname: \[libazblob.so.0\]' "$work/dyn" ||
		fails "SONAME is not libazblob.so.0"
	! grep -Eq 'RPATH|RUNPATH' "$work/dyn" || fails "RPATH/RUNPATH set"
}
t "libazblob0: /$libdir/libazblob.so.0 -> libazblob.so.$base, SONAME libazblob.so.0, no RUNPATH" lib_check

exports_check() {
	nm -D --defined-only "$lib/libazblob.so.0" |
		awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sort >"$work/exports"
	grep -Eo '\bazb_[a-z0-9_]+\(' "$top/tools/azure_blob/azblob.h" |
		tr -d '(' | sort -u >"$work/api"
	say "$(wc -l <"$work/exports") exported, $(wc -l <"$work/api") in azblob.h"
	diff -u "$work/api" "$work/exports" ||
		fails "the exports differ from the functions of azblob.h"
	sed -n 's/^ \([^@ ]*\)@.*/\1/p' "$work/ctl/libazblob0/symbols" |
		sort >"$work/symbols"
	diff -u "$work/exports" "$work/symbols" ||
		fails "the symbols file differs from the exports (debian-packaging/debian/libazblob0.symbols)"
}
t "libazblob0: exports exactly the functions of azblob.h, and the symbols file lists them" exports_check

dev=$root/libazblob-dev
dev_check() {
	cmp "$top/tools/azure_blob/azblob.h" "$dev/usr/include/azblob.h" ||
		fails "azblob.h"
	cmp "$top/include/uapi/misc/hv_azure_blob.h" \
	    "$dev/usr/include/misc/hv_azure_blob.h" || fails "uapi header"
	[ "$(readlink "$dev/$libdir/libazblob.so")" = libazblob.so.0 ] ||
		fails "libazblob.so does not point to libazblob.so.0"
	PKG_CONFIG_LIBDIR=$dev/$libdir/pkgconfig pkg-config --validate azblob ||
		fails "pkg-config --validate"
	[ "$(PKG_CONFIG_LIBDIR=$dev/$libdir/pkgconfig pkg-config --modversion azblob)" = "$base" ] ||
		fails "azblob.pc Version is not $base"
	dpkg-deb -f "${deb[libazblob-dev]}" Depends | tee "$work/deps"
	grep -q "libazblob0 (= $version)" "$work/deps" ||
		fails "libazblob-dev does not depend on libazblob0 (= $version)"
}
t "libazblob-dev: azblob.h, <misc/hv_azure_blob.h>, libazblob.so -> libazblob.so.0, azblob.pc (Version $base)" dev_check

libc_dev_check() {
	local p
	dpkg -L linux-libc-dev | sort >"$work/libc-dev" ||
		fails "linux-libc-dev is not installed"
	for p in "${!deb[@]}"; do
		(cd "$root/$p" && find . ! -type d | sed 's|^\.||') | sort
	done >"$work/ours"
	comm -12 "$work/libc-dev" "$work/ours" | tee "$work/both"
	[ ! -s "$work/both" ] || fails "files that linux-libc-dev ships too"
	say "$(wc -l <"$work/ours") files, none in linux-libc-dev $(dpkg-query -W -f='${Version}' linux-libc-dev)"
}
t "no file of the packages is one linux-libc-dev ships (/usr/include/misc is shared as a directory only)" libc_dev_check

cli=$root/azblob
cli_check() {
	[ -x "$cli/usr/bin/azblob" ] || fails "no /usr/bin/azblob"
	readelf -d "$cli/usr/bin/azblob" | tee "$work/dyn" | grep -E 'NEEDED|RUNPATH|RPATH'
	grep -q 'Shared library: \[libazblob.so.0\]' "$work/dyn" ||
		fails "azblob does not use libazblob.so.0"
	! grep -Eq 'RPATH|RUNPATH' "$work/dyn" || fails "RPATH/RUNPATH set"
	dpkg-deb -f "${deb[azblob]}" Depends | grep 'libazblob0 (>= ' ||
		fails "azblob does not depend on libazblob0"
}
t "azblob: /usr/bin/azblob linked against libazblob.so.0, no RUNPATH, Depends: libazblob0" cli_check

gw=$root/azblobd
azblobd_check() {
	local unit=$gw/lib/systemd/system/azblobd.service pi
	[ -x "$gw/usr/sbin/azblobd" ] || fails "no /usr/sbin/azblobd"
	[ -f "$unit" ] || fails "no /lib/systemd/system/azblobd.service"
	grep -qx 'Type=notify' "$unit" || fails "the unit is not Type=notify"
	if ! grep -qx 'IPAddressDeny=any' "$unit" ||
	   ! grep -qx 'IPAddressAllow=localhost' "$unit"; then
		fails "the unit does not keep the daemon on the loopback"
	fi
	grep -qx 'SupplementaryGroups=azureblob' "$unit" ||
		fails "the unit's group is not azureblob (the udev rule's)"
	! grep -q '^StandardOutput=\|^StandardError=' "$unit" ||
		fails "the unit sends its log elsewhere than the journal"
	grep -qx '/etc/azblobd.conf' "$work/ctl/azblobd/conffiles" ||
		fails "/etc/azblobd.conf is not a conffile"
	cmp "$top/tools/azure_blob/azblobd.conf" "$gw/etc/azblobd.conf" ||
		fails "/etc/azblobd.conf differs from the sample"
	pi=$work/ctl/azblobd/postinst
	sh -n "$pi" || fails "postinst is not valid sh"
	cat "$pi"
	# debhelper's --no-enable snippet enables only a unit the admin had
	# enabled (debian-installed, then was-enabled); the default one
	# enables on first installation ("was-enabled defaults to true")
	grep -q "deb-systemd-helper debian-installed 'azblobd.service'" "$pi" ||
		fails "postinst lacks the --no-enable guard"
	! grep -Eq 'was-enabled defaults to true|deb-systemd-invoke|systemctl +(enable|start)' "$pi" ||
		fails "postinst enables or starts the service"
	grep -q 'addgroup --system --quiet azureblob' "$pi" ||
		fails "postinst does not create the group azureblob"
	"$gw/usr/sbin/azblobd" --config "$gw/etc/azblobd.conf" --check >"$work/check" ||
		fails "azblobd --check of the packaged configuration"
	if ! grep -qx 'port = 10180' "$work/check" ||
	   ! grep -qx 'https_port = 0' "$work/check"; then
		fails "the packaged configuration: $(cat "$work/check")"
	fi
	readelf -d "$gw/usr/sbin/azblobd" | grep -q 'libmicrohttpd.so.12' ||
		fails "azblobd is not linked with libmicrohttpd.so.12"
	dpkg-deb -f "${deb[azblobd]}" Depends | tee "$work/deps"
	grep -q 'libmicrohttpd12' "$work/deps" || fails "Depends lacks libmicrohttpd12"
}
t "azblobd: /usr/sbin/azblobd, its unit (Type=notify, loopback only, group azureblob, journal), /etc/azblobd.conf a conffile, a postinst that enables and starts nothing" azblobd_check

licence_check() {
	local f p
	for f in $(cd "$top" && git ls-files tools/azure_blob); do
		case $f in *.md|*/LICENSE) continue ;; esac
		head -n 3 "$top/$f" | grep -q 'SPDX-License-Identifier: MIT' ||
			fails "$f is not MIT"
	done
	head -n 1 "$top/drivers/hv/hv_azure_blob.c" |
		grep -q 'SPDX-License-Identifier: GPL-2.0$' || fails "driver .c"
	head -n 1 "$top/include/uapi/misc/hv_azure_blob.h" |
		grep -q 'SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note' ||
		fails "uapi header"
	for p in "${!deb[@]}"; do
		f=$root/$p/usr/share/doc/$p/copyright
		grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$f" ||
			fails "$p: copyright is not DEP-5"
		grep -A2 -x 'Files: tools/azure_blob/\*' "$f" |
			grep -qx 'License: Expat' || fails "$p: client not Expat"
	done
	say "tools/azure_blob MIT, driver GPL-2.0, uapi GPL-2.0 WITH Linux-syscall-note; DEP-5 copyright in every package"
}
t "licences: tools/azure_blob is MIT, the driver GPL-2.0, the uapi header with the syscall note, as debian/copyright states" licence_check

# ---- man pages ------------------------------------------------------------
man_check() {
	local page=$1 name err=$work/man.err
	[ -f "$page" ] || fails "no $page"
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
		man --warnings -E UTF-8 -l -Tutf8 -Z "$page" >/dev/null 2>"$err"
	[ ! -s "$err" ] || { cat "$err"; fails "man --warnings"; }
	zcat "$page" | groff -man -ww -z 2>"$err"
	[ ! -s "$err" ] || { cat "$err"; fails "groff -ww"; }
	name=$(basename "$page" .gz)
	MANWIDTH=80 man -l "$page" 2>/dev/null >"$work/man.txt"
	grep -q '^NAME' "$work/man.txt" || fails "no NAME section"
	grep -Eq "^ +${name%.*} +- " "$work/man.txt" ||
		fails "the NAME section does not name ${name%.*}"
	say "$name: $(wc -l <"$work/man.txt") lines, no warning"
}
t "azblob(1) renders with man --warnings and groff -ww without a warning" \
	man_check "$cli/usr/share/man/man1/azblob.1.gz"
t "libazblob(3) renders with man --warnings and groff -ww without a warning" \
	man_check "$dev/usr/share/man/man3/libazblob.3.gz"
t "azblobd(8) renders with man --warnings and groff -ww without a warning" \
	man_check "$gw/usr/share/man/man8/azblobd.8.gz"

man_covers() {
	local f cmd
	while read -r f; do
		zcat "$dev/usr/share/man/man3/libazblob.3.gz" |
			grep -q "^\.BI\? \"[^\"]*\b$f(" ||
			fails "libazblob(3) does not declare $f()"
	done <"$work/exports"
	sed -n '/^static const char usage_text/,/;$/p' \
		"$top/tools/azure_blob/azblob.c" |
		sed -n 's/^"  \([a-z][a-z]*\) .*/\1/p' >"$work/commands"
	[ -s "$work/commands" ] || fails "no commands found in azblob.c"
	while read -r cmd; do
		zcat "$cli/usr/share/man/man1/azblob.1.gz" |
			grep -Eq "^\.BI? \"?$cmd( |\"|$)" ||
			fails "azblob(1) does not describe '$cmd'"
	done <"$work/commands"
	say "functions: $(wc -l <"$work/exports"), commands: $(tr '\n' ' ' <"$work/commands")"
}
t "the man pages describe every exported function and every command of azblob's usage" man_covers

# ---- building against the -dev package --------------------------------------
sysroot=$work/sysroot
mkdir -p "$sysroot"
for p in libazblob0 libazblob-dev azblob; do
	dpkg-deb -x "${deb[$p]}" "$sysroot"
done
pc() {
	PKG_CONFIG_PATH='' PKG_CONFIG_LIBDIR=$sysroot/$libdir/pkgconfig \
		PKG_CONFIG_SYSROOT_DIR=$sysroot pkg-config "$@" azblob
}
compile_c() {
	say "pkg-config: $(pc --cflags --libs)"
	pc --cflags | grep -q -- "-I$sysroot/usr/include" || fails "Cflags"
	# shellcheck disable=SC2046
	gcc -Wall -Wextra -Werror -o "$work/use-libazblob" \
		"$here/tests/use-libazblob.c" $(pc --cflags --libs)
}
t "a C program compiles and links against the extracted libazblob-dev via pkg-config azblob" compile_c

compile_cxx() {
	cat >"$work/cxx.cc" <<-'EOF'
	#include <azblob.h>
	#include <misc/hv_azure_blob.h>
	#include <cstdio>
	int main() { std::puts(azb_code_name(AZB_ENOTFOUND)); return 0; }
	EOF
	# shellcheck disable=SC2046
	g++ -Wall -Wextra -Werror -o "$work/cxx" "$work/cxx.cc" \
		$(pc --cflags --libs) || fails "g++ failed"
	LD_LIBRARY_PATH=$sysroot/$libdir "$work/cxx"
}
t "a C++ program includes azblob.h and <misc/hv_azure_blob.h> and links (extern \"C\")" compile_cxx

hidden_check() {
	cat >"$work/internal.c" <<-'EOF'
	#include <azblob.h>
	void azb_str_free(void *s);	/* in internal.h, not in azblob.h */
	int main(void) { azb_str_free(0); return 0; }
	EOF
	# shellcheck disable=SC2046
	if gcc -o "$work/internal" "$work/internal.c" $(pc --cflags --libs) \
		2>"$work/internal.err"; then
		fails "an internal function of libazblob links"
	fi
	cat "$work/internal.err"
	grep -q "undefined reference to .azb_str_free" "$work/internal.err" ||
		fails "the link failed for another reason"
}
t "an internal function (azb_str_free) cannot be linked: hidden" hidden_check

man_example() {
	zcat "$dev/usr/share/man/man3/libazblob.3.gz" |
		sed -n '/^\.SH EXAMPLES/,/^\.EE/p' | sed -n '/^\.EX/,/^\.EE/p' |
		sed '1d;$d' | sed 's/\\e/\\/g' >"$work/example.c"
	grep -q 'int main' "$work/example.c" || fails "no example program"
	# shellcheck disable=SC2046
	gcc -Wall -Wextra -Werror -o "$work/example" "$work/example.c" \
		$(pc --cflags --libs)
}
t "the example program of libazblob(3) compiles and links as printed" man_example

# Run in a network namespace of our own: only its loopback, where the stub
# of the Blob service listens.
run_netns() {
	# shellcheck disable=SC2016
	unshare -n bash -c '
		set -u
		ip link set lo up || exit 1
		port=$1/port
		python3 "$2" "$port" & stub=$!
		trap "kill $stub 2>/dev/null" EXIT
		for _ in $(seq 100); do [ -s "$port" ] && break; sleep 0.05; done
		[ -s "$port" ] || { echo "the stub did not start"; exit 1; }
		url=http://127.0.0.1:$(cat "$port")/devstoreaccount1
		shift 2
		"$@" "$url"' bash "$work" "$here/tests/blob-stub.py" "$@"
}
run_program() {
	LD_LIBRARY_PATH=$sysroot/$libdir ldd "$work/use-libazblob" |
		grep libazblob | tee "$work/ldd"
	grep -q "=> $sysroot/$libdir/libazblob.so.0" "$work/ldd" ||
		fails "the program does not load the extracted libazblob.so.0"
	rm -f "$work/port"
	LD_LIBRARY_PATH=$sysroot/$libdir run_netns "$work/use-libazblob"
}
t "the program runs on the extracted libazblob.so.0: HTTP against a local Blob stub (200, 404), a bad connection string, an absent device" run_program

run_cli() {
	local rc
	rm -f "$work/port"
	cat >"$work/cli.sh" <<-'EOF'
	#!/bin/bash
	set -u
	bin=$1 url=${!#}
	a=(--transport http --retries 0 --account-url "$url"
	   --account-key c2VjcmV0LWtleS1mb3ItdGVzdHM=)
	"$bin" "${a[@]}" stat box/blob.bin || exit 10
	"$bin" "${a[@]}" stat box/missing; rc=$?
	echo "stat of a missing blob: exit $rc"
	[ "$rc" -eq 3 ]
	EOF
	chmod +x "$work/cli.sh"
	LD_LIBRARY_PATH=$sysroot/$libdir run_netns "$work/cli.sh" \
		"$sysroot/usr/bin/azblob" | tee "$work/cli.out"
	rc=${PIPESTATUS[0]}
	grep -q 4242 "$work/cli.out" || fails "no size 4242 in stat's output"
	return "$rc"
}
t "the packaged azblob runs: stat of a blob of the stub (exit 0, its size), of a missing one (exit 3)" run_cli

# ---- DKMS -------------------------------------------------------------------
# vmbus:<the class GUID's 16 bytes in memory order, hex>
alias_of_guid() {
	local g=${1//-/}
	printf 'vmbus:%s%s%s%s%s%s%s%s%s\n' "${g:6:2}" "${g:4:2}" "${g:2:2}" \
		"${g:0:2}" "${g:10:2}" "${g:8:2}" "${g:14:2}" "${g:12:2}" \
		"${g:16:16}"
}
want_alias=$(alias_of_guid "$class_guid")

host_state() {
	{
		find /var/lib/dkms -printf '%p %s %T@\n' 2>/dev/null
		find "/lib/modules/$1" -maxdepth 3 -printf '%p %s %T@\n' 2>/dev/null
	} | sort | sha256sum
}

dkms_check() {
	local kver=$1 scratch=$work/dkms-$1 before after
	[ -e "/lib/modules/$kver/build/include" ] ||
		fails "no headers for $kver"
	mkdir -p "$scratch/tree" "$scratch/varlib" "$scratch/modules/$kver"
	cp -P "/lib/modules/$kver/build" "$scratch/modules/$kver/build"
	before=$(host_state "$kver")
	# A private mount namespace: dkms writes its signing key into
	# /var/lib/dkms and depmod into /lib/modules/KVER; both are scratch
	# directories here, the dkms tree is given with --dkmstree.
	# shellcheck disable=SC2016
	unshare -m --propagation private bash -c '
		set -eu
		v=$1 k=$2 s=$3 srcroot=$4
		mount --bind "$s/varlib" /var/lib/dkms
		mount --bind "$s/modules" /lib/modules
		o=(--sourcetree "$srcroot" --dkmstree "$s/tree")
		dkms add -m hv-azure-blob -v "$v" "${o[@]}"
		dkms build -m hv-azure-blob -v "$v" -k "$k" "${o[@]}" ||
			{ cat "$s/tree/hv-azure-blob/$v/build/make.log"; exit 1; }
		dkms install -m hv-azure-blob -v "$v" -k "$k" "${o[@]}"
		dkms status "${o[@]}"
		echo "modprobe resolves $5 to: $(modprobe -S "$k" -R "$5")"
		modprobe -S "$k" -R "$5" | grep -qx hv_azure_blob
		modprobe -S "$k" --show-depends hv_azure_blob
		modprobe -S "$k" --show-depends hv_azure_blob |
			grep -q "/lib/modules/$k/updates/dkms/hv_azure_blob.ko"
	' bash "$version" "$kver" "$scratch" "$dk/usr/src" "$want_alias" ||
		fails "dkms add/build/install or modprobe failed"
	after=$(host_state "$kver")
	[ "$before" = "$after" ] ||
		fails "the host's /var/lib/dkms or /lib/modules/$kver changed"
	ko=$(find "$scratch/modules/$kver/updates/dkms" -name 'hv_azure_blob.ko*' |
		head -n 1)
	[ -n "$ko" ] || fails "dkms install left no module in updates/dkms"
	modinfo "$ko" | grep -E '^(filename|alias|vermagic|depends|license):'
	modinfo -F alias "$ko" | grep -qx "$want_alias" ||
		fails "modinfo alias is not $want_alias"
	modinfo -F vermagic "$ko" | grep -q "^$kver " ||
		fails "vermagic is not $kver"
}

if [ -n "${DEB_DKMS_KERNELS:-}" ]; then
	read -ra kernels <<<"$DEB_DKMS_KERNELS"
else
	kernels=()
	kver=$("$top/tools/testing/azure_blob/scripts/deb-kver.sh" 2>/dev/null) &&
		kernels=("$kver-cloud-amd64")
fi
if [ ${#kernels[@]} -eq 0 ]; then
	notok "a Debian 12 6.12 cloud kernel is known to apt (deb-kver.sh)"
fi
for k in "${kernels[@]}"; do
	if ! "$apt_need" "linux-headers-$k" >"$work/log/headers-$k" 2>&1; then
		notok "linux-headers-$k installs" "$work/log/headers-$k"
		continue
	fi
	t "dkms add/build/install for $k in a scratch tree: modinfo alias $want_alias, vermagic, modprobe finds it in updates/dkms by its alias; the host's dkms tree untouched" dkms_check "$k"
done

# ---- installation in a Debian 12 root -------------------------------------
# A Debian 12 root (mmdebstrap, from the machine's apt sources) with dkms
# and the headers of the kernels above, cached as a tarball; the packages
# are installed in it with apt as a user would, removed, and purged. The
# root has no package lists: base_pkgs holds every runtime dependency.
cache=/var/cache/hv_azure_blob/deb-chroot
base_pkgs=(dkms adduser kmod pkg-config gcc libc6-dev linux-libc-dev libcurl4
	libxml2 liburing2 libssl3 libjson-c5 libmicrohttpd12)
for k in "${kernels[@]}"; do base_pkgs+=("linux-headers-$k"); done
base_key=$(printf '%s\n' "${base_pkgs[@]}" | sha256sum | cut -c1-16)
base_tar=$cache/bookworm-$base_key.tar
chroot_root=$work/chroot

base_root() {
	if [ ! -f "$base_tar" ]; then
		mkdir -p "$cache"
		rm -rf "$cache"/bookworm-*.tar "$cache"/.bookworm-*.tar
		say "creating $base_tar: ${base_pkgs[*]}"
		mmdebstrap --quiet --variant=apt --format=tar \
			--include="$(IFS=,; echo "${base_pkgs[*]}")" \
			bookworm "$cache/.bookworm-$base_key.tar" ||
			fails "mmdebstrap failed"
		mv "$cache/.bookworm-$base_key.tar" "$base_tar"
	fi
	mkdir -p "$chroot_root"
	tar -C "$chroot_root" -xf "$base_tar" || fails "cannot unpack $base_tar"
	mkdir -p "$chroot_root/tmp/debs"
	cp "${deb[@]}" "$chroot_root/tmp/debs/"
	say "$(du -sh "$base_tar" | cut -f1) root from $base_tar"
}

# in_root SCRIPT - run SCRIPT with bash in the root, with /proc and /dev,
# in a private mount namespace
in_root() {
	# shellcheck disable=SC2016
	unshare -m --propagation private bash -c '
		set -e
		r=$1
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		mount -t tmpfs tmpfs "$r/run"
		chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
			bash -euo pipefail -c "$2"' bash "$chroot_root" "$1"
}

install_check() {
	# shellcheck disable=SC2016
	in_root '
		apt-get install -y /tmp/debs/*.deb
		echo "== dkms status"; dkms status
		built=0
		for k in $(ls /lib/modules); do
			[ -e /lib/modules/$k/build/include ] || continue
			built=$((built + 1))
			ko=$(ls /lib/modules/$k/updates/dkms/hv_azure_blob.ko*)
			echo "$k: $ko"
			[ "$(modprobe -S $k -R '"$want_alias"')" = hv_azure_blob ]
		done
		[ "$built" -ge 1 ]
		echo "== group"; getent group azureblob
		gid=$(getent group azureblob | cut -d: -f3)
		[ "$gid" -lt 1000 ]
		test -f /lib/udev/rules.d/60-hv-azure-blob.rules
		azblob --help >/dev/null
		azblobd --check >/dev/null
		test -f /lib/systemd/system/azblobd.service
		test ! -e /etc/systemd/system/multi-user.target.wants/azblobd.service
		echo "== azblobd: installed, not enabled"
		echo "== pkg-config: $(pkg-config --cflags --libs azblob)"
		printf "%s\n" "#include <azblob.h>" "#include <misc/hv_azure_blob.h>" \
			"int main(void) { return azb_code_name(AZB_OK) == 0; }" >/tmp/t.c
		gcc -Wall -Werror -o /tmp/t /tmp/t.c $(pkg-config --cflags --libs azblob)
		/tmp/t
	' || fails "installing the packages in the root failed"
}

remove_check() {
	# shellcheck disable=SC2016
	in_root '
		apt-get remove -y hv-azure-blob-dkms azblob azblobd libazblob-dev libazblob0
		left=$(ls /lib/modules/*/updates/dkms/hv_azure_blob.ko* 2>/dev/null || true)
		test -z "$left"
		test -z "$(dkms status)"
		test ! -e /lib/udev/rules.d/60-hv-azure-blob.rules
		test -f /etc/azblobd.conf
		dpkg --purge hv-azure-blob-dkms azblob azblobd libazblob-dev libazblob0
		test ! -e /etc/azblobd.conf
		test -z "$(dpkg -l | grep -E "^(ii|rc) +(hv-azure-blob|azblob|libazblob)" || true)"
		echo "removed and purged; the group stays: $(getent group azureblob)"
	' || fails "removing the packages failed"
}

if [ ${#kernels[@]} -gt 0 ] && "$apt_need" mmdebstrap >/dev/null 2>&1; then
	t "a Debian 12 root with dkms and linux-headers of ${kernels[*]} (cached in $cache)" base_root
	if [ -d "$chroot_root/tmp/debs" ]; then
		t "apt install of the five packages in it: DKMS builds the module for every kernel with headers, modprobe resolves the alias; system group azureblob; azblob runs; azblobd reads its configuration and is not enabled; a program builds with pkg-config azblob" install_check
		t "apt remove takes the module, DKMS entry and udev rule away, keeps /etc/azblobd.conf; purge removes it and leaves no package" remove_check
	fi
	rm -rf "$chroot_root"
else
	notok "mmdebstrap is installed and a kernel is known"
fi

finish
