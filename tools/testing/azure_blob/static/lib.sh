# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of the build and static-check scripts. Sourced, not run.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -o pipefail
# Debian's tools first (python3 with the Debian modules, not a private one).
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

: "${AZ_BLOB_SRCTREE:?AZ_BLOB_SRCTREE must point to the repository root}"
BUILD="$AZ_BLOB_SRCTREE/build"
PATCHDIR="$AZ_BLOB_SRCTREE/kernel-patches"
JOBS="${JOBS:-$(nproc)}"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_get ARG... - apt-get, one at a time: our own callers queue on a lock
# file, and apt waits for a dpkg lock held by anyone else instead of
# failing at once.
apt_get() {
	DEBIAN_FRONTEND=noninteractive flock /var/lock/hv_azure_blob-apt.lock \
		apt-get -o DPkg::Lock::Timeout=900 "$@" </dev/null
}

# apt_need PKG... - install the Debian packages that are missing
apt_need() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing: ${missing[*]}"
	if ! apt_get install -y -q --no-install-recommends "${missing[@]}" \
		>/dev/null 2>&1; then
		apt_get update -q >/dev/null || die "apt-get update failed"
		apt_get install -y -q --no-install-recommends "${missing[@]}" \
			>/dev/null || die "cannot install ${missing[*]}"
	fi
}

# newest_headers_version - newest 6.12.*+deb12-cloud-amd64 headers that apt
# knows (or, without package lists, that are installed): scripts/deb-kver.sh
newest_headers_version() {
	local v

	v=$("$AZ_BLOB_SRCTREE/tools/testing/azure_blob/scripts/deb-kver.sh" \
		6.12 2>/dev/null) || return 0
	echo "$v-cloud-amd64"
}

# commit_numbers - the commit numbers named in kernel-patches/series, in order
commit_numbers() {
	sed -n 's/^[^#[:space:]][^#]*#[[:space:]]*\([0-9][0-9]*\):.*/\1/p' \
		"$PATCHDIR/series" | awk '!seen[$0]++'
}

# commit_patches N - the patch files of commit N, in series order
commit_patches() {
	awk -v n="$1" '
		/^[[:space:]]*(#|$)/ { next }
		{ c = $0; sub(/^[^#]*#[[:space:]]*/, "", c); sub(/:.*/, "", c)
		  if (c == n) print $1 }' "$PATCHDIR/series"
}

# commit_files N - the files commit N adds from the repository
commit_files() {
	awk -v n="$1" '$1 == n { print $2 }' "$PATCHDIR/new-files"
}

# commit_available N - whether every file commit N adds exists yet
commit_available() {
	local f
	for f in $(commit_files "$1"); do
		[ -e "$AZ_BLOB_SRCTREE/$f" ] || return 1
	done
	return 0
}

# available_commits - the commits whose files all exist, in order
available_commits() {
	local n
	for n in $(commit_numbers); do
		if commit_available "$n"; then
			echo "$n"
		else
			log "note: commit $n skipped, missing:" \
			    "$(for f in $(commit_files "$n"); do
				[ -e "$AZ_BLOB_SRCTREE/$f" ] || printf '%s ' "$f"
			       done)"
		fi
	done
}
