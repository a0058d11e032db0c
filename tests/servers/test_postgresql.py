# SPDX-License-Identifier: MIT
"""Debian's PostgreSQL 15 under libstdbtel.so, not recompiled:

  pack        symbols/postgresql.toml (a copy that adds a traces_file and
              turns on its optional per-table and per-operation tags), the
              real Etsy statsd daemon, pgbench's builtin TPC-B-like script
              (-n, fixed clients and transactions, simple protocol) and a few
              psql statements of the test's own (a DELETE, a rolled-back
              INSERT, a COPY, a CHECKPOINT, a SELECT that fails in the
              executor, the statistics reads). Then exact
              StatsD totals and spans per hook, computed from pgbench's
              report and script (pgbench --show-script) and from what the
              test sent, and compared with what the server counts itself
              (pg_stat_user_tables, pg_stat_statements); query texts on
              spans, spans from every backend (their pids from the server's
              log_connections lines), and a clean fast shutdown (SIGINT)
              after which every backend's and the checkpointer's counts and
              spans are complete.
  everything  every function of postgres's .dynsym that the hook engine
              accepts, hooked (the config `stdbtel config` writes): pgbench
              runs with no error, the TPC-B balances stay consistent, the
              server shuts down cleanly, and the counts agree with the pack's
              rule (see EverythingTest).

Usage: test_postgresql.py pack|everything (one meson test each). Paths come
from meson: STDBTEL_LIBRARY, STDBTEL_CLI, STDBTEL_SOURCE_ROOT;
STDBTEL_NODE_MODULES (statsd@0.9.0) from the environment; PG_BINDIR
overrides /usr/lib/postgresql/15/bin.

PostgreSQL refuses to run as root: as root, initdb and postgres run as the
Debian user `postgres` (set by subprocess itself, so the pid held here is
the postmaster's own and signals reach it), in a temporary directory given
to that user. The server listens on 127.0.0.1 on a port chosen at run time
and on a socket in that directory. Every process started here is stopped by
pid when its test ends, whether it passed or not.
"""
import collections
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest

LIBRARY = os.environ.get("STDBTEL_LIBRARY", "")
CLI = os.environ.get("STDBTEL_CLI", "")
ROOT = os.environ.get("STDBTEL_SOURCE_ROOT", "")
BINDIR = os.environ.get("PG_BINDIR") or "/usr/lib/postgresql/15/bin"
PACK = os.path.join(ROOT, "symbols", "postgresql.toml")

sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import peers  # noqa: E402
from peers import StatsdDaemon, free_port, read_spans, stop_process, tagged  # noqa: E402

# Only keeps a hung process from hanging the test; nothing is timed.
TIMEOUT = 120
START_LINE = re.compile(r"^stdbtel: postgres \(pid (\d+)\): (\d+) of (\d+) hooks resolved to (\d+) functions, "
                        r"(\d+) hooked")
CONNECTION = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] LOG:  connection authorized: .*application_name=(\S+)")
SUPERUSER = "postgres"
DATABASE = "postgres"

# pgbench's workload: small enough for a 2-core machine under the shim.
CLIENTS = 4
# Per client. A backend's spans wait in a ring of 1024 records until the
# exporter drains it (every 200 ms) or the backend exits; a pgbench
# backend makes about 27 spans per transaction and may live less than one
# drain interval, so its spans must fit the ring whatever the timing.
TRANSACTIONS = 30
SCRIPT = "tpcb-like"
# Before its clients connect, pgbench opens a connection of its own to ask
# the scale of the builtin script's tables (select count(*) from
# pgbench_branches) and whether pgbench_accounts is partitioned: two
# statements (found with log_statement=all on 15.18; the test checks both
# the count and that this backend sends nothing else).
PGBENCH_OWN_STATEMENTS = 2
PGBENCH_SCALE_QUERY = "select count(*) from pgbench_branches"

# CmdType (nodes/nodes.h in 15), as the pack's executor hook tags it.
CMD_TYPE = {"SELECT": 1, "UPDATE": 2, "INSERT": 3, "DELETE": 4}
CHECKPOINT_IS_SHUTDOWN = 1
# A span keeps at most 96 bytes of captured strings (README, [[hook.arg]]).
SPAN_TEXT_BYTES = 96
STATUS_ERROR = 2
KIND_SERVER = 2
COPY_ROWS = 3
FAILING = "SELECT 1 / (random() * 0)::int"


def tool(name):
    """A PostgreSQL program: from BINDIR, else PATH; fails naming the package."""
    path = os.path.join(BINDIR, name)
    if os.access(path, os.X_OK):
        return path
    found = shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is missing (not in {BINDIR} nor PATH): install the Debian package "
                             "postgresql (PostgreSQL 15, with pgbench and psql), as scripts/test.sh does")
    return found


