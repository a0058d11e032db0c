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
