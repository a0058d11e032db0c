#!/bin/sh
# SPDX-License-Identifier: MIT
# The shim's overhead on real servers under real load: redis-server with
# redis-benchmark, PostgreSQL 15 with pgbench, in four modes. Usage:
# scripts/bench-servers.sh [--rounds N] [--redis-only|--postgres-only] [--modes LIST] [--build DIR] [--help]
set -eu
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
Usage: scripts/bench-servers.sh [--rounds N] [--redis-only | --postgres-only] [--modes LIST] [--build DIR]

Measures what libstdbtel.so costs a real server under load: Debian 12's
redis-server 7.0 (/usr/bin/redis-server) driven by redis-benchmark, and
PostgreSQL 15 (/usr/lib/postgresql/15/bin/postgres) driven by pgbench, each
in four modes:

  without the shim    the server as installed, no LD_PRELOAD
  loaded, no hooks    LD_PRELOAD with a config that is enabled and names the
                      exporters but has no [[hook]]: the exporter thread and
                      the interposed libc functions, nothing patched
  pack                symbols/redis.toml or symbols/postgresql.toml as shipped
  every function      `stdbtel config BINARY '*' --metrics PREFIX`: every
                      function of the binary's .dynsym that the hook engine
                      accepts, with a StatsD count each

The shim exports as a deployment would: StatsD over UDP to a receiver that
reads and discards every datagram, OTLP/HTTP (spans and metrics) to
tests/support/otlp_receiver.py answering 200, spans at the packs' default
sampling (traces_per_second = 100), metrics every second
(OTEL_METRIC_EXPORT_INTERVAL=1000, so that several exports fall inside
every measured run).

With two CPUs or more, the server runs on the first CPU alone (its forks
and threads too) and the load generator and the sinks on the others, so a
run measures what the server's own CPU can do in each mode.

Every run starts a fresh server (the modes are different processes anyway):
redis with an empty keyspace, PostgreSQL on a fresh copy of one pgbench
database (scale 4), so every run starts from the same state and only the
mode differs. Start-up is not timed: the load starts once the server
answers. The modes alternate round-robin; a first round of all four is a
warm-up and is discarded; then N rounds (default 5) are measured.

  redis     redis-benchmark -c 50 -P 1 -t set,get -n 300000 -r 100000 --csv:
            requests/s, p50 and p99 as redis-benchmark reports them, per test
  postgres  pgbench -c 4 -j 2 -T 8, select-only (-S: one indexed SELECT per
            transaction, CPU-bound, where per-statement hooks weigh most)
            then TPC-B (the pack's row-write and commit hooks) in the same
            server, after an unmeasured 2 s select-only run that warms the
            fresh server's buffers and connections (without it, the first
            seconds of a run varied more than the modes differ);
            transactions/s from pgbench's report, p50 and p99 from
            its per-transaction log (-l). fsync, synchronous_commit and
            autovacuum are off, so that the shared VM's disk and a
            randomly timed vacuum stay out of the figures.

Each table gives, per mode, the median throughput, its ratio to the median
without the shim, the medians of p50 and p99, and the throughput's spread
(min-max over the rounds). The target (issue 6): with the pack, throughput
at least 97% of the uninstrumented one; the script says, per table, whether
it is met. As root, PostgreSQL runs as the Debian user `postgres`.

