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
