#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what the build needs, builds, and runs the bundled demo target
# (tests/targets/c_target.c) under libstdbtel.so with symbols/demo.toml,
# showing what stdbtel finds and captures.
set -eu
cd "$(dirname "$0")/.."
. scripts/setup.sh

install_missing $STDBTEL_BUILD_PACKAGES
configure_and_build build -Dtests=false

target=build/tests/targets/c_target_pie
echo "== stdbtel symbols $target 'db_*'   (functions a config can name)"
build/stdbtel symbols "$target" 'db_*'
echo
echo "== stdbtel check symbols/demo.toml $target   (what the config resolves to)"
build/stdbtel check symbols/demo.toml "$target"
echo
traces=/tmp/stdbtel-demo-traces.jsonl   # symbols/demo.toml's traces_file
rm -f "$traces"
echo "== LD_PRELOAD=build/libstdbtel.so STDBTEL_CONFIG=symbols/demo.toml $target 5"
LD_PRELOAD="$PWD/build/libstdbtel.so" STDBTEL_CONFIG="$PWD/symbols/demo.toml" "$target" 5
echo
echo "== captured spans ($traces): trace, span, parent, name, duration"
python3 - "$traces" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    for rs in json.loads(line)["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                us = (int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1000
                err = "  ERROR" if s.get("status", {}).get("code") == 2 else ""
                print(f'{s["traceId"][:8]}  {s["spanId"]}  {s.get("parentSpanId", "-"):16}  {s["name"]:15} {us:8.3f} us{err}')
PY
