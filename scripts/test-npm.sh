#!/usr/bin/env bash
# The tests of the npm package, the examples and the browser end to end:
#
#   1. installs what they need, once (quick when already there): the wasm toolchain
#      (scripts/lib.sh, the same as scripts/test-wasm.sh; docs/toolchain.md says why),
#      Debian's chromium and redis-server, and `npm ci` in npm/, examples/react-chat,
#      examples/vanilla and tests/e2e (each has its package-lock.json);
#   2. builds presence-server (debug), the package (npm run build: wasm-pack for the
#      web and bundler targets, size-tuned release, the base64 fallback, then tsc; it
#      prints the gzipped sizes of what a page downloads) and the React example, then
#      checks the package as published: publint --strict and @arethetypeswrong/cli
#      --pack (npm run check:package);
#   3. runs the hook tests (vitest: a fake client, and the real wasm client against a
#      real presence-server that the tests start: SSR + hydration, the built package in
#      plain Node), tsc over the tests, and eslint over the package (`npm run lint`);
#   4. runs tests/e2e (node's test runner, playwright-core driving /usr/bin/chromium,
#      never a downloaded browser): the packaging test (npm pack → a scratch Vite app
#      made of the README's snippet, with no wasm plugin or config → build and dev
#      server → Chromium), the React example with two people against a real server and
#      against two server nodes on a Redis of its own, and the vanilla page.
#
# Every server, redis-server and browser is started by the tests on 127.0.0.1 with a
# port the kernel picks, and stopped by its PID. Screenshots of failed scenarios go to
# tests/e2e/artifacts/.
#
#   ./scripts/test-npm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

# --- install what the tests need -----------------------------------------------------
step "toolchain for the npm package and the browser tests"
ensure_node
ensure_wasm_toolchain
ensure_chromium
ensure_apt redis-server redis-server
node --version
npm --version
wasm-pack --version
wasm-opt --version
chromium --version 2>/dev/null || true
redis-server --version

npm_ci() {
  (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}

# --- build ---------------------------------------------------------------------------
step "presence-server (debug build) for the tests"
cargo build --locked -p presence-server
export PRESENCE_SERVER_BIN=${CARGO_TARGET_DIR:-$root/target}/debug/presence-server

step "the npm package (npm/: wasm-pack bundler + web targets, then tsc)"
npm_ci npm
(cd npm && npm run --silent build)

step "the package as published (publint --strict, @arethetypeswrong/cli --pack)"
(cd npm && npm run --silent check:package)

step "the examples (examples/react-chat: vite build; examples/vanilla)"
npm_ci examples/react-chat
(cd examples/react-chat && npm run --silent build)
npm_ci examples/vanilla

# --- tests ---------------------------------------------------------------------------
step "hook tests (vitest: a fake client, and the real wasm client on a real server)"
(
  cd npm
  npm run --silent typecheck
  PRESENCE_REQUIRE_SERVER=1 npx vitest run
)

# The package's eslint configuration comes with its `lint` script; until then, no step.
if node -e 'process.exit(require("./npm/package.json").scripts?.lint ? 0 : 1)'; then
  step "eslint (npm run lint)"
  (cd npm && npm run --silent lint)
fi

step "end-to-end tests (tests/e2e: packaging, React example on one node and on Redis, vanilla)"
npm_ci tests/e2e
(
  cd tests/e2e
  node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec \
    packaging.test.mjs react-chat.test.mjs redis.test.mjs vanilla.test.mjs
)

./scripts/test-packaging.sh # the packaging matrix: the packed npm/ in fresh Next.js, Vite, webpack, Rsbuild, Parcel, esbuild and Node apps

step "npm package, examples and browser tests passed"
