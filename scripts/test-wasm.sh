#!/usr/bin/env bash
# The browser tests of the WebAssembly SDK (presence-client). The native tests of its
# core run with every other test in scripts/test.sh (nextest); this script covers what
# needs a browser:
#
#   1. installs what it needs, once (quick when already there): the wasm32 target,
#      wasm-pack, wasm-bindgen-cli of the exact version in Cargo.lock, wasm-opt from
#      npm's binaryen 132 and playwright-core into ./.tools, Debian's chromium and
#      chromedriver (scripts/lib.sh). See docs/toolchain.md for why each comes from where
#      it does (never Debian's binaryen: its wasm-opt output fails at init()).
#   2. starts a presence-server (debug build, development mode, short timings) on a
#      free loopback port, and stops it by PID on exit (start_test_server);
#   3. runs `wasm-pack test --headless --chrome` with the server's URL and dev tokens
#      passed in at build time (PRESENCE_TEST_URL, PRESENCE_TEST_TOKENS);
#   4. builds the optimized release package (opt-level z, fat LTO, one codegen unit,
#      panic=abort, wasm-opt -Oz) and loads it in Chromium from a page the server
#      serves (presence-client/tests/release/);
#   5. type-checks the hand-written TypeScript declarations with tsc --strict;
#   6. prints the gzipped size of the .wasm plus its JS glue and fails above 40 KB.
#
#   ./scripts/test-wasm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

# The size budget of the release .wasm + JS glue, gzip -9 (issue 4: at most 40 KB).
SIZE_LIMIT_BYTES=$((40 * 1024))

# --- install what the browser tests need ------------------------------------------
step "toolchain for the browser tests"
ensure_wasm_toolchain
ensure_chromium
wasm-pack --version
wasm-bindgen --version
wasm-opt --version
chromium --version 2>/dev/null || true

# --- a presence-server for the tests ------------------------------------------------
step "presence-server for the browser tests"
cargo build --locked -p presence-server
# The page of the release-build test; the server serves it (same origin as /dev/token).
page_dir=$root/target/presence-client-release-test
rm -rf "$page_dir"
mkdir -p "$page_dir"
cp presence-client/tests/release/index.html "$page_dir/"
# Short timings keep the tests quick; the browser tests rely on these two values:
# grace 2 s, typing TTL 6 s.
start_test_server ./target/debug/presence-server "$root/target/presence-client-test-server.log" \
  --dev \
  --grace-ms 2000 \
  --typing-ttl-ms 6000 \
  --coalesce-ms 10 \
  --static-dir "$page_dir"
bound=$test_server_addr
tokens=""
for user in alice bob carol dave erin; do
  answer=$(curl -sf -X POST "http://$bound/dev/token" -d "{\"user\":\"$user\",\"name\":\"${user^}\"}")
  token=$(printf '%s' "$answer" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || die "no dev token for $user: $answer"
  tokens="${tokens:+$tokens,}$user=$token"
done

# --- wasm-pack browser tests ----------------------------------------------------------
step "browser tests (wasm-pack test --headless --chrome)"
(
  cd presence-client
  PRESENCE_TEST_URL="ws://$bound/v1/ws" \
    PRESENCE_TEST_TOKENS="$tokens" \
    WASM_BINDGEN_TEST_TIMEOUT=300 \
    wasm-pack test --headless --chrome --mode no-install
)

# --- release build in Chromium --------------------------------------------------------
step "release build (opt-level z, LTO, wasm-opt -Oz) loaded in Chromium"
# Profiles live in the workspace Cargo.toml, which the server's settings share; the
# SDK's size settings come in through the environment for this build only.
(
  cd presence-client
  CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
    CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_PANIC=abort \
    wasm-pack build --release --target web --mode no-install --out-dir "$page_dir/pkg"
)
NODE_PATH="$tools/node_modules" node presence-client/tests/release/run.cjs "http://$bound/"

step "TypeScript declarations (tsc --strict against the built package)"
cp presence-client/tests/release/types.ts "$page_dir/"
tsc --noEmit --strict --target es2022 --module es2022 --moduleResolution bundler \
  --lib es2022,dom "$page_dir/types.ts"
echo "types: 1 passed, 0 failed"

# --- size ---------------------------------------------------------------------------------
step "size of the release build (gzip -9)"
wasm_gz=$(gzip -9c "$page_dir/pkg/presence_client_bg.wasm" | wc -c)
js_gz=$(gzip -9c "$page_dir/pkg/presence_client.js" | wc -c)
total=$((wasm_gz + js_gz))
printf 'presence_client_bg.wasm  %6d bytes raw  %6d gzipped\n' "$(wc -c <"$page_dir/pkg/presence_client_bg.wasm")" "$wasm_gz"
printf 'presence_client.js       %6d bytes raw  %6d gzipped\n' "$(wc -c <"$page_dir/pkg/presence_client.js")" "$js_gz"
printf 'wasm + JS glue, gzipped: %d bytes (%d.%d KB; budget %d KB)\n' \
  "$total" $((total / 1024)) $(((total % 1024) * 10 / 1024)) $((SIZE_LIMIT_BYTES / 1024))
[ "$total" -le "$SIZE_LIMIT_BYTES" ] || die "the SDK is over its size budget"

step "browser tests passed"
