#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what the tests need, builds with -Werror, and runs the whole
# suite (meson test); then builds again with ASan and UBSan (build-asan) and
# runs the whole suite there too: the hook engine, the preload path and
# every test added later, with the parsers and the demangler as a bonus
# (about 4 minutes on 2 cores). Usage: scripts/test.sh [meson test options]
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh

install_missing $STDBTEL_BUILD_PACKAGES libcriterion-dev g++ redis-server redis-tools postgresql python3 gdb openssl
ensure_rustc
ensure_node_packages
configure_and_build build-test -Dwerror=true -Dtests=true

status=0
rm -f build-test/meson-logs/testlog.json
meson test -C build-test --print-errorlogs "$@" || status=$?

# The sanitizer build: the shim, the test programs and the targets built by
# meson are instrumented; b_lundef=false because a sanitized shared library
# leaves the runtime's symbols to the program (the tests preload the ASan
# runtime before libstdbtel.so, tests/meson.build STDBTEL_PRELOAD_FIRST).
configure_and_build build-asan -Dwerror=true -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false
# Any report fails its test: ASan aborts at the first error; UBSan (built
# with recovery by default) halts too instead of printing and going on.
# LeakSanitizer stays on (detect_leaks=1): a leak at exit fails the program.
ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:print_summary=1
UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1
# LeakSanitizer stops the process's threads with ptrace; a sandbox that
# forbids that makes every sanitized program fail at exit. There, and only
# there, leak checking is turned off, and the script says so.
if ASAN_OPTIONS=$ASAN_OPTIONS build-asan/stdbtel --help 2>&1 >/dev/null |
    grep -q "LeakSanitizer has encountered a fatal error"; then
  say "LeakSanitizer cannot run here (ptrace refused): leak checking off in the sanitizer run"
  ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0
fi
export ASAN_OPTIONS UBSAN_OPTIONS
rm -f build-asan/meson-logs/testlog.json
meson test -C build-asan --print-errorlogs "$@" || status=1

# One closing line over every test case of both runs: Criterion's per-case
# counts, and one case for each test that is not a Criterion binary.
python3 scripts/test_summary.py build-test/meson-logs/testlog.json build-asan/meson-logs/testlog.json ||
  status=1
exit $status
