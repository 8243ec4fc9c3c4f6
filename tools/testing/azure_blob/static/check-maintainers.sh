#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the series' MAINTAINERS entry against the series as series.sh
# committed it in build/series-tree: its F: lines are exactly the files
# the series adds (which are exactly kernel-patches/new-files), each of
# them exists, and its M: line is the identity every commit of the series
# is authored and signed off by. Run after series.sh.
#
# Copyright (c) 2026 The hv_azure_blob authors

AZ_BLOB_SRCTREE=${AZ_BLOB_SRCTREE:-$(cd "$(dirname "$0")/../../../.." && pwd)}
HERE="$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static"
. "$HERE/lib.sh"

ST="$BUILD/series-tree"
ENTRY="HYPER-V AZURE BLOB DRIVER"
ret=0

gs() { git -C "$ST" -c core.quotepath=off "$@"; }

gs rev-parse -q --verify series >/dev/null ||
	die "no series in $ST: run series.sh first"

tmp=$(mktemp -d /tmp/az-blob-maint.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The entry: from its title line to the next empty line.
gs show series:MAINTAINERS |
	awk -v t="$ENTRY" '$0 == t { on = 1 } on && /^$/ { exit } on' \
	> "$tmp/entry"
[ -s "$tmp/entry" ] || die "MAINTAINERS has no entry \"$ENTRY\""
cat "$tmp/entry"
echo

sed -n 's/^F:[[:space:]]*//p' "$tmp/entry" | sort > "$tmp/f-lines"
gs diff --no-renames --diff-filter=A --name-only pristine series | sort \
	> "$tmp/added"
awk '!/^[[:space:]]*(#|$)/ { print $2 }' "$PATCHDIR/new-files" | sort \
	> "$tmp/new-files"

if ! cmp -s "$tmp/f-lines" "$tmp/added"; then
	echo "F: lines (<) differ from the files the series adds (>):"
	diff "$tmp/f-lines" "$tmp/added" | grep '^[<>]'
	ret=1
fi
if ! cmp -s "$tmp/added" "$tmp/new-files"; then
	echo "the files the series adds (<) differ from kernel-patches/new-files (>):"
	diff "$tmp/added" "$tmp/new-files" | grep '^[<>]'
	ret=1
fi
while read -r f; do
	gs cat-file -e "series:$f" 2>/dev/null ||
		{ echo "F: $f does not exist in the series"; ret=1; }
done < "$tmp/f-lines"

# One maintainer, the identity of every commit.
sed -n 's/^M:[[:space:]]*//p' "$tmp/entry" > "$tmp/m-lines"
[ "$(wc -l < "$tmp/m-lines")" -eq 1 ] ||
	{ echo "the entry has $(wc -l < "$tmp/m-lines") M: lines, want 1"; ret=1; }
m=$(head -n 1 "$tmp/m-lines")
gs log --format='%an <%ae>' pristine..series | sort -u > "$tmp/authors"
gs log --format='%(trailers:key=Signed-off-by,valueonly)' pristine..series |
	sed '/^$/d' | sort -u > "$tmp/sobs"
for who in authors sobs; do
	if [ "$(cat "$tmp/$who")" != "$m" ]; then
		echo "$who of the series: $(tr '\n' ';' < "$tmp/$who"), M: line: $m"
		ret=1
	fi
done
# Addresses in the domains reserved for examples (RFC 2606) are placeholders.
case $m in
*@example.*|*.example'>')
	echo "M: $m is a placeholder"; ret=1 ;;
esac

[ "$ret" -eq 0 ] && echo "F: lines = files added = new-files ($(wc -l < "$tmp/added")); M: = every author and Signed-off-by"
exit "$ret"
