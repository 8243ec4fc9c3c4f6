#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the driver's KUnit suite in a QEMU guest: kunit.sh [x86_64|arm64].
#
# x86_64 (the default) builds the kernel from allnoconfig, the debug
# kernel's debug/debug.config (KASAN, lockdep, debug objects, kmemleak)
# and the suite's own drivers/hv/.kunitconfig on top, with
# scripts/fragment-kernel.sh, then runs it with `kunit.py exec`. The suite
# thus runs under KASAN, and the KUnit kernel and the debug kernel share
# most of their objects through the compiler cache: the second of the two
# to be built compiles little (a cold CI run compiles one KASAN kernel,
# not one and a half). arm64 is `kunit.py run` on its own configuration:
# it is cross-built with Debian's gcc-aarch64-linux-gnu and runs under
# qemu-system-aarch64 (TCG) with 64 KiB pages, where a CPU page holds 16
# Hyper-V pages; its configuration is kunit-arm64.kunitconfig beside this
# script (Hyper-V on arm64 needs ACPI, hence EFI).
#
# The kernel tree is build/kunit/linux: Debian's linux-source-6.12,
# extracted once and kept as a git repository (tag "pristine"), moved to
# "pristine + every commit of kernel-patches/series" by sync_tree from
# static/kernel-tree.sh, which rewrites only the files whose content
# changes. Objects go to build/kunit/obj (obj-arm64 for arm64), one run at
# a time on the shared tree; the compiler runs under ccache
# with a fixed cache directory, so a rebuild from scratch on this machine
# mostly hits the cache. The make options must stay the same from run to
# run: kbuild and kunit.py rebuild everything when they change.
#
# Writes build/results/kunit.counts ("PASSED FAILED SKIPPED") and the raw
# log to build/kunit/kunit.log (kunit-arm64.counts and kunit-arm64.log for
# arm64); exits non-zero when a case failed or the suite did not run to
# completion.
#
# Environment: KUNIT_TIMEOUT (seconds for the guest, default 900 for
# x86_64, 1800 for arm64), CCACHE_DIR (default
# /var/cache/hv_azure_blob/ccache).
#
# Copyright (c) 2026 The hv_azure_blob authors

set -eu
: "${AZ_BLOB_SRCTREE:=$(cd "$(dirname "$0")/../../../.." && pwd)}"
export AZ_BLOB_SRCTREE

STATIC="$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static"
SCRIPTS="$AZ_BLOB_SRCTREE/tools/testing/azure_blob/scripts"
# shellcheck source=../static/lib.sh
. "$STATIC/lib.sh"
# shellcheck source=../static/kernel-tree.sh
. "$STATIC/kernel-tree.sh"
# shellcheck source=fragment-kernel.sh
. "$SCRIPTS/fragment-kernel.sh"

KARCH=${1:-x86_64}
# This suite has a tree of its own, so it never races the static checks.
KUNIT_OUT="$BUILD/kunit"
KSRC="$KUNIT_OUT/linux"
RESULTS="$BUILD/results"
KUNITCONFIG=drivers/hv/.kunitconfig
case "$KARCH" in
x86_64)
	SUITE=kunit
	KOBJ="$KUNIT_OUT/obj"
	PKGS=(qemu-system-x86 cpio)
	KUNIT_CMD=exec
	KUNIT_ARGS=(--arch=x86_64 --kunitconfig="$KUNITCONFIG")
	TIMEOUT=${KUNIT_TIMEOUT:-900}
	;;
arm64)
	SUITE=kunit-arm64
	KOBJ="$KUNIT_OUT/obj-arm64"
	PKGS=(qemu-system-arm gcc-aarch64-linux-gnu)
	KUNIT_CMD=run
	KUNIT_ARGS=(--arch=arm64 --cross_compile=aarch64-linux-gnu-
		    --kunitconfig="$SCRIPTS/kunit-arm64.kunitconfig"
		    --make_options 'CC=ccache aarch64-linux-gnu-gcc' --jobs=2)
	TIMEOUT=${KUNIT_TIMEOUT:-1800}
	;;
*)
	echo "usage: kunit.sh [x86_64|arm64]" >&2
	exit 2
	;;
esac
LOG="$KUNIT_OUT/$SUITE.log"
export PYTHONDONTWRITEBYTECODE=1

main() {
	local commits n start rc summary counts

	apt_need linux-source-6.12 xz-utils git patch make gcc flex bison bc \
		libelf-dev libssl-dev python3 ccache "${PKGS[@]}"
	mkdir -p "$KUNIT_OUT" "$RESULTS" "$CCACHE_DIR"
	rm -f "$RESULTS/$SUITE.counts"

	exec 9>"$KUNIT_OUT/.lock"
	flock -n 9 || { log "waiting for another KUnit run to finish"; flock 9; }

	ensure_tree "$KOBJ"
	commits=$(available_commits)
	for n in $(commit_numbers); do
		grep -qx "$n" <<<"$commits" ||
			die "commit $n of kernel-patches/series is incomplete"
	done
	# shellcheck disable=SC2086
	sync_tree $commits || die "the series does not apply to Linux 6.12"
	# .kunitconfig is not part of a series commit's files: copy it too.
	cmp -s "$AZ_BLOB_SRCTREE/$KUNITCONFIG" "$KSRC/$KUNITCONFIG" ||
		cp "$AZ_BLOB_SRCTREE/$KUNITCONFIG" "$KSRC/$KUNITCONFIG"

	if [ "$KARCH" = x86_64 ]; then
		fragment_config "$KSRC" "$KOBJ" \
			"$AZ_BLOB_SRCTREE/tools/testing/azure_blob/debug/debug.config" \
			"$KSRC/$KUNITCONFIG"
		fragment_build "$KSRC" "$KOBJ" "KUnit kernel" 2 ||
			die "the KUnit kernel does not build (see above)"
	fi

	start=$(date +%s)
	set +e
	(cd "$KSRC" && python3 tools/testing/kunit/kunit.py "$KUNIT_CMD" \
		"${KUNIT_ARGS[@]}" --build_dir="$KOBJ" \
		--kernel_args slub_debug=FZP \
		--timeout "$TIMEOUT") 2>&1 | tee "$LOG"
	rc=${PIPESTATUS[0]}
	set -e
	log "kunit.py exited with $rc after $(( $(date +%s) - start )) s"

	# "Testing complete. Ran 42 tests: passed: 41, failed: 1"
	summary=$(sed 's/\x1b\[[0-9;]*m//g' "$LOG" |
		sed -n 's/.*Testing complete\. Ran \([0-9]*\) tests\?: *//p' |
		tail -n 1)
	if [ -z "$summary" ]; then
		log "error: the KUnit run produced no summary (see $LOG)"
		return 1
	fi
	counts=$(awk -v s="$summary" 'BEGIN {
		n = split(s, f, /, */); p = 0; x = 0; k = 0
		for (i = 1; i <= n; i++) {
			split(f[i], kv, /: */)
			if (kv[1] == "passed") p = kv[2]
			else if (kv[1] == "failed") x = kv[2]
			else if (kv[1] == "skipped") k = kv[2]
			else if (kv[1] == "crashed") x += kv[2]
			else if (kv[1] == "errors") x += kv[2]
		}
		print p, x, k }')
	echo "$counts" > "$RESULTS/$SUITE.counts"
	echo "$SUITE: $summary"
	read -r _ n _ <<<"$counts"
	[ "$rc" -eq 0 ] && [ "$n" -eq 0 ]
}

main "$@"
