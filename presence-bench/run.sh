#!/usr/bin/env bash
# The benchmark matrix of presence, against the Socket.IO + Redis baseline.
#
#   presence-bench/run.sh           the whole matrix (~20 min); writes docs/benchmarks.md
#   presence-bench/run.sh --quick   the same rows, smaller (~8 min); writes docs/benchmarks.md
#   presence-bench/run.sh --smoke   30 s: one server, one generator, fails on any loss (CI);
#                                   its page goes to the results directory, not docs/
#   … --only=idle-ours,cluster      only these rows (names as in docs/benchmarks.md)
#   … --with-pairs                  then presence-bench/pairs.sh (same mode): the before/after
#                                   pairs of presence-bench/levers.tsv, on the same page
#   … --pairs=DIR                   put an earlier pairs.sh run (DIR) on the page
#
# pairs.sh sources this file for its functions: everything up to the build is
# definitions and settings, and a sourced run.sh returns there.
#
# It starts everything it measures itself: redis-server on free ports, the release
# presence-server(s), the baseline (node), the generator(s). Each is stopped by its PID
# (trap on exit); nothing is stopped by name. Raw JSON reports and logs go to
# target/bench/<date>/ (or $BENCH_OUT). BENCH_NOTE puts a note at the top of the page.
#
# Placement (2 cores): the servers and Redis run on CPU 0 and the generator on CPU 1
# (taskset), so "per server core" figures mean one core. BENCH_PIN=0 turns that off.
# The multi-node rows are not pinned: 6 nodes and 6 generators share both cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

mode=full
only=""
with_pairs=0
pairs_dir=""
for arg in "$@"; do
  case "$arg" in
    --smoke) mode=smoke ;;
    --quick) mode=quick ;;
    --full) mode=full ;;
    --only=*) only=",${arg#--only=}," ;;
    --with-pairs) with_pairs=1 ;;
    --pairs=*) pairs_dir=${arg#--pairs=}; [[ "$pairs_dir" == /* ]] || pairs_dir=$OLDPWD/$pairs_dir ;;
    *) echo "usage: $0 [--smoke|--quick|--full] [--only=ROW,ROW…] [--with-pairs|--pairs=DIR]" >&2; exit 2 ;;
  esac
done

OUT=${BENCH_OUT:-$ROOT/target/bench/$(date -u +%Y%m%d-%H%M%S)-$mode}
mkdir -p "$OUT"
SECRET=${BENCH_SECRET:-presence-bench-secret-0123456789abcdef}
PIN=${BENCH_PIN:-1}
SERVER_CPU=(); GEN_CPU=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  SERVER_CPU=(taskset -c 0); GEN_CPU=(taskset -c 1)
fi
BENCH=$ROOT/target/release/presence-bench
SERVER=$ROOT/target/release/presence-server
BASELINE_DIR=$ROOT/presence-bench/baseline
# What every presence-server of the matrix gets: the shared secret, a rate limit a load
# generator does not trip, and a typing TTL longer than any run (the generator matches
# typing frames by per-sender order, which the server's own expiry frames would upset).
SERVER_FLAGS=(--jwt-secret "$SECRET" --rate-per-sec 1000 --rate-burst 2000 --typing-ttl-ms 3600000)
# The per-user typing window (--typing-window-ms) drops a user's restart of typing within
# 1 s. The generator toggles typing far faster than a person types, to load the fan-out,
# so the window is off here. An environment variable, not a flag: the older binaries that
# pairs.sh measures know no such setting and ignore it.
export PRESENCE_TYPING_WINDOW_MS=0
# The baseline's equivalent of the typing TTL: the seed's 3 s auto-stop timer.
BASELINE_ENV=(JWT_SECRET="$SECRET" TYPING_TIMEOUT_MS=3600000 GLOBAL_PRESENCE=0)

redact() { sed "s/$SECRET/\$SECRET/g"; }
log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" | redact >&2; }

# --- processes ---------------------------------------------------------------------
STARTED=()
stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
  STARTED=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on, below the ephemeral range (the generator's sockets use that).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port" >&2; return 1
}
wait_port() {
  local port=$1
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $port after 10 s" >&2; return 1
}

