#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# py_blob.py get|put CONTAINER/BLOB [FILE]: one transfer with Debian's
# python3-azure-storage (azure.storage.blob), the benchmark's Python
# client; py_blob.py sas: print an account SAS (a day, every permission
# on containers and blobs) for rclone. The account is AZURE_STORAGE_CONNECTION_STRING; requests of
# 4 MiB, 4 in flight, like the other clients of bench/guest-bench.sh.
# get writes the blob to a sink that only counts it (no file); put reads
# FILE.
#
# Copyright (c) 2026 The hv_azure_blob authors

import datetime
import os
import sys

from azure.storage.blob import (AccountSasPermissions, BlobClient,
                                ResourceTypes, generate_account_sas)

CHUNK = 4 << 20
INFLIGHT = 4


class Sink:
    """A writable stream that keeps nothing: the download's end. Seekable,
    as the SDK's parallel download wants: each range is written at its
    offset."""

    def __init__(self):
        self.n = 0
        self.pos = 0

    def write(self, data):
        self.n += len(data)
        self.pos += len(data)
        return len(data)

    def writable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        if whence == 1:
            offset += self.pos
        self.pos = offset
        return offset

    def tell(self):
        return self.pos


def account_sas():
    kv = dict(p.split("=", 1) for p in
              os.environ["AZURE_STORAGE_CONNECTION_STRING"].split(";") if p)
    print(generate_account_sas(
        kv["AccountName"], kv["AccountKey"],
        ResourceTypes(container=True, object=True),
        AccountSasPermissions(read=True, write=True, delete=True, list=True,
                              add=True, create=True),
        datetime.datetime.utcnow() + datetime.timedelta(days=1)))


def main():
    if sys.argv[1:] == ["sas"]:
        account_sas()
        return
    if len(sys.argv) < 3 or sys.argv[1] not in ("get", "put"):
        sys.exit("usage: py_blob.py get|put CONTAINER/BLOB [FILE] | sas")
    container, blob = sys.argv[2].split("/", 1)
    client = BlobClient.from_connection_string(
        os.environ["AZURE_STORAGE_CONNECTION_STRING"], container, blob,
        max_block_size=CHUNK, max_single_put_size=CHUNK,
        max_single_get_size=CHUNK, max_chunk_get_size=CHUNK)
    if sys.argv[1] == "get":
        sink = Sink()
        size = client.download_blob(max_concurrency=INFLIGHT).readinto(sink)
        if size != sink.n:
            sys.exit("py_blob: got %d of %d bytes" % (sink.n, size))
    else:
        with open(sys.argv[3], "rb") as f:
            client.upload_blob(f, overwrite=True, max_concurrency=INFLIGHT)


if __name__ == "__main__":
    main()
