#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks of the series on a Linux 6.12 tree: kbuild with W=1 and
# sparse (no warning that the pristine tree does not have), for x86_64 and
# cross-built for arm64 with 4 KiB and with 64 KiB pages, checkpatch
# --strict on every patch, kernel-doc, the uapi header compiled alone as C
# and C++, headers_install and the kernel's uapi header test, the layout of
# the ioctl structure (pahole), and the documentation. Every check counts
# as one test; the counts go to build/results/check-static.counts.
#
# Copyright (c) 2026 The hv_azure_blob authors

AZ_BLOB_SRCTREE=${AZ_BLOB_SRCTREE:-$(cd "$(dirname "$0")/../../../.." && pwd)}
HERE="$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static"
. "$HERE/lib.sh"
. "$HERE/kernel-tree.sh"
. "$HERE/arm64.sh"

LOGS="$BUILD/check-static"
RESULTS="$BUILD/results"
KOBJ="$BUILD/kobj"
KBASE="$BUILD/kobj-base"
passed=0
failed=0
skipped=0

rm -rf "$LOGS" && mkdir -p "$LOGS" "$RESULTS"
rm -f "$RESULTS/check-static.counts"

# check NAME COMMAND... - run one check, its output in $LOGS/NAME.log
check() {
	local name=$1
	shift
	if "$@" > "$LOGS/$name.log" 2>&1; then
		passed=$((passed + 1))
		printf 'ok    %s\n' "$name"
	else
		failed=$((failed + 1))
		printf 'FAIL  %s\n' "$name"
		sed 's/^/      | /' "$LOGS/$name.log" | tail -n 25
	fi
}

skip() {
	skipped=$((skipped + 1))
	printf 'skip  %s (%s)\n' "$1" "$2"
}

finish() {
	echo "$passed $failed $skipped" > "$RESULTS/check-static.counts"
	echo "check-static: $passed passed, $failed failed, $skipped skipped" \
	     "(logs in build/check-static/)"
	[ "$failed" -eq 0 ]
	exit
}

apt_need build-essential bc bison flex libelf-dev libssl-dev cpio kmod \
	 sparse dwarves perl python3 python3-sphinx python3-ply python3-git \
	 g++ git patch rsync xz-utils gcc-aarch64-linux-gnu ccache
ensure_tree

# The fragment both trees are configured with; olddefconfig drops the
# symbols the pristine tree does not know.
FRAGMENT="-e HYPERVISOR_GUEST -e PARAVIRT -e X86_LOCAL_APIC -e PCI -e ACPI
	  -m HYPERV -m HYPERV_BALLOON -e HYPERV_TESTING -e DEBUG_FS
	  -m HYPERV_AZURE_BLOB -m HYPERV_AZURE_BLOB_KUNIT_TEST -e KUNIT
	  -e HEADERS_INSTALL -e UAPI_HEADER_TEST"

configure() {
	local obj=$1

	mkdir -p "$obj"
	[ -f "$obj/.config" ] ||
		make -s -C "$KSRC" O="$obj" x86_64_defconfig || return 1
	# shellcheck disable=SC2086
	"$KSRC/scripts/config" --file "$obj/.config" $FRAGMENT &&
		make -s -C "$KSRC" O="$obj" olddefconfig
}

# build_hv OBJ LOG - rebuild drivers/hv/ with W=1 and sparse
build_hv() {
	local obj=$1 log=$2

	make -s -C "$KSRC" O="$obj" -j"$JOBS" prepare > "$log.prepare" 2>&1 ||
		{ cat "$log.prepare"; return 1; }
	find "$obj/drivers/hv" -name '*.o' -delete 2>/dev/null
	make -C "$KSRC" O="$obj" -j"$JOBS" W=1 C=1 drivers/hv/ > "$log" 2>&1
}

# warnings LOG - the warnings of a build log, without line numbers or paths
warnings() {
	grep -E '(warning|error):' "$1" |
		sed -E 's@^([^ :]*/)?linux-6\.12/@@; s@^\.\./@@' |
		sed -E 's@^([^:]+):[0-9]+(:[0-9]+)?:@\1:@' | sort
}

