#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what the tests need, builds with -Werror, and runs the whole
# suite (meson test). Usage: scripts/test.sh [meson test options]
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh

install_missing $STDBTEL_BUILD_PACKAGES libcriterion-dev g++ redis-server python3
ensure_rustc
configure_and_build build-test -Dwerror=true -Dtests=true

status=0
meson test -C build-test --print-errorlogs "$@" || status=$?
# One closing line over every test case: Criterion's per-case counts, and
# one case for each test that is not a Criterion binary.
python3 scripts/test_summary.py build-test/meson-logs/testlog.json || status=1
exit $status