def server_user():
    """(uid, gid) to run initdb and postgres as: `postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise AssertionError("running as root, and there is no `postgres` user to run PostgreSQL as "
                             "(the Debian package postgresql creates it)")
    return pw.pw_uid, pw.pw_gid


class Cluster:
    """A fresh data directory (initdb) and the postmaster started on it,
    with or without the shim. stop() is SIGINT (fast shutdown) by pid;
    close() stops what still runs the same way and removes the directory."""

    def __init__(self):
        self.postgres, self.initdb_bin = tool("postgres"), tool("initdb")
        self.psql_bin, self.pgbench_bin = tool("psql"), tool("pgbench")
        self.user = server_user()
        self.tmp = tempfile.mkdtemp(prefix="stdbtel-pg-")
        if self.user is not None:
            os.chown(self.tmp, *self.user)
        self.data = os.path.join(self.tmp, "data")
        self.proc = None
        self.port = None
        self.log_path = None
        self.starts = 0

    def _as_server(self):
        if self.user is None:
            return {}
        return {"user": self.user[0], "group": self.user[1], "extra_groups": []}

    def initdb(self):
        out = subprocess.run([self.initdb_bin, "-D", self.data, "-A", "trust", "-U", SUPERUSER, "-E", "UTF8",
                              "--no-sync"], capture_output=True, text=True, timeout=TIMEOUT,
                             env=self.plain_env(), preexec_fn=peers.die_with_parent, **self._as_server())
        if out.returncode != 0:
            raise AssertionError(f"initdb failed ({out.returncode}):\n{out.stdout}{out.stderr}")

    def plain_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("STDBTEL_", "OTEL_", "STATSD_", "LD_PRELOAD", "PG"))}
        env["LC_ALL"] = "C"
        return env

    def start(self, shim_env=None):
        """Starts the postmaster (under the shim when shim_env is given) and
        waits for it to accept connections."""
        self.starts += 1
        self.port = free_port()
        self.log_path = os.path.join(self.tmp, f"server{self.starts}.log")
        env = self.plain_env()
        if shim_env:
            env.update(shim_env)
        argv = [self.postgres, "-D", self.data, "-k", self.tmp, "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "autovacuum=off", "-c", "fsync=off",
                "-c", "logging_collector=off", "-c", "log_connections=on", "-c", "log_line_prefix=%m [%p] ",
                "-c", "shared_preload_libraries=pg_stat_statements"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                                         preexec_fn=peers.die_with_parent, **self._as_server())
        deadline = time.monotonic() + TIMEOUT
        while "database system is ready to accept connections" not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError(f"postgres exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"postgres not ready in time:\n{self.log()}")
            time.sleep(0.05)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        """Fast shutdown (SIGINT) by pid; the exit status."""
        code = stop_process(self.proc, signal.SIGINT)
        self.proc = None
        return code

    def client_argv(self, program):
        return [program, "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER]

    def psql(self, *statements, stdin=None, error=None):
        """One psql session sending each statement as its own query; its
        output. With `error`, one statement must fail with that message, and
        psql goes on with the next ones."""
        stop = "ON_ERROR_STOP=0" if error else "ON_ERROR_STOP=1"
        argv = self.client_argv(self.psql_bin) + ["-X", "-A", "-t", "-v", stop, "-d", DATABASE]
        for s in statements:
            argv += ["-c", s]
        out = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=TIMEOUT,
                             env=self.plain_env())
        if out.returncode != 0 if error is None else error not in out.stderr:
            raise AssertionError(f"psql {statements}: {out.returncode}\n{out.stdout}{out.stderr}")
        return out.stdout

    def pgbench(self, *args):
        out = subprocess.run(self.client_argv(self.pgbench_bin) + list(args) + [DATABASE], capture_output=True,
                             text=True, timeout=TIMEOUT * 3, env=self.plain_env())
        if out.returncode != 0:
            raise AssertionError(f"pgbench {args}: {out.returncode}\n{out.stdout}{out.stderr}")
        return out.stdout

    def close(self):
        """After a failure: a fast shutdown still stops the backends and
        auxiliary processes with the postmaster (SIGKILL if it hangs)."""
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT)
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def with_tags(config):
    """Turns on the pack's optional tags (its `# tag = ...` lines: runs per
    operation, row writes per table), so that the per-table and
    per-operation counts are checked too; the untagged totals are their sums."""
    with open(config) as f:
        text = f.read()
    tags = text.count("\n# tag = ")
    assert tags == 5, f"the pack has 5 optional tag lines, not {tags}"
    with open(config, "w") as f:
        f.write(text.replace("\n# tag = ", "\ntag = "))


def shim_env(config, statsd_port):
    return {
        "LD_PRELOAD": LIBRARY,
        "STDBTEL_CONFIG": config,
        "STATSD_HOST": "127.0.0.1",
        "STATSD_PORT": str(statsd_port),
        # No collector here: the pack's OTLP endpoint stays unused.
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_BSP_MAX_QUEUE_SIZE": "65536",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
    }


def script_statements(pgbench_show_script):
    """The SQL lines of a pgbench script (not its comments nor \\ meta-commands)."""
    return [line.strip() for line in pgbench_show_script.splitlines()
            if line.strip() and not line.startswith("--") and not line.startswith("\\")]


def sent_as(text, statement, cut):
    """Whether `text` is a script statement as pgbench sends it (simple
    protocol: each :var replaced by its integer), cut to `cut` bytes as the
    span keeps it (the script is ASCII)."""
    parts = re.split(r":[a-z_]+", statement)
    at = 0
    for i, literal in enumerate(parts):
        if i > 0:
            m = re.compile(r"-?\d+").match(text, at)
            if m is None:
                return len(text) == at == cut
            at = m.end()
        if not text.startswith(literal, at):
            return len(text) == cut and literal.startswith(text[at:])
        at += len(literal)
    return at == len(text)


def cut_text(text, cut):
    """What a span keeps of a string: its first `cut` bytes."""
    return text.encode()[:cut].decode("utf-8", "ignore")


def pgss_pattern(statement):
    """A regex for the same statement as pg_stat_statements stores it: each :var a $n, no ';'."""
    parts = re.split(r":[a-z_]+", statement.rstrip(";"))
    return re.compile(r"\$\d+".join(map(re.escape, parts)) + "$")


def report_number(report, label):
    m = re.search(rf"^{re.escape(label)}: (\d+)", report, re.M)
    if not m:
        raise AssertionError(f"pgbench's report has no {label!r}:\n{report}")
    return int(m.group(1))


def operation_of(statement):
    """The CmdType a statement's top-level executor run has, or None (utility: no executor run)."""
    word = statement.split(None, 1)[0].upper()
    return CMD_TYPE.get(word)


