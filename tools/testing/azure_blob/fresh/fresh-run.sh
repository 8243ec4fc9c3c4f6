#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fresh-run.sh ROOT DIR CMDS LOGS - run each line of the file CMDS in the
# chroot ROOT, as root, in DIR, with the environment of a new login.
# Runs as the init of a new PID namespace with a private mount namespace
# (fresh-check.sh starts it with unshare), so the mounts made here and
# every process started in the root end with it. Prints a TAP line with
# the time of each command, its output goes to LOGS/<n>.log; exits with
# the number of commands that failed.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
set -o pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin"

root=$1 dir=$2 cmds=$3 logs=$4

die() { printf 'fresh-run: %s\n' "$*" >&2; exit 100; }

# The file systems a booted Debian 12 machine has: a root that is a mount
# (unshare --mount makes / private, which fails with EINVAL on a
# directory that is none), proc of this PID namespace, the host's sysfs
# and devices (with /dev/net/tun for the tests' taps and the host's ptys),
# and its own /dev/shm and /run.
mount --bind "$root" "$root" || die "cannot bind $root onto itself"
mount -t proc proc "$root/proc" || die "cannot mount proc"
mount --rbind /sys "$root/sys" || die "cannot bind /sys"
mount --rbind /dev "$root/dev" || die "cannot bind /dev"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm" ||
	die "cannot mount /dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run" ||
	die "cannot mount /run"
mkdir -m 1777 "$root/run/lock"
[ -c "$root/dev/net/tun" ] || echo "fresh-run: note: no /dev/net/tun" >&2

# The environment of a new login, and where the host's environment tells
# Node.js of the local certificate authorities, that too.
envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8
	TERM="${TERM:-dumb}")
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] &&
	envs+=(NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS")
mapfile -t lines <"$cmds"
# shellcheck disable=SC2016 # expanded by the shell in the root
inner='cd "$1" && eval "$2"'
echo "1..${#lines[@]}"
failed=0
n=0
for cmd in "${lines[@]}"; do
	n=$((n + 1))
	echo "# $cmd (output: $logs/$n.log)"
	s=$(date +%s)
	env -i "${envs[@]}" chroot "$root" /bin/bash -c "$inner" fresh \
		"$dir" "$cmd" </dev/null >"$logs/$n.log" 2>&1
	rc=$?
	t=$(($(date +%s) - s))
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - $cmd ($t s)"
	else
		echo "not ok $n - $cmd ($t s, exit $rc)"
		tail -n 15 "$logs/$n.log" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
done
exit "$failed"
