# SPDX-License-Identifier: MIT
"""Debian's redis-server 7.0 (not recompiled) under libstdbtel.so:

  pack        the shipped pack (symbols/redis.toml, a copy that adds a
              traces_file), every call sampled, the real Etsy statsd daemon.
              The workload: redis-benchmark over several commands, in
              chunks small enough for the shim's per-thread span ring (each
              chunk waits until the exporter has written its spans), then a
              scripted RESP client whose every reply is checked against a
              model of its sequence (strings, counters, lists, hashes,
              MULTI/EXEC, a failing command inside EXEC, EVAL, wrong types,
              an unknown command, a wrong arity, SAVE, BGSAVE, an OOM
              window under maxmemory). Then the state redis-benchmark left
              (counter and list lengths from its request counts), and INFO
              commandstats. The assertions: spans per command name ==
              commandstats calls (INFO counts itself after replying, so its
              own spans are one more), the same for the StatsD counter and
              timer per `command` tag, every hook's StatsD count, errors and
              timer count == its spans, the nesting (commands under
              processCommand under the client read, EXEC's and EVAL's
              commands under them, the OOM evictions under processCommand),
              the attributes, nothing dropped, exit status 0.
  everything  a config that hooks every function of redis-server's .dynsym
              that the engine accepts (`stdbtel config`), with a count per
              function; the same kind of workload: no crash, every reply
              right, every accepted function hooked, and the counts agree
              with commandstats and the workload.

Usage: test_redis.py pack|everything (one meson test each). Paths come from
meson: STDBTEL_LIBRARY, STDBTEL_CLI, STDBTEL_SOURCE_ROOT;
STDBTEL_NODE_MODULES (statsd@0.9.0) from the environment. redis-server,
redis-benchmark and redis-cli come from PATH (Debian packages redis-server
and redis-tools; scripts/test.sh installs them).

Every process started here (redis-server, statsd, redis-benchmark) is
stopped by pid when its test ends, whether it passed or not. Only 127.0.0.1
is used.
"""
import collections
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest

LIBRARY = os.environ.get("STDBTEL_LIBRARY", "")
CLI = os.environ.get("STDBTEL_CLI", "")
ROOT = os.environ.get("STDBTEL_SOURCE_ROOT", "")
PACK = os.path.join(ROOT, "symbols", "redis.toml")

sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import peers  # noqa: E402
from peers import StatsdDaemon, free_port, read_spans, stop_process, tagged  # noqa: E402

# Only keeps a hung process from hanging the test; nothing is timed.
TIMEOUT = 30
TOOLS = {"redis-server": "redis-server", "redis-benchmark": "redis-tools", "redis-cli": "redis-tools"}
# Debian's redis-server is a symlink to redis-check-rdb: /proc/self/exe's name.
EXE_NAME = "redis-check-rdb"
START_LINE = re.compile(r"^stdbtel: (\S+) \(pid (\d+)\): (\d+) of (\d+) hooks resolved to (\d+) functions, "
                        r"(\d+) hooked")
EXPORTED_LINE = re.compile(r"^stdbtel: exported (\d+) spans in \d+ lines to \S+ \((\d+) calls timed, (\d+) dropped\)$")
STATUS_ERROR = 2
DBFILENAME = "stdbtel-test.rdb"
# redis-benchmark's keys (its source): without -r, __rand_int__ stays as is.
BENCH_COUNTER = "counter:__rand_int__"
BENCH_LIST = "mylist"
BENCH_KEY = "key:__rand_int__"
BENCH_DATA_SIZE = 5  # -d: the length of SET's (random) value
# (test, requests, clients, pipeline). Each chunk's spans must fit one
# thread's ring of 1024 records (about 2 per command with pipelining, 5
# without): the shim drains it every 200 ms and drops what does not fit.
BENCH_CHUNKS = [
    ("ping_inline", 120, 2, 1),
    ("ping_mbulk", 200, 4, 8),
    ("set", 240, 4, 8),
    ("get", 200, 4, 8),
    ("incr", 230, 5, 10),
    ("incr", 90, 3, 1),
    ("lpush", 210, 3, 7),
    ("rpush", 150, 5, 5),
    ("lpop", 120, 4, 6),
    ("rpop", 70, 2, 7),
    ("sadd", 160, 4, 8),
    ("hset", 160, 4, 8),
]


def require_tools():
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} is not in PATH: install the Debian package {package} "
                                 "(scripts/test.sh installs redis-server and redis-tools)")


# ---------------------------------------------------------------------------
# A small RESP2 client
# ---------------------------------------------------------------------------

class RespError:
    """An error reply (-ERR ...), kept as a value to compare, not raised."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, RespError) and self.text == other.text

    def __repr__(self):
        return f"RespError({self.text!r})"


class Resp:
    """One connection to redis on 127.0.0.1, speaking RESP2: commands as
    arrays of bulk strings, replies parsed into str, int, None, list or
    RespError."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:].decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            return RespError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise AssertionError(f"not a RESP2 reply: {line!r}")

    def command(self, *args):
        self.sock.sendall(self.encode(args))
        return self.reply()

    def pipeline(self, commands):
        """Sends every command in one write, then reads their replies."""
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        return [self.reply() for _ in commands]