class PackTest(unittest.TestCase):
    """The pack under pgbench and a few psql statements: exact counts."""

    @classmethod
    def setUpClass(cls):
        with open(PACK, "rb") as f:
            cls.pack = tomllib.load(f)
        cls.psql_sent = []           # every statement the test sent through psql while the shim ran
        cluster = Cluster()          # first: it names a missing PostgreSQL program
        daemon = None
        try:
            daemon = StatsdDaemon().start()
            cls.run_cluster(cluster, daemon)
            # The exit's last datagrams are in flight; two flushes later they are counted.
            daemon.wait_flushes(2)
            cls.counters = daemon.totals("counter")
            cls.timer_counts = daemon.totals("timer", "count")
            print(f"pack: {len(cls.spans)} spans from {len({x['pid'] for x in cls.spans})} processes; StatsD "
                  + ", ".join(f"{k} {v:g}" for k, v in sorted(cls.counters.items())
                              if k.startswith("postgresql.")), file=sys.stderr)
        finally:
            cluster.close()
            if daemon is not None:
                daemon.stop()

    @classmethod
    def run_cluster(cls, cluster, daemon):
        cluster.initdb()
        # pgbench's tables, before the measured part: without the shim.
        cluster.start()
        cluster.psql("CREATE EXTENSION pg_stat_statements")
        cluster.pgbench("-i", "-q")
        if cluster.stop() != 0:
            raise AssertionError(f"the plain server did not stop cleanly:\n{cluster.log()}")

        traces = os.path.join(cluster.tmp, "traces.jsonl")
        config = os.path.join(cluster.tmp, "postgresql.toml")
        peers.config_with_traces(PACK, config, traces)
        with_tags(config)
        if cluster.user is not None:
            os.chown(config, *cluster.user)  # readable by the server's user
        cluster.start(shim_env(config, daemon.port))
        cls.postmaster_pid = cluster.proc.pid
        cls.script = script_statements(subprocess.run([cluster.pgbench_bin, f"--show-script={SCRIPT}"],
                                                      capture_output=True, text=True, check=True).stderr)
        cls.tables = {}
        cls.before = cls.table_stats(cluster)
        cls.send(cluster, "SELECT pg_stat_statements_reset()")
        cls.report = cluster.pgbench("-n", "-b", SCRIPT, "-c", str(CLIENTS), "-t", str(TRANSACTIONS))
        cls.workload(cluster)
        cls.after = cls.table_stats(cluster)
        cls.pgss = cls.statements_stats(cluster)
        cls.exit_code = cluster.stop()
        cls.log = cluster.log()
        cls.spans = read_spans(traces)

    @classmethod
    def send(cls, cluster, *statements, stdin=None, error=None):
        cls.psql_sent.append(list(statements))
        return cluster.psql(*statements, stdin=stdin, error=error)

    @classmethod
    def workload(cls, cluster):
        """The test's own statements after pgbench: one of each kind of row
        write the pack follows, a rollback and a checkpoint."""
        out = cls.send(cluster, "DELETE FROM pgbench_history WHERE tid = (SELECT min(tid) FROM pgbench_history)")
        cls.deleted = int(re.fullmatch(r"DELETE (\d+)\n", out).group(1))
        cls.send(cluster, "BEGIN", "INSERT INTO pgbench_history (tid, bid, aid, delta) VALUES (1, 1, 1, 0)",
                 "ROLLBACK")
        rows = "".join(f"{i}\t1\t{i}\t0\t\\N\t\\N\n" for i in range(1, COPY_ROWS + 1))
        out = cls.send(cluster, "COPY pgbench_history FROM STDIN", stdin=rows)
        assert out == f"COPY {COPY_ROWS}\n", out
        cls.send(cluster, "CHECKPOINT")
        # An ERROR raised in the executor (random() keeps the planner from
        # folding the division): PostgreSQL longjmps out of standard_ExecutorRun
        # and PortalRun, whose spans get error status. The shim finds such
        # calls at the backend's next hooked call: the session goes on.
        out = cls.send(cluster, FAILING, "SELECT 1", error="division by zero")
        assert out == "1\n", out
        # The same as a session's last statement: the backend exits with
        # no hooked call after the longjmp, and the shim's exit handler
        # finds those calls on the stack it walks.
        cls.send(cluster, FAILING, error="division by zero")
        # Statistics reach pg_stat_* when a backend exits (or each second):
        # wait until every other client backend has gone.
        while True:
            n = int(cls.send(cluster, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                                      "AND pid <> pg_backend_pid()"))
            if n == 0:
                break
            time.sleep(0.1)

    @classmethod
    def table_stats(cls, cluster):
        out = cls.send(cluster, "SELECT relname, relid, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
                                "WHERE relname LIKE 'pgbench%' ORDER BY relname")
        stats = {}
        for line in out.splitlines():
            name, oid, ins, upd, dele = line.split("|")
            cls.tables[name] = int(oid)
            stats[name] = (int(ins), int(upd), int(dele))
        assert set(stats) == {"pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers"}, out
        return stats

    @classmethod
    def statements_stats(cls, cluster):
        out = cls.send(cluster, "SELECT calls, query FROM pg_stat_statements")
        calls = collections.Counter()
        for line in out.splitlines():
            n, _, query = line.partition("|")
            calls[query] += int(n)
        return calls

    # ---- what the workload did ----
    def processed(self):
        n = report_number(self.report, "number of transactions actually processed")
        self.assertEqual(n, CLIENTS * TRANSACTIONS, self.report)
        self.assertEqual(report_number(self.report, "number of failed transactions"), 0, self.report)
        return n

    def psql_statements(self):
        return [s for session in self.psql_sent for s in session]

    def expected_statements(self):
        return self.processed() * len(self.script) + PGBENCH_OWN_STATEMENTS + len(self.psql_statements())

    def delta(self, table, column):
        return self.after[table][column] - self.before[table][column]

    def backends(self):
        """pid -> application_name of every connection the server logged."""
        return {int(m.group(1)): m.group(2) for m in map(CONNECTION.match, self.log.splitlines()) if m}

    def named(self, name):
        return [s for s in self.spans if s["name"] == name]

    def assertSeries(self, metric, expected, source):
        """The statsd keys of one metric (name or name;tags...) with a non-zero total equal `expected`."""
        got = {k: v for k, v in source.items() if (k == metric or k.startswith(metric + ";")) and v != 0}
        want = {k: v for k, v in expected.items() if v != 0}
        self.assertEqual(got, want, metric)

    def table_of(self, span):
        """A row write span's table name, checked against its OID (pg_stat_user_tables.relid)."""
        name = span["attrs"]["db.collection.name"]
        self.assertEqual(span["attrs"]["db.collection.id"], self.tables.get(name), name)
        return name

    def per_table(self, metric, counts):
        """StatsD keys per table: the pack tags row writes with the table's OID."""
        return {tagged(metric, ("table", self.tables[t])): n for t, n in counts.items()}

    # ---- the run ----
    def test_start_shutdown_and_nothing_dropped(self):
        self.assertEqual(self.exit_code, 0, self.log)
        self.assertIn("database system is shut down", self.log)
        shim_lines = [line for line in self.log.splitlines() if line.startswith("stdbtel:")]
        starts = [m for m in map(START_LINE.match, shim_lines) if m]
        n = len(self.pack["hook"])
        self.assertEqual([tuple(int(g) for g in m.groups()) for m in starts],
                         [(self.postmaster_pid, n, n, n, n)], self.log)
        self.assertEqual(len(shim_lines), 1, f"no warning (a span dropped, a datagram lost, ...):\n{self.log}")

    def test_spans_from_every_backend(self):
        backends = self.backends()
        apps = collections.Counter(backends.values())
        self.assertEqual(apps["pgbench"], CLIENTS + 1, "the clients and pgbench's own connection")
        self.assertEqual(apps["psql"], len(self.psql_sent))
        with_statements = {s["pid"] for s in self.named("postgresql.statement")}
        self.assertEqual(with_statements, set(backends))
        for s in self.spans:
            self.assertEqual(s["attrs"].get("db.system.name"), "postgresql", s["name"])

    # ---- statements ----
    def statement_texts(self):
        """pid -> the db.query.text of its statement spans, in order."""
        by_pid = collections.defaultdict(list)
        for s in sorted(self.named("postgresql.statement"), key=lambda s: s["start"]):
            by_pid[s["pid"]].append(s["attrs"]["db.query.text"])
        return by_pid

    def test_statement_counts(self):
        n = self.expected_statements()
        self.assertSeries("postgresql.statements", {"postgresql.statements": n}, self.counters)
        self.assertSeries("postgresql.statement_duration", {"postgresql.statement_duration": n}, self.timer_counts)
        failing = self.psql_statements().count(FAILING)
        self.assertSeries("postgresql.statement_errors", {"postgresql.statement_errors": failing}, self.counters)
        self.assertEqual(len(self.named("postgresql.statement")), n)
        # One query string per statement here (simple protocol, one statement each), each parsed once.
        self.assertSeries("postgresql.parses", {"postgresql.parses": n}, self.counters)
        self.assertEqual(len(self.named("postgresql.parse")), n)
        self.assertSeries("postgresql.parse_errors", {}, self.counters)
        failed = []
        for s in self.named("postgresql.statement"):
            self.assertEqual(s["kind"], KIND_SERVER)
            if s["status"] == STATUS_ERROR:
                failed.append(s["attrs"]["db.query.text"])
        self.assertEqual(failed, [FAILING] * failing)

    def test_statement_texts_per_backend(self):
        backends = self.backends()
        texts = self.statement_texts()
        clients = own = 0
        psql_sessions = []
        for pid, app in backends.items():
            if app == "psql":
                psql_sessions.append(texts[pid])
            elif texts[pid] and texts[pid][0] == PGBENCH_SCALE_QUERY:
                own += 1
                self.assertEqual(len(texts[pid]), PGBENCH_OWN_STATEMENTS, texts[pid])
            else:
                clients += 1
                self.assertEqual(len(texts[pid]), TRANSACTIONS * len(self.script))
                for i, text in enumerate(texts[pid]):
                    statement = self.script[i % len(self.script)]
                    self.assertTrue(sent_as(text, statement, SPAN_TEXT_BYTES), f"{text!r} is not {statement!r}")
        self.assertEqual((clients, own), (CLIENTS, 1))
        self.assertEqual(sorted(psql_sessions),
                         sorted([cut_text(x, SPAN_TEXT_BYTES) for x in session] for session in self.psql_sent))
        # The parse spans carry the same texts.
        self.assertEqual(collections.Counter(s["attrs"]["db.query.text"] for s in self.named("postgresql.parse")),
                         collections.Counter(t for ts in texts.values() for t in ts))

    def test_statement_counts_match_pg_stat_statements(self):
        """pg_stat_statements counts each script statement once per transaction, as the spans do."""
        n = self.processed()
        for statement in self.script:
            p = pgss_pattern(statement)
            calls = sum(c for q, c in self.pgss.items() if p.match(q))
            spans = sum(1 for s in self.named("postgresql.statement")
                        if sent_as(s["attrs"]["db.query.text"], statement, SPAN_TEXT_BYTES))
            # The test's own BEGIN is the same statement to both.
            own_pgss = sum(1 for s in self.psql_statements() if p.match(s.rstrip(";")))
            own_spans = sum(1 for s in self.psql_statements() if sent_as(s, statement, SPAN_TEXT_BYTES))
            self.assertEqual(calls - own_pgss, n, statement)
            self.assertEqual(spans - own_spans, n, statement)

    # ---- the executor ----
    def test_executor_runs_per_operation(self):
        n = self.processed()
        runs = collections.Counter()
        for statement in self.script:
            if operation_of(statement):
                runs[operation_of(statement)] += n
        runs[CMD_TYPE["SELECT"]] += PGBENCH_OWN_STATEMENTS
        for statement in self.psql_statements():
            if operation_of(statement):
                runs[operation_of(statement)] += 1
        self.assertSeries("postgresql.executor.runs",
                          {tagged("postgresql.executor.runs", ("operation", op)): k for op, k in runs.items()},
                          self.counters)
        spans = self.named("postgresql.executor.run")
        got = collections.Counter(s["attrs"]["db.postgresql.command_type"] for s in spans)
        self.assertEqual(got, runs)
        # The failing SELECT's run raised the ERROR.
        self.assertSeries("postgresql.executor.run_errors",
                          {tagged("postgresql.executor.run_errors", ("operation", CMD_TYPE["SELECT"])):
                           self.psql_statements().count(FAILING)}, self.counters)
        self.assertEqual([s["attrs"]["db.query.text"] for s in spans if s["status"] == STATUS_ERROR],
                         [FAILING] * self.psql_statements().count(FAILING))

    def test_executor_spans_are_children_of_their_statement(self):
        by_id = {s["id"]: s for s in self.spans}
        for s in self.named("postgresql.executor.run"):
            p = by_id.get(s["parent"])
            self.assertIsNotNone(p, "a top-level executor run is inside its statement")
            self.assertEqual(p["name"], "postgresql.statement")
            self.assertEqual(s["attrs"]["db.query.text"], p["attrs"]["db.query.text"])
            self.assertEqual(s["trace"], p["trace"])

    # ---- row writes ----
    def test_heap_inserts_per_table(self):
        n = self.processed()
        inserts = collections.Counter({"pgbench_history": n + 1})  # the script's INSERT, and the rolled-back one
        self.assertSeries("postgresql.rows.inserted", self.per_table("postgresql.rows.inserted", inserts),
                          self.counters)
        self.assertSeries("postgresql.rows.multi_inserted",
                          self.per_table("postgresql.rows.multi_inserted", {"pgbench_history": COPY_ROWS}),
                          self.counters)
        # The server counts the rows inserted, committed or not, COPY's included.
        self.assertEqual(self.delta("pgbench_history", 0), inserts["pgbench_history"] + COPY_ROWS)
        for t in ("pgbench_accounts", "pgbench_branches", "pgbench_tellers"):
            self.assertEqual(self.delta(t, 0), 0, t)
        by_id = {s["id"]: s for s in self.spans}
        self.assertEqual(collections.Counter(self.table_of(s) for s in self.named("postgresql.heap.insert")), inserts)
        self.assertEqual([self.table_of(s) for s in self.named("postgresql.heap.multi_insert")], ["pgbench_history"])
        batches = self.named("postgresql.heap.multi_insert")
        self.assertEqual([s["attrs"]["db.postgresql.multi_insert.rows"] for s in batches], [COPY_ROWS])
        for s in self.named("postgresql.heap.insert"):
            self.assertEqual(by_id[s["parent"]]["name"], "postgresql.executor.run")
            self.assertEqual(by_id[s["parent"]]["attrs"]["db.postgresql.command_type"], CMD_TYPE["INSERT"])

    def test_heap_updates_and_deletes_per_table(self):
        n = self.processed()
        updates = collections.Counter()
        for statement in self.script:
            m = re.match(r"UPDATE (\w+) ", statement)
            if m:
                updates[m.group(1)] += n
        self.assertEqual(len(updates), 3, self.script)
        # A call that found its row updated by a concurrent client is a
        # conflict: the executor then updates the row's new version.
        calls, conflicts = collections.Counter(), collections.Counter()
        for k, v in self.counters.items():
            metric, _, oid = k.partition(";table=")
            table = {str(o): name for name, o in self.tables.items()}.get(oid, oid)
            if metric == "postgresql.rows.update_calls":
                calls[table] += v
            elif metric == "postgresql.rows.update_conflicts":
                conflicts[table] += v
        rows = {t: calls[t] - conflicts[t] for t in calls if calls[t] - conflicts[t]}
        self.assertEqual(rows, dict(updates))
        for t in self.tables:
            self.assertEqual(self.delta(t, 1), updates[t], t)
        spans = self.named("postgresql.heap.update")
        self.assertEqual(collections.Counter(self.table_of(s) for s in spans if s["status"] == 0), updates)
        self.assertEqual(collections.Counter(self.table_of(s) for s in spans if s["status"] == STATUS_ERROR),
                         conflicts)
        self.assertGreater(self.deleted, 0)
        deletes = {"pgbench_history": self.deleted}
        self.assertSeries("postgresql.rows.delete_calls", self.per_table("postgresql.rows.delete_calls", deletes),
                          self.counters)
        self.assertSeries("postgresql.rows.delete_conflicts", {}, self.counters)
        self.assertEqual(self.delta("pgbench_history", 2), self.deleted)
        self.assertEqual(collections.Counter(self.table_of(s) for s in self.named("postgresql.heap.delete")),
                         deletes)

    # ---- transactions, WAL, checkpoints ----
    def test_commit_and_abort_records(self):
        n = self.processed()
        # Every pgbench transaction writes; of the test's own, the DELETE and
        # the COPY commit a write, the INSERT is rolled back, the rest only read.
        commits = n + 2
        self.assertSeries("postgresql.transaction.commits", {"postgresql.transaction.commits": commits},
                          self.counters)
        self.assertSeries("postgresql.transaction.aborts", {"postgresql.transaction.aborts": 1}, self.counters)
        self.assertEqual(len(self.named("postgresql.transaction.commit_record")), commits)
        self.assertEqual(len(self.named("postgresql.transaction.abort_record")), 1)
        # Each of those commits waits for its WAL (synchronous_commit is on).
        self.assertGreaterEqual(self.counters["postgresql.wal.flushes"], commits)
        self.assertEqual(len(self.named("postgresql.wal.flush")), self.counters["postgresql.wal.flushes"])

    def test_checkpoints(self):
        """The CHECKPOINT statement's and the shutdown's, both in the checkpointer, the last one exported at exit."""
        spans = sorted(self.named("postgresql.checkpoint"), key=lambda s: s["start"])
        self.assertEqual(len(spans), 2)
        self.assertSeries("postgresql.checkpoints", {"postgresql.checkpoints": 2}, self.counters)
        self.assertSeries("postgresql.checkpoint_duration", {"postgresql.checkpoint_duration": 2}, self.timer_counts)
        flags = [s["attrs"]["db.postgresql.checkpoint.flags"] for s in spans]
        self.assertEqual([f & CHECKPOINT_IS_SHUTDOWN for f in flags], [0, CHECKPOINT_IS_SHUTDOWN], flags)
        self.assertEqual(len({s["pid"] for s in spans}), 1)
        self.assertNotIn(spans[0]["pid"], self.backends())
        self.assertNotEqual(spans[0]["pid"], self.postmaster_pid)

    def test_spans_match_statsd_counts(self):
        """Every sampled call made a span and every span was written: per hook, spans == StatsD count."""
        for hook in self.pack["hook"]:
            count = hook.get("metrics", {}).get("count")
            if count:
                total = sum(v for k, v in self.counters.items() if k == count or k.startswith(count + ";"))
                self.assertEqual(len(self.named(hook["span"])), total, hook["span"])


