# shellcheck shell=bash
# Shared by the project's shell scripts (scripts/*.sh, npm/scripts/build.sh), which
# `source` it after `set -euo pipefail`. It installs what the builds and tests need, once
# (each check is quick when the piece is already there), and starts a presence-server for
# a test. What comes from where, and why: docs/toolchain.md.
#
# Sets $root (the repository) and $tools (./.tools, where npm's binaryen, playwright-core
# and typescript go). Functions:
#
#   step TEXT...                 prints a step header
#   die TEXT...                  prints to stderr and exits 1
#   ensure_apt COMMAND PKG...    apt-get installs PKG... when COMMAND is missing
#   ensure_rust_target TARGET    rustup target add, when missing
#   ensure_rust_component NAME   rustup component add, when missing
#   ensure_node                  node and npm (Debian's)
#   ensure_chromium              Debian's chromium and chromedriver
#   ensure_wasm_toolchain        wasm32 target, wasm-pack, wasm-bindgen-cli, ./.tools
#   crate_version NAME           the version of NAME in Cargo.lock
#   free_port                    a free loopback TCP port
#   start_test_server BIN LOG [ARG...]
#                                starts a presence-server on a port the kernel picks;
#                                sets $test_server_pid and $test_server_addr; stopped by
#                                its PID when the script exits

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=$root/.tools

# The pinned versions (docs/toolchain.md).
WASM_PACK_VERSION=0.15.1
BINARYEN_VERSION=132
PLAYWRIGHT_CORE_VERSION=1.65.1
TYPESCRIPT_VERSION=5.9.3

step() { printf '\n==> %s\n' "$*"; }

die() {
  printf '%s\n' "$*" >&2
  exit 1
}

# ensure_apt COMMAND PACKAGE...: installs the packages when COMMAND is missing. One
# `apt-get update` per run, child scripts included (they inherit the exported flag).
ensure_apt() {
  local command=$1
  shift
  command -v "$command" >/dev/null && return 0
  local sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  if [ "${PRESENCE_APT_UPDATED:-0}" = 0 ]; then
    $sudo_cmd apt-get update -qq
    export PRESENCE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@"
}

ensure_rust_target() {
  if ! rustup target list --installed | grep -qx "$1"; then
    rustup target add "$1"
  fi
}

ensure_rust_component() {
  if ! rustup component list --installed | grep -q "^$1"; then
    rustup component add "$1"
  fi
}

ensure_node() {
  ensure_apt npm nodejs npm
}

# Debian's chromium and chromedriver: wasm-pack test finds /usr/bin/chromedriver on PATH,
# playwright-core drives /usr/bin/chromium (never a downloaded browser).
ensure_chromium() {
  ensure_apt chromium chromium chromium-driver
  ensure_apt chromedriver chromium-driver
}

# crate_version NAME: the version of the package NAME in Cargo.lock (exactly one version
# of it must be there). `cargo pkgid` answers from the lockfile alone (`…#NAME@X.Y.Z`):
# no network and no registry cache needed, a fresh clone included.
crate_version() {
  local id
  id=$(cargo pkgid --manifest-path "$root/Cargo.toml" --locked --offline -p "$1") ||
    die "no single version of $1 in Cargo.lock"
  case $id in
    *"#$1@"*) printf '%s\n' "${id##*@}" ;;
    *"#"*) printf '%s\n' "${id##*#}" ;; # an id without the name (older cargo)
    *) die "unexpected package id for $1: $id" ;;
  esac
}

# The wasm toolchain: wasm-pack and wasm-bindgen-cli from crates.io (their own installers
# download from GitHub, which this machine cannot reach), wasm-opt from npm's binaryen 132
# (never Debian's binaryen: its wasm-opt output fails at init()), playwright-core and
# typescript for the browser tests, all into ./.tools. Puts ./.tools/node_modules/.bin
# first on PATH: wasm-pack --mode no-install takes the wasm-opt on PATH.
ensure_wasm_toolchain() {
  ensure_rust_target wasm32-unknown-unknown
  if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]; then
    cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked
  fi
  # wasm-bindgen-cli must be exactly the wasm-bindgen in Cargo.lock (presence-client pins
  # it with `=`). No --locked: its own lockfile names a crate the registry no longer has.
  local bindgen_version
  bindgen_version=$(crate_version wasm-bindgen)
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]; then
    cargo install wasm-bindgen-cli --version "$bindgen_version" --force
  fi
  ensure_node
  if [ "$("$tools/node_modules/.bin/wasm-opt" --version 2>/dev/null)" != "wasm-opt version $BINARYEN_VERSION (version_$BINARYEN_VERSION)" ] ||
    [ ! -d "$tools/node_modules/playwright-core" ] || [ ! -x "$tools/node_modules/.bin/tsc" ]; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --no-save \
      "binaryen@$BINARYEN_VERSION.0.0" "playwright-core@$PLAYWRIGHT_CORE_VERSION" \
      "typescript@$TYPESCRIPT_VERSION"
  fi
  case ":$PATH:" in
    *":$tools/node_modules/.bin:"*) ;;
    *) export PATH="$tools/node_modules/.bin:$PATH" ;;
  esac
}

# free_port: a TCP port free on 127.0.0.1 right now (another process may take it before
# the caller binds it). start_test_server does not need one: its server binds port 0.
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port); s.close(); });'
}

# The PIDs of the processes this script started, stopped on exit.
started_pids=()

stop_started() {
  local pid
  for pid in "${started_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_started EXIT

# start_test_server BIN LOG [ARG...]: starts the presence-server BIN on 127.0.0.1 with
# the given arguments, its stderr in LOG (development mode, which the tests' /dev/token
# needs, is `--dev` among them). Port 0: the kernel picks a free port and the
# server logs which (no race with another process grabbing a port we probed). Waits
# until it listens; sets $test_server_pid and $test_server_addr (host:port). The EXIT
# trap stops it by its PID.
start_test_server() {
  local bin=$1 log=$2
  shift 2
  RUST_LOG=info "$bin" --bind 127.0.0.1:0 "$@" 2>"$log" &
  test_server_pid=$!
  started_pids+=("$test_server_pid")
  test_server_addr=""
  local _
  for _ in $(seq 1 300); do
    test_server_addr=$(sed -n 's/.*presence-server listening.*bound=\([0-9.:]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$test_server_addr" ] && break
    if ! kill -0 "$test_server_pid" 2>/dev/null; then
      cat "$log" >&2
      die "presence-server exited"
    fi
    sleep 0.1
  done
  if [ -z "$test_server_addr" ]; then
    cat "$log" >&2
    die "presence-server did not start"
  fi
  echo "presence-server (pid $test_server_pid) on $test_server_addr"
}
