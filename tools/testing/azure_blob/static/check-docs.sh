#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build Documentation/userspace-api/azure_blob.rst with Sphinx and the
# kernel's own Sphinx extensions (kernel-doc directive included) and fail on
# any warning. Usage: check-docs.sh <linux tree with the series applied>
#
# Copyright (c) 2026 The hv_azure_blob authors

AZ_BLOB_SRCTREE=${AZ_BLOB_SRCTREE:-$(cd "$(dirname "$0")/../../../.." && pwd)}
. "$AZ_BLOB_SRCTREE/tools/testing/azure_blob/static/lib.sh"

KSRC=${1:?usage: check-docs.sh LINUX_TREE}
OUT="$BUILD/docs-check"

apt_need python3-sphinx
rm -rf "$OUT" && mkdir -p "$OUT/src"
cp "$KSRC/Documentation/userspace-api/azure_blob.rst" "$OUT/src/"
cat > "$OUT/src/conf.py" <<PY
import os, sys
sys.path.insert(0, os.path.join('$KSRC', 'Documentation', 'sphinx'))
project = 'azure_blob'
extensions = ['kerneldoc', 'rstFlatTable', 'kernel_include', 'automarkup',
              'sphinx.ext.autosectionlabel']
autosectionlabel_prefix_document = True
autosectionlabel_maxdepth = 2
master_doc = 'azure_blob'
root_doc = 'azure_blob'
kerneldoc_bin = os.path.join('$KSRC', 'scripts', 'kernel-doc')
kerneldoc_srctree = '$KSRC'
c_id_attributes = ['__restrict__', '__iomem', 'asmlinkage']
PY
cd "$OUT" && /usr/bin/python3 -m sphinx -b html -W --keep-going -q \
	-d "$OUT/doctrees" src html
