#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# blob-stub.py PORTFILE - a stand-in for the Blob service on 127.0.0.1 for
# the package tests: Get Blob Properties (HEAD) of box/blob.bin answers 200
# with a size and an ETag, every other blob 404 BlobNotFound, and any
# request without a Shared Key signature 403. Writes its port to PORTFILE,
# serves until killed.
#
# Copyright (c) 2026 The hv_azure_blob authors
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_HEAD(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("SharedKey devstoreaccount1:"):
            self.answer(403, {"x-ms-error-code": "AuthenticationFailed"})
        elif self.path == "/devstoreaccount1/box/blob.bin":
            self.answer(200, {"Content-Length": "4242",
                              "ETag": '"0x8DC0FFEE"',
                              "x-ms-blob-type": "BlockBlob"})
        else:
            self.answer(404, {"x-ms-error-code": "BlobNotFound"})

    def answer(self, status, headers):
        self.send_response(status)
        headers.setdefault("Content-Length", "0")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("x-ms-version", self.headers.get("x-ms-version", ""))
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % server.server_address[1])
server.serve_forever()
