#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble the series as git commits on top of the pristine Linux 6.12 in
# build/series-tree (a sparse, shared clone of build/linux-6.12), then
# git format-patch it with a cover letter into build/series/. The commit
# messages are kernel-patches/msg/<N>-*.txt (first line: the subject; a
# line "---" starts notes that stay out of the commit when applied), the
# cover letter is kernel-patches/msg/0-cover-letter.txt.
#
# Copyright (c) 2026 The hv_azure_blob authors

AZ_BLOB_SRCTREE=${AZ_BLOB_SRCTREE:-$(cd "$(dirname "$0")/../../../.." && pwd)}
HERE="$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static"
. "$HERE/lib.sh"
. "$HERE/kernel-tree.sh"

ST="$BUILD/series-tree"
OUT="$BUILD/series"
MSG="$PATCHDIR/msg"
# The author and Signed-off-by of every commit: the identity this project
# commits with, and the M: line of the series' MAINTAINERS entry
# (check-maintainers.sh fails when the two differ).
AUTHOR_NAME=${AZ_BLOB_AUTHOR_NAME:-hv_azure_blob developers}
AUTHOR_EMAIL=${AZ_BLOB_AUTHOR_EMAIL:-hv-azure-blob@users.noreply.local}
VERSION=${AZ_BLOB_SERIES_VERSION:-6}

gs() { git -C "$ST" -c core.quotepath=off "$@"; }

ensure_tree
if [ ! -d "$ST/.git" ]; then
	rm -rf "$ST"
	git clone -q --shared --no-checkout "$KSRC" "$ST" || die "clone failed"
fi
# The files the series touches (set on every run: the list grows).
gs sparse-checkout set --no-cone /MAINTAINERS /drivers/hv/ \
	/include/linux/hyperv.h /include/uapi/misc/ /io_uring/uring_cmd.c \
	/Documentation/userspace-api/ /Documentation/ABI/testing/
gs fetch -q origin +refs/tags/pristine:refs/tags/pristine
gs checkout -q -f -B series pristine || die "checkout failed"
gs clean -q -f -d -x
gs config user.name "$AUTHOR_NAME"
gs config user.email "$AUTHOR_EMAIL"

# Commit dates follow the repository, so that the output is reproducible.
date=$(git -C "$AZ_BLOB_SRCTREE" log -1 --format=%cI 2>/dev/null || date -u -Iseconds)
export GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date"

for n in $(available_commits); do
	msg=$(ls "$MSG/$n"-*.txt 2>/dev/null | head -n 1)
	[ -f "$msg" ] || die "no message kernel-patches/msg/$n-*.txt"
	for p in $(commit_patches "$n"); do
		gs apply --whitespace=error-all "$PATCHDIR/$p" ||
			die "kernel-patches/$p does not apply"
	done
	for f in $(commit_files "$n"); do
		mkdir -p "$ST/$(dirname "$f")"
		cp "$AZ_BLOB_SRCTREE/$f" "$ST/$f"
	done
	# Debian's top-level .gitignore ignores everything: force.
	gs add -f -A $(commit_files "$n") $(for p in $(commit_patches "$n"); do
		sed -n 's@^+++ b/\([^[:space:]]*\).*@\1@p' "$PATCHDIR/$p"
	done) || die "git add failed"
	# The Signed-off-by goes before the notes ("---"), if any.
	awk -v sob="Signed-off-by: $AUTHOR_NAME <$AUTHOR_EMAIL>" '
		/^---$/ && !done { print sob; print ""; done = 1 }
		{ print }
		END { if (!done) { print ""; print sob } }' "$msg" |
		sed -e '/^$/N;/^\n$/D' > "$BUILD/series-msg.txt"
	gs commit -q --cleanup=verbatim -F "$BUILD/series-msg.txt" ||
		die "commit $n failed"
done
rm -f "$BUILD/series-msg.txt"

rm -rf "$OUT"
[ -f "$MSG/0-cover-letter.txt" ] || die "no kernel-patches/msg/0-cover-letter.txt"
gs config branch.series.description "$(cat "$MSG/0-cover-letter.txt")"
gs format-patch -q --cover-letter --cover-from-description=subject \
	--subject-prefix="PATCH v$VERSION" -o "$OUT" \
	pristine..series || die "format-patch failed"
ls "$OUT"
