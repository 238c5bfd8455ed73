#!/usr/bin/env bash
# Runs every test of the project. On a fresh machine it first installs what the tests
# need (see ../shared/TOOLCHAIN.md for what works here and why), so the same command
# serves a newcomer, a developer and CI.
#
#   ./scripts/test.sh            everything (scripts/test-wasm.sh included)
#   ./scripts/test.sh --no-lint  skip rustfmt and clippy (quicker while iterating)
set -euo pipefail
cd "$(dirname "$0")/.."

lint=1
for arg in "$@"; do
  case "$arg" in
    --no-lint) lint=0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

# --- install what the tests need -------------------------------------------------
step "toolchain"
if ! command -v cargo >/dev/null; then
  echo "cargo is not installed: install Rust with rustup first" >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
  if [ "$lint" = 1 ] && ! rustup component list --installed | grep -q "^$component"; then
    rustup component add "$component"
  fi
done
# Debian packages the tests use: redis-server (the tests start their own, on free
# ports; installing the package starts no service here), and make + a C compiler
# for the server's allocator (jemalloc is built from source).
apt_missing=()
command -v make >/dev/null || apt_missing+=(make)
command -v cc >/dev/null || apt_missing+=(gcc)
command -v redis-server >/dev/null || apt_missing+=(redis-server)
command -v redis-cli >/dev/null || apt_missing+=(redis-tools)
if [ "${#apt_missing[@]}" -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_missing[@]}"
fi
redis-server --version
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
cargo --version
cargo nextest --version | head -n 1

# --- lint --------------------------------------------------------------------------
if [ "$lint" = 1 ]; then
  step "rustfmt"
  cargo fmt --all -- --check
  step "clippy"
  cargo clippy --workspace --all-targets --locked -- -D warnings
fi

# --- build for the browser ---------------------------------------------------------
step "wasm32 build of presence-protocol (no serde_json) and presence-client"
cargo build --locked --target wasm32-unknown-unknown -p presence-protocol --no-default-features
cargo build --locked --target wasm32-unknown-unknown -p presence-client

# --- tests -------------------------------------------------------------------------
step "tests (protocol fixtures, server units, server integration over real sockets)"
cargo nextest run --workspace --locked --no-fail-fast --profile ci
step "doc tests"
cargo test --workspace --locked --doc

# --- a short load run: real connections, real fan-out, nothing lost -----------------
step "load generator smoke run (presence-bench/run.sh --smoke)"
presence-bench/run.sh --smoke

# --- the browser SDK in a real browser -----------------------------------------------
step "browser tests of the wasm SDK (scripts/test-wasm.sh)"
./scripts/test-wasm.sh

# --- the npm package, React hooks, examples and end-to-end tests in Chromium ---------
step "npm package, React hooks and end-to-end tests (scripts/test-npm.sh)"
./scripts/test-npm.sh

step "all tests passed"
