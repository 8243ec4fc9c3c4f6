# SPDX-License-Identifier: GPL-2.0
#
# The Linux 6.12 source tree the static checks and the series use:
# build/linux-6.12, extracted once from Debian's linux-source-6.12 and kept
# as a git repository whose commit tagged "pristine" is the untouched
# source. sync_tree moves the work tree to "pristine + the given commits of
# the series" and rewrites only the files whose content changes, so kbuild
# recompiles only what changed. Sourced, not run.
#
# Copyright (c) 2026 The hv_azure_blob authors

KSRC="$BUILD/linux-6.12"

git_k() { git -C "$KSRC" -c core.quotepath=off "$@"; }

# ensure_tree [STALE...] - extract linux-source-6.12 into $KSRC once per
# Debian package version. STALE are object directories built from an older
# tree, dropped with it (default: the static checks' $BUILD/kobj-*).
ensure_tree() {
	local tarball=/usr/src/linux-source-6.12.tar.xz ver tmp

	apt_need linux-source-6.12 xz-utils git patch
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	if [ -d "$KSRC/.git" ] && git_k rev-parse -q --verify pristine \
		>/dev/null && [ "$(cat "$KSRC/.az-blob-version" 2>/dev/null)" = "$ver" ]; then
		return 0
	fi
	log "extracting linux-source-6.12 $ver into $KSRC (once)"
	rm -rf "$KSRC"
	if [ $# -gt 0 ]; then
		rm -rf "$@"
	else
		rm -rf "$BUILD"/kobj-*
	fi
	tmp="$KSRC.tmp"
	rm -rf "$tmp" && mkdir -p "$tmp"
	tar -C "$tmp" -xf "$tarball" || die "cannot extract $tarball"
	mv "$tmp"/linux-source-6.12 "$KSRC" && rmdir "$tmp"
	git_k init -q
	git_k config user.name "hv_azure_blob build"
	git_k config user.email "build@localhost"
	git_k config gc.auto 0
	printf '%s\n' /.az-blob-version > "$KSRC/.git/info/exclude"
	# Debian's top-level .gitignore ignores everything: force.
	git_k add -A -f
	git_k commit -q -m "Linux 6.12 (Debian linux-source-6.12 $ver)"
	git_k tag pristine
	echo "$ver" > "$KSRC/.az-blob-version"
}

# sync_tree N... - make the work tree pristine + commits N... of the series
sync_tree() {
	local stage n p f rel

	stage=$(mktemp -d /tmp/az-blob-stage.XXXXXX)
	for n in "$@"; do
		for p in $(commit_patches "$n"); do
			[ -f "$PATCHDIR/$p" ] || die "missing kernel-patches/$p"
			# Seed the stage with the pristine files the patch touches.
			for rel in $(sed -n 's@^+++ b/\([^[:space:]]*\).*@\1@p' \
					"$PATCHDIR/$p"); do
				[ -e "$stage/$rel" ] && continue
				mkdir -p "$stage/$(dirname "$rel")"
				git_k show "pristine:$rel" > "$stage/$rel" \
					2>/dev/null || : > "$stage/$rel"
			done
			if ! patch -p1 -s -N -d "$stage" < "$PATCHDIR/$p"; then
				rm -rf "$stage"
				log "kernel-patches/$p does not apply"
				return 1
			fi
		done
		for f in $(commit_files "$n"); do
			mkdir -p "$stage/$(dirname "$f")"
			cp "$AZ_BLOB_SRCTREE/$f" "$stage/$f"
		done
	done
	find "$stage" -name '*.orig' -delete

	# Restore files that are changed or added but not part of the stage.
	# (ls-files without exclusions: Debian's .gitignore ignores all.)
	git_k ls-files -m -o | grep -vx '.az-blob-version' |
	while read -r rel; do
		[ -e "$stage/$rel" ] && continue
		if git_k cat-file -e "pristine:$rel" 2>/dev/null; then
			git_k checkout -q pristine -- "$rel"
		else
			rm -f "$KSRC/$rel"
		fi
	done
	# Copy the staged files whose content differs.
	(cd "$stage" && find . -type f | sed 's@^\./@@') | while read -r rel; do
		if ! cmp -s "$stage/$rel" "$KSRC/$rel"; then
			mkdir -p "$KSRC/$(dirname "$rel")"
			cp "$stage/$rel" "$KSRC/$rel"
		fi
	done
	rm -rf "$stage"
}