def dynsym_functions(binary):
    """The names of the functions a binary defines in .dynsym, by readelf."""
    out = subprocess.run(["readelf", "-W", "--dyn-syms", binary], capture_output=True, text=True, timeout=TIMEOUT)
    if out.returncode != 0:
        raise AssertionError(f"readelf failed (Debian package binutils):\n{out.stderr}")
    names = set()
    for line in out.stdout.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == "FUNC" and f[6] != "UND":
            names.add(f[7].split("@")[0])
    return names


def generated_config(binary, prefix):
    """`stdbtel config BINARY --metrics PREFIX`: (its text, the hooked names, name -> refusal reason, its summary)."""
    out = subprocess.run([CLI, "config", binary, "--metrics", prefix], capture_output=True, text=True,
                         timeout=TIMEOUT)
    if out.returncode != 0:
        raise AssertionError(f"stdbtel config failed ({out.returncode}):\n{out.stderr}")
    hooks = [h["symbol"] for h in tomllib.loads(out.stdout).get("hook", [])]
    refused = {}
    for line in out.stdout.splitlines():
        m = re.match(r"^# (\S+): (.+)$", line)
        if m and not line.startswith("# stdbtel config:"):
            refused[m.group(1)] = m.group(2)
    summary = [line for line in out.stderr.splitlines() if line.startswith("stdbtel:") and "can be hooked" in line]
    return out.stdout, hooks, refused, summary


