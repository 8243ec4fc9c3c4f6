#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fresh-check.sh - README.md's commands on a fresh Debian 12 machine.
#
# Builds a new Debian 12 (bookworm) root from Debian's packages with
# mmdebstrap, holding only what a new machine of ours has: the packages
# of priority required, important and standard (what Debian's installer
# and its cloud images start from; "important" alone would lack
# ca-certificates, which no Debian 12 VM lacks) and the tools every new
# development and CI machine comes with (FRESH_TOOLS). Clones the
# committed HEAD of this repository into it and runs, as root, from
# nothing, the commands of README.md's "Commands" block (make demo, make
# test), or those of FRESH_CMDS ("make client; make modules"). The root's
# /var/cache is its own and empty: no compiler cache, image or package
# root of the host's /var/cache/hv_azure_blob is seen, so every install
# step and every build is proven from nothing. Each command's output goes
# to build/fresh/logs/; its time and result are printed as TAP, the last
# line is "fresh-check: PASS (N s)" or "fresh-check: FAIL (N s)".
#
# The root lives in build/fresh/root (FRESH_OUT=DIR: DIR/root) and is
# removed at the end, also on ^C or an error, unless FRESH_KEEP=1. Its mounts exist only in a private
# mount namespace of a PID namespace (fresh-run.sh) and vanish with it.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -u
set -o pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../../../.." && pwd)
OUT=${FRESH_OUT:-$SRC/build/fresh}
ROOT="$OUT/root"
LOGS="$OUT/logs"
RESULTS="$SRC/build/results"
SUITE=fresh-check
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
SECURITY=${FRESH_SECURITY:-http://deb.debian.org/debian-security}
# The machines' own tools ("On a new machine"), and git to fetch the code.
FRESH_TOOLS=${FRESH_TOOLS:-"gcc make git clang-format clang-tidy cppcheck \
clangd bear cmake gdb valgrind strace linux-perf"}

die() { printf 'fresh-check: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it builds a chroot)"

# The commands: FRESH_CMDS (separated by ";"), or the lines of the first
# code block under README.md's "## Commands" heading, comments removed.
readme_cmds() {
	awk '/^## Commands/ { s = 1; next }
	     s && /^## / { exit }
	     s && /^```/ { if (b) exit; b = 1; next }
	     b { sub(/[[:space:]]*#.*/, ""); if ($0 != "") print }' \
		"$SRC/README.md"
}
if [ -n "${FRESH_CMDS:-}" ]; then
	mapfile -t CMDS < <(tr ';' '\n' <<<"$FRESH_CMDS" |
		sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$')
else
	mapfile -t CMDS < <(readme_cmds)
fi
[ ${#CMDS[@]} -gt 0 ] || die "no commands (README.md's Commands block is empty?)"

head=$(git -C "$SRC" rev-parse HEAD) || die "$SRC is not a git checkout"
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no)" ]; then
	echo "fresh-check: note: uncommitted changes are not checked," \
		"only HEAD $head" >&2
fi

"$SRC/tools/testing/azure_blob/scripts/apt-need.sh" mmdebstrap git ||
	die "cannot install mmdebstrap"

t0=$(date +%s)
runner_pid=

# mounted_under DIR - whether anything is mounted at or below DIR here
mounted_under() {
	findmnt -rn -o TARGET | awk -v d="$1" \
		'$0 == d || index($0, d "/") == 1 { f = 1 } END { exit !f }'
}

# shellcheck disable=SC2317 # run by the traps
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$runner_pid" ] && kill -0 "$runner_pid" 2>/dev/null; then
		# unshare --kill-child: the namespace's init and with it every
		# process in the root dies when unshare does.
		kill -KILL "$runner_pid" 2>/dev/null
		wait "$runner_pid" 2>/dev/null
	fi
	if [ "${FRESH_KEEP:-0}" = 1 ]; then
		echo "fresh-check: root kept in $ROOT (FRESH_KEEP=1)" >&2
	elif [ -d "$ROOT" ]; then
		if mounted_under "$ROOT"; then
			echo "fresh-check: $ROOT still has mounts, not removed" >&2
		else
			rm -rf --one-file-system "$ROOT"
		fi
	fi
}
trap cleanup EXIT
trap 'echo "fresh-check: FAIL ($(($(date +%s) - t0)) s, interrupted)"; exit 130' \
	INT TERM HUP

mounted_under "$ROOT" && die "$ROOT has mounts (another fresh-check?)"
rm -rf --one-file-system "$ROOT" "$LOGS"
mkdir -p "$OUT" "$LOGS" "$RESULTS" || die "cannot create $OUT"
rm -f "$RESULTS/$SUITE.counts"

# How this host reaches the archive (a proxy, the clock of a mirror) is
# the network's, not the fresh machine's: its apt Acquire settings go
# into the root as they are.
aptopts=()
acquire_confs=()
for f in /etc/apt/apt.conf.d/*; do
	if [ ! -f "$f" ] || ! grep -q '^[[:space:]]*Acquire' "$f"; then
		continue
	fi
	acquire_confs+=("$f")
	aptopts+=("--aptopt=$f")
done

echo "== fresh-check: Debian 12 root in $ROOT =="
s=$(date +%s)
# In a mount namespace of its own: what mmdebstrap mounts in the root
# while it builds it never shows here, even if it is killed.
unshare --mount --propagation private \
	mmdebstrap --variant=standard --include="${FRESH_TOOLS// /,}" \
	--components=main "${aptopts[@]}" bookworm "$ROOT" \
	"deb $MIRROR bookworm main" \
	"deb $MIRROR bookworm-updates main" \
	"deb $SECURITY bookworm-security main" \
	>"$LOGS/mmdebstrap.log" 2>&1 ||
	die "mmdebstrap failed, see $LOGS/mmdebstrap.log"
echo "   root built in $(($(date +%s) - s)) s" \
	"($(du -sm --one-file-system "$ROOT" | cut -f1) MiB," \
	"$(chroot "$ROOT" dpkg-query -W | wc -l) packages)"

for f in "${acquire_confs[@]}"; do
	cp "$f" "$ROOT/etc/apt/apt.conf.d/" || die "cannot copy $f"
done
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" || die "no /etc/resolv.conf"
# So are the certificate authorities this host added locally (a TLS proxy
# on the way to the registries would otherwise fail npm in the root).
for f in /usr/local/share/ca-certificates/*.crt; do
	[ -f "$f" ] || continue
	cp "$f" "$ROOT/usr/local/share/ca-certificates/" || die "cannot copy $f"
	added_ca=1
done
if [ -n "${added_ca:-}" ]; then
	chroot "$ROOT" update-ca-certificates >/dev/null 2>&1 ||
		die "update-ca-certificates failed in the root"
fi
if ! grep -qw localhost "$ROOT/etc/hosts" 2>/dev/null; then
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
		>"$ROOT/etc/hosts"
fi
# What a new machine has and a chroot lacks: the apt lists are empty,
# /var/cache is the root's own, /var/cache/hv_azure_blob does not exist.
rm -rf "$ROOT/var/cache/hv_azure_blob"

git clone -q --no-hardlinks "$SRC" "$ROOT/root/hv_azure_blob" ||
	die "cannot clone $SRC"
git -C "$ROOT/root/hv_azure_blob" checkout -q --detach "$head" ||
	die "cannot check out $head"
echo "   cloned $(git -C "$SRC" log -1 --format='%h %s' "$head")"

printf '%s\n' "${CMDS[@]}" >"$OUT/cmds"
unshare --mount --propagation private --pid --fork --kill-child \
	"$HERE/fresh-run.sh" "$ROOT" /root/hv_azure_blob "$OUT/cmds" "$LOGS" \
	</dev/null &
runner_pid=$!
wait "$runner_pid"
failed=$?
runner_pid=

total=$(($(date +%s) - t0))
passed=$((${#CMDS[@]} - failed))
[ "$passed" -ge 0 ] || passed=0
echo "$passed $((${#CMDS[@]} - passed)) 0" >"$RESULTS/$SUITE.counts"
if [ "$failed" -eq 0 ]; then
	echo "fresh-check: PASS ($total s)"
	exit 0
fi
echo "fresh-check: FAIL ($total s)"
exit 1
