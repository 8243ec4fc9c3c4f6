# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# arm64 cross builds of drivers/hv/ for the static checks: Debian's
# gcc-aarch64-linux-gnu on the same Linux 6.12 tree ($KSRC), arm64
# defconfig plus Hyper-V and the driver, with 4 KiB or 64 KiB pages (the
# Hyper-V page stays 4 KiB, so 64 KiB pages are where CPU pages and
# Hyper-V pages part). One object directory per page size,
# $BUILD/kobj-arm64-<pages>, kept between runs: it first builds the
# pristine drivers/hv/ once for the warning baseline
# (az-blob-baseline.txt), then the tree with the series. The compiler runs
# under ccache in the fixed cache directory; sparse (C=1) runs on every
# object of drivers/hv/ each time. Sourced by check-static.sh, not run.
#
# Copyright (c) 2026 The hv_azure_blob authors

# The page sizes built, for check-static.sh.
# shellcheck disable=SC2034
ARM64_PAGES="4k 64k"
export CCACHE_DIR="${CCACHE_DIR:-/var/cache/hv_azure_blob/ccache}"
# Paths inside the checkout hash as relative ones: a fresh clone (CI) hits
# what an earlier checkout compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$AZ_BLOB_SRCTREE}"
export CCACHE_NOHASHDIR=true

# The make variables of every arm64 build; they must not change from run
# to run, or kbuild rebuilds what they compiled.
arm64_make() {
	make -C "$KSRC" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
		CC="ccache aarch64-linux-gnu-gcc" HOSTCC="ccache gcc" "$@"
}

arm64_obj() { echo "$BUILD/kobj-arm64-$1"; }

# arm64_configure PAGES [SYM=VAL...] - defconfig with Hyper-V, the driver
# and its KUnit suite as modules, and PAGES (4k or 64k) pages; symbols the
# tree does not know (the pristine one) are dropped by olddefconfig. Fails
# unless the configuration has those pages, ACPI=y, HYPERV=m and SYM=VAL.
arm64_configure() {
	local pages=$1 obj shift_want sel sym

	obj=$(arm64_obj "$pages")
	case "$pages" in
	4k) sel="-e ARM64_4K_PAGES -d ARM64_16K_PAGES -d ARM64_64K_PAGES"
	    shift_want=12 ;;
	64k) sel="-d ARM64_4K_PAGES -d ARM64_16K_PAGES -e ARM64_64K_PAGES"
	     shift_want=16 ;;
	*) echo "unknown page size $pages"; return 1 ;;
	esac
	mkdir -p "$obj"
	[ -f "$obj/.config" ] || arm64_make -s O="$obj" defconfig || return 1
	# shellcheck disable=SC2086
	"$KSRC/scripts/config" --file "$obj/.config" $sel -e ACPI -m HYPERV \
		-e DEBUG_FS -e HYPERV_TESTING -m HYPERV_BALLOON -e KUNIT \
		-m HYPERV_AZURE_BLOB -m HYPERV_AZURE_BLOB_KUNIT_TEST &&
		arm64_make -s O="$obj" olddefconfig || return 1
	grep -qx "CONFIG_PAGE_SHIFT=$shift_want" "$obj/.config" ||
		{ echo "CONFIG_PAGE_SHIFT is not $shift_want"; return 1; }
	shift
	for sym in ACPI=y HYPERV=m "$@"; do
		grep -qx "CONFIG_$sym" "$obj/.config" ||
			{ echo "CONFIG_$sym is not set"; return 1; }
	done
	grep -E '^CONFIG_(PAGE_SHIFT|ARM64_.*_PAGES|HYPERV.*)=' "$obj/.config"
}

# arm64_build_hv PAGES LOG - prepare the tree, then rebuild drivers/hv/
# with W=1 and sparse
arm64_build_hv() {
	local pages=$1 log=$2 obj

	obj=$(arm64_obj "$pages")
	arm64_make -s O="$obj" -j"$JOBS" prepare > "$log.prepare" 2>&1 ||
		{ cat "$log.prepare"; return 1; }
	find "$obj/drivers/hv" -name '*.o' -delete 2>/dev/null
	arm64_make O="$obj" -j"$JOBS" W=1 C=1 drivers/hv/ > "$log" 2>&1 ||
		{ tail -n 40 "$log"; return 1; }
}

# arm64_baseline PAGES LOGDIR - the pristine tree's warnings, once per
# object directory (the caller has the tree pristine)
arm64_baseline() {
	local pages=$1 logs=$2 obj

	obj=$(arm64_obj "$pages")
	[ -f "$obj/az-blob-baseline.txt" ] && return 0
	log "building the pristine drivers/hv/ for arm64 with $pages pages" \
	    "for the warning baseline (once)"
	arm64_configure "$pages" > "$logs/baseline-arm64-$pages-config.log" 2>&1 &&
		arm64_build_hv "$pages" "$logs/baseline-arm64-$pages-build.log" ||
		{ cat "$logs/baseline-arm64-$pages-config.log" \
		      "$logs/baseline-arm64-$pages-build.log"
		  die "pristine arm64 ($pages pages) build failed"; }
	warnings "$logs/baseline-arm64-$pages-build.log" \
		> "$obj/az-blob-baseline.txt"
}

# arm64_driver_built PAGES OBJECT... - these objects of drivers/hv/ were
# compiled
arm64_driver_built() {
	local obj f

	obj=$(arm64_obj "$1")
	shift
	for f in "$@"; do
		[ -f "$obj/drivers/hv/$f" ] ||
			{ echo "drivers/hv/$f was not built"; return 1; }
	done
	echo "built: $*"
}
