#!/usr/bin/env bash
# Where presence-server's CPU goes, by `perf` sampling, in the two loads the targets
# are about: room typing fan-out, and a burst of connects (hello + join).
#
#   presence-bench/profile.sh OUT_DIR
#
# Writes OUT_DIR/profile-typing.txt and OUT_DIR/profile-connect.txt (the command, the
# split between kernel and user space, the top symbols), which `presence-bench
# report` puts in docs/benchmarks.md. Needs `perf` (Debian: linux-perf) and the release builds; skips
# with a message when perf cannot sample here. The server runs on CPU 0, the generator
# on CPU 1, as in run.sh; every process is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:?usage: $0 OUT_DIR}
mkdir -p "$OUT"
SECRET=${BENCH_SECRET:-presence-bench-secret-0123456789abcdef}
BENCH=$ROOT/target/release/presence-bench
SERVER=$ROOT/target/release/presence-server
RATE=${PROFILE_RATE:-4000}
CONNS=${PROFILE_CONNECTIONS:-10000}

if ! command -v perf >/dev/null || ! perf record -q -o /dev/null -- true 2>/dev/null; then
  echo "profile.sh: perf is missing or cannot sample here; no profile" >&2
  exit 0
fi
PIN_S=(); PIN_G=()
if [ "$(nproc)" -ge 2 ]; then PIN_S=(taskset -c 0); PIN_G=(taskset -c 1); fi

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap cleanup EXIT

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# profile NAME SCENARIO_ARGS… : a fresh server, perf on it while the generator runs.
profile() {
  local name=$1; shift
  local port pid perf_pid data=$OUT/profile-$name.data
  port=$(free_port)
  # No per-user typing window: the generator toggles typing faster than a person (run.sh).
  PRESENCE_TYPING_WINDOW_MS=0 "${PIN_S[@]}" "$SERVER" --bind "127.0.0.1:$port" --jwt-secret "$SECRET" --rate-per-sec 1000 \
    --rate-burst 2000 --typing-ttl-ms 3600000 2>>"$OUT/profile-$name.server.log" &
  pid=$!; PIDS+=("$pid")
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  local gen=("${PIN_G[@]}" "$BENCH" run --secret "$SECRET" --label "profile-$name"
    --url "ws://127.0.0.1:$port/v1/ws" --connections "$CONNS" --server-pid "$pid"
    --out "$OUT/profile-$name.json" "$@")
  "${gen[@]}" >>"$OUT/profile-$name.gen.log" 2>&1 &
  local gen_pid=$!; PIDS+=("$gen_pid")
  # Typing: sample the middle of the stage, after the connects. Connects: from the start.
  if [ "$name" = typing ]; then sleep 6; fi
  perf record -q -F 999 -g -p "$pid" -o "$data" -- sleep "${PROFILE_SECONDS:-5}" 2>/dev/null >/dev/null &
  perf_pid=$!
  wait "$perf_pid" || true
  wait "$gen_pid" || true
  {
    echo "# $name: perf record -F 999 -g on presence-server (CPU 0) while:"
    echo "#   ${gen[*]}" | sed -e "s/$SECRET/\$SECRET/g" -e "s|$ROOT/||g"
    echo
    echo "## share of samples by object (kernel = system calls, TCP/IP on loopback, wake-ups)"
    perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -4 || true
    echo
    echo "## top symbols"
    perf report -i "$data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -"${PROFILE_TOP:-30}" || true
  } >"$OUT/profile-$name.txt"
  rm -f "$data"
  cleanup
}

profile typing --scenario typing --rate "$RATE" --stage-s 12
profile connect --scenario idle --hold-s 1
echo "profile.sh: wrote $OUT/profile-typing.txt and $OUT/profile-connect.txt" >&2