def parse_info(text):
    """INFO's `key:value` lines as a dict (sections and blank lines left out)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def commandstats(client):
    """INFO commandstats: command fullname -> {calls, rejected_calls, failed_calls}."""
    stats = {}
    for key, value in parse_info(client.command("INFO", "commandstats")).items():
        if key.startswith("cmdstat_"):
            fields = dict(kv.split("=") for kv in value.split(","))
            stats[key[len("cmdstat_"):]] = {k: int(fields[k]) for k in ("calls", "rejected_calls", "failed_calls")}
    return stats


# ---------------------------------------------------------------------------
# The scripted client and its model
# ---------------------------------------------------------------------------

WRONGTYPE = RespError("WRONGTYPE Operation against a key holding the wrong kind of value")
INCR_SCRIPT = "return redis.call('INCR', KEYS[1])"


class ModelError(Exception):
    pass


class Model:
    """What redis answers to the commands the script uses, from a model of
    the keyspace (str, list and dict values), plus what the script did that
    the telemetry must show: commands refused before they run, MULTI
    queues, scripts, saves, and the commands of the OOM window."""

    def __init__(self):
        self.dbs = collections.defaultdict(dict)  # SELECT's index -> keyspace
        self.db = 0
        self.calls_in_db = collections.Counter()  # commands that ran (call()), by the db they started in
        self.multi = None            # the queued commands while in MULTI
        self.execs = []              # per EXEC: the fullnames of its queued commands
        self.evals = []              # per EVAL: the fullnames it runs
        self.not_run = collections.Counter()  # argv[0] processed but not run: refused, queued
        self.rejected = collections.Counter()  # fullname -> commandstats rejected_calls
        self.failed = collections.Counter()    # fullname -> commandstats failed_calls
        self.saves = 0
        self.bgsaves = 0
        self.maxmemory = 0
        self.oom_window = 0          # commands processed while maxmemory was 1
        self.dbfilename = DBFILENAME

    @property
    def keys(self):
        return self.dbs[self.db]

    # ---- helpers ----
    def _typed(self, key, kind):
        v = self.keys.get(key)
        if v is not None and not isinstance(v, kind):
            raise ModelError(WRONGTYPE)
        return v

    def _int(self, key):
        v = self._typed(key, str)
        try:
            return int(v) if v is not None else 0
        except ValueError:
            raise ModelError(RespError("ERR value is not an integer or out of range"))

    # ---- commands: each returns the reply ----
    def c_ping(self):
        return "PONG"

    def c_set(self, key, value):
        self.keys[key] = value
        return "OK"

    def c_get(self, key):
        return self._typed(key, str)

    def c_incrby(self, key, by):
        n = self._int(key) + int(by)
        self.keys[key] = str(n)
        return n

    def c_incr(self, key):
        return self.c_incrby(key, 1)

    def c_lpush(self, key, *values):
        lst = self._typed(key, list)
        if lst is None:
            lst = self.keys[key] = []
        for v in values:
            lst.insert(0, v)
        return len(lst)

    def c_rpush(self, key, *values):
        lst = self._typed(key, list)
        if lst is None:
            lst = self.keys[key] = []
        lst.extend(values)
        return len(lst)

    def c_lrange(self, key, start, stop):
        lst = self._typed(key, list) or []
        start, stop = int(start), int(stop)
        stop = len(lst) + stop if stop < 0 else stop
        return lst[start:stop + 1]

    def c_llen(self, key):
        return len(self._typed(key, list) or [])

    def c_hset(self, key, *pairs):
        h = self._typed(key, dict)
        if h is None:
            h = self.keys[key] = {}
        added = 0
        for f, v in zip(pairs[::2], pairs[1::2]):
            added += f not in h
            h[f] = v
        return added

    def c_hget(self, key, field):
        return (self._typed(key, dict) or {}).get(field)

    def c_exists(self, *keys):
        return sum(k in self.keys for k in keys)

    def c_del(self, *keys):
        n = 0
        for k in keys:
            n += self.keys.pop(k, None) is not None
        return n

    def c_eval(self, script, numkeys, *keys):
        assert script == INCR_SCRIPT and numkeys == "1", "the model knows one script"
        self.evals.append(["incr"])
        return self.c_incr(keys[0])

    def c_select(self, index):
        self.db = int(index)
        return "OK"

    def c_save(self):
        self.saves += 1
        return "OK"

    def c_bgsave(self):
        self.bgsaves += 1
        return "Background saving started"

    def c_config_get(self, name):
        assert name == "dbfilename", "the model knows one setting"
        return [name, self.dbfilename]

    def c_config_set(self, name, value):
        assert name == "maxmemory"
        self.maxmemory = int(value)
        return "OK"

    # Flags from redis's command table that matter to the script.
    DENYOOM = {"set", "incr", "incrby", "lpush", "rpush", "hset"}
    ARITY = {"get": 2, "set": 3, "incr": 2, "incrby": 3, "llen": 2, "hget": 3, "lrange": 4, "ping": 1}

    @staticmethod
    def fullname(args):
        name = args[0].lower()
        return f"{name}|{args[1].lower()}" if name == "config" else name

    def _run(self, args):
        """Runs one command that reached call(): its reply; failures counted."""
        name = self.fullname(args)
        method = getattr(self, "c_" + name.replace("|", "_"))
        self.calls_in_db[self.db] += 1
        try:
            return method(*args[1:] if "|" not in name else args[2:])
        except ModelError as e:
            self.failed[name] += 1
            return e.args[0]

    def apply(self, args):
        """The reply to `args`, as processCommand and call() would give it."""
        name = self.fullname(args)
        if self.maxmemory == 1:
            self.oom_window += 1  # processCommand runs performEvictions first, and it fails
        if not hasattr(self, "c_" + name.replace("|", "_")) and name not in ("multi", "exec"):
            self.not_run[args[0]] += 1
            shown = " ".join(f"'{a}'" for a in args[1:])
            return RespError(f"ERR unknown command '{args[0]}', with args beginning with: {shown} ")
        arity = self.ARITY.get(name)
        if arity is not None and len(args) != arity:
            self.not_run[args[0]] += 1
            self.rejected[name] += 1
            return RespError(f"ERR wrong number of arguments for '{name}' command")
        if self.maxmemory == 1 and name in self.DENYOOM:
            self.not_run[args[0]] += 1
            self.rejected[name] += 1
            return RespError("OOM command not allowed when used memory > 'maxmemory'.")
        if name == "multi":
            self.calls_in_db[self.db] += 1
            self.multi = []
            return "OK"
        if name == "exec":
            self.calls_in_db[self.db] += 1
            queued, self.multi = self.multi, None
            self.execs.append([self.fullname(a) for a in queued])
            return [self._run(a) for a in queued]
        if self.multi is not None:
            self.multi.append(args)
            self.not_run[args[0]] += 1
            return "QUEUED"
        return self._run(args)


SCRIPT = [
    ["PING"],
    ["SET", "script:a", "hello"],
    ["GET", "script:a"],
    ["GET", "script:missing"],
    ["INCR", "script:n"],
    ["incr", "script:n"],
    ["Incr", "script:n"],
    ["INCRBY", "script:n", "10"],
    ["LPUSH", "script:l", "a", "b", "c"],
    ["RPUSH", "script:l", "d"],
    ["LRANGE", "script:l", "0", "-1"],
    ["LLEN", "script:l"],
    ["HSET", "script:h", "f1", "v1", "f2", "v2"],
    ["HSET", "script:h", "f2", "v3", "f3", "v4"],
    ["HGET", "script:h", "f2"],
    ["EXISTS", "script:a", "script:l", "script:missing"],
    ["INCR", "script:l"],                       # WRONGTYPE: runs, fails
    ["LPUSH", "script:a", "x"],                 # WRONGTYPE
    ["NOSUCHCMD", "x"],                         # unknown: processed, never run
    ["GET"],                                    # wrong arity: rejected
    ["MULTI"],
    ["SET", "script:b", "1"],
    ["INCR", "script:b"],
    ["LPUSH", "script:l", "e"],
    ["GET", "script:b"],
    ["EXEC"],
    ["MULTI"],
    ["INCR", "script:a"],                       # fails inside EXEC
    ["EXEC"],
    ["EVAL", INCR_SCRIPT, "1", "script:n"],     # redis.call: a call() inside EVAL's
    ["SELECT", "1"],                            # another database: the spans say which
    ["SET", "script:a", "in-db-1"],
    ["GET", "script:a"],
    ["DEL", "script:a"],
    ["SELECT", "0"],
    ["CONFIG", "GET", "dbfilename"],
    ["SAVE"],
    ["CONFIG", "SET", "maxmemory", "1"],        # with noeviction: every eviction fails
    ["SET", "script:c", "1"],                   # OOM: rejected
    ["GET", "script:a"],                        # not denyoom: runs
    ["CONFIG", "SET", "maxmemory", "0"],
    ["SET", "script:c", "1"],
    ["DEL", "script:a", "script:b", "script:c", "script:l", "script:h", "script:n", "script:missing"],
]
PIPELINED = [["INCR", "script:p"] for _ in range(6)] + [["GET", "script:p"], ["DEL", "script:p"]]


def run_script(client, model):
    """The scripted sequence, every reply checked against the model."""
    for args in SCRIPT:
        want = model.apply(args)
        got = client.command(*args)
        if got != want:
            raise AssertionError(f"{args}: redis answered {got!r}, the model says {want!r}")
    want = [model.apply(a) for a in PIPELINED]
    got = client.pipeline(PIPELINED)
    if got != want:
        raise AssertionError(f"pipelined: redis answered {got!r}, the model says {want!r}")
    # A BGSAVE (a fork under the shim) and its end, seen by INFO persistence.
    want = model.apply(["BGSAVE"])
    got = client.command("BGSAVE")
    if got != want:
        raise AssertionError(f"BGSAVE: redis answered {got!r}, the model says {want!r}")
    deadline = time.monotonic() + TIMEOUT
    while True:
        persistence = parse_info(client.command("INFO", "persistence"))
        if persistence["rdb_bgsave_in_progress"] == "0":
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"BGSAVE did not finish: {persistence}")
        time.sleep(0.02)
    if persistence["rdb_last_bgsave_status"] != "ok":
        raise AssertionError(f"BGSAVE failed: {persistence}")


# ---------------------------------------------------------------------------
# redis-server under the shim, and redis-benchmark
# ---------------------------------------------------------------------------

class ShimRedis:
    """redis-server on 127.0.0.1 (a port chosen here, its own --dir) under
    libstdbtel.so with `config`, StatsD to `statsd_port`, every call
    sampled. Leaving the context kills it by pid if it still runs."""

    def __init__(self, config, statsd_port, traces=True, log="debug"):
        self.tmp = tempfile.mkdtemp(prefix="stdbtel-redis-")
        self.traces = os.path.join(self.tmp, "traces.jsonl") if traces else None
        self.config = os.path.join(self.tmp, "stdbtel.toml")
        if traces:
            peers.config_with_traces(config, self.config, self.traces)
        else:
            shutil.copy(config, self.config)
        self.env = dict(os.environ)
        self.env.update({
            "LD_PRELOAD": LIBRARY,
            "STDBTEL_CONFIG": self.config,
            "STDBTEL_LOG": log,              # debug: the exit line says spans exported and dropped
            "STATSD_HOST": "127.0.0.1",
            "STATSD_PORT": str(statsd_port),
            # Every call sampled; the span queue as large as it goes (each
            # thread's ring holds min(this, 1024) records and is drained
            # every 200 ms: hence the benchmark's chunks).
            "OTEL_TRACES_SAMPLER": "always_on",
            "OTEL_BSP_MAX_QUEUE_SIZE": "65536",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
            # No collector here: the pack's OTLP endpoint stays unused.
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
        })
        self.proc = None
        try:
            for _ in range(3):  # a port taken between choosing and binding: try a fresh one
                if self._try_start():
                    return
            raise AssertionError(f"redis-server did not start, three times; stderr:\n{self.stderr_text()}\n"
                                 f"log:\n{self.log_text()}")
        except BaseException:
            self.__exit__(None, None, None)  # no `with` holds it yet: stop it here
            raise

    def _try_start(self):
        self.port = free_port()
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.log_path = os.path.join(self.tmp, "redis.log")
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", self.tmp, "--dbfilename", DBFILENAME,
                "--maxmemory-policy", "noeviction", "--logfile", self.log_path]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                         env=self.env, preexec_fn=peers.die_with_parent)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                c = Resp(self.port)
                try:
                    if c.command("PING") == "PONG":
                        return True
                finally:
                    c.close()
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"redis-server answered no PING in time; stderr:\n{self.stderr_text()}")

    def _text(self, path):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return "(none)"

    def stderr_text(self):
        return self._text(self.stderr_path)

    def log_text(self):
        return self._text(self.log_path)

    def call_spans_written(self):
        """redis.command spans in the traces file so far."""
        try:
            return sum(1 for s in read_spans(self.traces) if s["name"] == "redis.command")
        except FileNotFoundError:
            return 0

    def wait_drained(self, client):
        """Waits until the traces file holds a redis.command span for every
        command redis has run, this INFO included: the ring is then empty
        enough for the next chunk."""
        want = sum(s["calls"] for s in commandstats(client).values()) + 1
        deadline = time.monotonic() + TIMEOUT
        while self.call_spans_written() < want:
            if time.monotonic() > deadline:
                raise AssertionError(f"the traces file has {self.call_spans_written()} redis.command spans, "
                                     f"not {want}, after {TIMEOUT} s; stderr:\n{self.stderr_text()}")
            time.sleep(0.05)

    def stop(self):
        """SIGTERM by pid (redis shuts down); the exit status."""
        return stop_process(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_benchmark(port, tests, requests, clients, pipeline):
    """One redis-benchmark run (-t tests, comma-separated); fails on a non-zero exit."""
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(requests), "-c", str(clients),
            "-P", str(pipeline), "-d", str(BENCH_DATA_SIZE), "-t", tests, "-q"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=peers.die_with_parent)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT * 4)
    finally:
        stop_process(proc)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited with {proc.returncode}:\n{out.decode(errors='replace')}")


def bench_totals(chunks):
    """Requests per redis-benchmark test over the chunks (-t takes a list)."""
    out = collections.Counter()
    for tests, n, _, _ in chunks:
        for test in tests.split(","):
            out[test] += n
    return out


def check_bench_state(client, chunks):
    """What redis-benchmark's requests must have left: the INCR counter, the
    list (pushes minus pops), SET's value length, SADD's and HSET's one member."""
    n = bench_totals(chunks)
    problems = []
    got = client.command("GET", BENCH_COUNTER)
    if got != str(n["incr"]):
        problems.append(f"GET {BENCH_COUNTER} = {got!r}, not {n['incr']} (the INCR requests)")
    want = n["lpush"] + n["rpush"] - n["lpop"] - n["rpop"]
    got = client.command("LLEN", BENCH_LIST)
    if got != want:
        problems.append(f"LLEN {BENCH_LIST} = {got!r}, not {want} (pushes minus pops)")
    got = client.command("STRLEN", BENCH_KEY)
    if got != BENCH_DATA_SIZE:
        problems.append(f"STRLEN {BENCH_KEY} = {got!r}, not {BENCH_DATA_SIZE} (-d)")
    for cmd, key in (("SCARD", "myset"), ("HLEN", "myhash")):
        got = client.command(cmd, key)
        if got != 1:
            problems.append(f"{cmd} {key} = {got!r}, not 1 (one member without -r)")
    if problems:
        raise AssertionError("\n".join(problems))


