#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the benchmarks and prints their figures. Usage: scripts/bench.sh
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh
install_missing $STDBTEL_BUILD_PACKAGES libcriterion-dev g++ python3
ensure_rustc
configure_and_build build-test -Dwerror=true -Dtests=true

echo "== start-up resolution: a generated binary with 300k Rust-style function symbols, 50 hooks"
build-test/tests/bench/bench_resolve build-test/tests/bench/many_symbols build-test/tests/bench/many_symbols.toml 9

echo
echo "== hooked call overhead: bench_work() in a loop, unhooked vs hooked by libstdbtel.so (unsampled)"
target=build-test/tests/bench/bench_hook_target
config=$(mktemp /tmp/stdbtel-bench-XXXXXX.toml)
traces=$(mktemp /tmp/stdbtel-bench-XXXXXX.jsonl)
trap 'rm -f "$config" "$traces"' EXIT
cat >"$config" <<TOML
[telemetry]
enabled = true
log_level = "warn"
traces_file = "$traces"
[[hook]]
symbol = "bench_work"
TOML
calls=20000000
plain="" hooked=""
for run in 1 2 3 4 5 6 7; do
  plain="$plain $("$target" $calls | cut -d' ' -f1)"
  hooked="$hooked $(LD_PRELOAD="$PWD/build-test/libstdbtel.so" STDBTEL_CONFIG="$config" "$target" $calls | cut -d' ' -f1)"
done
python3 - "$plain" "$hooked" <<'PY'
import statistics, sys
plain = [float(x) for x in sys.argv[1].split()]
hooked = [float(x) for x in sys.argv[2].split()]
p, h = statistics.median(plain), statistics.median(hooked)
print(f"unhooked: median {p:.2f} ns/call  (runs: {' '.join(f'{x:.2f}' for x in plain)})")
print(f"hooked:   median {h:.2f} ns/call  (runs: {' '.join(f'{x:.2f}' for x in hooked)})")
print(f"added per hooked call: {h - p:.2f} ns (median of 7 alternated runs)")
PY