# start_redis NAME → sets REDIS_PORT, REDIS_PID
start_redis() {
  REDIS_PORT=$(free_port)
  echo "${SERVER_CPU[*]} redis-server --port $REDIS_PORT --bind 127.0.0.1 --save '' --appendonly no --maxclients 10000" \
    >>"$OUT/$1.cmd"
  "${SERVER_CPU[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --maxclients 10000 >"$OUT/$1.redis.log" 2>&1 &
  REDIS_PID=$!; STARTED+=("$REDIS_PID")
  wait_port "$REDIS_PORT"
}
# start_server NAME [flags…] → sets SERVER_PORT, SERVER_PID
start_server() {
  local name=$1; shift
  SERVER_PORT=$(free_port)
  local cmd=("${SERVER_CPU[@]}" "$SERVER" --bind "127.0.0.1:$SERVER_PORT" "${SERVER_FLAGS[@]}" "$@")
  echo "${cmd[*]}" | redact >>"$OUT/$name.cmd"
  RUST_LOG=warn "${cmd[@]}" >>"$OUT/$name.server.log" 2>&1 &
  SERVER_PID=$!; STARTED+=("$SERVER_PID")
  wait_port "$SERVER_PORT"
}
# start_baseline NAME REDIS_PORT → sets SERVER_PORT, SERVER_PID
start_baseline() {
  SERVER_PORT=$(free_port)
  echo "env PORT=$SERVER_PORT REDIS_URL=redis://127.0.0.1:$2 ${BASELINE_ENV[*]} ${SERVER_CPU[*]} node presence-bench/baseline/server.js" \
    | redact >>"$OUT/$1.cmd"
  env PORT="$SERVER_PORT" REDIS_URL="redis://127.0.0.1:$2" "${BASELINE_ENV[@]}" \
    "${SERVER_CPU[@]}" node "$BASELINE_DIR/server.js" >>"$OUT/$1.server.log" 2>&1 &
  SERVER_PID=$!; STARTED+=("$SERVER_PID")
  wait_port "$SERVER_PORT"
}
stop_all() { cleanup; }

# gen NAME [presence-bench run args…]: one generator process, pinned.
gen() {
  local name=$1; shift
  local cmd=("${GEN_CPU[@]}" "$BENCH" run --secret "$SECRET" --label "$name" --out "$OUT/$name.json" "$@")
  echo "${cmd[*]}" | redact >>"$OUT/$name.cmd"
  log "$name: ${cmd[*]}"
  "${cmd[@]}" 2>>"$OUT/$name.gen.log" || { log "$name: generator failed (see $OUT/$name.gen.log)"; return 1; }
}
# gen_sharded NAME SHARDS [run args…]: SHARDS generator processes, each from its own
# source address 127.0.0.(2+i), meeting at barriers; their reports are merged.
gen_sharded() {
  local name=$1 shards=$2; shift 2
  local pids=() i
  rm -rf "$OUT/$name.barrier"
  for i in $(seq 0 $((shards - 1))); do
    local cmd=("$BENCH" run --secret "$SECRET" --label "$name" --shard "$i/$shards"
      --barrier-dir "$OUT/$name.barrier" --source-ip "127.0.0.$((2 + i))" --out "$OUT/$name.$i.json" "$@")
    echo "${cmd[*]}" | redact >>"$OUT/$name.cmd"
    "${cmd[@]}" 2>>"$OUT/$name.gen.log" &
    pids+=($!); STARTED+=($!)
  done
  log "$name: $shards generators, e.g. ${cmd[*]}"
  local failed=0
  for i in "${pids[@]}"; do wait "$i" || failed=1; done
  [ "$failed" = 0 ] || { log "$name: a generator failed (see $OUT/$name.gen.log)"; return 1; }
  "$BENCH" merge --out "$OUT/$name.json" $(for i in $(seq 0 $((shards - 1))); do echo "$OUT/$name.$i.json"; done)
}
pids_flags() { local p; for p in "$@"; do printf -- '--server-pid %s ' "$p"; done; }