commits=$(available_commits 2>"$LOGS/commits.log" | tr '\n' ' ')
cat "$LOGS/commits.log" >&2
for n in $(commit_numbers); do
	grep -q " $n " <<< " $commits " || skip "commit-$n" "files missing"
done

# Baselines: the warnings of the pristine tree, computed once.
if [ ! -f "$KBASE/az-blob-baseline.txt" ]; then
	log "building the pristine drivers/hv/ for the warning baseline (once)"
	sync_tree || die "cannot reset the tree"
	configure "$KBASE" > "$LOGS/baseline-config.log" 2>&1 &&
		build_hv "$KBASE" "$LOGS/baseline-build.log" ||
		{ cat "$LOGS/baseline-build.log"; die "pristine build failed"; }
	warnings "$LOGS/baseline-build.log" > "$KBASE/az-blob-baseline.txt"
fi
for pages in $ARM64_PAGES; do
	[ -f "$(arm64_obj "$pages")/az-blob-baseline.txt" ] && continue
	sync_tree || die "cannot reset the tree"
	arm64_baseline "$pages" "$LOGS"
done

# shellcheck disable=SC2086
check apply-patches sync_tree $commits || finish
[ "$failed" -eq 0 ] || finish

check kconfig configure "$KOBJ"
config_ok() {
	local sym kunit_commit

	for sym in HYPERV HYPERV_AZURE_BLOB; do
		grep -q "^CONFIG_$sym=m" "$KOBJ/.config" ||
			{ echo "CONFIG_$sym is not m"; return 1; }
	done
	# The commit that adds the KUnit suite, by the file it adds.
	kunit_commit=$(awk '$2 == "drivers/hv/hv_azure_blob_kunit.c" { print $1 }' \
		"$PATCHDIR/new-files")
	if grep -q " $kunit_commit " <<< " $commits "; then
		grep -q '^CONFIG_HYPERV_AZURE_BLOB_KUNIT_TEST=m' "$KOBJ/.config" ||
			{ echo "CONFIG_HYPERV_AZURE_BLOB_KUNIT_TEST is not m"; return 1; }
	fi
	grep '^CONFIG_HYPERV' "$KOBJ/.config"
}
check kconfig-symbols config_ok

# A 32-bit kernel cannot have the driver (it depends on 64BIT), though it
# can have HYPERV: configure i386 with both asked for.
kconfig_32bit() {
	local obj="$BUILD/kobj-i386"

	mkdir -p "$obj"
	[ -f "$obj/.config" ] ||
		make -s -C "$KSRC" O="$obj" ARCH=i386 i386_defconfig || return 1
	"$KSRC/scripts/config" --file "$obj/.config" -e HYPERVISOR_GUEST \
		-e PARAVIRT -e X86_LOCAL_APIC -e PCI -e ACPI -m HYPERV \
		-m HYPERV_AZURE_BLOB &&
		make -s -C "$KSRC" O="$obj" ARCH=i386 olddefconfig || return 1
	grep '^CONFIG_HYPERV' "$obj/.config"
	grep -q '^CONFIG_HYPERV=m' "$obj/.config" ||
		{ echo "CONFIG_HYPERV is not m on i386: nothing is shown"; return 1; }
	! grep -q '^CONFIG_HYPERV_AZURE_BLOB=' "$obj/.config" ||
		{ echo "CONFIG_HYPERV_AZURE_BLOB is set on i386"; return 1; }
}
check kconfig-32bit-no-driver kconfig_32bit

check build-hv-W1-sparse build_hv "$KOBJ" "$LOGS/build-hv.log"
# new_warnings LOG BASELINE NAME - no warning in LOG beyond BASELINE
new_warnings() {
	local log=$1 base=$2 name=$3

	warnings "$log" > "$LOGS/warnings$name.txt"
	echo "warnings: $(wc -l < "$LOGS/warnings$name.txt")" \
	     "(pristine tree: $(wc -l < "$base"))"
	# Lines the patched tree has more often than the pristine one.
	comm -23 "$LOGS/warnings$name.txt" "$base" \
		> "$LOGS/new-warnings$name.txt"
	cat "$LOGS/new-warnings$name.txt"
	[ ! -s "$LOGS/new-warnings$name.txt" ]
}
check no-new-warnings new_warnings "$LOGS/build-hv.log" \
	"$KBASE/az-blob-baseline.txt" ""
