# SPDX-License-Identifier: MIT
"""The shipped SpacetimeDB pack (symbols/spacetimedb.toml) on the stand-in
server (tests/standin), under libstdbtel.so:

  workload   the server under the pack (a copy that adds a traces_file and
             lifts the trace rate limit), the real Etsy statsd daemon, and a
             workload over HTTP: reducer calls that insert into known tables,
             scans, a failing and a panicking reducer, inserts that fail,
             SQL (a bad statement and an INSERT too), a 404. Then exact
             StatsD totals per tag and exact spans per hook (names, kinds,
             table ids, SQL text, reducer names, error status, nesting) and
             per request (route, status, reducer), every number computed
             from what the workload did (class Model).
  launchers  `spacetime start` (spacetime -> spacetimedb-cli ->
             spacetimedb-standalone, one pid, LD_PRELOAD inherited): only
             the server starts the shim, the launchers say they stay inert.
  check      `stdbtel check` of the pack against the stand-in: every hook
             that is not optional resolves, every function a hook names in
             the binary (found independently with nm and c++filt) is
             resolved and patched.

Usage: test_pack.py workload|launchers|check (one meson test each). Paths
come from meson: STDBTEL_STANDIN_SERVER, STDBTEL_STANDIN_SPACETIME,
STDBTEL_LIBRARY, STDBTEL_PRELOAD_FIRST (the ASan runtime, preloaded first
when not empty), STDBTEL_CLI, STDBTEL_SOURCE_ROOT, STDBTEL_NM,
STDBTEL_CXXFILT; STDBTEL_NODE_MODULES (statsd@0.9.0) from the environment.

Every process started here (servers, statsd) is stopped by pid when its
test ends, whether it passed or not. Only 127.0.0.1 is used.
"""
import collections
import fnmatch
import http.client
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest

SERVER = os.environ.get("STDBTEL_STANDIN_SERVER", "")
SPACETIME = os.environ.get("STDBTEL_STANDIN_SPACETIME", "")
LIBRARY = os.environ.get("STDBTEL_LIBRARY", "")
PRELOAD_FIRST = os.environ.get("STDBTEL_PRELOAD_FIRST", "")
CLI = os.environ.get("STDBTEL_CLI", "")
ROOT = os.environ.get("STDBTEL_SOURCE_ROOT", "")
NM = os.environ.get("STDBTEL_NM", "nm")
CXXFILT = os.environ.get("STDBTEL_CXXFILT", "c++filt")
PACK = os.path.join(ROOT, "symbols", "spacetimedb.toml")

sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import peers  # noqa: E402
from peers import StatsdDaemon, free_port, read_spans, stop_process, tagged  # noqa: E402

# Only keeps a hung process from hanging the test; nothing is timed.
TIMEOUT = 30
LISTENING = re.compile(r"^spacetimedb-standalone pid (\d+) listening on 127\.0\.0\.1:(\d+)$")
START_LINE = re.compile(r"^stdbtel: (\S+) \(pid (\d+)\): .*hooks resolved")

# The stand-in's quickstart database (tests/standin/README.md).
PERSON, MESSAGE, ST_SEQUENCE = 4096, 4097, 3
PERSON_ID_INDEX = 4096
CHUNK_SIZE = 4096  # bytes of packed BSATN rows per scan chunk
NO_SUCH_TABLE = 9999

ROUTE_CALL = "/v1/database/{name_or_identity}/call/{reducer}"
ROUTE_SQL = "/v1/database/{name_or_identity}/sql"
KIND_INTERNAL, KIND_SERVER = 1, 2
STATUS_ERROR = 2


def preload_value():
    return peers.preload_value(LIBRARY, PRELOAD_FIRST)


def pack_with_traces(dst, traces):
    """A copy of the shipped pack that also writes spans to `traces` and
    lets every trace start (the pack's 100 new traces a second would sample
    a burst)."""
    with open(PACK) as f:
        lines = f.readlines()
    out, added, lifted = [], 0, 0
    for line in lines:
        if line.startswith("traces_per_second ="):
            line = "traces_per_second = 1000000\n"
            lifted += 1
        out.append(line)
        if line.strip() == "[telemetry]":
            out.append(f'traces_file = "{traces}"\n')
            added += 1
    assert added == 1 and lifted == 1, "the pack has one [telemetry] and one traces_per_second"
    with open(dst, "w") as f:
        f.writelines(out)


