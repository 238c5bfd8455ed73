#!/usr/bin/env bash
# Before and after: every pair of presence-bench/levers.tsv, measured.
#
#   presence-bench/pairs.sh               build each commit's presence-server, measure (~9 min once
#                                         built; building all 8 commits from nothing: ~8 min)
#   presence-bench/pairs.sh --quick       smaller and shorter rows, a check (~4 min once built)
#   presence-bench/pairs.sh --build-only  build (and cache) the binaries, measure nothing
#   … --only=1,6                          only these lines of levers.tsv (1 = first pair)
#   … --out=DIR                           reports into DIR (default target/bench/pairs-<date>-<mode>);
#                                         a report already in DIR is kept, not measured again
#   … --levers=FILE                       another list of pairs
#
# Builds: every distinct commit is checked out, one after the other (oldest first), in
# one scratch worktree, target/pairs/src, with its own target dir, target/pairs/target,
# so consecutive builds are incremental; `cargo build --release -p presence-server
# --locked`; the binary goes to target/pairs/bin/<sha> and is never built again. HEAD is
# the commit checked out here (uncommitted changes are not measured).
#
# Measurements: the generator is the current one (target/release/presence-bench, built
# from this checkout), so every commit faces the same load. The rows are run.sh's
# single-node rows (server on CPU 0, generator on CPU 1, run.sh's server flags; this
# script sources run.sh for its functions) at fixed rates, plus churn and a smaller
# cross-node row for the join probes. Each commit is measured once per row any of its
# pairs needs. Reports: DIR/<sha>-<row>.json (+ .cmd and logs), DIR/summary.json. At the
# end the table is printed (presence-bench report --pairs DIR); run.sh --with-pairs / --pairs=DIR
# puts it on docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

mode=full
build_only=0
only=""
out=""
levers=$ROOT/presence-bench/levers.tsv
for arg in "$@"; do
  case "$arg" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --build-only) build_only=1 ;;
    --only=*) only=",${arg#--only=}," ;;
    --out=*) out=${arg#--out=}; [[ "$out" == /* ]] || out=$OLDPWD/$out ;;
    --levers=*) levers=${arg#--levers=}; [[ "$levers" == /* ]] || levers=$OLDPWD/$levers ;;
    *) echo "usage: $0 [--quick|--full] [--build-only] [--only=N,N…] [--out=DIR] [--levers=FILE]" >&2; exit 2 ;;
  esac
done
say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
t_start=$(date +%s)

# --- the pairs ----------------------------------------------------------------------
sha_of() { git -C "$ROOT" rev-parse --short=12 --verify "$1^{commit}"; }
PAIRS=() # "line<TAB>before<TAB>after<TAB>before_sha<TAB>after_sha<TAB>description<TAB>rows"
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in '#'* | '') continue ;; esac
  lineno=$((lineno + 1))
  if [ -n "$only" ] && [[ "$only" != *",$lineno,"* ]]; then continue; fi
  IFS=$'\t' read -r before after desc rows <<<"$line"
  [ -n "${rows:-}" ] || { echo "$levers: pair $lineno: want 4 tab-separated fields" >&2; exit 2; }
  PAIRS+=("$lineno"$'\t'"$before"$'\t'"$after"$'\t'"$(sha_of "$before")"$'\t'"$(sha_of "$after")"$'\t'"$desc"$'\t'"$rows")
