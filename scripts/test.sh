#!/usr/bin/env bash
# Runs every test of the project. On a fresh machine it first installs what the tests
# need (scripts/lib.sh; docs/toolchain.md says what works here and why), so the same
# command serves a newcomer, a developer and CI.
#
#   ./scripts/test.sh              everything (scripts/test-wasm.sh included)
#   ./scripts/test.sh --no-lint    skip rustfmt and clippy (quicker while iterating)
#   ./scripts/test.sh --lint-only  rustfmt and clippy only
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

lint=1
tests=1
for arg in "$@"; do
  case "$arg" in
    --no-lint) lint=0 ;;
    --lint-only) tests=0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
[ "$lint" = 1 ] || [ "$tests" = 1 ] || die "--no-lint and --lint-only leave nothing to run"

# --- install what the tests need -------------------------------------------------
step "toolchain"
command -v cargo >/dev/null || die "cargo is not installed: install Rust with rustup first"
[ "$tests" = 0 ] || ensure_rust_target wasm32-unknown-unknown
if [ "$lint" = 1 ]; then
  ensure_rust_component rustfmt
  ensure_rust_component clippy
fi
# Debian packages the tests use: make + a C compiler for the server's allocator
# (jemalloc is built from source; clippy builds it too), and redis-server (the tests
# start their own, on free ports; installing the package starts no service here).
ensure_apt make make
ensure_apt cc gcc
if [ "$tests" = 1 ]; then
  ensure_apt redis-server redis-server
  ensure_apt redis-cli redis-tools
  redis-server --version
  if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
  fi
fi
cargo --version
[ "$tests" = 0 ] || cargo nextest --version | head -n 1

# --- lint --------------------------------------------------------------------------
if [ "$lint" = 1 ]; then
  step "rustfmt"
  cargo fmt --all -- --check
  step "clippy"
  cargo clippy --workspace --all-targets --locked -- -D warnings
fi
if [ "$tests" = 0 ]; then
  step "rustfmt and clippy passed"
  exit 0
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