Options:
  --rounds N        measured rounds (default 5)
  --redis-only      only redis-server
  --postgres-only   only PostgreSQL
  --modes LIST      comma-separated subset of plain,loaded,pack,everything
                    (default all four; plain is always run: the ratios' base)
  --build DIR       the build directory (default build-test; configured and
                    built if missing or out of date)
  --help            this text
Environment: STDBTEL_BENCH_REDIS_SERVER, STDBTEL_BENCH_POSTGRES name other
binaries (the packs are written for Debian 12's).
EOF
}

rounds=5
modes=plain,loaded,pack,everything
servers="redis postgres"
build=build-test
while [ $# -gt 0 ]; do
  case $1 in
    --rounds)
      [ $# -ge 2 ] || { echo "bench-servers: --rounds needs a number" >&2; exit 2; }
      rounds=$2
      shift 2
      ;;
    --rounds=*) rounds=${1#--rounds=}; shift ;;
    --modes)
      [ $# -ge 2 ] || { echo "bench-servers: --modes needs a list" >&2; exit 2; }
      modes=$2
      shift 2
      ;;
    --modes=*) modes=${1#--modes=}; shift ;;
    --redis-only) servers=redis; shift ;;
    --postgres-only) servers=postgres; shift ;;
    --build)
      [ $# -ge 2 ] || { echo "bench-servers: --build needs a directory" >&2; exit 2; }
      build=$2
      shift 2
      ;;
    --build=*) build=${1#--build=}; shift ;;
    --help|-h) usage; exit 0 ;;
    *) echo "bench-servers: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $rounds in
  ''|*[!0-9]*|0) echo "bench-servers: --rounds takes a positive number, not '$rounds'" >&2; exit 2 ;;
esac

for m in $(echo "$modes" | tr , ' '); do
  case $m in
    plain|loaded|pack|everything) ;;
    *) echo "bench-servers: unknown mode '$m' in --modes (plain, loaded, pack, everything)" >&2; exit 2 ;;
  esac
