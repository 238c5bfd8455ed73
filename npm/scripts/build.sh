#!/usr/bin/env bash
# Builds the npm package `presence-client` from ../presence-client:
#
#   1. wasm-pack, twice: `--target bundler` into pkg/bundler (the "." export, for Vite,
#      webpack…) and `--target web` into pkg/web (the "./web" export, with `init()`, for
#      pages without a bundler). Both are the size-tuned release build of
#      scripts/test-wasm.sh: opt-level z, fat LTO, one codegen unit, panic=abort through
#      CARGO_PROFILE_RELEASE_* (profiles live in the workspace manifest, shared with the
#      server), and binaryen 132's `wasm-opt -Oz` from npm (never Debian's binaryen, whose
#      output fails at init()). The second target reuses the first one's cargo build.
#   2. tsc: src/ → dist/ (the TypeScript layer, the store and the React hooks).
#
# Installs what it needs first (../scripts/lib.sh: wasm-pack 0.15.1, the wasm-bindgen-cli
# of Cargo.lock, binaryen 132 into ../.tools; docs/toolchain.md says why), quick when
# already there. Needs `npm ci` done here (for tsc).
#
#   npm run build            (or: bash scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
npm_dir=$PWD

# shellcheck source-path=SCRIPTDIR source=../../scripts/lib.sh
. "$npm_dir/../scripts/lib.sh"
ensure_wasm_toolchain

for target in bundler web; do
  out=$npm_dir/pkg/$target
  rm -rf "$out"
  (
    cd "$root/presence-client"
    CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
      CARGO_PROFILE_RELEASE_LTO=true \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
      CARGO_PROFILE_RELEASE_PANIC=abort \
      wasm-pack --quiet build --release --target "$target" --mode no-install \
      --out-dir "$out" --out-name presence_client
  )
  # wasm-pack's own package.json, README and `*` .gitignore describe a package of their
  # own; this package's package.json lists what ships (a nested .gitignore would also
  # hide the files from `npm pack`).
  rm -f "$out/package.json" "$out/README.md" "$out/.gitignore" "$out"/LICENSE*
done

rm -rf dist
"$npm_dir/node_modules/.bin/tsc" -p tsconfig.json

wasm_gz=$(gzip -9c pkg/web/presence_client_bg.wasm | wc -c)
echo "presence-client built: pkg/bundler, pkg/web, dist/ (wasm $wasm_gz bytes gzipped)"