# Sourced (by pairs.sh): the definitions above, nothing run.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

# --- build -------------------------------------------------------------------------
log "building release binaries"
cargo build --release -p presence-server -p presence-bench >&2
if [ "$mode" != smoke ]; then
  if [ ! -d "$BASELINE_DIR/node_modules" ]; then
    log "installing the baseline's packages (npm ci)"
    (cd "$BASELINE_DIR" && npm ci --no-audit --no-fund >&2)
  fi
fi

# --- smoke -------------------------------------------------------------------------
if [ "$mode" = smoke ]; then
  start_server smoke
  gen smoke --scenario typing --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" \
    --connections 1000 --room-size 20 --rate 500,2000 --stage-s 8 \
    --server-pid "$SERVER_PID" --require-all
  stop_all
  # The page of this one row (not docs/benchmarks.md): the report subcommand reads a
  # real generator report.
  printf 'smoke\tpresence-server, memory store: room typing, 1000 connections, rooms of 20\n' >"$OUT/rows.tsv"
  "$BENCH" report "$OUT" --mode smoke --started "$(date -u +"%Y-%m-%d %H:%M UTC")" >"$OUT/benchmarks.md"
  log "smoke passed: $OUT/smoke.json, page $OUT/benchmarks.md"
  exit 0
fi

# --- the matrix --------------------------------------------------------------------
if [ "$mode" = full ]; then
  N=10000; NODE_MAX=19500; CLUSTER=100000; CLUSTER_NODES=6; STAGE=8; HOLD=10; AS_WRITTEN_N=2000
  RATES_OURS=1000,2000,3000,4000,6000; RATES_BASE=500,1000,1500,2000,3000
  CHURN_RATES=500,1000,2000; LARGE_RATES=2,5,10; XNODE_N=9000; XNODE_RATES=1000,2000
  FLOOR_RATES=20000,40000,60000,80000,100000,150000,200000,300000,0; FLOOR_TOKIO=80000
else
  N=3000; NODE_MAX=6000; CLUSTER=12000; CLUSTER_NODES=6; STAGE=4; HOLD=4; AS_WRITTEN_N=500
  RATES_OURS=1000,3000; RATES_BASE=500,1500
  CHURN_RATES=500; LARGE_RATES=5; XNODE_N=3000; XNODE_RATES=1000
  FLOOR_RATES=20000,80000,150000,0; FLOOR_TOKIO=80000
fi
: >"$OUT/rows.tsv"
row() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/rows.tsv"; }
run_row() {
  # Each row runs in its own subshell that stops what it started, whatever happens;
  # a failed row is logged and the matrix goes on.
  ( trap cleanup EXIT; trap 'exit 130' INT TERM; STARTED=(); "$@" ) &
  local pid=$!
  STARTED+=("$pid")
  wait "$pid" || log "row failed: $*"
  STARTED=()
}

