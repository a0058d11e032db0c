#!/bin/sh
# SPDX-License-Identifier: MIT
# Starts a real SpacetimeDB server with stdbtel loaded and telemetry on,
# sending to the local OpenTelemetry environment (a Collector taking OTLP on
# http://localhost:4318 and StatsD on localhost:8125, unless the usual
# variables say otherwise), or checks first what the pack finds in it.
#
#   scripts/run-with-telemetry.sh [--spacetime PATH] [--config PACK] [--check] [-- ARGS...]
#
#   --spacetime PATH  the `spacetime` command (default: the one on PATH); its
#                     spacetimedb-standalone is looked for beside it, as
#                     `spacetime start` does
#   --config PACK     the symbol pack (default: STDBTEL_CONFIG, else the
#                     installed <prefix>/share/stdbtel/spacetimedb.toml, else
#                     this repository's symbols/spacetimedb.toml)
#   --check           only report, with `stdbtel check`, which pack hooks
#                     resolve in spacetimedb-standalone and how each would be
#                     hooked; start nothing
#   ARGS              passed to `spacetime start` (default: none)
#
# libstdbtel.so and stdbtel are taken from STDBTEL_LIBRARY / STDBTEL_CLI,
# else from the installed ones, else from this repository's build/ (built
# here by scripts/demo.sh or `meson compile -C build`).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }
die() { printf 'stdbtel: %s\n' "$*" >&2; exit 2; }

spacetime="" config=${STDBTEL_CONFIG:-} check=false
while [ $# -gt 0 ]; do
  case $1 in
    --spacetime) [ $# -ge 2 ] || die "--spacetime needs a path"; spacetime=$2; shift 2 ;;
    --config) [ $# -ge 2 ] || die "--config needs a path"; config=$2; shift 2 ;;
    --check) check=true; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

if [ -z "$spacetime" ]; then
  spacetime=$(command -v spacetime || true)
  [ -n "$spacetime" ] || die "no spacetime command on PATH; install SpacetimeDB or pass --spacetime PATH"
fi
[ -x "$spacetime" ] || die "$spacetime is not an executable"
# `spacetime start` runs spacetimedb-standalone from the directory of the
# real binary (the symlink's target), in the same process.
real=$(readlink -f "$spacetime")
standalone=$(dirname "$real")/spacetimedb-standalone
[ -x "$standalone" ] || die "no spacetimedb-standalone beside $real (the server binary that spacetime start runs)"

first_of() { for f in "$@"; do [ -e "$f" ] && { printf '%s\n' "$f"; return 0; }; done; return 1; }
if [ -z "$config" ]; then
  config=$(first_of /usr/local/share/stdbtel/spacetimedb.toml /usr/share/stdbtel/spacetimedb.toml \
                    "$here/symbols/spacetimedb.toml") || die "no symbol pack found; pass --config"
fi
[ -r "$config" ] || die "cannot read the pack $config"
library=${STDBTEL_LIBRARY:-$(first_of /usr/local/lib/x86_64-linux-gnu/libstdbtel.so \
  /usr/lib/x86_64-linux-gnu/libstdbtel.so "$here/build/libstdbtel.so" || true)}
cli=${STDBTEL_CLI:-$(command -v stdbtel || first_of "$here/build/stdbtel" || true)}

if $check; then
  [ -n "$cli" ] || die "no stdbtel command found (install it, or build with: meson setup build && meson compile -C build)"
  exec "$cli" check "$config" "$standalone"
fi

[ -n "$library" ] || die "no libstdbtel.so found (install it, or build with: meson setup build && meson compile -C build)"
# after what is preloaded already (a sanitizer runtime must stay first)
export LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$library"
export STDBTEL_CONFIG="$config"
export SPACETIMEDB_TELEMETRY_ENABLED=true
export OTEL_EXPORTER_OTLP_ENDPOINT="${OTEL_EXPORTER_OTLP_ENDPOINT:-http://localhost:4318}"
export STATSD_HOST="${STATSD_HOST:-localhost}" STATSD_PORT="${STATSD_PORT:-8125}"
printf 'stdbtel: starting %s start %s with %s (pack %s), OTLP to %s, StatsD to %s:%s\n' "$spacetime" "$*" \
  "$library" "$config" "$OTEL_EXPORTER_OTLP_ENDPOINT" "$STATSD_HOST" "$STATSD_PORT" >&2
exec "$spacetime" start "$@"