if [ -f "$KOBJ/drivers/hv/hv_azure_blob.ko" ] || [ -f "$KOBJ/drivers/hv/hv_azure_blob.o" ]; then
	echo "      built: $(cd "$KOBJ" && ls drivers/hv/hv_azure_blob*.o | tr '\n' ' ')"
fi

# arm64, cross-built: with 4 KiB pages, and with 64 KiB pages, where a CPU
# page holds 16 Hyper-V pages.
arm64_objs=hv_azure_blob.o
arm64_syms=HYPERV_AZURE_BLOB=m
if grep -q " $(awk '$2 == "drivers/hv/hv_azure_blob_kunit.c" { print $1 }' \
	"$PATCHDIR/new-files") " <<< " $commits "; then
	arm64_objs="$arm64_objs hv_azure_blob_kunit.o"
	arm64_syms="$arm64_syms HYPERV_AZURE_BLOB_KUNIT_TEST=m"
fi
for pages in $ARM64_PAGES; do
	# shellcheck disable=SC2086
	check "kconfig-arm64-$pages" arm64_configure "$pages" $arm64_syms
	check "build-hv-arm64-$pages-W1-sparse" arm64_build_hv "$pages" \
		"$LOGS/build-hv-arm64-$pages.log"
	# shellcheck disable=SC2086
	check "built-arm64-$pages" arm64_driver_built "$pages" $arm64_objs
	check "no-new-warnings-arm64-$pages" new_warnings \
		"$LOGS/build-hv-arm64-$pages.log" \
		"$(arm64_obj "$pages")/az-blob-baseline.txt" "-arm64-$pages"
done

# checkpatch --strict on every patch of the series.
if "$HERE/series.sh" > "$LOGS/series.log" 2>&1; then
	passed=$((passed + 1))
	echo "ok    series"
else
	failed=$((failed + 1))
	echo "FAIL  series"
	tail -n 20 "$LOGS/series.log"
fi
checkpatch() {
	local out

	out=$("$KSRC/scripts/checkpatch.pl" --strict --root="$KSRC" \
		--showfile "$1" 2>&1)
	echo "$out"
	# Clean means no error, no warning and no check.
	grep -q '^total: 0 errors, 0 warnings, 0 checks' <<< "$out"
}
for p in "$BUILD"/series/0*.patch; do
	[ -f "$p" ] || continue
	case "$p" in */0000-cover-letter.patch) continue ;; esac
	name="checkpatch-$(basename "$p" .patch)"
	check "$name" checkpatch "$p"
	printf '      %s\n' "$(grep '^total:' "$LOGS/$name.log")"
done

# The MAINTAINERS entry lists exactly what the series adds, and whom.
check maintainers-entry "$HERE/check-maintainers.sh"

# kernel-doc: no warning, also with -Wall.
for f in drivers/hv/hv_azure_blob.c drivers/hv/hv_azure_blob.h \
	 include/uapi/misc/hv_azure_blob.h drivers/hv/hv_azure_blob_kunit.c; do
	name="kernel-doc-$(echo "$f" | tr / _)"
	if [ ! -f "$AZ_BLOB_SRCTREE/$f" ]; then
		skip "$name" "no $f yet"
		continue
	fi
	check "$name" sh -c 'out=$("$1" -none -Wall "$2" 2>&1); echo "$out";
		[ -z "$out" ]' sh "$KSRC/scripts/kernel-doc" "$AZ_BLOB_SRCTREE/$f"
done

# The uapi header as user space sees it.
HDR="$KOBJ/usr-hdr"
check headers-install make -s -C "$KSRC" O="$KOBJ" headers_install \
	INSTALL_HDR_PATH="$HDR"