ours_idle_bare() {
  start_server idle-ours-bare
  gen idle-ours-bare --scenario idle --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --room-size 0 --hold-s "$HOLD" --server-pid "$SERVER_PID"
  stop_all; row idle-ours-bare "presence-server, memory store: $N connections, hello only (no room), idle"
}
ours_idle() {
  start_server idle-ours
  gen idle-ours --scenario idle --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --hold-s "$HOLD" --server-pid "$SERVER_PID"
  stop_all; row idle-ours "presence-server, memory store: $N connections in rooms of 20, idle"
}
base_idle() {
  start_redis idle-baseline; start_baseline idle-baseline "$REDIS_PORT"
  gen idle-baseline --dialect socketio --scenario idle --url "ws://127.0.0.1:$SERVER_PORT" \
    --connections "$N" --hold-s "$HOLD" --server-pid "$SERVER_PID" --redis-pid "$REDIS_PID"
  stop_all; row idle-baseline "baseline (Socket.IO + Redis adapter): $N connections in rooms of 20, idle"
}
base_as_written() {
  # The seed as written: every connect is a `user-online` to every socket.
  start_redis idle-baseline-as-written
  BASELINE_ENV=(JWT_SECRET="$SECRET" TYPING_TIMEOUT_MS=3600000 GLOBAL_PRESENCE=1)
  start_baseline idle-baseline-as-written "$REDIS_PORT"
  gen idle-baseline-as-written --dialect socketio --scenario idle --url "ws://127.0.0.1:$SERVER_PORT" \
    --connections "$AS_WRITTEN_N" --hold-s "$HOLD" --server-pid "$SERVER_PID" --redis-pid "$REDIS_PID"
  stop_all; row idle-baseline-as-written "baseline as the seed wrote it (global online/offline broadcasts): $AS_WRITTEN_N connections"
}
ours_node_max() {
  start_server node-max
  gen_sharded node-max 2 --scenario idle --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" \
    --connections "$NODE_MAX" --hold-s "$HOLD" --server-pid "$SERVER_PID"
  stop_all; row node-max "presence-server, memory store: $NODE_MAX connections on one node (2 generators)"
}
ours_typing() { # NAME STORE
  local name=$1 store=$2 extra=()
  if [ "$store" = redis ]; then start_redis "$name"; extra=(--store redis --redis-url "redis://127.0.0.1:$REDIS_PORT"); fi
  start_server "$name" "${extra[@]}"
  local rp=(); [ "$store" = redis ] && rp=(--redis-pid "$REDIS_PID")
  gen "$name" --scenario typing --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --rate "$RATES_OURS" --stage-s "$STAGE" --auto-half --server-pid "$SERVER_PID" "${rp[@]}"
  stop_all; row "$name" "presence-server, $store store: room typing, $N connections, rooms of 20"
}
base_typing() {
  start_redis typing-baseline; start_baseline typing-baseline "$REDIS_PORT"
  gen typing-baseline --dialect socketio --scenario typing --url "ws://127.0.0.1:$SERVER_PORT" \
    --connections "$N" --rate "$RATES_BASE" --stage-s "$STAGE" --auto-half \
    --server-pid "$SERVER_PID" --redis-pid "$REDIS_PID"
  stop_all; row typing-baseline "baseline: room typing, $N connections, rooms of 20"
}
ours_churn() {
  start_redis churn; start_server churn --store redis --redis-url "redis://127.0.0.1:$REDIS_PORT"
  gen churn --scenario churn --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --rate "$CHURN_RATES" --stage-s "$STAGE" --server-pid "$SERVER_PID" --redis-pid "$REDIS_PID"
  stop_all; row churn "presence-server, redis store: custom-status churn seen as room_diff, $N connections"
}
ours_reconnect() {
  start_redis reconnect; start_server reconnect --store redis --redis-url "redis://127.0.0.1:$REDIS_PORT"
  gen reconnect --scenario reconnect --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --hold-s 3 --reconnect-window-s 10 --server-pid "$SERVER_PID" --redis-pid "$REDIS_PID"
  stop_all; row reconnect "presence-server, redis store: all $N drop and reconnect within 10 s"
}
ours_large() {
  start_server large-room
  gen large-room --scenario large-room --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --senders 20 --rate "$LARGE_RATES" --stage-s "$STAGE" --server-pid "$SERVER_PID"
  stop_all; row large-room "presence-server, memory store: one room of $N, 20 typists"
}
write_floor() {
  # No server: the writer stands where the server would (CPU 0), the reader (tokio
  # tasks, like the generator's) where the generator would (CPU 1).
  local cmd=("${SERVER_CPU[@]}" "$BENCH" write-floor --label write-floor --connections "$N"
    --rate "$FLOOR_RATES" --tokio-rate "$FLOOR_TOKIO" --stage-s "$STAGE" --out "$OUT/write-floor.json")
  [ ${#GEN_CPU[@]} -gt 0 ] && cmd+=(--reader-cpu 1)
  echo "${cmd[*]}" >>"$OUT/write-floor.cmd"
  log "write-floor: ${cmd[*]}"
  "${cmd[@]}" 2>>"$OUT/write-floor.log" || { log "write-floor: failed (see $OUT/write-floor.log)"; return 1; }
  row write-floor "the kernel's floor: one write() of a typing frame per delivery, $N loopback TCP sockets read by tokio tasks, no server"
}
profile_row() {
  # perf on the server: typing fan-out, then a connect burst (see profile.sh).
  log "profile: presence-bench/profile.sh"
  PROFILE_CONNECTIONS=$N "$ROOT/presence-bench/profile.sh" "$OUT" 2>>"$OUT/profile.log" \
    || { log "profile: failed (see $OUT/profile.log)"; return 1; }
}
cross_node() {
  SERVER_CPU=()
  start_redis cross-node
  local urls=() spids=() i
  for i in 1 2 3; do
    start_server cross-node --store redis --redis-url "redis://127.0.0.1:$REDIS_PORT" --node-id "n$i"
    urls+=(--url "ws://127.0.0.1:$SERVER_PORT/v1/ws"); spids+=("$SERVER_PID")
  done
  gen_sharded cross-node 3 --scenario cross-node "${urls[@]}" --connections "$XNODE_N" \
    --rate "$XNODE_RATES" --stage-s "$STAGE" --probes 200 --probe-rate 50 \
    $(pids_flags "${spids[@]}") --redis-pid "$REDIS_PID"
  stop_all; row cross-node "3 presence-server nodes on one Redis: typing across nodes, join probes"
}
cluster() {
  SERVER_CPU=()
  start_redis cluster
  local urls=() spids=() i
  for i in $(seq 1 "$CLUSTER_NODES"); do
    start_server cluster --store redis --redis-url "redis://127.0.0.1:$REDIS_PORT" --node-id "c$i"
    urls+=(--url "ws://127.0.0.1:$SERVER_PORT/v1/ws"); spids+=("$SERVER_PID")
  done
  gen_sharded cluster "$CLUSTER_NODES" --scenario idle "${urls[@]}" --connections "$CLUSTER" \
    --hold-s "$HOLD" --connect-concurrency 64 $(pids_flags "${spids[@]}") --redis-pid "$REDIS_PID"
  stop_all; row cluster "$CLUSTER_NODES presence-server nodes on one Redis: $CLUSTER connections"
}

started_at=$(date -u +"%Y-%m-%d %H:%M UTC")
for r in idle-ours idle-ours-bare idle-baseline idle-baseline-as-written typing-ours typing-ours-redis typing-baseline \
  write-floor profile churn reconnect large-room cross-node node-max cluster; do
  if [ -n "$only" ] && [[ "$only" != *",$r,"* ]]; then continue; fi
  case $r in
    idle-ours) run_row ours_idle ;;
    idle-ours-bare) run_row ours_idle_bare ;;
    idle-baseline) run_row base_idle ;;
    idle-baseline-as-written) run_row base_as_written ;;
    typing-ours) run_row ours_typing typing-ours memory ;;
    typing-ours-redis) run_row ours_typing typing-ours-redis redis ;;
    typing-baseline) run_row base_typing ;;
    write-floor) run_row write_floor ;;
    profile) run_row profile_row ;;
    churn) run_row ours_churn ;;
    reconnect) run_row ours_reconnect ;;
    large-room) run_row ours_large ;;
    cross-node) run_row cross_node ;;
    node-max) run_row ours_node_max ;;
    cluster) run_row cluster ;;
  esac
done

pairs_args=()
if [ "$with_pairs" = 1 ]; then
  pairs_dir=$OUT/pairs
  log "pairs: presence-bench/pairs.sh --$mode --out=$pairs_dir"
  "$ROOT/presence-bench/pairs.sh" "--$mode" "--out=$pairs_dir" || log "pairs.sh failed (see above)"
fi
if [ -n "$pairs_dir" ]; then pairs_args=(--pairs "$pairs_dir"); fi

log "writing docs/benchmarks.md"
"$BENCH" report "$OUT" --mode "$mode" --started "$started_at" \
  --note "${BENCH_NOTE:-}" "${pairs_args[@]}" >"$ROOT/docs/benchmarks.md"
log "done: docs/benchmarks.md, raw reports in $OUT"