def run_workload(server, model, chunks):
    """The benchmark chunks (with a traces file: each drained before the
    next), then the scripted client and the checks of the benchmark's
    state, then INFO stats and the last INFO commandstats (its own call is
    counted after it replies). Returns (commandstats, INFO stats)."""
    client = Resp(server.port)
    try:
        for tests, requests, clients, pipeline in chunks:
            run_benchmark(server.port, tests, requests, clients, pipeline)
            if server.traces is not None:
                server.wait_drained(client)
        run_script(client, model)
        if server.traces is not None:
            server.wait_drained(client)
        check_bench_state(client, chunks)
        stats = parse_info(client.command("INFO", "stats"))
        return commandstats(client), stats
    finally:
        client.close()


def statsd_name(value):
    """A tag value as the shim sends it (':', '|', '@', ',', '#' become '_')."""
    return re.sub(r"[:|@,#]", "_", value)


# ---------------------------------------------------------------------------
# pack
# ---------------------------------------------------------------------------

class PackTest(unittest.TestCase):
    """The shipped pack on redis-server: exact spans and StatsD totals."""

    @classmethod
    def setUpClass(cls):
        require_tools()
        with open(PACK, "rb") as f:
            cls.pack = tomllib.load(f)
        cls.model = Model()
        daemon = StatsdDaemon().start()
        try:
            with ShimRedis(PACK, daemon.port) as server:
                cls.stats, _ = run_workload(server, cls.model, BENCH_CHUNKS)
                code = server.stop()
                cls.stderr = server.stderr_text()
                if code != 0:
                    raise AssertionError(f"redis-server exited with {code}; stderr:\n{cls.stderr}\n"
                                         f"log:\n{server.log_text()}")
                cls.all_spans = read_spans(server.traces)
                cls.pid = server.proc.pid
            # The exit's last datagrams are in flight; two flushes later they are counted.
            daemon.wait_flushes(2)
            cls.counters = daemon.totals("counter")
            cls.timer_counts = daemon.totals("timer", "count")
        finally:
            daemon.stop()
        cls.spans = [s for s in cls.all_spans if s["pid"] == cls.pid]
        cls.by_id = {s["id"]: s for s in cls.all_spans}
        cls.children = collections.defaultdict(list)
        for s in cls.spans:
            cls.children[s["parent"]].append(s)
        for kids in cls.children.values():
            kids.sort(key=lambda s: s["start"])

    # ---- helpers ----
    def named(self, name, spans=None):
        return [s for s in (self.spans if spans is None else spans) if s["name"] == name]

    def parent(self, span):
        self.assertTrue(span["parent"] in self.by_id, f"{span['name']}: its parent span is in the file")
        p = self.by_id[span["parent"]]
        self.assertEqual(p["trace"], span["trace"])
        self.assertLessEqual(p["start"], span["start"])
        self.assertGreaterEqual(p["end"], span["end"])
        return p

    def series(self, metric, source):
        """The statsd keys of one metric (name or name;tags...) with a non-zero total."""
        return {k: v for k, v in source.items() if (k == metric or k.startswith(metric + ";")) and v != 0}

    def expected_calls(self):
        """Per command fullname: commandstats calls, plus the last INFO itself."""
        calls = collections.Counter({name: s["calls"] for name, s in self.stats.items()})
        calls["info"] += 1
        return +calls

    # ---- the run ----
    def test_one_shim_start_everything_hooked_nothing_dropped(self):
        lines = [line for line in self.stderr.splitlines() if line.startswith("stdbtel:")]
        starts = [m for m in map(START_LINE.match, lines) if m]
        self.assertEqual([(m.group(1), int(m.group(2))) for m in starts], [(EXE_NAME, self.pid)], self.stderr)
        n_hooks = len(self.pack["hook"])
        self.assertEqual(starts[0].groups()[2:], (str(n_hooks),) * 4, f"every hook patched:\n{starts[0].group(0)}")
        exported = [m for m in map(EXPORTED_LINE.match, lines) if m]
        self.assertEqual(len(exported), 1, self.stderr)
        spans, _, dropped = map(int, exported[0].groups())
        self.assertEqual(dropped, 0, "no span dropped (a ring was full)")
        self.assertEqual(spans, len(self.spans), "the file has every span the server exported")
        # Everything else on stderr is a debug note about resolving or the fork child.
        expected = re.compile(r"^stdbtel: (\S+\.toml:\d+: \"|hooked |fork child \(pid \d+\): )")
        others = [line for line in lines if not expected.match(line) and not START_LINE.match(line)
                  and not EXPORTED_LINE.match(line)]
        self.assertEqual(others, [], "no warning (a datagram lost, an unreadable capture, ...)")

    def test_commandstats_agree_with_the_model(self):
        for name, n in self.model.rejected.items():
            self.assertEqual(self.stats[name]["rejected_calls"], n, name)
        for name, n in self.model.failed.items():
            self.assertEqual(self.stats[name]["failed_calls"], n, name)
        self.assertEqual({"incr", "lpush"}, set(self.model.failed), "the wrong-type commands failed")
        self.assertEqual({"get", "set"}, set(self.model.rejected), "the arity and OOM rejections")

    # ---- spans and StatsD per command ----
    def test_command_spans_equal_commandstats(self):
        got = collections.Counter(s["attrs"].get("db.operation.name") for s in self.named("redis.command"))
        print(f"\n{len(self.spans)} spans from the server: "
              f"{dict(collections.Counter(s['name'] for s in self.spans))}; commands: {dict(got)}", file=sys.stderr)
        self.assertEqual(got, self.expected_calls())
        self.assertIn("config|get", got, "redis-benchmark's CONFIG GET: a subcommand's fullname")
        for test in bench_totals(BENCH_CHUNKS):
            self.assertIn(test.split("_")[0], got)

    def test_statsd_commands_per_command_tag(self):
        want = {tagged("redis.commands", ("command", statsd_name(n))): c for n, c in self.expected_calls().items()}
        self.assertEqual(self.series("redis.commands", self.counters), want)
        want = {tagged("redis.command.duration", ("command", statsd_name(n))): c
                for n, c in self.expected_calls().items()}
        self.assertEqual(self.series("redis.command.duration", self.timer_counts), want)

    def test_every_hook_statsd_equals_its_spans(self):
        """Every call is sampled and none dropped, so each hook's StatsD
        count, timer count and errors equal its spans (all pids: a fork
        child counts and traces alike)."""
        for hook in self.pack["hook"]:
            spans = self.named(hook["span"], self.all_spans)
            metrics = hook.get("metrics", {})
            with self.subTest(hook=hook["symbol"]):
                self.assertEqual(sum(self.series(metrics["count"], self.counters).values()), len(spans))
                self.assertEqual(sum(self.series(metrics["duration"], self.timer_counts).values()), len(spans))
                errors = sum(s["status"] == STATUS_ERROR for s in spans)
                if "errors" in metrics:
                    self.assertEqual(sum(self.series(metrics["errors"], self.counters).values()), errors)
                else:
                    self.assertEqual(errors, 0)

    def test_database_index(self):
        got = collections.Counter(s["attrs"]["db.redis.database_index"] for s in self.named("redis.command"))
        others = sum(self.expected_calls().values()) - self.model.calls_in_db[1]
        self.assertEqual(got, {0: others, 1: self.model.calls_in_db[1]})

    def test_static_attributes(self):
        for hook in self.pack["hook"]:
            for s in self.named(hook["span"], self.all_spans):
                for k, v in hook.get("attributes", {}).items():
                    self.assertEqual(s["attrs"].get(k), v, f"{hook['span']} {k}")
                self.assertEqual(s["kind"], 1, hook["span"])  # internal

    # ---- nesting ----
    def test_commands_nest_under_process_command_exec_and_eval(self):
        by_parent = collections.Counter()
        for s in self.named("redis.command"):
            p = self.parent(s)
            name = s["attrs"]["db.operation.name"]
            if p["name"] == "redis.process_command":
                self.assertEqual(p["attrs"]["redis.command.argv0"].lower(), name.split("|")[0])
                by_parent["process_command"] += 1
            else:
                self.assertEqual(p["name"], "redis.command", name)
                by_parent[p["attrs"]["db.operation.name"]] += 1
        m = self.model
        self.assertEqual(by_parent["exec"], sum(len(q) for q in m.execs))
        self.assertEqual(by_parent["eval"], sum(len(e) for e in m.evals))
        self.assertEqual(set(by_parent), {"process_command", "exec", "eval"})

    def test_exec_runs_its_queue_in_order(self):
        execs = sorted(self.named("redis.command"), key=lambda s: s["start"])
        execs = [s for s in execs if s["attrs"]["db.operation.name"] == "exec"]
        got = [[c["attrs"]["db.operation.name"] for c in self.children[e["id"]] if c["name"] == "redis.command"]
               for e in execs]
        self.assertEqual(got, self.model.execs)
        evals = [s for s in self.named("redis.command") if s["attrs"]["db.operation.name"] == "eval"]
        got = [[c["attrs"]["db.operation.name"] for c in self.children[e["id"]]] for e in evals]
        self.assertEqual(got, self.model.evals)

    def test_process_command_without_a_call(self):
        """Commands refused or queued: processCommand spans without a command span inside."""
        got = collections.Counter()
        for s in self.named("redis.process_command"):
            self.assertEqual(self.parent(s)["name"], "redis.client.read")
            if not any(c["name"] == "redis.command" for c in self.children[s["id"]]):
                got[s["attrs"]["redis.command.argv0"]] += 1
        self.assertEqual(got, self.model.not_run)
        self.assertIn("NOSUCHCMD", got)

    def test_reads_are_roots_and_pipelining_shares_one(self):
        for s in self.named("redis.client.read"):
            self.assertEqual(s["parent"], "")
        most = max(sum(c["name"] == "redis.process_command" for c in self.children[s["id"]])
                   for s in self.named("redis.client.read"))
        self.assertGreaterEqual(most, len(PIPELINED), "one read runs a pipelined batch")

    def test_oom_window_evictions_fail_under_process_command(self):
        evicts = self.named("redis.evict")
        under_process = [s for s in evicts if s["parent"] and self.parent(s)["name"] == "redis.process_command"]
        self.assertEqual(len(under_process), self.model.oom_window)
        for s in under_process:
            self.assertEqual(s["status"], STATUS_ERROR, "EVICT_FAIL under noeviction")
        for s in evicts:
            if s not in under_process:  # CONFIG SET maxmemory starts the eviction timer (its own root)
                self.assertEqual(s["parent"], "", "from the event loop's eviction timer")
        self.assertLessEqual(len(evicts) - len(under_process), 1, "the timer stops at the first EVICT_FAIL")

    def test_saves(self):
        m = self.model
        saves = self.named("redis.rdb.save")
        self.assertEqual(len(saves), m.saves)
        for s in saves:
            self.assertEqual(s["attrs"]["file.name"], m.dbfilename)
            self.assertEqual(self.parent(s)["attrs"]["db.operation.name"], "save")
            self.assertEqual(s["status"], 0)
        bgsaves = self.named("redis.rdb.bgsave")
        self.assertEqual(len(bgsaves), m.bgsaves)
        for s in bgsaves:
            self.assertEqual(self.parent(s)["attrs"]["db.operation.name"], "bgsave")
            self.assertEqual(s["status"], 0)
        for s in self.all_spans:
            if s["pid"] != self.pid:  # the BGSAVE child, if its exporter ran before _exit
                self.assertEqual(s["name"], "redis.rdb.save")
        self.assertEqual(self.named("redis.aof.flush"), [], "appendonly no")
        self.assertEqual(self.named("redis.aof.rewrite"), [])

    def test_expire_cycles_by_type(self):
        got = collections.Counter(s["attrs"]["redis.expire_cycle.type"] for s in self.named("redis.expire_cycle"))
        self.assertEqual(set(got), {0, 1}, "serverCron's slow cycles and beforeSleep's fast ones")
        want = {tagged("redis.expire_cycles", ("cycle", t)): n for t, n in got.items()}
        self.assertEqual(self.series("redis.expire_cycles", self.counters), want)


