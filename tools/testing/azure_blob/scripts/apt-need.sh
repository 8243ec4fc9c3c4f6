#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# apt-need.sh PKG... - install the Debian packages among PKG that are
# missing (static/lib.sh's apt_need), for the rig's Makefiles.
#
# Copyright (c) 2026 The hv_azure_blob authors

AZ_BLOB_SRCTREE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
export AZ_BLOB_SRCTREE
# shellcheck source=SCRIPTDIR/../static/lib.sh
. "$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static/lib.sh"
apt_need "$@"
