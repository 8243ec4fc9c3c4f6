#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The interop suite's driver for the Python SDK (Debian's
# python3-azure-storage, azure.storage.blob 12.15): one container, the
# steps of driver-steps.md, one "R ..." line per step on stdout and the
# number of HTTP requests the SDK sent as "N <count>" at the end.
#
# Environment (set by interop/guest.sh): IO_URL (the account URL), IO_AUTH
# (key, sas or bearer), IO_ACCOUNT, IO_KEY, IO_SAS, IO_CONTAINER, IO_DATA
# (a directory with one file s<size> per size), IO_SIZES, IO_MODE
# ("matrix", or "defaults": driver-steps.md's check of the SDK's default
# transfer sizes).
#
# Copyright (c) 2026 The hv_azure_blob authors

import hashlib
import os
import sys

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient

MIB = 1024 * 1024
env = os.environ
sizes = [int(s) for s in env["IO_SIZES"].split()]
data = env["IO_DATA"]
requests = [0]


def count(_request):
    requests[0] += 1


def credential():
    auth = env["IO_AUTH"]
    if auth == "key":
        return {"account_name": env["IO_ACCOUNT"], "account_key": env["IO_KEY"]}
    if auth == "sas":
        return env["IO_SAS"]
    from azure.identity import ManagedIdentityCredential
    return ManagedIdentityCredential()


def client(defaults=False):
    kw = {"raw_request_hook": count, "retry_total": 2}
    if not defaults:
        kw.update(max_single_put_size=4 * MIB, max_block_size=4 * MIB,
                  max_single_get_size=4 * MIB, max_chunk_get_size=4 * MIB)
    return BlobServiceClient(env["IO_URL"], credential=credential(), **kw)


def out(step, status, code="-", *info):
    print("R", step, status, code or "-", *info, flush=True)


def failed(step, err):
    status = getattr(err, "status_code", None) or "err"
    code = getattr(err, "error_code", None) or "-"
    code = getattr(code, "value", code)
    out(step, status, code)
    msg = str(getattr(err, "message", err)).splitlines()
    print("# %s: %s" % (step, msg[0][:300] if msg else ""), file=sys.stderr)


def md5of(md5, path):
    """match: the content's MD5; other: one of something else (a block
    list's body); none: no MD5 at all."""
    if not md5:
        return "none"
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return "match" if bytes(md5) == h.digest() else "other"


def same(etag, ref):
    if not etag:
        return "none"
    return "same" if etag == ref else "differs"


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


cont = client().get_container_client(env["IO_CONTAINER"])
try:
    cont.create_container()
    out("create", 201)
except HttpResponseError as e:
    failed("create", e)

if env.get("IO_MODE") == "defaults":
    # The SDK's own transfer sizes: a Put Blob of the whole file up to
    # 64 MiB, a first read of up to 32 MiB.
    plain = client(defaults=True).get_container_client(env["IO_CONTAINER"])
    for n in sizes:
        src = os.path.join(data, "s%d" % n)
        try:
            with open(src, "rb") as f:
                plain.upload_blob("d/s%d" % n, f, length=n, overwrite=True)
            out("dput:%d" % n, 201)
        except HttpResponseError as e:
            failed("dput:%d" % n, e)
            try:
                with open(src, "rb") as f:
                    cont.upload_blob("d/s%d" % n, f, length=n, overwrite=True)
            except HttpResponseError as e2:
                failed("tput:%d" % n, e2)
        try:
            d = plain.download_blob("d/s%d" % n).readall()
            out("dget:%d" % n, 200, "-", "bytes=" + (
                "exact" if hashlib.sha256(d).hexdigest() == sha(src) else "differ"))
        except HttpResponseError as e:
            failed("dget:%d" % n, e)
    try:
        cont.delete_container()
        out("delc", 202)
    except HttpResponseError as e:
        failed("delc", e)
    print("N", requests[0], flush=True)
    sys.exit(0)

for n in sizes:
    src = os.path.join(data, "s%d" % n)
    blob = cont.get_blob_client("p/s%d" % n)
    try:
        with open(src, "rb") as f:
            r = blob.upload_blob(f, length=n, overwrite=True)
        etag = r.get("etag")
        out("put:%d" % n, 201, "-", "md5=" + md5of(r.get("content_md5"), src))
    except HttpResponseError as e:
        failed("put:%d" % n, e)
        for step in ("props", "get", "del"):
            out("%s:%d" % (step, n), "skip", "-")
        continue
    try:
        p = blob.get_blob_properties()
        out("props:%d" % n, 200, "-", "size=%d" % p.size,
            "md5=" + md5of(p.content_settings.content_md5, src),
            "etag=" + same(p.etag, etag))
    except HttpResponseError as e:
        failed("props:%d" % n, e)
    dst = os.path.join(data, "out")
    try:
        d = blob.download_blob()
        with open(dst, "wb") as f:
            d.readinto(f)
        out("get:%d" % n, 200, "-",
            "bytes=" + ("exact" if sha(dst) == sha(src) else "differ"),
            "etag=" + same(d.properties.etag, etag))
    except HttpResponseError as e:
        failed("get:%d" % n, e)
    try:
        os.unlink(dst)
    except OSError:
        pass
    try:
        blob.delete_blob()
        out("del:%d" % n, 202)
    except HttpResponseError as e:
        failed("del:%d" % n, e)

# Listing with a prefix, the conditional and failing reads: on blobs of
# their own, so that every size's outcome above stays independent.
for name in ("l/a", "l/b", "m/c"):
    try:
        cont.upload_blob(name, b"x", overwrite=True)
    except HttpResponseError as e:
        failed("put:" + name, e)
try:
    names = ["%s:%d" % (b.name, b.size) for b in cont.list_blobs(name_starts_with="l/")]
    out("list", 200, "-", "names=" + ",".join(names))
except HttpResponseError as e:
    failed("list", e)
a = cont.get_blob_client("l/a")
try:
    a.download_blob(etag='"0x8D000000DEADBEE"',
                    match_condition=MatchConditions.IfNotModified).readall()
    out("ifmatch", 200)
except HttpResponseError as e:
    failed("ifmatch", e)
try:
    cont.get_blob_client("l/missing").download_blob().readall()
    out("missing", 200)
except HttpResponseError as e:
    failed("missing", e)
try:
    a.download_blob(offset=5, length=10).readall()
    out("range", 206)
except HttpResponseError as e:
    failed("range", e)
try:
    cont.delete_container()
    out("delc", 202)
except HttpResponseError as e:
    failed("delc", e)
print("N", requests[0], flush=True)