# ---------------------------------------------------------------------------
# everything
# ---------------------------------------------------------------------------

# For `everything`: one mixed run of every test, then one without pipelining.
EVERYTHING_CHUNKS = [
    ("ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset", 1000, 8, 4),
    ("set,incr,lpush", 300, 3, 1),
]
GENERATED_SUMMARY = re.compile(r"^stdbtel: (?:\S+: )?(\d+) of (\d+) functions .*can be hooked(?:; refused: (.*))?$")
METRICS_PREFIX = "redis.fn"
# A refused function, after the hooks: "# NAME: REASON (detail)".
REFUSED_LINE = re.compile(r"^# (?:refused: )?([A-Za-z_][A-Za-z0-9_]*): ([^(]+?)(?: \((.*)\))?$")
# The command table's procs: each runs exactly once per call() of its command.
PROCS = {"ping": "pingCommand", "set": "setCommand", "get": "getCommand", "incr": "incrCommand",
         "incrby": "incrbyCommand", "lpush": "lpushCommand", "rpush": "rpushCommand", "lpop": "lpopCommand",
         "rpop": "rpopCommand", "sadd": "saddCommand", "hset": "hsetCommand", "hget": "hgetCommand",
         "lrange": "lrangeCommand", "llen": "llenCommand", "exists": "existsCommand", "del": "delCommand",
         "multi": "multiCommand", "exec": "execCommand", "eval": "evalCommand", "save": "saveCommand",
         "bgsave": "bgsaveCommand", "info": "infoCommand", "strlen": "strlenCommand", "scard": "scardCommand",
         "hlen": "hlenCommand", "select": "selectCommand"}