done <"$levers"
[ ${#PAIRS[@]} -gt 0 ] || { echo "no pairs in $levers${only:+ for --only=$only}" >&2; exit 2; }

# The distinct commits, oldest first (by how many commits lead to them), and the rows each needs.
declare -A NEED=()
for p in "${PAIRS[@]}"; do
  IFS=$'\t' read -r _ _ _ bsha asha _ rows <<<"$p"
  NEED[$bsha]="${NEED[$bsha]:-},$rows"
  NEED[$asha]="${NEED[$asha]:-},$rows"
done
mapfile -t COMMITS < <(for c in "${!NEED[@]}"; do echo "$(git -C "$ROOT" rev-list --count "$c") $c"; done | sort -n | cut -d' ' -f2)
needs() { [[ "${NEED[$1]}," == *",$2,"* ]]; }

# --- builds -------------------------------------------------------------------------
PDIR=$ROOT/target/pairs
SRC=$PDIR/src
BIN=$PDIR/bin
mkdir -p "$BIN"
BUILD_S=()
for c in "${COMMITS[@]}"; do
  if [ -x "$BIN/$c" ]; then say "build $c: cached ($BIN/$c)"; BUILD_S+=("$c=cached"); continue; fi
  if [ ! -e "$SRC/.git" ]; then
    git -C "$ROOT" worktree prune
    git -C "$ROOT" worktree add --detach "$SRC" "$c" >&2
  else
    git -C "$SRC" checkout -q --detach "$c"
  fi
  say "build $c: $(git -C "$SRC" log -1 --format=%s | cut -c1-70)"
  t0=$(date +%s)
  (cd "$SRC" && CARGO_TARGET_DIR=$PDIR/target cargo build --release -p presence-server --locked >&2)
  cp "$PDIR/target/release/presence-server" "$BIN/$c.tmp" && mv "$BIN/$c.tmp" "$BIN/$c"
  BUILD_S+=("$c=$(($(date +%s) - t0))")
  say "build $c: $(($(date +%s) - t0)) s"
done
if [ "$build_only" = 1 ]; then
  say "built ${#COMMITS[@]} binaries in $BIN ($(($(date +%s) - t_start)) s)"
  exit 0
fi

# --- measurements -------------------------------------------------------------------
say "building the generator (target/release/presence-bench)"
cargo build --release -p presence-bench --locked >&2
started_at=$(date -u +"%Y-%m-%d %H:%M UTC")
export BENCH_OUT=${out:-$ROOT/target/bench/pairs-$(date -u +%Y%m%d-%H%M%S)-$mode}
# run.sh's settings and functions (start_server, start_redis, gen, gen_sharded, stop_all,
# the SERVER_FLAGS, the pinning); it stops at its build step when sourced.
# shellcheck source=run.sh
source "$ROOT/presence-bench/run.sh" "--$mode"

if [ "$mode" = full ]; then
  N=10000; HOLD=10; STAGE=8; CHURN_RATES=500,1000,2000; XNODE_N=3000; XNODE_STAGE=4
else
  N=3000; HOLD=4; STAGE=4; CHURN_RATES=500; XNODE_N=1200; XNODE_STAGE=2
fi
TYPING_RATES=2000,4000; XNODE_RATES=1000; PROBES=200; PROBE_RATE=50

row_idle() { # SHA NAME ROOMSIZE…
  local name=$2; shift 2
  start_server "$name"
  gen "$name" --scenario idle --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --hold-s "$HOLD" --server-pid "$SERVER_PID" "$@"
  stop_all
}
row_typing() {
  start_server "$2"
  gen "$2" --scenario typing --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --rate "$TYPING_RATES" --stage-s "$STAGE" --server-pid "$SERVER_PID"
  stop_all
}
row_churn() {
  start_redis "$2"; start_server "$2" --store redis --redis-url "redis://127.0.0.1:$REDIS_PORT"
  gen "$2" --scenario churn --url "ws://127.0.0.1:$SERVER_PORT/v1/ws" --connections "$N" \
    --rate "$CHURN_RATES" --stage-s "$STAGE" --server-pid "$SERVER_PID" --redis-pid "$REDIS_PID"
  stop_all
}
row_cross_node() { # as run.sh's cross-node row: unpinned, 3 nodes, 3 generators
  SERVER_CPU=()
  start_redis "$2"
  local urls=() spids=() i
  for i in 1 2 3; do
    start_server "$2" --store redis --redis-url "redis://127.0.0.1:$REDIS_PORT" --node-id "n$i"
    urls+=(--url "ws://127.0.0.1:$SERVER_PORT/v1/ws"); spids+=("$SERVER_PID")
  done
  gen_sharded "$2" 3 --scenario cross-node "${urls[@]}" --connections "$XNODE_N" \
    --rate "$XNODE_RATES" --stage-s "$XNODE_STAGE" --probes "$PROBES" --probe-rate "$PROBE_RATE" \
    $(pids_flags "${spids[@]}") --redis-pid "$REDIS_PID"
  stop_all
}
measure() { # SHA ROW: in a subshell that stops what it started, like run.sh's rows
  local sha=$1 r=$2 name="$1-$2"
  SERVER=$BIN/$sha
  case $r in
    idle) row_idle "$sha" "$name" ;;
    idle-bare) row_idle "$sha" "$name" --room-size 0 ;;
    typing) row_typing "$sha" "$name" ;;
    churn) row_churn "$sha" "$name" ;;
    cross-node-join) row_cross_node "$sha" "$name" ;;
    *) log "unknown row $r (levers.tsv)"; return 1 ;;
  esac
}

: >"$OUT/measured.tsv"
for r in idle idle-bare typing churn cross-node-join; do
  for c in "${COMMITS[@]}"; do
    needs "$c" "$r" || continue
    if [ -s "$OUT/$c-$r.json" ]; then
      log "$c $r: kept ($OUT/$c-$r.json)"; printf '%s\t%s\tkept\t0\n' "$c" "$r" >>"$OUT/measured.tsv"; continue
    fi
    t0=$(date +%s)
    ( trap cleanup EXIT; trap 'exit 130' INT TERM; STARTED=(); measure "$c" "$r" ) &
    pid=$!; STARTED+=("$pid")
    status=ok
    wait "$pid" || { status=failed; log "$c $r: failed (see $OUT/$c-$r.*)"; }
    STARTED=()
    printf '%s\t%s\t%s\t%s\n' "$c" "$r" "$status" "$(($(date +%s) - t0))" >>"$OUT/measured.tsv"
  done
done

# --- summary ------------------------------------------------------------------------
printf '%s\n' "${PAIRS[@]}" >"$OUT/pairs.tsv"
printf '%s\n' "${BUILD_S[@]}" >"$OUT/builds.txt"
"$BENCH" pairs-summary "$OUT" --mode "$mode" --started "$started_at" \
  --checkout "$(git -C "$ROOT" rev-parse HEAD)" --wall-s "$(($(date +%s) - t_start))" --args "$*" \
  --connections "$N" --hold-s "$HOLD" --stage-s "$STAGE" --typing-rates "$TYPING_RATES" \
  --churn-rates "$CHURN_RATES" --xnode-connections "$XNODE_N" --xnode-rates "$XNODE_RATES" \
  --xnode-stage-s "$XNODE_STAGE" --probes "$PROBES" --probe-rate "$PROBE_RATE"
rm -f "$OUT/pairs.tsv" "$OUT/builds.txt"
say "done in $(($(date +%s) - t_start)) s: $OUT/summary.json"
"$BENCH" report --pairs "$OUT"
