#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job, end to end: builds everything, starts the SpacetimeDB-shaped
# server (tests/standin: spacetimedb-standalone, a test fixture and this
# demo's target, not the real server) under libstdbtel.so with the shipped
# pack symbols/spacetimedb.toml, drives a short workload over HTTP (reducer
# calls, SQL, a failing and a panicking reducer), and shows what was
# captured: spans per name with counts and p50/p99 latency read back from
# the OTLP-JSON traces file, and the StatsD lines a local listener received.
# Usage: scripts/demo.sh [CALLS]   (reducer calls, default 200)
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh

calls=${1:-200}
install_missing $STDBTEL_BUILD_PACKAGES libcriterion-dev g++ python3
ensure_rustc
configure_and_build build-demo -Dtests=true

server=build-demo/tests/standin/spacetimedb-standalone
work=$(mktemp -d /tmp/stdbtel-demo-XXXXXX)
traces=$work/traces.jsonl
statsd_lines=$work/statsd.txt
config=$work/spacetimedb.toml
server_pid="" listener_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
  true
}
trap cleanup EXIT INT TERM

echo "== stdbtel check symbols/spacetimedb.toml $server   (which pack hooks resolve, and how they are hooked)"
build-demo/stdbtel check symbols/spacetimedb.toml "$server" || true
echo

# Free ports for the server and the StatsD listener (bound and released).
ports=$(python3 -c 'import socket
def free(kind):
    s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
print(free(socket.SOCK_STREAM), free(socket.SOCK_DGRAM))')
http_port=${ports% *}
statsd_port=${ports#* }

# The pack as shipped, plus a traces file (the pack itself sends only to the collector and StatsD).
python3 - symbols/spacetimedb.toml "$config" "$traces" <<'PY'
import sys
src, dst, traces = sys.argv[1:4]
out = []
for line in open(src):
    out.append(line)
    if line.strip() == "[telemetry]":
        out.append(f'traces_file = "{traces}"\n')
open(dst, "w").writelines(out)
PY

# A StatsD listener: every datagram's lines into a file (the demo's stand-in for a statsd daemon).
python3 -u - "$statsd_port" "$statsd_lines" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "a") as f:
    while True:
        data, _ = s.recvfrom(65536)
        f.write(data.decode("utf-8", "replace") + "\n")
        f.flush()
PY
listener_pid=$!

echo "== LD_PRELOAD=libstdbtel.so $server start --listen-addr 127.0.0.1:$http_port"
SPACETIMEDB_TELEMETRY_ENABLED=true STDBTEL_CONFIG=$config STDBTEL_HTTP_PORTS=$http_port \
  STATSD_HOST=127.0.0.1 STATSD_PORT=$statsd_port OTEL_METRIC_EXPORT_INTERVAL=500 \
  OTEL_TRACES_SAMPLER=always_on OTEL_EXPORTER_OTLP_ENDPOINT= OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none \
  LD_PRELOAD="$PWD/build-demo/libstdbtel.so" \
  "$server" start --listen-addr "127.0.0.1:$http_port" --data-dir "$work/data" >"$work/server.out" 2>&1 &
server_pid=$!

echo "== the workload: $calls reducer calls, SQL, a failing and a panicking reducer"
python3 - "$http_port" "$calls" <<'PY'
import http.client, json, sys, time
port, calls = int(sys.argv[1]), int(sys.argv[2])
for _ in range(100):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10); c.request("GET", "/v1/ping"); c.getresponse().read()
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("the server did not come up")
codes = {}
def call(method, path, body=None, ctype="application/json"):
    c.request(method, path, body=body, headers={"Content-Type": ctype} if body is not None else {})
    r = c.getresponse(); r.read()
    key = (method, path, r.status)
    codes[key] = codes.get(key, 0) + 1
for i in range(calls):
    call("POST", "/v1/database/quickstart/call/add", json.dumps([i + 1, f"person-{i}"]))
for q in ("SELECT * FROM person", "SELECT * FROM person WHERE id = 3"):
    call("POST", "/v1/database/quickstart/sql", q, "text/plain")
call("POST", "/v1/database/quickstart/call/fail", json.dumps([calls + 1]))
call("POST", "/v1/database/quickstart/call/panic_reducer", json.dumps([calls + 2]))
call("GET", "/v1/metrics")
for (m, what, status), n in sorted(codes.items()):
    print(f"  {n:5d} x {m} {what} -> {status}")
PY
sleep 1
kill "$server_pid"; wait "$server_pid" || true; server_pid=""
sleep 0.3
kill "$listener_pid"; wait "$listener_pid" 2>/dev/null || true; listener_pid=""
echo
echo "== the shim's own lines (server stderr)"
grep '^stdbtel:' "$work/server.out" || echo "  (none)"
echo
echo "== spans per name ($traces)"
python3 - "$traces" <<'PY'
import json, sys
by = {}
errors = {}
for line in open(sys.argv[1]):
    for rs in json.loads(line)["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                ms = (int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e6
                by.setdefault(s["name"], []).append(ms)
                errors[s["name"]] = errors.get(s["name"], 0) + (s.get("status", {}).get("code") == 2)
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]
print(f'  {"span":<60} {"count":>6} {"errors":>6} {"p50 ms":>9} {"p99 ms":>9}')
for name in sorted(by):
    xs = by[name]
    print(f'  {name[:60]:<60} {len(xs):6d} {errors[name]:6d} {pct(xs, 50):9.3f} {pct(xs, 99):9.3f}')
PY
echo
echo "== StatsD: totals per metric and tags over every flush ($statsd_lines)"
python3 - "$statsd_lines" <<'PY'
import sys
counters, timers = {}, {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    name, rest = line.split(":", 1)
    fields = rest.split("|")
    tags = next((f[1:] for f in fields if f.startswith("#")), "")
    key = name + (f" #{tags}" if tags else "")
    if fields[1] == "c":
        counters[key] = counters.get(key, 0) + int(fields[0])
    elif fields[1] == "ms":
        rate = next((float(f[1:]) for f in fields if f.startswith("@")), 1.0)
        timers[key] = timers.get(key, 0) + 1 / rate
for k in sorted(counters):
    print(f"  {counters[k]:7d}  {k}")
for k in sorted(timers):
    print(f"  {timers[k]:7.0f}  {k}  (timer: calls timed)")
PY
echo
echo "files: traces $traces, StatsD lines $statsd_lines, config $config, server output $work/server.out"
trap - EXIT INT TERM
