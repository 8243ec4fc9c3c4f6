#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make demo` (busybox sh): one blob up and down through
# /dev/azure_blob. Prints "DEMO <key> <value>" lines for the host half.
#
# Copyright (c) 2026 The hv_azure_blob authors

cd /opt/azure_blob || exit 1
. ./env
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$PORT/devstoreaccount1"
AZ="./azblob --transport device --no-progress"
now_cs() { sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1\2/' /proc/uptime; }
sysfs() { cat /sys/class/misc/azure_blob/"$1"; }

echo "DEMO kernel $(uname -r)"
echo "DEMO driver $(grep "^hv_azure_blob " /proc/modules | cut -d" " -f1,3,5)"
echo "DEMO node $(ls -l /dev/azure_blob | tr -s ' ' | cut -d' ' -f1,5-6,10)"
echo "DEMO vmbus $(cat /sys/bus/vmbus/devices/*/class_id 2>/dev/null | head -n 1)"

head -c $((SIZE_MIB << 20)) /dev/urandom >/tmp/blob
SHA=$(sha256sum /tmp/blob | cut -d' ' -f1)
echo "DEMO size $(stat -c %s /tmp/blob)"
echo "DEMO sha_local $SHA"

s0=$(sysfs submitted) b0=$(sysfs bytes)
t0=$(now_cs)
$AZ put /tmp/blob demo/blob.bin || { echo "DEMO put_failed $?"; exit 1; }
t1=$(now_cs)
echo "DEMO put_cs $((t1 - t0))"
$AZ get demo/blob.bin /tmp/back || { echo "DEMO get_failed $?"; exit 1; }
t2=$(now_cs)
echo "DEMO get_cs $((t2 - t1))"
echo "DEMO sha_back $(sha256sum /tmp/back | cut -d' ' -f1)"
echo "DEMO requests $(($(sysfs submitted) - s0))"
echo "DEMO bytes $(($(sysfs bytes) - b0))"
echo "DEMO failed $(sysfs failed)"
echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
echo "DEMO pins $(sed -n 's/^nr_foll_pin_acquired //p' /proc/vmstat) $(sed -n 's/^nr_foll_pin_released //p' /proc/vmstat)"
echo "DEMO done"
