#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# version.sh [REPO] - the packages' version: VERSION at the top of the
# repository, then "+git<commit date, UTC, YYYYMMDD>.<12-digit commit>"
# when REPO is a git checkout, e.g. 0.1.0+git20260105.735e79f0a1b2.
# A newer commit of the same day may sort lower: the date orders the days,
# the commit names the build.
#
# Copyright (c) 2026 The hv_azure_blob authors
set -euo pipefail

repo=${1:-$(cd "$(dirname "$0")/.." && pwd)}
base=$(tr -d '[:space:]' <"$repo/VERSION")
[[ $base =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
	{ echo "version.sh: VERSION '$base' is not N.N.N" >&2; exit 1; }
if git -C "$repo" rev-parse --verify -q HEAD >/dev/null 2>&1; then
	date=$(TZ=UTC git -C "$repo" log -1 --date=format-local:%Y%m%d \
		--format=%cd HEAD)
	sha=$(git -C "$repo" rev-parse --short=12 HEAD)
	echo "$base+git$date.$sha"
else
	echo "$base"
fi
