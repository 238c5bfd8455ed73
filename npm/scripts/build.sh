#!/usr/bin/env bash
# Builds the npm package `presence-client` from ../presence-client:
#
#   1. wasm-pack, twice: `--target web` into pkg/web (the default entries "presence-client",
#      "/react" and "/web": src/wasm.ts instantiates it lazily, from the .wasm's URL or
#      from the base64 copy below) and `--target bundler` into pkg/bundler (the explicit
#      "presence-client/bundler" entry: a static .wasm import). Both are the size-tuned
#      release build of scripts/test-wasm.sh: opt-level z, fat LTO, one codegen unit,
#      panic=abort through CARGO_PROFILE_RELEASE_* (profiles live in the workspace
#      manifest, shared with the server), and binaryen 132's `wasm-opt -Oz` from npm
#      (never Debian's binaryen, whose output fails at init()). The second target reuses
#      the first one's cargo build.
#   2. pkg/web/presence_client_inline.js: the same .wasm as a base64 string, the fallback
#      that src/wasm.ts imports (a chunk of its own) where the .wasm's URL fails. The web
#      glue's own `new URL("presence_client_bg.wasm", import.meta.url)` default is taken
#      out: src/wasm.ts always passes the module, and one URL per file is all a bundler
#      should see.
#   3. tsc: src/ → dist/ (the TypeScript layer, the store and the React hooks), then
#      scripts/check-built.mjs (the "use client" line, no static .wasm import in a
#      default entry) and the gzipped sizes of what a page downloads.
#
# Installs what it needs first: `npm ci` here when node_modules/ is missing (for tsc),
# and ../scripts/lib.sh's wasm toolchain (wasm-pack 0.15.1, the wasm-bindgen-cli of
# Cargo.lock, binaryen 132 into ../.tools; docs/toolchain.md says why), quick when
# already there.
#
#   npm run build            (or: bash scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
npm_dir=$PWD

# shellcheck source-path=SCRIPTDIR source=../../scripts/lib.sh
. "$npm_dir/../scripts/lib.sh"
ensure_wasm_toolchain
if [ ! -x "$npm_dir/node_modules/.bin/tsc" ]; then
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

for target in web bundler; do
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

# The web glue's default URL: src/wasm.ts always passes the module it loaded.
glue=pkg/web/presence_client.js
default_url="module_or_path = new URL('presence_client_bg.wasm', import.meta.url);"
if ! grep -qF "$default_url" "$glue"; then
  echo "build.sh: wasm-bindgen's web glue changed: no \"$default_url\" in $glue" >&2
  exit 1
fi
node -e '
  const fs = require("node:fs");
  const [glue, from] = process.argv.slice(1);
  fs.writeFileSync(glue, fs.readFileSync(glue, "utf8").replace(from,
    "throw new Error(\"presence-client: ready() passes the WebAssembly module\");"));
' "$glue" "$default_url"

# The base64 fallback, a module of its own.
node -e '
  const fs = require("node:fs");
  const wasm = fs.readFileSync("pkg/web/presence_client_bg.wasm");
  fs.writeFileSync("pkg/web/presence_client_inline.js",
    "// presence_client_bg.wasm in base64 (scripts/build.sh): the fallback of src/wasm.ts.\n" +
    `export default "${wasm.toString("base64")}";\n`);
  fs.writeFileSync("pkg/web/presence_client_inline.d.ts",
    "/** presence_client_bg.wasm in base64. */\ndeclare const wasm: string;\nexport default wasm;\n");
'

rm -rf dist
"$npm_dir/node_modules/.bin/tsc" -p tsconfig.json
node scripts/check-built.mjs
node scripts/size.mjs
