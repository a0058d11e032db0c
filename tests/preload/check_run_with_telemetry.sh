#!/bin/sh
# SPDX-License-Identifier: MIT
# scripts/run-with-telemetry.sh on the stand-in's `spacetime` launcher chain:
# --check reports every pack hook hookable; a run starts the server with the
# shim loaded only into spacetimedb-standalone (the launchers stay inert),
# answers HTTP, and stops cleanly. Usage: check_run_with_telemetry.sh SCRIPT SPACETIME LIBRARY CLI
set -u
script=$1 spacetime=$2 library=$3 cli=$4
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
command -v python3 >/dev/null || fail "python3 is missing (scripts/test.sh installs it)"
work=$(mktemp -d /tmp/stdbtel-rwt-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

STDBTEL_CLI=$cli "$script" --spacetime "$spacetime" --check >"$work/check.out" 2>&1 ||
  fail "--check failed: $(cat "$work/check.out")"
grep -q "NOT HOOKABLE" "$work/check.out" && fail "a pack hook is not hookable: $(cat "$work/check.out")"
grep -Eq '^ +[^ ].* patched ' "$work/check.out" || fail "--check shows no patched function: $(cat "$work/check.out")"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# No collector here: an unreachable OTLP endpoint and StatsD port cost the server nothing.
# STDBTEL_PRELOAD_FIRST: the ASan runtime in the sanitizer build (it must be loaded first).
LD_PRELOAD=${STDBTEL_PRELOAD_FIRST:-} STDBTEL_LIBRARY=$library HOME=$work OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1 STATSD_PORT=1 \
  "$script" --spacetime "$spacetime" -- --listen-addr "127.0.0.1:$port" >"$work/run.out" 2>&1 &
pid=$!
python3 - "$port" <<'PY' || fail "the server did not answer GET /v1/ping: $(cat "$work/run.out")"
import http.client, sys, time
for _ in range(200):
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
        c.request("GET", "/v1/ping")
        sys.exit(0 if c.getresponse().status == 200 else 1)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
kill -TERM "$pid"
wait "$pid"
status=$?
pid=""
[ "$status" -eq 0 ] || fail "the server exited with status $status: $(cat "$work/run.out")"
started=$(grep -c 'hooks resolved' "$work/run.out")
[ "$started" -eq 1 ] || fail "expected one shim start line (spacetimedb-standalone's), got $started: $(cat "$work/run.out")"
grep -q '^stdbtel: spacetimedb-standalone (pid' "$work/run.out" || fail "the start line is not the server's: $(cat "$work/run.out")"
echo "ok: --check, and a run through spacetime -> spacetimedb-cli -> spacetimedb-standalone"
