#!/usr/bin/env bash
# The packaging matrix (tests/packaging/, docs/packaging.md): the packed npm package in
# fresh apps of every setup people use, with nothing configured for it, each loaded in
# Debian's Chromium against a real presence-server (--dev):
#
#   Next.js 16 (Turbopack and --webpack; next dev, next build + next start, SSR on),
#   Vite 8 and 7 (dev, build + preview), webpack 5, Rsbuild 2, Parcel 2, esbuild, and
#   Node ESM (import() of the entries, renderToString).
#
# 1. packs npm/ (`npm pack`; builds it first when npm/dist/ is missing: npm ci, npm run
#    build), unless --tarball FILE names one;
# 2. `npm ci` in every app (its own package-lock.json), then the tarball on top with
#    `npm install --no-save` (the lockfile stays as committed);
# 3. runs the rows one after another; prints the table (row, result, time, gzipped JS
#    and wasm the page fetched) and writes it to tests/packaging/artifacts/results.md.
#
# Exits non-zero when any row fails, with the reason (the page's console, the build's or
# dev server's output, the presence-server's log).
#
#   ./scripts/test-packaging.sh [--tarball FILE] [--only ROW,ROW] [--reuse-install]
#                               [--findings FILE] [--readme FILE]
#
# The apps run README.md's quick start (the tsx block of "Use it in React"), as written;
# --readme FILE takes it from another file. --reuse-install skips `npm ci` where an app
# has node_modules/ (development only); --findings FILE appends the failures to FILE. PRESENCE_SERVER_BIN: the server binary
# (default target/debug/presence-server, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

tarball=""
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --tarball)
      tarball=$(realpath "$2")
      shift 2
      ;;
    --only | --findings | --readme)
      args+=("$1" "$2")
      shift 2
      ;;
    --reuse-install)
      args+=("$1")
      shift
      ;;
    *) die "unknown argument: $1 (see the header of $0)" ;;
  esac
done

step "toolchain for the packaging matrix"
ensure_node
ensure_chromium

export PRESENCE_SERVER_BIN=${PRESENCE_SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/presence-server}
if [ ! -x "$PRESENCE_SERVER_BIN" ]; then
  step "presence-server (debug build)"
  cargo build --locked -p presence-server
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ -z "$tarball" ]; then
  if [ ! -d npm/dist ]; then
    step "the npm package (npm ci, npm run build)"
    (cd npm && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
  fi
  step "npm pack"
  name=$(cd npm && npm pack --silent --pack-destination "$scratch" | tail -n 1)
  tarball=$scratch/$name
fi
[ -f "$tarball" ] || die "no tarball at $tarball"

if [ ! -d tests/e2e/node_modules/playwright-core ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

step "the packaging matrix with $(basename "$tarball")"
node tests/packaging/run.mjs --tarball "$tarball" "${args[@]}"
