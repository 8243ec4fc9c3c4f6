#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# A stand-in for the Azure Instance Metadata Service's managed identity
# endpoint, for the client's bearer token tests: GET
# /metadata/identity/oauth2/token answers like IMDS (JSON with
# access_token, expires_in, expires_on, ... as strings) with an unsigned
# JWT that Azurite's "--oauth basic" accepts (issuer sts.windows.net,
# audience https://storage.azure.com, iat/nbf/exp).
#
#   imds.py ADDRESS PORT STATE_DIR
#
# PORT 0 picks a free port. Prints "ready PORT" when listening. Before each
# request it reads STATE_DIR/mode (one line; default "ok 3600"):
#   ok SECONDS       a token valid for SECONDS
#   expired          a token whose exp is an hour ago
#   status CODE      an IMDS error answer with HTTP status CODE
#   wrong-audience N SECONDS
#                    the first N tokens after the mode file was written
#                    name another audience (Azurite refuses them), the
#                    rest are valid for SECONDS
# and it writes the number of token requests so far to STATE_DIR/count and
# the last request's client_id (or "-") to STATE_DIR/client_id. Requests
# without "Metadata: true", or without the api-version and resource IMDS
# needs, get IMDS's 400 answers.
#
# Copyright (c) 2026 The hv_azure_blob authors

import base64
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

ADDR, PORT, STATE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
# The versions of the token endpoint that the clients in the rig use
# (libazblob, rclone, the Azure SDKs, azure-cli); IMDS takes the resource
# with or without its trailing slash.
API_VERSIONS = ("2018-02-01", "2019-08-01")
lock = threading.Lock()
count = [0]
# tokens handed out since the mode file's last change (wrong-audience)
in_mode = {"mtime": None, "n": 0}


def b64url(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(exp, now, aud="https://storage.azure.com"):
    head = {"typ": "JWT", "alg": "RS256", "kid": "test"}
    claims = {
        "aud": aud,
        "iss": "https://sts.windows.net/%s/" % TENANT,
        "iat": now - 60, "nbf": now - 60, "exp": exp,
        "oid": "00000000-0000-0000-0000-00000000beef",
        "tid": TENANT,
    }
    return "%s.%s.c2lnbmF0dXJl" % (b64url(head), b64url(claims))


def mode():
    """The mode's words, and how many tokens were given in it before."""
    path = os.path.join(STATE, "mode")
    try:
        with open(path) as f:
            words = f.read().split()
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return ["ok", "3600"], 0
    with lock:
        if in_mode["mtime"] != mtime:
            in_mode["mtime"], in_mode["n"] = mtime, 0
        n = in_mode["n"]
        in_mode["n"] += 1
    return words, n


class Imds(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path != "/metadata/identity/oauth2/token":
            self.answer(404, {"error": "not_found"})
            return
        with lock:
            count[0] += 1
            with open(os.path.join(STATE, "count"), "w") as f:
                f.write("%d\n" % count[0])
            with open(os.path.join(STATE, "client_id"), "w") as f:
                f.write("%s\n" % q.get("client_id", ["-"])[0])
        if self.headers.get("Metadata") != "true":
            self.answer(400, {"error": "invalid_request",
                              "error_description":
                              "Required metadata header not specified"})
            return
        if q.get("api-version", [""])[0] not in API_VERSIONS or \
           q.get("resource", [""])[0].rstrip("/") != "https://storage.azure.com":
            self.answer(400, {"error": "invalid_request",
                              "error_description":
                              "api-version or resource missing or wrong"})
            return
        m, given = mode()
        now = int(time.time())
        aud = "https://storage.azure.com"
        if m[0] == "wrong-audience":
            if given < int(m[1]):
                aud = "https://vault.azure.net"
            m = ["ok", m[2]]
        if m[0] == "status":
            self.answer(int(m[1]), {"error": "invalid_request",
                                    "error_description":
                                    "Identity not found"})
            return
        life = -3600 if m[0] == "expired" else int(m[1])
        self.answer(200, {
            "access_token": jwt(now + life, now, aud),
            "client_id": q.get("client_id", ["5b6a7e13-0000-4000-8000-c11e"])[0],
            "expires_in": str(life),
            "expires_on": str(now + life),
            "ext_expires_in": str(life),
            "not_before": str(now - 60),
            "resource": "https://storage.azure.com/",
            "token_type": "Bearer",
        })


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server((ADDR, PORT), Imds)
print("ready %d" % srv.server_address[1], flush=True)
srv.serve_forever()