class ShimServer:
    """The stand-in (or a launcher that execs it) under libstdbtel.so and a
    copy of the pack, listening on a port chosen here, in a fresh data dir.
    Leaving the context kills it by pid if it still runs."""

    def __init__(self, argv0, env_extra):
        self.tmp = tempfile.mkdtemp(prefix="stdbtel-pack-")
        self.traces = os.path.join(self.tmp, "traces.jsonl")
        self.config = os.path.join(self.tmp, "spacetimedb.toml")
        pack_with_traces(self.config, self.traces)
        self.port = free_port()
        env = dict(os.environ)
        env.update({
            "LD_PRELOAD": preload_value(),
            "STDBTEL_CONFIG": self.config,
            "SPACETIMEDB_TELEMETRY_ENABLED": "true",
            "STDBTEL_HTTP_PORTS": str(self.port),
            # No collector here: the pack's OTLP endpoint stays unused.
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        })
        env.update(env_extra)
        self.stderr_path = os.path.join(self.tmp, "stderr")
        argv = [argv0, "start", "--listen-addr", f"127.0.0.1:{self.port}",
                "--data-dir", os.path.join(self.tmp, "data")]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, preexec_fn=peers.die_with_parent)
        line = self._first_line()
        m = LISTENING.match(line)
        if not m or int(m.group(2)) != self.port:
            raise AssertionError(f"the server says {line!r}; stderr:\n{self.stderr_text()}")
        self.pid = int(m.group(1))

    def _first_line(self):
        out = b""
        deadline = time.monotonic() + TIMEOUT
        fd = self.proc.stdout.fileno()
        while b"\n" not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line from the server in time; stderr:\n{self.stderr_text()}")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise AssertionError(f"the server exited ({self.proc.wait()}); stderr:\n{self.stderr_text()}")
                out += chunk
        return out.split(b"\n", 1)[0].decode("utf-8", "replace")

    def stderr_text(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM, by pid; the exit status."""
        code = stop_process(self.proc)
        self.proc.stdout.close()
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if not self.proc.stdout.closed:
            self.proc.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def person_row_size(name):
    """BSATN bytes of a person row: u32 id, then the name as u32 length + UTF-8."""
    return 4 + 4 + len(name.encode())


def chunks_of(sizes):
    """How many chunks a scan packs rows of these sizes into (the stand-in's
    ChunkPool::pack: greedy, up to CHUNK_SIZE bytes per chunk). Checks that
    the count cannot depend on the order the rows come in."""
    if not sizes:
        return 0
    total, biggest = sum(sizes), max(sizes)
    k = -(-total // CHUNK_SIZE)
    # Greedy packing fills each chunk to more than CHUNK_SIZE - biggest, so k
    # chunks hold everything in any order when this holds:
    assert total <= k * (CHUNK_SIZE - biggest + 1) or k == 1, "workload rows sized so that order cannot matter"
    return k


class Model:
    """What the workload does to the stand-in's quickstart database, and
    what the pack should therefore see: per hook and per tag."""

    def __init__(self):
        self.persons = {}            # committed: id -> name
        self.next_id = {PERSON: 1, MESSAGE: 1}
        self.allocated = set()       # tables whose auto_inc sequence has taken its first block
        self.inserts = collections.Counter()          # table -> InstanceEnv::insert calls
        self.insert_errors = collections.Counter()
        self.datastore_inserts = collections.Counter()  # table -> mut_tx::insert calls
        self.calls = collections.Counter()            # reducer -> call_reducer calls
        self.call_errors = collections.Counter()
        self.inserts_by_reducer = collections.Counter()  # (reducer, table) -> inserts under it
        self.scans = collections.Counter()            # (reducer, "scan" | "index_scan") -> calls
        self.table_scan_chunks = 0
        self.index_scan_chunks = 0
        self.commits = 0             # subscription evaluations: one per committed transaction
        self.sql_commits = 0         # of which SQL DML
        self.sql = []                # (text, ok) per SQL statement

    # ---- reducers (tests/standin/modules/quickstart) ----
    def reducer(self, name, args):
        """Applies one call; the HTTP status the server must answer."""
        self.calls[name] += 1
        tx = dict(self.persons)
        allocated = set()

        def insert(table, row_id, row_name):
            self.inserts[table] += 1
            self.inserts_by_reducer[(name, table)] += 1
            self.datastore_inserts[table] += 1
            if table not in (PERSON, MESSAGE):
                self.insert_errors[table] += 1  # NO_SUCH_TABLE
                return False
            if row_id == 0:
                if table not in self.allocated and table not in allocated:
                    allocated.add(table)
                    self.datastore_inserts[ST_SEQUENCE] += 1  # the st_sequence row of its first block
                row_id = self.next_id[table]
                self.next_id[table] += 1
            if table == PERSON:
                if row_id in tx:
                    self.insert_errors[table] += 1  # UNIQUE_ALREADY_EXISTS
                    return False
                tx[row_id] = row_name
            return True

        def scan(kind, rows):
            self.scans[(name, kind)] += 1
            chunks = chunks_of([person_row_size(n) for n in rows])
            if kind == "scan":
                self.table_scan_chunks += chunks
            else:
                self.index_scan_chunks += chunks

        ok, trapped = True, False
        if name == "add":
            ok = insert(PERSON, args[0], args[1])
        elif name == "add_many":
            ok = all(insert(PERSON, 0, f"{args[1]}{i}") for i in range(args[0]))
        elif name == "send_message":
            ok = insert(MESSAGE, 0, args[1])
        elif name == "insert_into":
            ok = insert(args[0], args[1], args[2])
        elif name == "scan":
            scan("scan", tx.values())
            scan("index_scan", [n for i, n in tx.items() if i == args[0]])
            scan("index_scan", [n for i, n in tx.items() if i >= args[0]])
        elif name == "say_hello":
            scan("scan", tx.values())
        elif name in ("fail", "panic_reducer"):
            insert(PERSON, args[0], name)
            ok, trapped = False, name == "panic_reducer"
        else:
            raise AssertionError(f"the model has no reducer {name}")
        if not ok:
            self.call_errors[name] += 1
            # Kept simple on purpose: a rolled-back transaction must not have taken a sequence block.
            assert not allocated, "the workload allocates sequence blocks in committed transactions only"
            return 530
        self.persons = tx
        self.allocated |= allocated
        self.commits += 1
        return 200

    # ---- SQL (run_inner) ----
    def select(self, text):
        self.sql.append((text, True))
        return 200

    def bad_sql(self, text):
        self.sql.append((text, False))
        return 400

    def sql_insert_person(self, row_id, row_name):
        assert row_id not in self.persons
        self.sql.append((f"INSERT INTO person (id, name) VALUES ({row_id}, '{row_name}')", True))
        self.datastore_inserts[PERSON] += 1
        self.persons[row_id] = row_name
        self.commits += 1
        self.sql_commits += 1
        return 200


class Client:
    """One keep-alive HTTP connection; records every request for the checks."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.requests = []  # (method, route or None, status, reducer or None)

    def request(self, method, path, route, expect, body=None, content_type=None, reducer=None):
        headers = {"Content-Type": content_type} if content_type else {}
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        answer = r.read()
        if r.status != expect:
            raise AssertionError(f"{method} {path}: {r.status} {answer[:200]!r}, expected {expect}")
        self.requests.append((method, route, r.status, reducer))
        return answer

    def call(self, model, reducer, args):
        self.request("POST", f"/v1/database/quickstart/call/{reducer}", ROUTE_CALL, model.reducer(reducer, args),
                     json.dumps(args), "application/json", reducer)

    def sql(self, expect, text):
        self.request("POST", "/v1/database/quickstart/sql", ROUTE_SQL, expect, text, "text/plain")

    def close(self):
        self.conn.close()


# The workload's sizes. Person names of 12-15 BSATN bytes, BULK of them:
# more than one scan chunk, fewer than two full ones.
N_ADDS = 5
BULK = 320
MESSAGES = ("hello", "world", "again")
SELECTS = ("SELECT * FROM person WHERE id = 1001", "SELECT text FROM message", "SELECT * FROM person")
BAD_SQL = "SELEC nonsense FROM person"


def run_workload(client, model):
    for i in range(N_ADDS):
        client.call(model, "add", [1001 + i, f"person{i}"])
    client.call(model, "add_many", [BULK, "bulk"])
    for i, text in enumerate(MESSAGES):
        client.call(model, "send_message", [7 + i, text])
    client.call(model, "add", [1001, "duplicate"])                 # UNIQUE_ALREADY_EXISTS: insert error
    client.call(model, "insert_into", [NO_SUCH_TABLE, 1, "ghost"])  # NO_SUCH_TABLE: insert error
    client.call(model, "fail", [2001])                              # inserts, then returns an error
    client.call(model, "panic_reducer", [2002])                     # inserts, then panics
    client.call(model, "scan", [1002])
    client.call(model, "say_hello", [])
    client.call(model, "scan", [5000])                              # index scans that find nothing
    for text in SELECTS:
        client.sql(model.select(text), text)
    client.sql(model.bad_sql(BAD_SQL), BAD_SQL)
    client.sql(model.sql_insert_person(3001, "sql"), "INSERT INTO person (id, name) VALUES (3001, 'sql')")
    client.request("GET", "/v1/ping", "/v1/ping", 200)
    client.request("GET", "/v1/metrics", "/v1/metrics", 200)
    client.request("GET", "/v1/database/quickstart", "/v1/database/{name_or_identity}", 200)
    client.request("GET", "/v1/database/quickstart/logs", "/v1/database/{name_or_identity}/logs", 200)
    client.request("GET", "/nowhere?x=1", None, 404)
    client.request("POST", "/v1/database/quickstart/call/no_such_reducer", ROUTE_CALL, 404, "[]",
                   "application/json", "no_such_reducer")


class WorkloadTest(unittest.TestCase):
    """The pack on the stand-in: exact StatsD totals and spans."""

    @classmethod
    def setUpClass(cls):
        with open(PACK, "rb") as f:
            cls.pack = tomllib.load(f)
        cls.model = Model()
        daemon = StatsdDaemon().start()
        try:
            with ShimServer(SERVER, {"STATSD_HOST": "127.0.0.1", "STATSD_PORT": str(daemon.port)}) as server:
                client = Client(server.port)
                try:
                    run_workload(client, cls.model)
                finally:
                    client.close()
                code = server.stop()
                cls.stderr = server.stderr_text()
                if code != 0:
                    raise AssertionError(f"the server exited with {code}; stderr:\n{cls.stderr}")
                cls.spans = read_spans(server.traces)
                cls.server_pid = server.pid
            # The exit's last datagrams are in flight; two flushes later they are counted.
            daemon.wait_flushes(2)
            cls.counters = daemon.totals("counter")
            cls.timer_counts = daemon.totals("timer", "count")
        finally:
            daemon.stop()
        cls.requests = client.requests
        cls.by_id = {s["id"]: s for s in cls.spans}

    # ---- helpers ----
    def named(self, name):
        return [s for s in self.spans if s["name"] == name]

    def parent(self, span):
        self.assertIn(span["parent"], self.by_id, f"{span['name']}: its parent span is in the file")
        p = self.by_id[span["parent"]]
        self.assertEqual(p["trace"], span["trace"])
        self.assertLessEqual(p["start"], span["start"])
        self.assertGreaterEqual(p["end"], span["end"])
        return p

    def assertSeries(self, metric, expected, source):
        """The statsd keys of one metric (name or name;tags...) with a non-zero total equal `expected`."""
        got = {k: v for k, v in source.items() if (k == metric or k.startswith(metric + ";")) and v != 0}
        want = {k: v for k, v in expected.items() if v != 0}
        self.assertEqual(got, want, metric)

    def hook_of(self, span):
        return next(h for h in self.pack["hook"] if h["span"] == span)

    # ---- the run ----
    def test_one_shim_start_and_nothing_dropped(self):
        shim_lines = [line for line in self.stderr.splitlines() if line.startswith("stdbtel:")]
        starts = [m for m in map(START_LINE.match, shim_lines) if m]
        self.assertEqual([(m.group(1), int(m.group(2))) for m in starts],
                         [("spacetimedb-standalone", self.server_pid)], self.stderr)
        self.assertEqual(len(shim_lines), 1, f"no warning (a span dropped, a datagram lost, ...):\n{self.stderr}")
        self.assertTrue(self.spans)
        self.assertEqual({s["pid"] for s in self.spans}, {self.server_pid})

    # ---- StatsD ----
    def test_statsd_inserts_per_table(self):
        m = self.model
        self.assertEqual(set(m.inserts), {PERSON, MESSAGE, NO_SUCH_TABLE})
        self.assertSeries("spacetimedb.database.inserts",
                          {tagged("spacetimedb.database.inserts", ("table", t)): n for t, n in m.inserts.items()},
                          self.counters)
        self.assertSeries("spacetimedb.database.insert_duration",
                          {tagged("spacetimedb.database.insert_duration", ("table", t)): n
                           for t, n in m.inserts.items()}, self.timer_counts)
        self.assertEqual(set(m.insert_errors), {PERSON, NO_SUCH_TABLE}, "a duplicate id and a missing table")
        self.assertSeries("spacetimedb.database.insert_errors",
                          {tagged("spacetimedb.database.insert_errors", ("table", t)): n
                           for t, n in m.insert_errors.items()}, self.counters)

    def test_statsd_reducer_calls_per_function(self):
        m = self.model
        self.assertSeries("spacetimedb.wasm.function_calls",
                          {tagged("spacetimedb.wasm.function_calls", ("function", r)): n for r, n in m.calls.items()},
                          self.counters)
        self.assertSeries("spacetimedb.wasm.execution_time",
                          {tagged("spacetimedb.wasm.execution_time", ("function", r)): n for r, n in m.calls.items()},
                          self.timer_counts)
        self.assertEqual(set(m.call_errors), {"add", "insert_into", "fail", "panic_reducer"})
        self.assertSeries("spacetimedb.wasm.execution_errors",
                          {tagged("spacetimedb.wasm.execution_errors", ("function", r)): n
                           for r, n in m.call_errors.items()}, self.counters)

    def test_statsd_sql_statements_and_rows_returned(self):
        m = self.model
        self.assertSeries("spacetimedb.database.selects", {"spacetimedb.database.selects": len(m.sql)}, self.counters)
        self.assertSeries("spacetimedb.database.select_duration",
                          {"spacetimedb.database.select_duration": len(m.sql)}, self.timer_counts)
        # rows_returned counts chunks on the stand-in (see the pack): more than one for a table scan here.
        table_scans = sum(n for (_, k), n in m.scans.items() if k == "scan")
        self.assertGreater(m.table_scan_chunks, table_scans, "a scan of the workload's rows takes two chunks")
        self.assertSeries("spacetimedb.database.rows_returned", {
            tagged("spacetimedb.database.rows_returned", ("table", PERSON)): m.table_scan_chunks,
            tagged("spacetimedb.database.rows_returned", ("index", PERSON_ID_INDEX)): m.index_scan_chunks,
        }, self.counters)

    def test_statsd_api_requests_per_method_route_status_reducer(self):
        requests = collections.Counter()
        errors = collections.Counter()
        for method, route, status, reducer in self.requests:
            tags = [("method", method), ("path", route or "unmatched"), ("status", status)]
            if reducer is not None:
                tags.append(("reducer", reducer))
            requests[tuple(tags)] += 1
            if status >= 500:
                errors[tuple(tags)] += 1
        self.assertEqual(sum(errors.values()), sum(self.model.call_errors.values()), "failed reducers are 530s")
        self.assertSeries("spacetimedb.api.requests",
                          {tagged("spacetimedb.api.requests", *t): n for t, n in requests.items()}, self.counters)
        self.assertSeries("spacetimedb.api.request_duration",
                          {tagged("spacetimedb.api.request_duration", *t): n for t, n in requests.items()},
                          self.timer_counts)
        self.assertSeries("spacetimedb.api.request_errors",
                          {tagged("spacetimedb.api.request_errors", *t): n for t, n in errors.items()}, self.counters)

    # ---- spans: the hooks ----
    def test_span_names_and_kinds(self):
        m = self.model
        n_calls = sum(m.calls.values())
        expected = {
            "spacetimedb.insert": sum(m.inserts.values()),
            "spacetimedb.datastore.insert": sum(m.datastore_inserts.values()),
            "spacetimedb.reducer": n_calls,
            "spacetimedb.reducer.transaction": n_calls,
            "spacetimedb.subscription.eval": m.commits,
            "spacetimedb.scan": sum(n for (_, k), n in m.scans.items() if k == "scan"),
            "spacetimedb.index_scan": sum(n for (_, k), n in m.scans.items() if k == "index_scan"),
            "spacetimedb.sql": len(m.sql),
            "spacetimedb.sql.compile": len(m.sql),
        }
        internal = collections.Counter(s["name"] for s in self.spans if s["kind"] == KIND_INTERNAL)
        self.assertEqual(dict(internal), expected)
        server = [s for s in self.spans if s["kind"] == KIND_SERVER]
        self.assertEqual(len(server), len(self.requests))
        self.assertEqual(len(self.spans), sum(expected.values()) + len(self.requests), "no other kind of span")

    def test_static_attributes_from_the_pack(self):
        for hook in self.pack["hook"]:
            for s in self.named(hook["span"]):
                for k, v in hook.get("attributes", {}).items():
                    if k == "code.function.name" and hook["span"] == "spacetimedb.datastore.insert":
                        continue  # two hooks (1.x and 2.x paths) share the span name
                    self.assertEqual(s["attrs"].get(k), v, f"{hook['span']} {k}")
        for name in ("spacetimedb.insert", "spacetimedb.datastore.insert", "spacetimedb.scan",
                     "spacetimedb.index_scan", "spacetimedb.sql", "spacetimedb.sql.compile"):
            spans = self.named(name)
            self.assertTrue(spans, name)
            for s in spans:
                self.assertEqual(s["attrs"]["db.system.name"], "spacetimedb", name)
                self.assertIn("db.operation.name", s["attrs"], name)
                self.assertIn("code.function.name", s["attrs"], name)

    def test_insert_table_ids_errors_and_parents(self):
        by_reducer = collections.Counter()
        for s in self.named("spacetimedb.insert"):
            table = s["attrs"]["db.collection.id"]
            p = self.parent(s)
            self.assertEqual(p["name"], "spacetimedb.reducer")
            by_reducer[(p["attrs"]["spacetimedb.reducer.name"], table)] += 1
        self.assertEqual(by_reducer, self.model.inserts_by_reducer)
        failed = collections.Counter(s["attrs"]["db.collection.id"] for s in self.named("spacetimedb.insert")
                                     if s["status"] == STATUS_ERROR)
        self.assertEqual(failed, self.model.insert_errors)

    def test_datastore_insert_table_ids_and_parents(self):
        m = self.model
        got = collections.Counter(s["attrs"]["db.collection.id"] for s in self.named("spacetimedb.datastore.insert"))
        self.assertEqual(got, m.datastore_inserts)
        parents = collections.Counter()
        for s in self.named("spacetimedb.datastore.insert"):
            p = self.parent(s)
            parents[p["name"]] += 1
            if p["name"] == "spacetimedb.insert":
                self.assertEqual(p["attrs"]["db.collection.id"], s["attrs"]["db.collection.id"])
            elif p["name"] == "spacetimedb.datastore.insert":  # a sequence block, inside the row's insert
                self.assertEqual(s["attrs"]["db.collection.id"], ST_SEQUENCE)
            else:
                self.assertEqual(p["name"], "spacetimedb.sql")
                self.assertTrue(p["attrs"]["db.query.text"].startswith("INSERT INTO person"))
        self.assertEqual(parents, collections.Counter({
            "spacetimedb.insert": sum(m.inserts.values()),
            "spacetimedb.datastore.insert": m.datastore_inserts[ST_SEQUENCE],
            "spacetimedb.sql": m.sql_commits}))

    def test_reducer_names_errors_and_transactions(self):
        m = self.model
        names = collections.Counter()
        errors = collections.Counter()
        for s in self.named("spacetimedb.reducer"):
            name = s["attrs"]["spacetimedb.reducer.name"]
            names[name] += 1
            if s["status"] == STATUS_ERROR:
                errors[name] += 1
            tx = self.parent(s)
            self.assertEqual(tx["name"], "spacetimedb.reducer.transaction")
            self.assertEqual(tx["parent"], "", "the transaction is the root on the database thread")
            self.assertEqual(tx["status"], s["status"], f"{name}: the transaction fails with its reducer")
        self.assertEqual(names, m.calls)
        self.assertEqual(errors, m.call_errors)
        self.assertIn("panic_reducer", errors, "the panicking reducer's span has error status")

    def test_scans_and_subscriptions(self):
        m = self.model
        scans = collections.Counter()
        for kind, attr, want in (("scan", "db.collection.id", PERSON), ("index_scan", "spacetimedb.index.id",
                                                                         PERSON_ID_INDEX)):
            for s in self.named(f"spacetimedb.{kind}"):
                self.assertEqual(s["attrs"][attr], want)
                self.assertEqual(s["status"], 0)
                p = self.parent(s)
                self.assertEqual(p["name"], "spacetimedb.reducer")
                scans[(p["attrs"]["spacetimedb.reducer.name"], kind)] += 1
        self.assertEqual(scans, m.scans)
        parents = collections.Counter(self.parent(s)["name"] for s in self.named("spacetimedb.subscription.eval"))
        self.assertEqual(parents, collections.Counter({"spacetimedb.reducer.transaction": m.commits - m.sql_commits,
                                                       "spacetimedb.sql": m.sql_commits}))
        offsets = sorted(s["attrs"]["spacetimedb.tx_offset"] for s in self.named("spacetimedb.subscription.eval"))
        self.assertEqual(offsets, list(range(m.commits)), "one evaluation per committed transaction, in order")

    def test_sql_text_and_errors(self):
        m = self.model
        statements = sorted((s["attrs"]["db.query.text"], s["status"] != STATUS_ERROR)
                            for s in self.named("spacetimedb.sql"))
        self.assertEqual(statements, sorted(m.sql))
        for s in self.named("spacetimedb.sql"):
            self.assertEqual(s["parent"], "")
        for s in self.named("spacetimedb.sql.compile"):
            p = self.parent(s)
            self.assertEqual(p["name"], "spacetimedb.sql")
            self.assertEqual(s["attrs"]["db.query.text"], p["attrs"]["db.query.text"])

    # ---- spans: the HTTP requests ----
    def test_http_server_spans_per_request(self):
        got = collections.Counter()
        for s in self.spans:
            if s["kind"] != KIND_SERVER:
                continue
            a = s["attrs"]
            route = a.get("http.route")
            method = a["http.request.method"]
            self.assertEqual(s["name"], f"{method} {route}" if route else method)
            status = a["http.response.status_code"]
            self.assertEqual(s["status"] == STATUS_ERROR, status >= 500, s["name"])
            self.assertEqual(s["parent"], "")
            got[(method, route, status, a.get("spacetimedb.reducer.name"))] += 1
        self.assertEqual(got, collections.Counter(self.requests))
        routes = set(self.pack["http"]["routes"])
        for _, route, _, _ in self.requests:
            self.assertTrue(route is None or route in routes, route)


class LaunchersTest(unittest.TestCase):
    """spacetime start under LD_PRELOAD: the shim starts in the server only."""

    def test_only_the_server_starts_the_shim(self):
        with ShimServer(SPACETIME, {"STDBTEL_LOG": "debug", "STATSD_HOST": "127.0.0.1", "STATSD_PORT": "1"}) as s:
            self.assertEqual(s.pid, s.proc.pid, "one pid through the launchers")
            client = Client(s.port)
            try:
                client.request("GET", "/v1/ping", "/v1/ping", 200)
                client.call(Model(), "add", [1, "launched"])
            finally:
                client.close()
            self.assertEqual(s.stop(), 0, s.stderr_text())
            stderr = s.stderr_text()
            spans = read_spans(s.traces)
        lines = stderr.splitlines()
        starts = [(m.group(1), int(m.group(2))) for m in map(START_LINE.match, lines) if m]
        self.assertEqual(starts, [("spacetimedb-standalone", s.pid)], stderr)
        for launcher in ("spacetimedb-update", "spacetimedb-cli"):
            inert = [l for l in lines if l == f'stdbtel: {launcher} is not in "processes"; not tracing']
            self.assertEqual(len(inert), 1, f"{launcher} stays inert and says so:\n{stderr}")
        self.assertEqual({x["pid"] for x in spans}, {s.pid})
        self.assertEqual(sorted(x["name"] for x in spans if x["kind"] == KIND_SERVER),
                         ["GET /v1/ping", f"POST {ROUTE_CALL}"])
        reducers = [x["attrs"]["spacetimedb.reducer.name"] for x in spans if x["name"] == "spacetimedb.reducer"]
        self.assertEqual(reducers, ["add"])


class CheckTest(unittest.TestCase):
    """stdbtel check of the pack against the stand-in."""

    CHECK_LINE = re.compile(r"^  (\S+)\s+0x([0-9a-f]+)\s+(patched|interposed|NOT HOOKABLE)\s+(.*)$")

    def binary_functions(self):
        """(address, match key) of every sized function in the stand-in's .symtab, by nm and c++filt."""
        nm = subprocess.run([NM, "-S", "--defined-only", SERVER], capture_output=True, text=True, check=True)
        rows = []
        for line in nm.stdout.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] in "Tt":
                rows.append((int(parts[0], 16), parts[3]))
        demangled = subprocess.run([CXXFILT], input="\n".join(m for _, m in rows) + "\n",
                                   capture_output=True, text=True, check=True).stdout.splitlines()
        self.assertEqual(len(demangled), len(rows))
        # The match key: the demangled path without the legacy hash (and rustc 1.63's .llvm. suffix).
        return [(addr, re.sub(r"(\.llvm\.\d+)?::h[0-9a-f]{16}$", "", d)) for (addr, _), d in zip(rows, demangled)]

    def test_every_hook_resolves_and_is_patched(self):
        with open(PACK, "rb") as f:
            pack = tomllib.load(f)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STDBTEL_", "OTEL_", "STATSD_"))}
        out = subprocess.run([CLI, "check", PACK, SERVER], capture_output=True, text=True, env=env, timeout=TIMEOUT)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("NOT HOOKABLE", out.stdout)
        checked = collections.defaultdict(set)
        for line in out.stdout.splitlines():
            m = self.CHECK_LINE.match(line)
            if m:
                self.assertEqual(m.group(3), "patched", line)
                checked[m.group(1)].add(int(m.group(2), 16))
        functions = self.binary_functions()
        expected = collections.defaultdict(set)
        for hook in pack["hook"]:
            found = {a for a, key in functions if fnmatch.fnmatchcase(key, hook["symbol"])}
            if not hook.get("optional", False):
                self.assertTrue(found, f"{hook['symbol']} is not optional, so the stand-in must have it")
            expected[hook["span"]] |= found
        expected = {k: v for k, v in expected.items() if v}
        self.assertEqual(dict(checked), expected)
        # The generic datastore insert has its two instances, and the module-side scans all three.
        self.assertEqual(len(expected["spacetimedb.datastore.insert"]), 2)
        self.assertEqual(len(expected["spacetimedb.scan"]) + len(expected["spacetimedb.index_scan"]), 3)


PARTS = {"workload": WorkloadTest, "launchers": LaunchersTest, "check": CheckTest}


def main(argv):
    for var, path in (("STDBTEL_STANDIN_SERVER", SERVER), ("STDBTEL_STANDIN_SPACETIME", SPACETIME),
                      ("STDBTEL_CLI", CLI)):
        if not path or not os.access(path, os.X_OK):
            print(f"{var} is not an executable: {path!r}", file=sys.stderr)
            return 1
    for var, path in (("STDBTEL_LIBRARY", LIBRARY), ("STDBTEL_PACK (from STDBTEL_SOURCE_ROOT)", PACK)):
        if not path or not os.access(path, os.R_OK):
            print(f"{var} is not readable: {path!r}", file=sys.stderr)
            return 1
    return peers.run_part(PARTS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
