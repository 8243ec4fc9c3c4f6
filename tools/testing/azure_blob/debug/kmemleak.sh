# SPDX-License-Identifier: GPL-2.0
#
# kmemleak_pass for the guest scripts on the debug kernel (debug/run, the
# e2e guest); sourced by busybox sh. Prints the list as
# "# kmemleak-PHASE: ..." lines and "AZBLOB-DEBUG kmemleak-PHASE rc=N
# objects=N"; sets status=1 when the pass fails.
#
# Copyright (c) 2026 The hv_azure_blob authors

kml=/sys/kernel/debug/kmemleak

# kmemleak_pass PHASE - two scans (an object is reported only once it is
# older than 5 s and still unreferenced), the list, then clear it
kmemleak_pass() {
	if [ ! -w "$kml" ]; then
		echo "AZBLOB-DEBUG kmemleak-$1 rc=1 ($kml missing)"
		status=1
		return
	fi
	sleep 6
	echo scan > "$kml" && sleep 1 && echo scan > "$kml"
	rc=$?
	cat "$kml" > "/tmp/kmemleak.$1"
	sed "s/^/# kmemleak-$1: /" "/tmp/kmemleak.$1"
	echo clear > "$kml"
	echo "AZBLOB-DEBUG kmemleak-$1 rc=$rc" \
		"objects=$(grep -c 'unreferenced object' "/tmp/kmemleak.$1")"
	# shellcheck disable=SC2034 # the sourcing script's result
	[ "$rc" -eq 0 ] || status=1
}