# CONFIG_UAPI_HEADER_TEST: kbuild compiles every exported header alone.
hdrtest() {
	rm -f "$KOBJ/usr/include/misc/hv_azure_blob.hdrtest"
	make -C "$KSRC" O="$KOBJ" -j"$JOBS" usr/ || return 1
	[ -f "$KOBJ/usr/include/misc/hv_azure_blob.hdrtest" ] ||
		{ echo "usr/include/misc/hv_azure_blob.hdrtest was not built"; return 1; }
}
check uapi-header-test hdrtest
UAPI_TEST="$HERE/uapi_test.c"
check uapi-compile-c gcc -std=c99 -Wall -Wextra -Werror -pedantic \
	-isystem "$HDR/include" -c "$UAPI_TEST" -o "$LOGS/uapi_test_c.o"
check uapi-compile-gnu11 gcc -std=gnu11 -Wall -Wextra -Werror -m32 \
	-fsyntax-only -isystem "$HDR/include" "$UAPI_TEST"
check uapi-compile-c++ g++ -x c++ -std=c++11 -Wall -Wextra -Werror -pedantic \
	-isystem "$HDR/include" -c "$UAPI_TEST" -o "$LOGS/uapi_test_cc.o"
layout() {
	gcc -g -std=gnu11 -isystem "$HDR/include" -c "$UAPI_TEST" \
		-o "$LOGS/uapi_test_g.o" || return 1
	pahole -C az_blob_request_sync "$LOGS/uapi_test_g.o" > "$LOGS/pahole.txt" ||
		return 1
	cat "$LOGS/pahole.txt"
	grep -q 'size: 72,' "$LOGS/pahole.txt" || { echo "size is not 72"; return 1; }
	if grep -Eq 'XXX|hole' "$LOGS/pahole.txt"; then
		echo "the structure has holes"
		return 1
	fi
}
check uapi-layout-pahole layout

# Documentation.
abi() {
	local out attrs a ret=0

	out=$(cd "$KSRC" && scripts/get_abi.pl validate --dir Documentation/ABI \
		2>&1 | grep -i 'azure')
	[ -z "$out" ] || { echo "$out"; ret=1; }
	# Every attribute of the driver is documented, and nothing else.
	attrs=$(sed -n 's/^static DEVICE_ATTR_[RWO]*(\([a-z_0-9]*\));/\1/p' \
		"$AZ_BLOB_SRCTREE/drivers/hv/hv_azure_blob.c" | sort)
	[ -n "$attrs" ] || { echo "no DEVICE_ATTR in the driver"; ret=1; }
	for a in $attrs; do
		grep -q "^What:.*/azure_blob\*/$a\$" \
			"$KSRC/Documentation/ABI/testing/sysfs-driver-hv-azure-blob" ||
			{ echo "sysfs attribute $a is not documented"; ret=1; }
	done
	for a in $(sed -n 's@^What:.*/azure_blob\*/\(.*\)$@\1@p' \
		"$KSRC/Documentation/ABI/testing/sysfs-driver-hv-azure-blob"); do
		grep -qx "$a" <<< "$attrs" ||
			{ echo "documented attribute $a is not in the driver"; ret=1; }
	done
	grep -q 'sysfs-driver-hv-azure-blob' < <(cd "$KSRC" &&
		scripts/get_abi.pl search --dir Documentation/ABI \
		'azure_blob.*in_flight') ||
		{ echo "get_abi.pl does not find the entries"; ret=1; }
	echo "documented: $(echo $attrs)"
	return $ret
}
if [ -f "$AZ_BLOB_SRCTREE/Documentation/userspace-api/azure_blob.rst" ]; then
	check docs-sphinx "$HERE/check-docs.sh" "$KSRC"
else
	skip docs-sphinx "no Documentation/userspace-api/azure_blob.rst yet"
fi
if [ -f "$AZ_BLOB_SRCTREE/Documentation/ABI/testing/sysfs-driver-hv-azure-blob" ]; then
	check docs-abi abi
else
	skip docs-abi "no Documentation/ABI/testing/sysfs-driver-hv-azure-blob yet"
fi

finish
