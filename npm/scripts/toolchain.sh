# Sourced by npm/scripts/build.sh, scripts/test-npm.sh and scripts/demo.sh: installs what
# building the wasm SDK needs, once (each check is quick when it is already there). The
# same choices as scripts/test-wasm.sh, for the same reasons (../shared/TOOLCHAIN.md):
# wasm-pack and wasm-bindgen-cli from crates.io, wasm-opt from npm's binaryen 132 (never
# Debian's binaryen, whose output fails at init()), Debian's packages through apt.
#
# Expects $root (the repository). Puts ./.tools/node_modules/.bin first on PATH.

ensure_wasm_toolchain() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack 0.15.1" ]; then
    cargo install wasm-pack --version 0.15.1 --locked
  fi
  # Exactly the wasm-bindgen of Cargo.lock. No --locked: its own lockfile names a crate
  # the registry no longer has.
  local bindgen_version
  bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$root/Cargo.lock")
  if [ -z "$bindgen_version" ]; then
    echo "no wasm-bindgen in Cargo.lock" >&2
    return 1
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]; then
    cargo install wasm-bindgen-cli --version "$bindgen_version" --force
  fi
  local tools=$root/.tools
  if [ "$("$tools/node_modules/.bin/wasm-opt" --version 2>/dev/null)" != "wasm-opt version 132 (version_132)" ]; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --no-save binaryen@132.0.0
  fi
  export PATH="$tools/node_modules/.bin:$PATH"
}

apt_updated=0
# ensure_apt COMMAND PACKAGE...: installs the packages when COMMAND is missing.
ensure_apt() {
  local command=$1
  shift
  command -v "$command" >/dev/null && return 0
  local sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  if [ "$apt_updated" = 0 ]; then
    $sudo_cmd apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@"
}

ensure_node() {
  if ! command -v npm >/dev/null; then
    ensure_apt npm nodejs npm
  fi
}
