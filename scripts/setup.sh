# SPDX-License-Identifier: MIT
# Sourced by demo.sh and test.sh: install what is missing (Debian 12, as
# root, with apt-get), then configure and build into the given directory.
# Quiet when nothing is missing; the build log is shown only on failure.

# Build dependencies, by Debian package name.
STDBTEL_BUILD_PACKAGES="gcc libc6-dev pkg-config meson ninja-build cmake binutils
  libcurl4-openssl-dev libprotobuf-c-dev protobuf-c-compiler libunwind-dev libzydis-dev zlib1g-dev"

say() { printf 'stdbtel: %s\n' "$*" >&2; }

# Installs each named package that is not installed yet.
install_missing() {
  missing=""
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing="$missing $pkg"
    fi
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "missing packages:$missing; run as root, or: sudo apt-get install$missing"
    return 1
  fi
  say "installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet: update once on failure.
  if ! apt-get install -y -q --no-install-recommends $missing >/tmp/stdbtel-apt.log 2>&1; then
    apt-get update -q >>/tmp/stdbtel-apt.log 2>&1
    if ! apt-get install -y -q --no-install-recommends $missing >>/tmp/stdbtel-apt.log 2>&1; then
      tail -20 /tmp/stdbtel-apt.log >&2
      say "apt-get could not install:$missing"
      return 1
    fi
  fi
}

# Puts a rustc on PATH: the one there, rustup's, or Debian's.
ensure_rustc() {
  command -v rustc >/dev/null 2>&1 && return 0
  for dir in "${CARGO_HOME:-$HOME/.cargo}/bin" /root/.cargo/bin; do
    if [ -x "$dir/rustc" ]; then
      PATH="$dir:$PATH"
      export PATH
      return 0
    fi
  done
  install_missing rustc
}

# configure_and_build DIR [meson options...]
configure_and_build() {
  dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    if ! meson setup "$dir" "$@" >"$dir.setup.log" 2>&1; then
      cat "$dir.setup.log" >&2
      say "meson setup failed"
      return 1
    fi
    rm -f "$dir.setup.log"
  fi
  if ! meson compile -C "$dir" >"$dir/compile.log" 2>&1; then
    cat "$dir/compile.log" >&2
    say "build failed"
    return 1
  fi
}

# The npm packages the tests use as real peers and independent decoders,
# pinned, installed once into build-npm/ (not in the repository):
#   statsd 0.9.0 (Etsy's daemon), @opentelemetry/otlp-transformer 0.216.0
#   (its protobufjs root decodes OTLP bodies from the official schema).
# Exports STDBTEL_NODE_MODULES for the tests. Needs node and npm (installed
# from Debian if missing) and the npm registry.
STDBTEL_NPM_PACKAGES="statsd@0.9.0 @opentelemetry/otlp-transformer@0.216.0"
ensure_node_packages() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || install_missing nodejs npm
  dir="$PWD/build-npm"
  if [ ! -f "$dir/installed" ] || [ "$(cat "$dir/installed")" != "$STDBTEL_NPM_PACKAGES" ]; then
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"name":"stdbtel-test-peers","private":true}' >"$dir/package.json"
    say "installing npm packages: $STDBTEL_NPM_PACKAGES"
    if ! (cd "$dir" && npm install --no-audit --no-fund --loglevel=error $STDBTEL_NPM_PACKAGES) >"$dir.log" 2>&1; then
      tail -20 "$dir.log" >&2
      say "npm could not install: $STDBTEL_NPM_PACKAGES"
      return 1
    fi
    echo "$STDBTEL_NPM_PACKAGES" >"$dir/installed"
  fi
  STDBTEL_NODE_MODULES="$dir/node_modules"
  export STDBTEL_NODE_MODULES
}