def generate_everything(binary, dst):
    """`stdbtel config BINARY --metrics redis.fn` into dst: (accepted,
    functions, the refused summary, the refused comment lines, symbol ->
    count metric)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STDBTEL_", "OTEL_", "STATSD_"))}
    out = subprocess.run([CLI, "config", binary, "--metrics", METRICS_PREFIX], capture_output=True, text=True,
                         env=env, timeout=TIMEOUT)
    if out.returncode != 0:
        raise AssertionError(f"stdbtel config exited with {out.returncode}:\n{out.stderr}")
    summary = [m for m in map(GENERATED_SUMMARY.match, out.stderr.splitlines()) if m]
    if len(summary) != 1:
        raise AssertionError(f"stdbtel config printed no summary line:\n{out.stderr}")
    accepted, functions = int(summary[0].group(1)), int(summary[0].group(2))
    with open(dst, "w") as f:
        f.write(out.stdout)
    config = tomllib.loads(out.stdout)
    counts = {h["symbol"]: h["metrics"]["count"] for h in config["hook"]}
    refused = [m.groups() for m in map(REFUSED_LINE.match, out.stdout.splitlines()) if m]
    return accepted, functions, summary[0].group(3) or "", refused, counts, config


class EverythingTest(unittest.TestCase):
    """Every function of redis-server's .dynsym that the engine accepts,
    hooked with a StatsD count each: the server still answers right, and
    the counts agree with what it reports."""

    @classmethod
    def setUpClass(cls):
        require_tools()
        cls.binary = shutil.which("redis-server")
        cls.tmp = tempfile.mkdtemp(prefix="stdbtel-redis-everything-")
        try:
            config = os.path.join(cls.tmp, "everything.toml")
            (cls.accepted, cls.functions, cls.refused_summary, cls.refused, cls.metric_of,
             cls.config) = generate_everything(cls.binary, config)
            print(f"\nstdbtel config {cls.binary}: {cls.accepted} of {cls.functions} functions hooked; "
                  f"refused: {cls.refused_summary}", file=sys.stderr)
            cls.model = Model()
            daemon = StatsdDaemon().start()
            try:
                with ShimRedis(config, daemon.port, traces=False, log="info") as server:
                    cls.stats, cls.info_stats = run_workload(server, cls.model, EVERYTHING_CHUNKS)
                    code = server.stop()
                    cls.stderr = server.stderr_text()
                    if code != 0:
                        raise AssertionError(f"redis-server exited with {code}; stderr:\n{cls.stderr}\n"
                                             f"log:\n{server.log_text()}")
                    cls.pid = server.proc.pid
                daemon.wait_flushes(2)
                cls.counters = daemon.totals("counter")
            finally:
                daemon.stop()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def count(self, symbol):
        """The StatsD total of one function's calls (0: never called)."""
        self.assertIn(symbol, self.metric_of, f"{symbol} is hooked")
        return int(self.counters.get(peers.statsd_key(self.metric_of[symbol]), 0))

    def expected_calls(self):
        calls = collections.Counter({name: s["calls"] for name, s in self.stats.items()})
        calls["info"] += 1  # the last INFO, counted after it replied
        return calls

    def test_generated_config(self):
        self.assertEqual(len(self.metric_of), self.accepted, "one [[hook]] per accepted function")
        self.assertEqual(len(self.refused), self.functions - self.accepted, "one # refused: line per refusal")
        self.assertEqual(self.config["telemetry"]["processes"], [os.path.basename(os.path.realpath(self.binary))])
        self.assertGreater(self.accepted, self.functions // 2, "most of redis' functions can be hooked")
        for symbol, metric in self.metric_of.items():
            self.assertEqual(metric, f"{METRICS_PREFIX}.{symbol}.calls")
        reasons = collections.Counter(reason for _, reason, _ in self.refused)
        print(f"refused by reason: {dict(reasons)}", file=sys.stderr)
        for name, reason, detail in self.refused:
            print(f"  refused {name}: {reason} ({detail})", file=sys.stderr)

    def test_every_accepted_function_hooked(self):
        lines = [line for line in self.stderr.splitlines() if line.startswith("stdbtel:")]
        starts = [m for m in map(START_LINE.match, lines) if m]
        self.assertEqual([(m.group(1), int(m.group(2))) for m in starts], [(EXE_NAME, self.pid)], self.stderr)
        resolved, hooks, functions, hooked = map(int, starts[0].groups()[2:])
        self.assertEqual((resolved, hooks, functions, hooked), (self.accepted,) * 4, starts[0].group(0))
        others = [line for line in lines if not START_LINE.match(line)]
        print(f"other stdbtel lines: {others}", file=sys.stderr)
        self.assertEqual([line for line in others if "not sent" in line], [], "no StatsD datagram lost")

    def test_call_counts_every_command(self):
        self.assertEqual(self.count("call"), sum(self.expected_calls().values()))
        called = {sym: self.count(sym) for sym in self.metric_of}
        called = {sym: n for sym, n in called.items() if n}
        top = sorted(called.items(), key=lambda kv: -kv[1])[:10]
        print(f"\n{len(called)} of {len(self.metric_of)} hooked functions were called; "
              f"{sum(called.values())} calls counted; most called: {top}", file=sys.stderr)

    def test_process_command_counts_every_command_sent(self):
        """processCommand runs for each command a client sent: the calls,
        less those run inside EXEC or EVAL, plus those refused or queued."""
        m = self.model
        nested = sum(len(q) for q in m.execs) + sum(len(e) for e in m.evals)
        want = sum(self.expected_calls().values()) - nested + sum(m.not_run.values())
        self.assertEqual(self.count("processCommand"), want)

    def test_each_command_proc_runs_once_per_call(self):
        calls = self.expected_calls()
        checked = 0
        for name, proc in PROCS.items():
            if calls[name] == 0 or proc not in self.metric_of:
                continue
            with self.subTest(command=name):
                self.assertEqual(self.count(proc), calls[name], proc)
            checked += 1
        self.assertGreaterEqual(checked, 15, "most of the workload's command procs are hooked")

    def test_functions_a_command_surely_runs(self):
        calls = self.expected_calls()
        m = self.model
        self.assertGreaterEqual(self.count("rdbSave"), m.saves, "SAVE writes in the server itself")
        self.assertEqual(self.count("rdbSaveBackground"), m.bgsaves)
        self.assertGreaterEqual(self.count("createClient"), int(self.info_stats["total_connections_received"]))
        self.assertGreaterEqual(self.count("readQueryFromClient"), 1)
        self.assertGreaterEqual(self.count("lookupCommandLogic"), self.count("processCommand"))
        self.assertGreaterEqual(self.count("setGenericCommand"), calls["set"])
        self.assertGreaterEqual(self.count("incrDecrCommand"), calls["incr"] + calls["incrby"])
        # processCommand's calls in the OOM window, plus at most one from the
        # eviction timer CONFIG SET maxmemory starts (it stops at EVICT_FAIL).
        self.assertIn(self.count("performEvictions") - m.oom_window, (0, 1))


PARTS = {"pack": PackTest, "everything": EverythingTest}


def main(argv):
    if not CLI or not os.access(CLI, os.X_OK):
        print(f"STDBTEL_CLI is not an executable: {CLI!r}", file=sys.stderr)
        return 1
    for var, path in (("STDBTEL_LIBRARY", LIBRARY), ("the pack (from STDBTEL_SOURCE_ROOT)", PACK)):
        if not path or not os.access(path, os.R_OK):
            print(f"{var} is not readable: {path!r}", file=sys.stderr)
            return 1
    return peers.run_part(PARTS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
