# SPDX-License-Identifier: MIT
"""What the Python tests share: free ports on 127.0.0.1, stopping a
process by pid, the real Etsy statsd daemon with the flush backend
(tests/support/statsd_flush_backend.js) and its per-key totals, and the
spans of an OTLP/JSON traces file read with Python's json.

Import with tests/support on sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
    import peers
"""
import collections
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SUPPORT = os.path.dirname(os.path.abspath(__file__))

# Only keeps a hung process from hanging a test; nothing is timed.
TIMEOUT = 30


def preload_value(library, first=""):
    """LD_PRELOAD for the shim, after the ASan runtime when `first` names it."""
    return f"{first}:{library}" if first else library


def free_port(kind=socket.SOCK_STREAM):
    """A port nobody uses now (bound and released)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def statsd_key(raw):
    """Etsy statsd 0.9's key rules, applied to a name;tag=value key."""
    key = re.sub(r"\s+", "_", raw).replace("/", "-")
    return re.sub(r"[^A-Za-z0-9_.;=-]", "", key)


def tagged(name, *tags):
    """The key statsd makes of a DogStatsD line name|#k:v,...: name;k=v;..."""
    return statsd_key(name + "".join(f";{k}={v}" for k, v in tags))


def die_with_parent():
    """In the child: SIGKILL when the test process dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def stop_process(proc, sig=signal.SIGTERM):
    """Sends sig to proc by pid and waits; SIGKILL if it does not exit. The exit status."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            return proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
    return proc.wait()


class StatsdDaemon:
    """The real Etsy statsd (node $STDBTEL_NODE_MODULES/statsd/stats.js),
    with tests/support/statsd_flush_backend.js writing every flush to a
    file, configured as tests/support/peers.c statsd_daemon_start does."""

    def __init__(self, flush_ms=200):
        modules = os.environ.get("STDBTEL_NODE_MODULES", "")
        if not modules:
            raise AssertionError("STDBTEL_NODE_MODULES is not set: scripts/test.sh installs statsd@0.9.0 and "
                                 "sets it (by hand: export STDBTEL_NODE_MODULES=<repo>/build-npm/node_modules)")
        self.stats_js = os.path.join(modules, "statsd", "stats.js")
        if not os.access(self.stats_js, os.R_OK):
            raise AssertionError(f"{self.stats_js} is missing: npm package statsd@0.9.0 not installed")
        self.node = shutil.which("node")
        if self.node is None:
            raise AssertionError("node is not in PATH: the statsd daemon needs it (Debian package nodejs)")
        self.backend = os.path.join(SUPPORT, "statsd_flush_backend.js")
        self.server = os.path.join(SUPPORT, "statsd_udp_server.js")  # a larger receive buffer
        if not os.access(self.backend, os.R_OK):
            raise AssertionError(f"{self.backend} is missing")
        self.flush_ms = flush_ms
        self.dir = tempfile.mkdtemp(prefix="stdbtel-statsd-")
        self.config = os.path.join(self.dir, "config.js")
        self.flush_file = os.path.join(self.dir, "flushes.tsv")
        self.log = os.path.join(self.dir, "statsd.log")
        self.proc = None
        self.port = None

    def start(self):
        for _ in range(3):  # a port taken between choosing and binding: try fresh ones
            if self._try_start():
                return self
        raise AssertionError(f"statsd exited before its first flush, three times; its output:\n{self._log_text()}")

    def _try_start(self):
        self.port = free_port(socket.SOCK_DGRAM)
        mgmt = free_port(socket.SOCK_STREAM)
        with open(self.config, "w") as f:
            f.write("{\n"
                    f'  address: "127.0.0.1", port: {self.port}, server: "{self.server}",\n'
                    f'  mgmt_address: "127.0.0.1", mgmt_port: {mgmt},\n'
                    f"  flushInterval: {self.flush_ms}, deleteIdleStats: true, percentThreshold: [90],\n"
                    f'  backends: ["{self.backend}"],\n'
                    f'  stdbtelFlushFile: "{self.flush_file}"\n'
                    "}\n")
        if os.path.exists(self.flush_file):
            os.unlink(self.flush_file)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.node, self.stats_js, self.config], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.flush_count() > 0:
                return True
            if self.proc.poll() is not None:
                self.proc = None
                return False
            time.sleep(0.01)
        raise AssertionError(f"statsd wrote no flush within 20 s; its output:\n{self._log_text()}")

    def _log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return "(none)"

    def _blocks(self):
        """Every complete flush, as a list of (kind, key, field, value) lines."""
        try:
            with open(self.flush_file, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        blocks, current = [], []
        for line in text.split("\n"):
            parts = line.split("\t")
            if parts[0] == "flush" and len(parts) == 2:
                blocks.append(current)
                current = []
            elif parts[0] == "counter" and len(parts) == 3:
                current.append(("counter", parts[1], None, float(parts[2])))
            elif parts[0] == "timer" and len(parts) == 4:
                current.append(("timer", parts[1], parts[2], float(parts[3])))
        return blocks  # a partial last flush (no `flush` line yet) is left out

    def flush_count(self):
        return len(self._blocks())

    def wait_flushes(self, n):
        """Waits until n more flushes than now are complete."""
        target = self.flush_count() + n
        deadline = time.monotonic() + 10 * self.flush_ms / 1000 * n + 10
        while self.flush_count() < target:
            if time.monotonic() > deadline:
                raise AssertionError("statsd stopped flushing")
            if self.proc.poll() is not None:
                raise AssertionError(f"statsd exited; its output:\n{self._log_text()}")
            time.sleep(0.005)

    def totals(self, kind, field=None):
        """key -> the sum over every flush (counters: the count; timers: `field`)."""
        out = collections.Counter()
        for block in self._blocks():
            for k, key, f, value in block:
                if k == kind and f == field:
                    out[key] += value
        return out

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def attribute_value(v):
    (kind, x), = v.items()
    return int(x) if kind == "intValue" else x


def read_spans(path):
    """Every span in an OTLP/JSON traces file, read with Python's json."""
    spans = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            for rs in json.loads(line)["resourceSpans"]:
                resource = {a["key"]: attribute_value(a["value"]) for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        spans.append({
                            "name": s["name"], "kind": s["kind"], "trace": s["traceId"], "id": s["spanId"],
                            "parent": s.get("parentSpanId", ""), "status": s.get("status", {}).get("code", 0),
                            "start": int(s["startTimeUnixNano"]), "end": int(s["endTimeUnixNano"]),
                            "attrs": {a["key"]: attribute_value(a["value"]) for a in s.get("attributes", [])},
                            "pid": resource.get("process.pid"),
                        })
    return spans


def config_with_traces(src, dst, traces):
    """Writes to dst a copy of the config src that also writes spans to the
    traces file `traces` (a traces_file line right after [telemetry])."""
    with open(src) as f:
        lines = f.readlines()
    out, added = [], 0
    for line in lines:
        out.append(line)
        if line.strip() == "[telemetry]":
            out.append(f'traces_file = "{traces}"\n')
            added += 1
    assert added == 1, f"{src} has one [telemetry] table"
    with open(dst, "w") as f:
        f.writelines(out)


def run_part(parts, argv):
    """Runs the unittest.TestCase class parts[argv[1]] (each part is one
    meson test); the exit status: 0 when every test passed and some ran."""
    if len(argv) != 2 or argv[1] not in parts:
        print(f"usage: {argv[0]} {'|'.join(parts)}", file=sys.stderr)
        return 2
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(parts[argv[1]])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1
