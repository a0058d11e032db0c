#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""otlp_receiver.py: a scripted OTLP/HTTP receiver for the tests (stdlib only).

    otlp_receiver.py RECORD_DIR SCRIPT [CERT_PEM KEY_PEM]

With CERT_PEM and KEY_PEM it speaks HTTPS (TLS) with that certificate.

Listens on 127.0.0.1, port chosen by the kernel, and prints "PORT\n" on
stdout first (then flushes: the test reads that line to know it is ready).
Every request is recorded under RECORD_DIR as NNNN (arrival order from 0000):
NNNN.raw holds the body bytes as sent, NNNN.body the same gunzipped when the
request said Content-Encoding: gzip, and NNNN.meta, written last and
atomically (a .tmp renamed), one "key value" per line:
    method POST
    path /v1/traces
    time 1796154999.483418     (time.time() once the body was read)
    client_port 40122          (the same port twice = a kept-alive connection)
    raw_len 22
    body_len 2
    gzip_error -               (or the error text when gunzip failed)
    header Name: value         (one per request header, in order)

SCRIPT is a comma-separated list of answers, one per request in order; the
last one repeats for every later request:
    200                  status 200, empty body
    200:body=HEX         status 200 with these body bytes (hex)
    200:bodysize=N       status 200 with N zero bytes
    503                  any status, empty body
    429:retry-after=1    any status with a Retry-After header, value as given
    503:retry-after=@+2  Retry-After as an HTTP-date 2 s after the answer
    hang                 read the request, never answer (until the test stops us)
Options after the status are separated by ';' (503:retry-after=1;body=00).
Answers carry Content-Type: application/x-protobuf, as the spec asks.

The test stops the receiver by its pid (SIGTERM); nothing else stops it.
"""
import email.utils
import gzip
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_script(text):
    answers = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if item == "hang":
            answers.append({"hang": True})
            continue
        status, _, opts = item.partition(":")
        answer = {"hang": False, "status": int(status), "headers": [], "body": b""}
        for opt in opts.split(";") if opts else []:
            key, _, value = opt.partition("=")
            if key == "retry-after":
                answer["headers"].append(("Retry-After", value))
            elif key == "body":
                answer["body"] = bytes.fromhex(value)
            elif key == "bodysize":
                answer["body"] = b"\0" * int(value)
            else:
                raise SystemExit("otlp_receiver: unknown option %r in %r" % (key, item))
        answers.append(answer)
    if not answers:
        raise SystemExit("otlp_receiver: empty script")
    return answers


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, record_dir, answers):
        super().__init__(("127.0.0.1", 0), Handler)
        self.record_dir = record_dir
        self.answers = answers
        self.lock = threading.Lock()
        self.count = 0

    def next_index(self):
        with self.lock:
            index = self.count
            self.count += 1
            return index


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a collector does

    def log_message(self, fmt, *args):
        pass  # quiet: the test reads the record, not stderr

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length > 0 else b""
        server = self.server
        index = server.next_index()
        body, gzip_error = raw, None
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(raw)
            except Exception as e:  # recorded; the test decides
                body, gzip_error = b"", str(e)
        base = os.path.join(server.record_dir, "%04d" % index)
        with open(base + ".raw", "wb") as f:
            f.write(raw)
        with open(base + ".body", "wb") as f:
            f.write(body)
        # The record, one "key value" per line (header lines: "header Name: value").
        lines = [
            "method %s" % self.command,
            "path %s" % self.path,
            "time %.6f" % time.time(),
            "client_port %d" % self.client_address[1],
            "raw_len %d" % len(raw),
            "body_len %d" % len(body),
            "gzip_error %s" % (gzip_error or "-").replace("\n", " "),
        ]
        lines += ["header %s: %s" % (k, v) for k, v in self.headers.items()]
        with open(base + ".meta.tmp", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(base + ".meta.tmp", base + ".meta")

        answer = server.answers[min(index, len(server.answers) - 1)]
        if answer["hang"]:
            while True:
                time.sleep(3600)
        self.send_response(answer["status"])
        self.send_header("Content-Type", "application/x-protobuf")
        for k, v in answer["headers"]:
            if k == "Retry-After" and v.startswith("@+"):
                # the HTTP-date form, N seconds from now
                v = email.utils.formatdate(time.time() + float(v[2:]), usegmt=True)
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(answer["body"])))
        self.end_headers()
        self.wfile.write(answer["body"])

    do_PUT = do_POST
    do_GET = do_POST


def main():
    if len(sys.argv) not in (3, 5):
        raise SystemExit("usage: otlp_receiver.py RECORD_DIR SCRIPT [CERT_PEM KEY_PEM]")
    record_dir, script = sys.argv[1], sys.argv[2]
    answers = parse_script(script)
    os.makedirs(record_dir, exist_ok=True)
    server = Receiver(record_dir, answers)
    if len(sys.argv) == 5:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
