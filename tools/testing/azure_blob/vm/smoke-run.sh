#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest payload of `make vm-smoke`: the smoke test, then a rescind and
# re-offer of slot 0 with the device node following.
#
# Copyright (c) 2026 The hv_azure_blob authors

H=/sys/kernel/debug/vmbus_emu/host

./smoke || exit 1
echo "rescind 0" > $H || exit 1
[ -e /dev/azure_blob ] && { echo "not ok - node still there after rescind"; exit 1; }
echo "ok - rescind 0 removed /dev/azure_blob"
echo "offer 0" > $H || exit 1
i=0
while [ ! -c /dev/azure_blob ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -c /dev/azure_blob ] || { echo "not ok - no node after re-offer"; exit 1; }
echo "ok - offer 0 brought /dev/azure_blob back"
./smoke 200