done
case $build in
  /*) ;;
  *) build=$PWD/$build ;;
esac

. scripts/setup.sh
install_missing $STDBTEL_BUILD_PACKAGES python3 redis-server redis-tools postgresql
configure_and_build "$build" -Dwerror=true -Dtests=true

exec python3 - "$PWD" "$build" "$rounds" "$modes" $servers <<'PY'
"""The benchmark itself: sinks, servers, load, tables (see --help)."""
import csv
import glob
import io
import os
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

root, build, rounds, chosen, servers = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
sys.path.insert(0, os.path.join(root, "tests", "support"))
import peers  # noqa: E402

LIB = os.path.join(build, "libstdbtel.so")
CLI = os.path.join(build, "stdbtel")
REDIS = os.environ.get("STDBTEL_BENCH_REDIS_SERVER") or "/usr/bin/redis-server"
POSTGRES = os.environ.get("STDBTEL_BENCH_POSTGRES") or "/usr/lib/postgresql/15/bin/postgres"
START_TIMEOUT = 60      # s for a server to answer; only keeps a broken start from hanging
MODES = [("plain", "without the shim"), ("loaded", "loaded, no hooks"), ("pack", "pack"),
         ("everything", "every function")]
MODES = [(m, l) for m, l in MODES if m == "plain" or m in chosen.split(",")]
TARGET = 0.97           # issue 6: the pack keeps >= 97% of the throughput
REDIS_REQUESTS = 300000  # per test: about 2.5 s each at ~120k requests/s on the 2-core VM
PG_SECONDS = 8          # per pgbench workload
PG_WARM_SECONDS = 2     # unmeasured, before the workloads of each run
PG_SCALE = 4            # as many branches as clients: TPC-B's branch updates do not all queue on one row


class BenchError(Exception):
    """A failure the script reports in one line."""


class Processes:
    """Every process the script starts, each stopped by its pid at the end
    (also on Ctrl-C or SIGTERM). Each runs in its own session, so that a
    Ctrl-C reaches only this script, which then stops them in order, and
    gets SIGKILL if this script dies without stopping it."""

    def __init__(self):
        self.running = []

    def start(self, argv, stop_signal=signal.SIGTERM, user=None, cpus=None, **kw):
        def child():
            if cpus:
                os.sched_setaffinity(0, cpus)
            if user is not None:
                os.setgroups(os.getgrouplist(user.pw_name, user.pw_gid))
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
            # After the uid change: changing credentials clears PR_SET_PDEATHSIG.
            peers.die_with_parent()
        try:
            proc = subprocess.Popen(argv, preexec_fn=child, start_new_session=True, stdin=subprocess.DEVNULL, **kw)
        except OSError as e:
            raise BenchError(f"cannot start {argv[0]}: {e.strerror}")
        proc.stop_signal = stop_signal
        self.running.append(proc)
        return proc

    def stop(self, proc):
        """Stops proc by its pid (its own stop signal, SIGKILL after 30 s); its exit status."""
        if proc in self.running:
            self.running.remove(proc)
        return peers.stop_process(proc, proc.stop_signal)

    def stop_all(self):
        for proc in reversed(list(self.running)):
            self.stop(proc)


# The server gets CPU 0 to itself (its forks and threads inherit it), the
# load generator and the sinks the others: each run then measures the
# server's own CPU cost instead of how the scheduler shared two cores
# between server and client, which varied more than the modes differ.
ALL_CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPUS = {ALL_CPUS[0]} if len(ALL_CPUS) >= 2 else None
LOAD_CPUS = set(ALL_CPUS[1:]) if len(ALL_CPUS) >= 2 else None


def interrupted(signum, frame):
    raise KeyboardInterrupt


procs = Processes()
tmp = tempfile.mkdtemp(prefix="stdbtel-bench-servers-")
os.chmod(tmp, 0o755)  # the postgres user reads the configs here


def base_env():
    """This environment without anything that would configure the shim."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OTEL_", "STATSD_", "STDBTEL_", "SPACETIMEDB_")) and k != "LD_PRELOAD"}


def read_port(proc, what):
    """The port a sink prints as its first line."""
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        raise BenchError(f"{what} did not start (printed {line!r})")
    return int(line)


# The sinks: what a deployment's StatsD daemon and OTLP collector are to the
# shim. The StatsD one reads every datagram (so none is refused) and drops it.
STATSD_SINK = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    s.recv(65536)
"""
otlp_dir = os.path.join(tmp, "otlp")


def start_sinks():
    statsd = procs.start([sys.executable, "-c", STATSD_SINK], stdout=subprocess.PIPE, text=True, cpus=LOAD_CPUS)
    otlp = procs.start([sys.executable, os.path.join(root, "tests", "support", "otlp_receiver.py"), otlp_dir, "200"],
                       cpus=LOAD_CPUS,
                       stdout=subprocess.PIPE, text=True)
    return read_port(statsd, "the StatsD sink"), read_port(otlp, "the OTLP receiver")


def take_otlp_requests():
    """How many OTLP requests arrived since the last call; their records
    are deleted (a run of every function sends megabytes)."""
    n = 0
    for meta in glob.glob(os.path.join(otlp_dir, "*.meta")):
        base = meta[:-len(".meta")]
        for f in (base + ".raw", base + ".body", meta):
            os.unlink(f)
        n += 1
    return n


def shim_env(config):
    env = base_env()
    env.update(LD_PRELOAD=LIB, STDBTEL_CONFIG=config, STDBTEL_LOG="warn",
               STATSD_HOST="127.0.0.1", STATSD_PORT=str(statsd_port),
               OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp_port}",
               # metrics every second: several exports inside each measured run
               OTEL_METRIC_EXPORT_INTERVAL="1000")
    return env


def write_configs(server, binary, pack, prefix):
    """The config file of each mode but plain, and how many hooks the
    every-function config has."""
    d = os.path.join(tmp, server)
    os.makedirs(d)
    os.chmod(d, 0o755)
    files = {m: os.path.join(d, m + ".toml") for m in ("loaded", "pack", "everything")}
    with open(files["loaded"], "w") as f:
        f.write(f'[telemetry]\nenabled = true\nservice_name = "{server}"\n'
                f'statsd_endpoint = "127.0.0.1:{statsd_port}"\notlp_endpoint = "http://127.0.0.1:{otlp_port}"\n')
    shutil.copy(pack, files["pack"])
    if not any(m == "everything" for m, _ in MODES):
        return files, 0
    out = subprocess.run([CLI, "config", binary, "*", "--metrics", prefix], capture_output=True, text=True)
    if out.returncode != 0:
        raise BenchError(f"stdbtel config {binary} '*' failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
    with open(files["everything"], "w") as f:
        f.write(out.stdout)
    for path in files.values():
        os.chmod(path, 0o644)
    return files, out.stdout.count("[[hook]]")


def last_line(path):
    try:
        with open(path, errors="replace") as f:
            lines = [l.strip() for l in f if l.strip()]
    except OSError:
        return "(no output)"
    return lines[-1] if lines else "(no output)"


def wait_ready(proc, what, errfile, ready):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with status {proc.returncode} before answering; "
                             f"its last line: {last_line(errfile)}")
        if ready():
            return
        time.sleep(0.05)
    raise BenchError(f"{what} did not answer within {START_TIMEOUT} s; its last line: {last_line(errfile)}")


def run_tool(argv, what, timeout, **kw):
    """Runs a load generator to its end: its stdout."""
    proc = procs.start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cpus=LOAD_CPUS, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        procs.stop(proc)
        raise BenchError(f"{what} did not finish within {timeout} s")
    procs.running.remove(proc)
    if proc.returncode != 0:
        raise BenchError(f"{what} exited with status {proc.returncode}: "
                         f"{((err or out).strip().splitlines() or ['?'])[-1]}")
    return out


def percentile(sorted_xs, q):
    return sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))]


def check_alive(server, what):
    if server.poll() is not None:
        raise BenchError(f"{what} died during the run (status {server.returncode})")


# ---------------------------------------------------------------- redis

def redis_ping(port):
    try:
        import socket
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_run(mode, label, configs):
    """One fresh redis-server in this mode, one redis-benchmark run:
    {test: (requests/s, p50 ms, p99 ms)}."""
    d = tempfile.mkdtemp(dir=tmp, prefix="redis-run-")
    port = peers.free_port()
    env = base_env() if mode == "plain" else shim_env(configs[mode])
    log = os.path.join(d, "server.log")
    with open(log, "w") as f:
        server = procs.start([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", d], env=env, stdout=f, stderr=subprocess.STDOUT, cpus=SERVER_CPUS)
    what = f"redis-server ({label})"
    try:
        wait_ready(server, what, log, lambda: redis_ping(port))
        out = run_tool(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", "1",
                        "-t", "set,get", "-n", str(REDIS_REQUESTS), "-r", "100000", "--csv", "--precision", "3"],
                       f"redis-benchmark against {what}", 600, env=base_env())
        check_alive(server, what)
    finally:
        procs.stop(server)
        shutil.rmtree(d, ignore_errors=True)
    rows = {r["test"]: r for r in csv.DictReader(io.StringIO(out))}
    try:
        return {t: (float(rows[t]["rps"]), float(rows[t]["p50_latency_ms"]), float(rows[t]["p99_latency_ms"]))
                for t in ("SET", "GET")}
    except (KeyError, ValueError):
        raise BenchError(f"redis-benchmark printed no SET/GET rows: {out.strip()[:200]!r}")


# ---------------------------------------------------------------- PostgreSQL

PGBIN = "/usr/lib/postgresql/15/bin"
pg_user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None  # PostgreSQL refuses root
pg_dir = os.path.join(tmp, "pg")


def pg_owned_dir(path):
    os.makedirs(path)
    if pg_user:
        os.chown(path, pg_user.pw_uid, pg_user.pw_gid)
    return path


def pg_ready(port):
    return subprocess.run([os.path.join(PGBIN, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                          env=base_env()).returncode == 0


def pg_start(data, rundir, env, what):
    """The postmaster on data (its pid is the Popen's: no wrapper between)."""
    port = peers.free_port()
    log = os.path.join(rundir, "server.log")
    argv = [POSTGRES, "-D", data, "-c", "listen_addresses=127.0.0.1", "-c", f"port={port}",
            "-c", f"unix_socket_directories={rundir}", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "autovacuum=off"]
    with open(log, "w") as f:
        # SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for clients)
        server = procs.start(argv, stop_signal=signal.SIGINT, user=pg_user, env=env, stdout=f,
                             stderr=subprocess.STDOUT, cwd=rundir, cpus=SERVER_CPUS)
    try:
        wait_ready(server, what, log, lambda: pg_ready(port))
    except BaseException:
        procs.stop(server)
        raise
    return server, port


def pgbench(port, args, what, timeout):
    return run_tool([os.path.join(PGBIN, "pgbench"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                     *args, "postgres"], what, timeout, env=base_env())


def pg_prepare():
    """initdb and pgbench -i once, into a template every run copies."""
    pg_owned_dir(pg_dir)
    template = os.path.join(pg_dir, "template")
    run_tool([os.path.join(PGBIN, "initdb"), "-D", template, "-A", "trust", "-U", "postgres", "-E", "UTF8",
              "--locale=C", "--no-sync"], "initdb", 300, user=pg_user, cwd=pg_dir, env=base_env())
    rundir = pg_owned_dir(os.path.join(pg_dir, "init"))
    server, port = pg_start(template, rundir, base_env(), "postgres (pgbench -i)")
    try:
        pgbench(port, ["-i", "-q", "-s", str(PG_SCALE)], "pgbench -i", 300)
    finally:
        procs.stop(server)
    return template


PG_WORKLOADS = [("select-only", ["-S"]), ("TPC-B", [])]


def pg_run(mode, label, configs, template):
    """One fresh postmaster in this mode on a fresh copy of the template,
    each pgbench workload once: {workload: (tps, p50 ms, p99 ms)}."""
    pg_run.count += 1
    rundir = pg_owned_dir(os.path.join(pg_dir, f"run-{pg_run.count}"))
    data = os.path.join(rundir, "data")
    subprocess.run(["cp", "-a", template, data], check=True)
    env = base_env() if mode == "plain" else shim_env(configs[mode])
    what = f"postgres ({label})"
    server, port = pg_start(data, rundir, env, what)
    results = {}
    try:
        pgbench(port, ["-n", "-S", "-c", "4", "-j", "2", "-T", str(PG_WARM_SECONDS)],
                f"pgbench warm-up against {what}", PG_WARM_SECONDS + 300)
        for name, flags in PG_WORKLOADS:
            prefix = os.path.join(rundir, name)
            out = pgbench(port, ["-n", "-c", "4", "-j", "2", "-T", str(PG_SECONDS), *flags, "-l",
                                 f"--log-prefix={prefix}"], f"pgbench {name} against {what}", PG_SECONDS + 300)
            tps = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", out, re.M)
            if not tps:
                raise BenchError(f"pgbench {name} printed no tps line: {out.strip()[-200:]!r}")
            # per-transaction log: client_id transaction_no time_us script_no epoch epoch_us
            lat = []
            for path in glob.glob(prefix + ".*"):
                with open(path) as f:
                    lat += [int(w[2]) for w in (l.split() for l in f) if len(w) > 2 and w[2].isdigit()]
            if not lat:
                raise BenchError(f"pgbench {name} wrote no transaction log under {prefix}.*")
            lat.sort()
            results[name] = (float(tps.group(1)), percentile(lat, 0.50) / 1000, percentile(lat, 0.99) / 1000)
        check_alive(server, what)
    finally:
        procs.stop(server)
        shutil.rmtree(rundir, ignore_errors=True)
    return results


pg_run.count = 0


# ---------------------------------------------------------------- rounds and tables

def version(argv):
    out = subprocess.run(argv, capture_output=True, text=True).stdout.strip()
    return out.splitlines()[0] if out else "?"


def bench(server, run, tests, hooks, header):
    """Warm-up round, then the measured rounds, modes round-robin (each
    round starting one mode later, so that no mode always follows the
    same one); prints the tables. The pack's ratios."""
    got = {m: {t: [] for t in tests} for m, _ in MODES}
    otlp = {m: [] for m, _ in MODES}
    for r in range(rounds + 1):
        order = MODES[r % len(MODES):] + MODES[:r % len(MODES)]
        for mode, label in order:
            res = run(mode, label)
            sent = take_otlp_requests()
            tag = "warm-up" if r == 0 else f"round {r}/{rounds}"
            print(f"  {server} {tag:<11} {label:<17} " + "  ".join(f"{t} {res[t][0]:.0f}/s" for t in tests) +
                  f"  ({sent} OTLP requests)", file=sys.stderr, flush=True)
            if r == 0:
                continue  # warm-up: page cache, first start of each mode
            otlp[mode].append(sent)
            for t in tests:
                got[mode][t].append(res[t])
    ratios = {}
    for t in tests:
        print(f"\n== {header}, {t}")
        print(f"{'mode':<18} {'hooks':>5} {'median/s':>10} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8}"
              f"  {'min-max/s':<17} OTLP req/run")
        base = statistics.median(x[0] for x in got["plain"][t])
        for mode, label in MODES:
            xs = got[mode][t]
            m = statistics.median(x[0] for x in xs)
            ratios[(t, mode)] = m / base
            spread = f"{min(x[0] for x in xs):.0f}-{max(x[0] for x in xs):.0f}"
            print(f"{label:<18} {hooks[mode]:>5} {m:>10.1f} {m / base:>6.3f}"
                  f" {statistics.median(x[1] for x in xs):>8.3f} {statistics.median(x[2] for x in xs):>8.3f}"
                  f"  {spread:<17} {statistics.median(otlp[mode]):.0f}")
    return {t: ratios[(t, "pack")] for t in tests if (t, "pack") in ratios}


def hook_count(path):
    with open(path) as f:
        return sum(1 for line in f if line.strip() == "[[hook]]")


def main():
    global statsd_port, otlp_port
    t0 = time.monotonic()
    statsd_port, otlp_port = start_sinks()
    verdicts = []
    if "redis" in servers:
        configs, n = write_configs("redis", REDIS, os.path.join(root, "symbols", "redis.toml"), "redis.fn")
        hooks = {"plain": "-", "loaded": 0, "pack": hook_count(configs["pack"]), "everything": n}
        header = (f"{REDIS} ({version([REDIS, '--version']).split(' sha=')[0]}): redis-benchmark -c 50 -P 1"
                  f" -n {REDIS_REQUESTS} -r 100000")
        ratios = bench("redis", lambda m, l: redis_run(m, l, configs), ["SET", "GET"], hooks, header)
        verdicts += [(f"redis {t}", r) for t, r in ratios.items()]
    if "postgres" in servers:
        configs, n = write_configs("postgres", POSTGRES, os.path.join(root, "symbols", "postgresql.toml"),
                                   "postgres.fn")
        hooks = {"plain": "-", "loaded": 0, "pack": hook_count(configs["pack"]), "everything": n}
        template = pg_prepare()
        header = (f"{POSTGRES} ({version([POSTGRES, '--version'])}): pgbench -c 4 -j 2 -T {PG_SECONDS},"
                  f" scale {PG_SCALE}")
        ratios = bench("postgres", lambda m, l: pg_run(m, l, configs, template), [w for w, _ in PG_WORKLOADS],
                       hooks, header)
        verdicts += [(f"postgres {t}", r) for t, r in ratios.items()]
    print(f"\nmedians of {rounds} alternated rounds after a warm-up round, one fresh server per run; p50/p99:"
          f" redis-benchmark's own (--csv), pgbench's computed from its per-transaction log (-l)")
    for name, r in verdicts:
        print(f"target (pack >= {TARGET:.0%} of the uninstrumented throughput), {name}: {r:.3f} "
              + ("met" if r >= TARGET else "NOT met"))
    print(f"whole run: {time.monotonic() - t0:.0f} s")


# Ctrl-C raises KeyboardInterrupt even where SIGINT came ignored (a shell's background job).
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, interrupted)
signal.signal(signal.SIGHUP, interrupted)
status = 0
try:
    main()
except BenchError as e:
    print(f"stdbtel: bench-servers: {e}", file=sys.stderr)
    status = 1
except KeyboardInterrupt:
    print("stdbtel: bench-servers: interrupted; every process it started is stopped", file=sys.stderr)
    status = 130
finally:
    procs.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(status)
PY
