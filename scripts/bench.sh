#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the benchmarks and prints their figures. Usage: scripts/bench.sh
# STDBTEL_BENCH_BUILD names the build directory (default build-test).
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh
install_missing $STDBTEL_BUILD_PACKAGES libcriterion-dev g++ python3
ensure_rustc
build=${STDBTEL_BENCH_BUILD:-build-test}
configure_and_build "$build" -Dwerror=true -Dtests=true
# uftrace is the comparison, not a dependency: without it the stdbtel
# figures are still printed, with one line saying why uftrace's are not.
uftrace_missing=""
if ! command -v uftrace >/dev/null 2>&1; then
  if ! install_missing uftrace 2>/dev/null || ! command -v uftrace >/dev/null 2>&1; then
    uftrace_missing="uftrace could not be installed (apt-get install uftrace failed or needs root)"
  fi
fi

echo "== start-up resolution: a generated binary with 300k Rust-style function symbols, 50 hooks"
"$build"/tests/bench/bench_resolve "$build"/tests/bench/many_symbols "$build"/tests/bench/many_symbols.toml 9

echo
echo "== hooked call overhead: bench_work() in a loop, unhooked vs hooked by libstdbtel.so (unsampled) vs uftrace -P"
target=$build/tests/bench/bench_hook_target
config=$(mktemp /tmp/stdbtel-bench-XXXXXX.toml)
tagged_config=$(mktemp /tmp/stdbtel-bench-tagged-XXXXXX.toml)
traces=$(mktemp /tmp/stdbtel-bench-XXXXXX.jsonl)
uftrace_dir=$(mktemp -d /tmp/stdbtel-bench-uftrace-XXXXXX)
trap 'rm -rf "$config" "$tagged_config" "$traces" "$uftrace_dir"' EXIT
cat >"$config" <<TOML
[telemetry]
enabled = true
log_level = "warn"
traces_file = "$traces"
[[hook]]
symbol = "bench_work"
TOML
# The same hook with a tag read from a register: every call also finds its
# series (256 values of the low byte: the per-thread series table's size).
cat "$config" - >"$tagged_config" <<TOML
[[hook.arg]]
index = 1
type = "u8"
tag = "low_byte"
TOML
calls=20000000
runs=7
plain="" hooked="" tagged="" uftraced=""
# The program times its own loop (thread CPU time), so neither tool's
# start-up nor its trace flushing at exit is in the figures.
for run in $(seq $runs); do
  plain="$plain $("$target" $calls | cut -d' ' -f1)"
  hooked="$hooked $(LD_PRELOAD="$PWD/$build/libstdbtel.so" STDBTEL_CONFIG="$config" "$target" $calls | cut -d' ' -f1)"
  tagged="$tagged $(LD_PRELOAD="$PWD/$build/libstdbtel.so" STDBTEL_CONFIG="$tagged_config" "$target" $calls | cut -d' ' -f1)"
  if [ -z "$uftrace_missing" ]; then
    # -P patches bench_work at run time (no -pg build), --no-libcall keeps
    # PLT calls out; every call is written to the trace in $uftrace_dir.
    out=$(uftrace record -d "$uftrace_dir/run" --no-libcall -P bench_work "$target" $calls 2>/dev/null) ||
      uftrace_missing="uftrace record failed: $(uftrace record -d "$uftrace_dir/run" --no-libcall -P bench_work "$target" 1000 2>&1 | tail -1)"
    uftraced="$uftraced $(printf '%s\n' "$out" | cut -d' ' -f1)"
    rm -rf "$uftrace_dir/run"
  fi
done
[ -n "$uftrace_missing" ] && uftraced=""
python3 - "$runs" "$plain" "$hooked" "$uftraced" "$tagged" <<'PY'
import statistics, sys
runs = sys.argv[1]
plain = [float(x) for x in sys.argv[2].split()]
hooked = [float(x) for x in sys.argv[3].split()]
uft = [float(x) for x in sys.argv[4].split()]
tagged = [float(x) for x in sys.argv[5].split()]
p = statistics.median(plain)
def row(name, xs):
    m = statistics.median(xs)
    print(f"{name:<22} median {m:7.2f} ns/call  added {m - p:7.2f} ns  (runs: {' '.join(f'{x:.2f}' for x in xs)})")
row("unhooked:", plain)
row("stdbtel (unsampled):", hooked)
row("stdbtel + a u8 tag:", tagged)
if uft:
    row("uftrace record -P:", uft)
print(f"medians of {runs} alternated runs; stdbtel times every call into a histogram and writes a span only when"
      " sampled; uftrace writes an entry and an exit record to its trace buffer for every call")
PY
if [ -n "$uftrace_missing" ]; then
  echo "uftrace comparison not run: $uftrace_missing"
fi

echo
echo "== HTTP requests through the stand-in server (tests/standin): without the shim, with [http] only, with the SpacetimeDB pack"
# One keep-alive client (Python's http.client, one request at a time) against
# the server: the client's own cost is in every figure alike, so the ns added
# per request are what the differences show. Runs alternate; medians of 5.
server=$build/tests/standin/spacetimedb-standalone
python3 - "$server" "$PWD/$build/libstdbtel.so" "$PWD/symbols/spacetimedb.toml" <<'PY'
import http.client, json, os, signal, socket, statistics, subprocess, sys, tempfile, time
server, lib, pack = sys.argv[1:4]
requests, runs = 3000, 5

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def one_run(mode):
    port = free_port()
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("OTEL_", "STATSD_", "STDBTEL_", "LD_PRELOAD")):
            del env[k]
    if mode != "plain":
        cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        if mode == "http":
            cfg.write('[telemetry]\nenabled = true\nstatsd_endpoint = "127.0.0.1:9"\n[http]\nports = [%d]\n'
                      'routes = ["/v1/database/{name_or_identity}/call/{reducer}", "/v1/ping"]\n' % port)
        else:
            cfg.write(open(pack).read())
        cfg.close()
        env.update(LD_PRELOAD=lib, STDBTEL_CONFIG=cfg.name, SPACETIMEDB_TELEMETRY_ENABLED="true",
                   STDBTEL_HTTP_PORTS=str(port), STATSD_HOST="127.0.0.1", STATSD_PORT="9",
                   OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", STDBTEL_LOG="error")
    with tempfile.TemporaryDirectory() as data:
        p = subprocess.Popen([server, "start", "--listen-addr", f"127.0.0.1:{port}", "--data-dir", data], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/v1/ping"); c.getresponse().read(); break
                except OSError:
                    time.sleep(0.02)
            body = json.dumps([1, "bench"])
            t0 = time.perf_counter()
            for i in range(requests):
                c.request("POST", "/v1/database/quickstart/call/say_hello", body="[]",
                          headers={"Content-Type": "application/json"})
                c.getresponse().read()
            return (time.perf_counter() - t0) / requests * 1e9
        finally:
            p.send_signal(signal.SIGTERM); p.wait(10)

res = {"plain": [], "http": [], "pack": []}
for _ in range(runs):
    for mode in res:
        res[mode].append(one_run(mode))
base = statistics.median(res["plain"])
for mode, label in (("plain", "without the shim"), ("http", "[http] only"), ("pack", "SpacetimeDB pack + [http]")):
    m = statistics.median(res[mode])
    print(f"{label:<28} median {m/1000:8.1f} us/request  added {(m-base)/1000:6.1f} us  ratio {base/m:5.3f}"
          f"  (runs: {' '.join(f'{x/1000:.1f}' for x in res[mode])})")
print(f"{requests} POST .../call/say_hello requests per run, one keep-alive connection; medians of {runs} alternated runs")
PY
