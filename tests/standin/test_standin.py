# SPDX-License-Identifier: MIT
"""Tests of the stand-in SpacetimeDB server (tests/standin), without the
tracer: every HTTP route over raw sockets (keep-alive, pipelining, chunked
bodies, Expect, a WebSocket handshake checked against hashlib), clean exit
on SIGTERM and SIGINT, the symbols the tracer's pack hooks (nm and c++filt),
and the launcher chain spacetime -> spacetimedb-cli -> spacetimedb-standalone
in one pid.

Usage: test_standin.py http|symbols|launchers (one meson test each).
Paths come from meson: STDBTEL_STANDIN_SERVER, STDBTEL_STANDIN_SPACETIME,
STDBTEL_STANDIN_CLI, STDBTEL_NM, STDBTEL_CXXFILT.

Every server a test starts is stopped by pid when the test ends, whatever
happened (Server.__exit__). Only 127.0.0.1 is used.
"""
import base64
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

SERVER = os.environ.get("STDBTEL_STANDIN_SERVER", "")
SPACETIME = os.environ.get("STDBTEL_STANDIN_SPACETIME", "")
CLI = os.environ.get("STDBTEL_STANDIN_CLI", "")
NM = os.environ.get("STDBTEL_NM", "nm")
CXXFILT = os.environ.get("STDBTEL_CXXFILT", "c++filt")

