#!/usr/bin/env bash
# The demo in one command: builds the wasm SDK, the npm package and the React example
# (examples/react-chat), then serves the example from presence-server itself
# (development mode: tokens from /dev/token, loopback only).
#
#   ./scripts/demo.sh                 http://127.0.0.1:8080/
#   PORT=9000 ./scripts/demo.sh       another port
#
# Open the page in two windows (one of them private) and sign in with two names. The
# first run installs the wasm toolchain (a few minutes); later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh
port=${PORT:-8080}

ensure_node
ensure_wasm_toolchain

step "presence-server (release build)"
cargo build --release --locked -p presence-server

step "the npm package"
[ -d npm/node_modules ] || (cd npm && npm ci --no-audit --no-fund --loglevel=error)
(cd npm && npm run --silent build)

step "the React example"
[ -d examples/react-chat/node_modules ] ||
  (cd examples/react-chat && npm ci --no-audit --no-fund --loglevel=error)
(cd examples/react-chat && npm run --silent build)

step "serving examples/react-chat on http://127.0.0.1:$port/ (Ctrl-C stops it)"
echo "Open it in two windows (one private), sign in with two names."
echo "Add ?idle=5000 to the URL to go idle (away) after 5 s without input."
exec "${CARGO_TARGET_DIR:-$root/target}/release/presence-server" \
  --dev \
  --bind "127.0.0.1:$port" \
  --static-dir "$root/examples/react-chat/dist"
