#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# A fault-injecting HTTP proxy for the client's retry tests: it answers
# 503 ServerBusy (with Retry-After: 0) to every Nth request and forwards
# all others unchanged to the blob service.
#
#   faultproxy.py LISTEN_PORT UPSTREAM_PORT EVERY_NTH
#
# Prints "ready" when listening; the number of injected faults goes to
# stderr when it stops (SIGTERM).
#
# Copyright (c) 2026 The hv_azure_blob authors

import http.client
import http.server
import signal
import sys
import threading

LISTEN, UPSTREAM, NTH = (int(a) for a in sys.argv[1:4])
lock = threading.Lock()
count = {"requests": 0, "faults": 0}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def relay(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        with lock:
            count["requests"] += 1
            fault = count["requests"] % NTH == 0
            if fault:
                count["faults"] += 1
        if fault:
            msg = b"<?xml version=\"1.0\"?><Error><Code>ServerBusy</Code>" \
                  b"<Message>injected</Message></Error>"
            self.send_response(503, "Server Busy")
            self.send_header("x-ms-error-code", "ServerBusy")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(msg)
            return
        up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        hdrs = {k: v for k, v in self.headers.items()}
        up.request(self.command, self.path, body=body, headers=hdrs)
        r = up.getresponse()
        data = r.read()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length",
                                 "connection"):
                self.send_header(k, v)
        length = r.getheader("Content-Length")
        if self.command == "HEAD" and length is not None:
            self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        up.close()

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = relay


def stop(*_):
    sys.stderr.write("faults=%d requests=%d\n" %
                     (count["faults"], count["requests"]))
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", LISTEN), Proxy)
print("ready", flush=True)
srv.serve_forever()