def wait_gone(pids):
    """Waits until none of these processes (the server's children) exists any more."""
    deadline = time.monotonic() + TIMEOUT
    for pid in pids:
        while os.path.exists(f"/proc/{pid}"):
            if time.monotonic() > deadline:
                raise AssertionError(f"backend {pid} still runs")
            time.sleep(0.02)


class EverythingTest(unittest.TestCase):
    """Every function of postgres's .dynsym that the engine accepts, hooked
    (counted per function in StatsD): pgbench's initialisation and a run,
    then the data, the shutdown and the counts."""

    PREFIX = "pgall"

    @classmethod
    def setUpClass(cls):
        cls.psql_sent = []
        cluster = Cluster()
        daemon = None
        try:
            daemon = StatsdDaemon().start()
            cls.functions = dynsym_functions(cluster.postgres)
            text, cls.hooks, cls.refused, cls.summary = generated_config(cluster.postgres, cls.PREFIX)
            reasons = collections.Counter(re.sub(r" \(.*", "", r) for r in cls.refused.values())
            print(f"stdbtel config: {len(cls.hooks)} functions accepted, {len(cls.refused)} refused "
                  f"({', '.join(f'{n} {r}' for r, n in reasons.most_common())}) of {len(cls.functions)} "
                  "in .dynsym", file=sys.stderr)
            for name, reason in sorted(cls.refused.items()):
                print(f"  refused {name}: {reason}", file=sys.stderr)
            config = os.path.join(cluster.tmp, "everything.toml")
            with open(config, "w") as f:
                f.write(text)
            if cluster.user is not None:
                os.chown(config, *cluster.user)
            cluster.initdb()
            cluster.start(shim_env(config, daemon.port))
            cls.postmaster_pid = cluster.proc.pid
            cls.script = script_statements(subprocess.run([cluster.pgbench_bin, f"--show-script={SCRIPT}"],
                                                          capture_output=True, text=True, check=True).stderr)
            # The initialisation (DDL, COPY, VACUUM, index builds) runs hooked
            # too, but its counts are set aside: its backend must have exited
            # (and sent its last counts) before the totals are read.
            cluster.pgbench("-i", "-q")
            wait_gone(pid for pid, app in cls.backends_of(cluster.log()).items() if app == "pgbench")
            daemon.wait_flushes(2)
            cls.before = daemon.totals("counter")
            cls.report = cluster.pgbench("-n", "-b", SCRIPT, "-c", str(CLIENTS), "-t", str(TRANSACTIONS))
            cls.sums = cls.send(cluster, "SELECT (SELECT sum(abalance) FROM pgbench_accounts), "
                                "(SELECT sum(delta) FROM pgbench_history), "
                                "(SELECT sum(bbalance) FROM pgbench_branches), "
                                "(SELECT sum(tbalance) FROM pgbench_tellers), (SELECT count(*) FROM pgbench_history)")
            cls.exit_code = cluster.stop()
            cls.log = cluster.log()
            daemon.wait_flushes(2)
            cls.after = daemon.totals("counter")
            ran = {k: cls.after[k] - cls.before[k] for k in cls.after if cls.after[k] > cls.before[k]}
            print(f"everything: {len(ran)} functions called during the pgbench run, "
                  f"{sum(ran.values()):g} calls", file=sys.stderr)
        finally:
            cluster.close()
            if daemon is not None:
                daemon.stop()

    @staticmethod
    def backends_of(log):
        return {int(m.group(1)): m.group(2) for m in map(CONNECTION.match, log.splitlines()) if m}

    @classmethod
    def send(cls, cluster, *statements):
        cls.psql_sent.append(list(statements))
        return cluster.psql(*statements)

    def calls(self, function):
        key = f"{self.PREFIX}.{function}.calls"
        return self.after[key] - self.before[key]

    def processed(self):
        n = report_number(self.report, "number of transactions actually processed")
        self.assertEqual(n, CLIENTS * TRANSACTIONS, self.report)
        self.assertEqual(report_number(self.report, "number of failed transactions"), 0, self.report)
        return n

    def test_config_covers_dynsym(self):
        """Each function of .dynsym is either hooked or refused with a reason, once."""
        self.assertEqual(len(self.hooks), len(set(self.hooks)))
        self.assertEqual(set(self.hooks) | set(self.refused), self.functions)
        self.assertEqual(set(self.hooks) & set(self.refused), set())
        self.assertEqual(len(self.summary), 1, self.summary)
        self.assertIn(f"{len(self.hooks)} of {len(self.functions)}", self.summary[0])

    def test_every_accepted_function_hooked(self):
        starts = [m for m in map(START_LINE.match, self.log.splitlines()) if m]
        n = len(self.hooks)
        self.assertEqual([tuple(int(g) for g in m.groups()) for m in starts],
                         [(self.postmaster_pid, n, n, n, n)],
                         "\n".join(line for line in self.log.splitlines() if line.startswith("stdbtel:"))[:4000])

    def test_pgbench_ran_without_errors(self):
        self.processed()

    def test_balances_consistent(self):
        accounts, history, branches, tellers, rows = (int(x) for x in self.sums.strip().split("|"))
        self.assertEqual(rows, self.processed())
        self.assertEqual((accounts, branches, tellers), (history, history, history))

    def test_clean_shutdown(self):
        self.assertEqual(self.exit_code, 0, self.log[-4000:])
        self.assertIn("database system is shut down", self.log)
        self.assertNotIn("terminated by signal", self.log)

    def test_counts_follow_the_packs_rules(self):
        n = self.processed()
        psql = [s for session in self.psql_sent for s in session]
        statements = n * len(self.script) + PGBENCH_OWN_STATEMENTS + len(psql)
        self.assertEqual(self.calls("PortalRun"), statements)
        self.assertEqual(self.calls("pg_parse_query"), statements)
        selects = sum(1 for s in self.script if operation_of(s)) * n + PGBENCH_OWN_STATEMENTS + \
            sum(1 for s in psql if operation_of(s))
        self.assertEqual(self.calls("standard_ExecutorRun"), selects)
        self.assertEqual(self.calls("ExecutorRun"), selects)
        inserts = sum(1 for s in self.script if operation_of(s) == CMD_TYPE["INSERT"]) * n
        self.assertGreaterEqual(self.calls("heap_insert"), inserts)
        updates = sum(1 for s in self.script if operation_of(s) == CMD_TYPE["UPDATE"]) * n
        self.assertGreaterEqual(self.calls("heap_update"), updates)
        self.assertEqual(self.calls("XactLogCommitRecord"), n)  # the test's own statements only read
        self.assertGreaterEqual(self.calls("XLogFlush"), n)
        self.assertEqual(self.calls("CreateCheckPoint"), 1, "the shutdown checkpoint")


PARTS = {"pack": PackTest, "everything": EverythingTest}


def main(argv):
    for name, value in (("STDBTEL_LIBRARY", LIBRARY), ("STDBTEL_CLI", CLI), ("STDBTEL_SOURCE_ROOT", ROOT)):
        if not value:
            print(f"{name} is not set (meson test sets it)", file=sys.stderr)
            return 2
    return peers.run_part(PARTS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
