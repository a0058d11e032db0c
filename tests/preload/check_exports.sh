#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks that libstdbtel.so exports exactly the functions its version script
# lists: any other exported symbol could interpose on one of the host's.
set -eu
lib=$1 map=$2
command -v nm >/dev/null || { echo "FAIL: nm is missing (binutils)"; exit 1; }
[ -f "$lib" ] || { echo "FAIL: $lib not built"; exit 1; }
# Names in "global:" sections of the map, one per line, sorted.
expected=$(sed -n '/global:/,/local:/p' "$map" | tr -d ' \t;' | grep -v -e '^global:' -e '^local:' -e '^$' -e '^/\*' -e '^\*' | sort || true)
# Defined dynamic symbols, minus the version node names the linker adds.
actual=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort)
echo "expected exports: ${expected:-(none)}"
echo "actual exports:   ${actual:-(none)}"
if [ "$expected" != "$actual" ]; then
  echo "FAIL: libstdbtel.so exports differ from shim/libstdbtel.map"
  exit 1
fi
# The library must still have its constructor (an empty .so would pass above).
if ! nm "$lib" 2>/dev/null | grep -q stdbtel_start && ! readelf -S "$lib" | grep -q init_array; then
  echo "FAIL: no constructor found in $lib"
  exit 1
fi