# Generous: the suite may run beside others on a loaded 2-core machine.
# Nothing is timed; these only keep a hung server from hanging the test.
TIMEOUT = 30
LISTENING = re.compile(rb"^spacetimedb-standalone pid (\d+) listening on 127\.0\.0\.1:(\d+)$")
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Server:
    """A server process (the standalone or a launcher that execs it) in a
    fresh data dir; the context manager kills it by pid on the way out if
    it is still running, and removes the dir."""

    def __init__(self, argv0=None, data_dir_arg=True, extra_env=None):
        self.tmp = tempfile.mkdtemp(prefix="stdbtel-standin-")
        self.data_dir = os.path.join(self.tmp, "data")
        argv = [argv0 or SERVER, "start", "--listen-addr", "127.0.0.1:0"]
        if data_dir_arg:
            argv += ["--data-dir", self.data_dir]
        env = dict(os.environ)
        env.update(extra_env or {})
        self.stderr = open(os.path.join(self.tmp, "stderr"), "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.out = b""
        line = self._read_line()
        m = LISTENING.match(line)
        if not m:
            raise AssertionError(f"unexpected first line {line!r}; stderr: {self.stderr_text()}")
        self.reported_pid = int(m.group(1))
        self.port = int(m.group(2))

    def _read_line(self):
        deadline = time.monotonic() + TIMEOUT
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line from the server in time")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise AssertionError(f"server exited early ({self.proc.wait()}): {self.stderr_text()}")
                self.out += chunk
        line, self.out = self.out.split(b"\n", 1)
        return line

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig`; the exit status and the rest of stdout."""
        os.kill(self.proc.pid, sig)
        code = self.proc.wait(timeout=TIMEOUT)
        rest = self.out + self.proc.stdout.read()
        return code, rest.decode("utf-8", "replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def build_request(method, path, body=b"", headers=None, version="HTTP/1.1"):
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    hdrs = dict(headers or {})
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in hdrs):
        hdrs["Content-Length"] = str(len(body))
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn:
    """One client connection with a receive buffer."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self):
        """(status, headers dict lower-case, body bytes)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"^HTTP/1\.1 (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise AssertionError(f"bad status line {lines[0]!r}")
        status = int(m.group(1))
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        body = b""
        if status >= 200 and status not in (204, 304):
            body = self.read_exact(int(headers["content-length"]))
        return status, headers, body

    def at_eof(self):
        """True if the server closed the connection (after any buffered bytes)."""
        if self.buf:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def http(port, method, path, body=b"", headers=None):
    """One request on a new connection: (status, headers, body)."""
    c = Conn(port)
    try:
        c.send(build_request(method, path, body, headers))
        return c.read_response()
    finally:
        c.close()


JSON = {"Content-Type": "application/json"}


def call(port, reducer, args, db="quickstart"):
    return http(port, "POST", f"/v1/database/{db}/call/{reducer}", json.dumps(args), JSON)


def sql(port, text, db="quickstart"):
    """The rows of a SELECT (status must be 200) and the whole first result."""
    status, _, body = http(port, "POST", f"/v1/database/{db}/sql", text)
    if status != 200:
        raise AssertionError(f"SQL {text!r}: {status} {body!r}")
    result = json.loads(body)[0]
    return result["rows"], result


def logs(port):
    status, _, body = http(port, "GET", "/v1/database/quickstart/logs")
    assert status == 200, status
    return [json.loads(line) for line in body.decode().splitlines()]


def parse_metrics(text):
    """{(name, frozenset of label pairs): value} from the Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            raise AssertionError(f"bad metrics line {line!r}")
        labels = frozenset(re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def ws_frame(opcode, payload, fin=True, mask=True):
    """A client frame (masked, as clients must)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_read(conn):
    """(fin, opcode, payload) of one server frame, which must be unmasked."""
    b0, b1 = conn.read_exact(2)
    assert b1 & 0x80 == 0, "server frames are not masked"
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", conn.read_exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", conn.read_exact(8))[0]
    return bool(b0 & 0x80), b0 & 0x0F, conn.read_exact(n)


def ws_handshake_request(key, extra=None):
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
               "Sec-WebSocket-Version": "13"}
    headers.update(extra or {})
    return build_request("GET", "/v1/database/quickstart/subscribe", headers=headers)


class HttpTest(unittest.TestCase):
    """The routes, as a client sees them."""

    def test_reducers_insert_and_sql_sees_exact_rows(self):
        with Server() as s:
            people = [(100, "alice"), (101, "bob")]
            for pid, name in people:
                status, headers, body = call(s.port, "add", [pid, name])
                self.assertEqual((status, body), (200, b""))
                self.assertIn("spacetime-energy-used", headers)
            n, prefix = 3, "p"
            self.assertEqual(call(s.port, "add_many", [n, prefix])[0], 200)
            # auto_inc starts at 1 in a fresh database; the reducer logs the
            # ids written back into its row buffers.
            generated = list(range(1, n + 1))
            self.assertIn(f"added {n} persons, ids [{','.join(map(str, generated))}]",
                          [r["message"] for r in logs(s.port)])
            people += [(i, f"{prefix}{k}") for k, i in enumerate(generated)]

            rows, result = sql(s.port, "SELECT * FROM person")
            self.assertEqual(sorted(map(tuple, rows)), sorted(people))
            self.assertEqual(result["schema"]["elements"], [
                {"name": {"some": "id"}, "algebraic_type": {"U32": []}},
                {"name": {"some": "name"}, "algebraic_type": {"String": []}}])
            self.assertEqual(sql(s.port, "SELECT * FROM person WHERE id = 101")[0], [[101, "bob"]])
            self.assertEqual(sql(s.port, "select name from person where id >= 100 and id <= 101")[0],
                             [["alice"], ["bob"]])
            self.assertEqual(sql(s.port, "SELECT * FROM person WHERE id = 3 AND name = 'nobody'")[0], [])

            _, res = sql(s.port, "INSERT INTO person VALUES (200, 'carol'), (201, 'it''s dave')")
            self.assertEqual(res["stats"]["rows_inserted"], 2)
            self.assertEqual(res["rows"], [])
            self.assertEqual(sql(s.port, "SELECT * FROM person WHERE id >= 200")[0],
                             [[200, "carol"], [201, "it's dave"]])
            _, res = sql(s.port, "DELETE FROM person WHERE id = 201")
            self.assertEqual(res["stats"]["rows_deleted"], 1)
            _, res = sql(s.port, "UPDATE person SET name = 'caroline' WHERE id = 200")
            self.assertEqual(res["stats"]["rows_updated"], 1)
            self.assertEqual(sql(s.port, "SELECT * FROM person WHERE id >= 200")[0], [[200, "caroline"]])

            for text in ("SELECT * FROM nope", "SELECT nope FROM person", "SELEC * FROM person",
                         "SELECT * FROM person WHERE id = 'x'", "INSERT INTO person VALUES (1)"):
                status, _, body = http(s.port, "POST", "/v1/database/quickstart/sql", text)
                self.assertEqual(status, 400, text)
                self.assertTrue(body, text)
            # An SQL INSERT that breaks the primary key changes nothing.
            status, _, _ = http(s.port, "POST", "/v1/database/quickstart/sql",
                                "INSERT INTO person VALUES (300, 'x'), (100, 'dup')")
            self.assertEqual(status, 400)
            self.assertEqual(sql(s.port, "SELECT * FROM person WHERE id = 300")[0], [])

            # Messages: the second table, with its own u64 sequence.
            for sender, text in [(100, "hi"), (101, "hello")]:
                self.assertEqual(call(s.port, "send_message", [sender, text])[0], 200)
            self.assertEqual(sql(s.port, "SELECT * FROM message")[0], [[1, 100, "hi"], [2, 101, "hello"]])

    def test_failed_and_panicking_reducers_roll_back_with_530(self):
        with Server() as s:
            self.assertEqual(call(s.port, "add", [7, "seven"])[0], 200)
            # A unique key violation is the reducer's error: 530, nothing changes.
            status, _, body = call(s.port, "add", [7, "again"])
            self.assertEqual(status, 530)
            self.assertIn(b"UNIQUE_ALREADY_EXISTS", body)
            self.assertEqual(sql(s.port, "SELECT * FROM person WHERE id = 7")[0], [[7, "seven"]])
            # No such table id.
            status, _, body = call(s.port, "insert_into", [4242, 8, "x"])
            self.assertEqual(status, 530)
            self.assertIn(b"NO_SUCH_TABLE", body)
            # The same row through insert_into with person's id goes in.
            table_id = 4096
            self.assertEqual(call(s.port, "insert_into", [table_id, 8, "eight"])[0], 200)

            status, _, body = call(s.port, "fail", [9])
            self.assertEqual((status, body), (530, b"fail: the reducer returned an error"))
            status, _, body = call(s.port, "panic_reducer", [10])
            self.assertEqual((status, body), (530, b"The instance encountered a fatal error."))
            self.assertEqual(sql(s.port, "SELECT * FROM person WHERE id >= 9")[0], [])
            # The trapped instance was replaced: reducers run again.
            self.assertEqual(call(s.port, "add", [11, "eleven"])[0], 200)
            self.assertEqual(sorted(map(tuple, sql(s.port, "SELECT * FROM person")[0])),
                             [(7, "seven"), (8, "eight"), (11, "eleven")])
            messages = [r["message"] for r in logs(s.port)]
            self.assertTrue(any("panic_reducer: the reducer panicked" in m for m in messages), messages)

    def test_scans_see_rows(self):
        with Server() as s:
            ids = [5, 6, 7, 8]
            for i in ids:
                self.assertEqual(call(s.port, "add", [i, f"n{i}"])[0], 200)
            probe = 6
            self.assertEqual(call(s.port, "scan", [probe])[0], 200)
            self.assertEqual(call(s.port, "say_hello", [])[0], 200)
            messages = [r["message"] for r in logs(s.port)]
            at_least = len([i for i in ids if i >= probe])
            self.assertIn(f'scan: {len(ids)} rows; id = {probe}: 1 rows ["n{probe}"]; '
                          f"id >= {probe}: {at_least} rows", messages)
            for i in ids:
                self.assertIn(f"Hello, n{i}!", messages)
            self.assertIn("Hello, World!", messages)

    def test_errors_and_other_routes(self):
        with Server() as s:
            self.assertEqual(http(s.port, "GET", "/v1/ping")[0], 200)
            self.assertEqual(call(s.port, "nope", [])[0], 404)
            self.assertEqual(call(s.port, "add", [1, "x"], db="nodb")[0], 404)
            self.assertEqual(call(s.port, "add", [1])[0], 400)
            self.assertEqual(call(s.port, "add", ["1", "x"])[0], 400)
            self.assertEqual(call(s.port, "add", [-1, "x"])[0], 400)
            self.assertEqual(http(s.port, "POST", "/v1/database/quickstart/call/add", b"[1,", JSON)[0], 400)
            self.assertEqual(http(s.port, "POST", "/v1/database/quickstart/call/add", b'{"id": 1}', JSON)[0], 400)
            # No Content-Type at all is a 400, another type a 415.
            self.assertEqual(http(s.port, "POST", "/v1/database/quickstart/call/add", b'[1,"x"]')[0], 400)
            self.assertEqual(http(s.port, "POST", "/v1/database/quickstart/call/add", b'[1,"x"]',
                                  {"Content-Type": "text/plain"})[0], 415)
            status, headers, _ = http(s.port, "GET", "/v1/database/quickstart/call/add")
            self.assertEqual((status, headers.get("allow")), (405, "POST"))
            self.assertEqual(http(s.port, "GET", "/v1/nothing")[0], 404)
            self.assertEqual(http(s.port, "GET", "/v1/database/nodb/logs")[0], 404)
            self.assertEqual(http(s.port, "POST", "/v1/database/nodb/sql", "SELECT * FROM person")[0], 404)
            # The database by identity as well as by name.
            status, _, body = http(s.port, "GET", "/v1/database/quickstart")
            self.assertEqual(status, 200)
            info = json.loads(body)
            self.assertEqual(info["name"], "quickstart")
            identity = info["database_identity"]
            self.assertRegex(identity, r"^[0-9a-f]{64}$")
            self.assertEqual(call(s.port, "add", [3, "three"], db=identity)[0], 200)
            self.assertEqual(sql(s.port, "SELECT * FROM person", db=identity)[0], [[3, "three"]])
            # Bad requests close the connection after a 4xx/5xx.
            c = Conn(s.port)
            c.send(b"GARBAGE\r\n\r\n")
            self.assertEqual(c.read_response()[0], 400)
            self.assertTrue(c.at_eof())
            c.close()
            c = Conn(s.port)
            c.send(b"GET /v1/ping HTTP/2.0\r\n\r\n")
            self.assertEqual(c.read_response()[0], 505)
            c.close()

    def test_metrics_count_what_happened(self):
        with Server() as s:
            good, bad = 3, 2
            for i in range(good):
                self.assertEqual(call(s.port, "add", [i + 1, "x"])[0], 200)
            for i in range(bad):
                self.assertEqual(call(s.port, "fail", [100 + i])[0], 530)
            self.assertEqual(call(s.port, "panic_reducer", [200])[0], 530)
            identity = json.loads(http(s.port, "GET", "/v1/database/quickstart")[2])["database_identity"]
            status, headers, body = http(s.port, "GET", "/v1/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/plain"))
            m = parse_metrics(body.decode())

            def txns(reducer, committed):
                key = ("spacetime_num_txns_total", frozenset({("txn_type", "Reducer"), ("db", identity),
                                                              ("reducer", reducer), ("committed", committed)}))
                return m.get(key)

            self.assertEqual(txns("add", "true"), good)
            self.assertEqual(txns("fail", "false"), bad)
            self.assertEqual(txns("panic_reducer", "false"), 1)
            inserted = ("spacetime_num_rows_inserted_total",
                        frozenset({("txn_type", "Reducer"), ("db", identity), ("reducer_or_query", "add"),
                                   ("table_id", "4096"), ("table_name", "person")}))
            self.assertEqual(m.get(inserted), good)
            errors = [v for (name, labels), v in m.items()
                      if name == "spacetime_worker_wasm_instance_errors_total" and ("reducer", "panic_reducer") in labels]
            self.assertEqual(errors, [1])
            # One subscription query per table, evaluated after each of the
            # `good` commits (the failed calls commit nothing).
            evaluated = m.get(("spacetime_num_delta_queries_evaluated", frozenset({("db", identity)})))
            self.assertEqual(evaluated, good * 2)

    def test_keep_alive_and_pipelining_answer_in_order(self):
        with Server() as s:
            c = Conn(s.port)
            ids = [41, 42, 43]
            batch = b"".join(build_request("POST", "/v1/database/quickstart/call/add", json.dumps([i, f"k{i}"]), JSON)
                             for i in ids)
            batch += build_request("POST", "/v1/database/quickstart/sql", "SELECT * FROM person WHERE id >= 41")
            batch += build_request("GET", "/v1/ping")
            c.send(batch)
            for _ in ids:
                self.assertEqual(c.read_response()[:1], (200,))
            status, _, body = c.read_response()
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)[0]["rows"], [[i, f"k{i}"] for i in ids])
            self.assertEqual(c.read_response()[0], 200)
            # Still open: one more, split across writes.
            req = build_request("POST", "/v1/database/quickstart/sql", "SELECT name FROM person WHERE id = 42")
            c.send(req[:7])
            c.send(req[7:30])
            c.send(req[30:])
            self.assertEqual(json.loads(c.read_response()[2])[0]["rows"], [["k42"]])
            # Connection: close is honoured after the response.
            c.send(build_request("GET", "/v1/ping", headers={"Connection": "close"}))
            status, headers, _ = c.read_response()
            self.assertEqual((status, headers.get("connection")), (200, "close"))
            self.assertTrue(c.at_eof())
            c.close()
            # HTTP/1.0 closes unless asked to keep alive.
            c = Conn(s.port)
            c.send(build_request("GET", "/v1/ping", version="HTTP/1.0"))
            self.assertEqual(c.read_response()[0], 200)
            self.assertTrue(c.at_eof())
            c.close()
            c = Conn(s.port)
            c.send(build_request("GET", "/v1/ping", headers={"Connection": "keep-alive"}, version="HTTP/1.0") * 2)
            self.assertEqual(c.read_response()[1].get("connection"), "keep-alive")
            self.assertEqual(c.read_response()[0], 200)
            c.close()

    def test_chunked_bodies_and_expect_continue(self):
        with Server() as s:
            c = Conn(s.port)
            args = json.dumps([77, "chunky"]).encode()
            pieces = [args[:3], args[3:8], args[8:]]
            body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: 1\r\n\r\n"
            c.send(build_request("POST", "/v1/database/quickstart/call/add", body,
                                 {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
            self.assertEqual(c.read_response()[0], 200)
            text = b"SELECT * FROM person WHERE id = 77"
            body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, text[:10], len(text) - 10, text[10:])
            c.send(build_request("POST", "/v1/database/quickstart/sql", body, {"Transfer-Encoding": "chunked"}))
            status, _, resp = c.read_response()
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(resp)[0]["rows"], [[77, "chunky"]])
            # Expect: 100-continue gets its interim answer before the body.
            text = b"SELECT name FROM person"
            c.send(build_request("POST", "/v1/database/quickstart/sql", headers={
                "Expect": "100-continue", "Content-Length": str(len(text))}))
            self.assertEqual(c.read_exact(len(b"HTTP/1.1 100 Continue\r\n\r\n")), b"HTTP/1.1 100 Continue\r\n\r\n")
            c.send(text)
            self.assertEqual(json.loads(c.read_response()[2])[0]["rows"], [["chunky"]])
            c.close()
            # A broken chunk size is a 400, and the connection closes.
            c = Conn(s.port)
            c.send(build_request("POST", "/v1/database/quickstart/sql", b"zz\r\nabc\r\n0\r\n\r\n",
                                 {"Transfer-Encoding": "chunked"}))
            self.assertEqual(c.read_response()[0], 400)
            self.assertTrue(c.at_eof())
            c.close()
            # Both framings at once is refused (request smuggling).
            c = Conn(s.port)
            c.send(build_request("POST", "/v1/database/quickstart/sql", b"0\r\n\r\n",
                                 {"Transfer-Encoding": "chunked", "Content-Length": "5"}))
            self.assertEqual(c.read_response()[0], 400)
            c.close()

    def test_websocket_handshake_and_echo(self):
        with Server() as s:
            key = base64.b64encode(os.urandom(16)).decode()
            expected = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
            c = Conn(s.port)
            # The first frame rides in the same write as the handshake.
            c.send(ws_handshake_request(key, {"Sec-WebSocket-Protocol": "v9.nope, v1.json.spacetimedb"})
                   + ws_frame(0x1, b"early"))
            status, headers, _ = c.read_response()
            self.assertEqual(status, 101)
            self.assertEqual(headers["sec-websocket-accept"], expected)
            self.assertEqual(headers["upgrade"].lower(), "websocket")
            self.assertEqual(headers["sec-websocket-protocol"], "v1.json.spacetimedb")
            self.assertEqual(ws_read(c), (True, 0x1, b"early"))
            c.send(ws_frame(0x1, "héllo".encode()))
            self.assertEqual(ws_read(c), (True, 0x1, "héllo".encode()))
            blob = os.urandom(70000)  # a 64-bit length both ways
            c.send(ws_frame(0x2, blob))
            self.assertEqual(ws_read(c), (True, 0x2, blob))
            c.send(ws_frame(0x1, b"frag", fin=False) + ws_frame(0x9, b"ping!") + ws_frame(0x0, b"mented"))
            self.assertEqual(ws_read(c), (True, 0xA, b"ping!"))
            self.assertEqual(ws_read(c), (True, 0x1, b"fragmented"))
            c.send(ws_frame(0x8, struct.pack(">H", 1000) + b"bye"))
            self.assertEqual(ws_read(c), (True, 0x8, struct.pack(">H", 1000)))
            self.assertTrue(c.at_eof())
            c.close()
            echoed = 4  # early, héllo, blob, fragmented
            identity = json.loads(http(s.port, "GET", "/v1/database/quickstart")[2])["database_identity"]
            m = parse_metrics(http(s.port, "GET", "/v1/metrics")[2].decode())
            key_ = ("spacetime_websocket_requests_total",
                    frozenset({("db", identity), ("protocol", "v1.json.spacetimedb")}))
            self.assertEqual(m.get(key_), echoed)

            # An unmasked client frame is a protocol error (close 1002).
            c = Conn(s.port)
            key = base64.b64encode(os.urandom(16)).decode()
            c.send(ws_handshake_request(key))
            self.assertEqual(c.read_response()[0], 101)
            c.send(ws_frame(0x1, b"x", mask=False))
            self.assertEqual(ws_read(c), (True, 0x8, struct.pack(">H", 1002)))
            c.close()
            # Bad handshakes.
            for extra in ({"Sec-WebSocket-Version": "12"}, {"Sec-WebSocket-Key": "c2hvcnQ="},
                          {"Sec-WebSocket-Protocol": "v9.nope"}):
                c = Conn(s.port)
                c.send(ws_handshake_request(base64.b64encode(os.urandom(16)).decode(), extra))
                self.assertEqual(c.read_response()[0], 400, extra)
                c.close()
            status, _, _ = http(s.port, "GET", "/v1/database/quickstart/subscribe")
            self.assertEqual(status, 426)

    def test_threads_are_named_like_spacetimedb(self):
        with Server() as s:
            identity = json.loads(http(s.port, "GET", "/v1/database/quickstart")[2])["database_identity"]
            c = Conn(s.port)  # kept open: its thread is alive
            c.send(build_request("GET", "/v1/ping"))
            self.assertEqual(c.read_response()[0], 200)
            task_dir = f"/proc/{s.proc.pid}/task"
            names = []
            for tid in os.listdir(task_dir):
                try:
                    with open(f"{task_dir}/{tid}/comm") as f:
                        names.append(f.read().strip())
                except FileNotFoundError:
                    pass  # a thread that ended meanwhile (the first request's connection)
            self.assertIn("wasm-" + identity[-10:], names)
            self.assertIn("tokio-runtime-worker"[:15], names)  # the kernel keeps 15 bytes
            self.assertIn("http-listener", names)
            self.assertIn("spacetimedb-sta", names)
            c.close()

    def test_sigterm_and_sigint_exit_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with Server() as s:
                pid_file = os.path.join(s.data_dir, "spacetime.pid")
                with open(pid_file) as f:
                    self.assertEqual(int(f.read()), s.proc.pid)
                self.assertEqual(s.reported_pid, s.proc.pid)
                # An idle keep-alive connection must not hold the exit up.
                c = Conn(s.port)
                c.send(build_request("POST", "/v1/database/quickstart/call/add", "[1,\"x\"]", JSON))
                self.assertEqual(c.read_response()[0], 200)
                code, rest = s.stop(sig)
                self.assertEqual(code, 0, s.stderr_text())
                self.assertIn(f"signal {int(sig)}, stopped", rest)
                self.assertTrue(c.at_eof())
                c.close()
                self.assertFalse(os.path.exists(pid_file))


# The functions the tracer's SpacetimeDB pack hooks, by demangled path, and
# how many instances each must have (generic ones have several).
HOOKED = {
    "spacetimedb::host::instance_env::InstanceEnv::insert": 1,
    "spacetimedb::host::instance_env::InstanceEnv::datastore_table_scan_bsatn_chunks": 1,
    "spacetimedb::host::instance_env::InstanceEnv::datastore_index_scan_point_bsatn_chunks": 1,
    "spacetimedb::host::instance_env::InstanceEnv::datastore_index_scan_range_bsatn_chunks": 1,
    "spacetimedb_datastore::locking_tx_datastore::mut_tx::insert": 2,
    "spacetimedb_table::table::Table::insert_physically_bsatn": 1,
    "spacetimedb::sql::execute::run_inner": 1,
    "spacetimedb_query::compile_sql_stmt": 1,
    "spacetimedb_query::execute_select_stmt": 1,
    "spacetimedb_query::execute_dml_stmt": 1,
    "<spacetimedb::host::wasmtime::wasmtime_module::WasmtimeInstance as "
    "spacetimedb::host::wasm_common::module_host_actor::WasmInstance>::call_reducer": 1,
    "spacetimedb::host::wasm_common::module_host_actor::InstanceCommon::call_reducer_with_tx": 1,
    "spacetimedb::subscription::module_subscription_manager::SubscriptionManager::eval_updates_sequential": 1,
}


def legacy_mangle(path):
    """The legacy Rust mangling of a plain path, up to the hash: what every
    instance's symbol must start with (trait impls excepted)."""
    return "_ZN" + "".join(f"{len(seg)}{seg}" for seg in path.split("::")) + "17h"


def elf_header_and_sections(path):
    """(e_type, section names) of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not an ELF64 LE file"
    e_type = struct.unpack_from("<H", data, 16)[0]
    e_shoff = struct.unpack_from("<Q", data, 0x28)[0]
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def sh(i):
        return struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
    strtab = sh(e_shstrndx)
    names = []
    for i in range(e_shnum):
        off = strtab[4] + sh(i)[0]
        names.append(data[off:data.index(b"\0", off)].decode())
    return e_type, names


class SymbolsTest(unittest.TestCase):
    """The shapes the tracer relies on, read from the built binary."""

    @classmethod
    def setUpClass(cls):
        out = subprocess.run([NM, "--defined-only", "-S", SERVER], check=True, capture_output=True, text=True).stdout
        cls.symbols = []  # (address, size, type, mangled)
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 4:
                cls.symbols.append((int(parts[0], 16), int(parts[1], 16), parts[2], parts[3]))
        mangled = "\n".join(s[3] for s in cls.symbols) + "\n"
        demangled = subprocess.run([CXXFILT], input=mangled, check=True, capture_output=True, text=True).stdout
        # c++filt writes a legacy Rust name with its hash, `path::h<16 hex>`;
        # the path without it is what a config names.
        cls.hashed = demangled.splitlines()
        cls.demangled = [re.sub(r"::h[0-9a-f]{16}$", "", d) for d in cls.hashed]
        assert len(cls.demangled) == len(cls.symbols)
        dyn = subprocess.run([NM, "-D", SERVER], check=True, capture_output=True, text=True).stdout
        cls.dynamic = {line.split()[-1] for line in dyn.splitlines() if line.split()}

    def instances(self, path):
        """(symbol, demangled with hash) of every function whose path is `path`."""
        return [(s, h) for s, d, h in zip(self.symbols, self.demangled, self.hashed) if d == path]

    def test_each_hooked_function_is_a_sized_text_symbol(self):
        for path, count in HOOKED.items():
            found = self.instances(path)
            self.assertEqual(len(found), count, f"{path}: {[s[3] for s, _ in found]}")
            for (addr, size, kind, mangled), hashed in found:
                self.assertRegex(hashed, r"::h[0-9a-f]{16}$", "legacy mangling")
                self.assertIn(kind, "Tt", path)
                self.assertGreaterEqual(size, 16, f"{path} is too small to be a real body")
                # ThinLTO may add `.llvm.<digits>` to a symbol it made
                # module-local (rustc 1.63 does to one mut_tx::insert).
                self.assertRegex(mangled, r"^_ZN.*17h[0-9a-f]{16}E(\.llvm\.\d+)?$", path)
                if not path.startswith("<"):
                    self.assertTrue(mangled.startswith(legacy_mangle(path)), mangled)
                # Not exported: only .symtab has it, as in SpacetimeDB.
                self.assertNotIn(mangled, self.dynamic)
        generic = {s[3] for s, _ in self.instances("spacetimedb_datastore::locking_tx_datastore::mut_tx::insert")}
        self.assertEqual(len(generic), 2, "two instances with distinct hashes")

    def test_trait_impl_mangling(self):
        path = next(p for p in HOOKED if p.startswith("<"))
        (sym, _), = self.instances(path)
        self.assertTrue(sym[3].startswith(
            "_ZN146_$LT$spacetimedb..host..wasmtime..wasmtime_module..WasmtimeInstance$u20$as$u20$"
            "spacetimedb..host..wasm_common..module_host_actor..WasmInstance$GT$12call_reducer17h"), sym[3])

    def test_binary_is_pie_with_symtab_and_no_debuginfo(self):
        e_type, sections = elf_header_and_sections(SERVER)
        self.assertEqual(e_type, 3, "ET_DYN: a position-independent executable")
        self.assertIn(".symtab", sections)
        self.assertIn(".eh_frame", sections)  # panic=unwind
        self.assertFalse([s for s in sections if s.startswith(".debug_")], sections)

    def test_crates_are_separate(self):
        crates = {d.split("::")[0].lstrip("<") for d in self.demangled if "::" in d}
        for crate in ("spacetimedb", "spacetimedb_datastore", "spacetimedb_query", "spacetimedb_client_api",
                      "spacetimedb_table", "spacetimedb_standalone"):
            self.assertIn(crate, crates)


class LaunchersTest(unittest.TestCase):
    """spacetime -> spacetimedb-cli -> spacetimedb-standalone, one pid."""

    def check_chain(self, argv0, data_dir_arg=True, extra_env=None):
        with Server(argv0, data_dir_arg, extra_env) as s:
            self.assertEqual(s.reported_pid, s.proc.pid)
            self.assertEqual(os.path.realpath(f"/proc/{s.proc.pid}/exe"), os.path.realpath(SERVER))
            with open(f"/proc/{s.proc.pid}/comm") as f:
                self.assertEqual(f.read().strip(), "spacetimedb-standalone"[:15])
            with open(f"/proc/{s.proc.pid}/cmdline", "rb") as f:
                argv = f.read().rstrip(b"\0").split(b"\0")
            self.assertEqual(argv[1], b"start")
            self.assertIn(b"--jwt-key-dir", argv)  # added by spacetimedb-cli
            self.assertEqual(http(s.port, "GET", "/v1/ping")[0], 200)
            code, _ = s.stop()
            self.assertEqual(code, 0, s.stderr_text())
            return s

    def test_spacetime_start_keeps_one_pid(self):
        self.check_chain(SPACETIME)

    def test_cli_start_keeps_one_pid(self):
        self.check_chain(CLI)

    def test_default_data_dir_is_xdg(self):
        xdg = tempfile.mkdtemp(prefix="stdbtel-standin-xdg-")
        try:
            with Server(SPACETIME, data_dir_arg=False, extra_env={"XDG_DATA_HOME": xdg}) as s:
                with open(os.path.join(xdg, "spacetime", "data", "spacetime.pid")) as f:
                    self.assertEqual(int(f.read()), s.proc.pid)
                self.assertEqual(s.stop()[0], 0)
        finally:
            shutil.rmtree(xdg, ignore_errors=True)

    def test_other_names_and_commands_are_refused(self):
        update = os.path.join(os.path.dirname(SPACETIME), "spacetimedb-update")
        self.assertEqual(subprocess.run([update, "start"], capture_output=True).returncode, 2)
        self.assertEqual(subprocess.run([CLI, "publish"], capture_output=True).returncode, 2)
        self.assertEqual(subprocess.run([SERVER, "start"], capture_output=True).returncode, 2)  # no --data-dir
        self.assertEqual(subprocess.run([SERVER, "start", "--data-dir", "/tmp", "--bogus"],
                                        capture_output=True).returncode, 2)


PARTS = {"http": HttpTest, "symbols": SymbolsTest, "launchers": LaunchersTest}


def main(argv):
    if len(argv) != 2 or argv[1] not in PARTS:
        print(f"usage: {argv[0]} {'|'.join(PARTS)}", file=sys.stderr)
        return 2
    for var, path in (("STDBTEL_STANDIN_SERVER", SERVER), ("STDBTEL_STANDIN_SPACETIME", SPACETIME),
                      ("STDBTEL_STANDIN_CLI", CLI)):
        if not path or not os.access(path, os.X_OK):
            print(f"{var} is not an executable: {path!r}", file=sys.stderr)
            return 1
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(PARTS[argv[1]])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
