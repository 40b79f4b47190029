#!/usr/bin/env bash
# Eviction and memory-accounting benchmarks (results go to docs/benchmarks.md):
#   - SET throughput over a large random keyspace (redis-benchmark -r 10000000, 100-byte
#     values, 50 clients, pipeline 1 and 16) below maxmemory, and at maxmemory with
#     allkeys-lru (the node is filled past MAXMEM first, so every SET of a new key
#     evicts one), for cache-node and redis-server; prints at/below ratios;
#   - what the allocation counting costs: plain GET/SET (no maxmemory) of this build
#     against a build of BASE_REV (default main) without it.
# Servers run one after the other, REPS times; medians are printed.
#   scripts/bench-eviction.sh               # REPS=3 N=500000 MAXMEM=64mb BASE_REV=main [BASE_BIN=...]
# Needs redis-server, redis-cli and redis-benchmark; reuses ../shared/bench/lib.sh to start
# and stop servers (own session, free loopback port, stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
# shellcheck source=/dev/null
. "$BENCH/lib.sh"
REPS=${REPS:-3}
N=${N:-500000}
MAXMEM=${MAXMEM:-64mb}
BASE_REV=${BASE_REV:-main}
out=$(mktemp -d -t bench-eviction.XXXXXX)
export OUT_DIR=$out
trap 'lib_cleanup; rm -rf "$out"' EXIT

# The baseline: BASE_REV's sources built in this worktree's target directory, so the
# dependencies are shared and only cache-node itself is compiled again; its binary is
# copied aside before this build's replaces it.
# BASE_BIN=path reuses a baseline binary built earlier.
base_bin=${BASE_BIN:-}
if [ -z "$base_bin" ]; then
  base_src=target/bench-base-src
  base_bin=target/bench-base/cache-node
  rm -rf "$base_src"; mkdir -p "$base_src" target/bench-base
  git archive "$BASE_REV" | tar -x -C "$base_src"
  cargo build --release -q -p cache-node --manifest-path "$base_src/Cargo.toml" --target-dir target
  cp target/release/cache-node "$base_bin"
fi
cargo build --release -q -p cache-node

cmd_for() { # server extra...
  local server=$1; shift
  case $server in
    redis) echo "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no $*" ;;
    node) echo "target/release/cache-node --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save '' $*" ;;
    base) echo "$base_bin --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save '' $*" ;;
  esac
}

bench() { # port test pipeline [n] [keyspace]: requests per second, 50 clients, 100-byte values
  redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n "${4:-$N}" -P "$3" -r "${5:-10000000}" -d 100 -t "$2" -q --csv 2>/dev/null |
    awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

evicted() { redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '$1 == "evicted_keys" { print $2 }'; }

declare -A r
for rep in $(seq 1 "$REPS"); do
  for server in redis node; do
    lib_start "$(cmd_for "$server")" "$out/$server.log"
    for p in 1 16; do r[$server,below,$p]+="$(bench "$SRV_PORT" set "$p") "; done
    lib_stop
    lib_start "$(cmd_for "$server" --maxmemory "$MAXMEM" --maxmemory-policy allkeys-lru)" "$out/$server-lru.log"
    # Fill past the limit so the measured runs evict on (nearly) every SET.
    bench "$SRV_PORT" set 16 $((N * 2)) >/dev/null
    [ "$(evicted "$SRV_PORT")" -gt 0 ] || { echo "$server did not evict while filling" >&2; exit 1; }
    for p in 1 16; do r[$server,lru,$p]+="$(bench "$SRV_PORT" set "$p") "; done
    lib_stop
  done
  for server in base node; do
    lib_start "$(cmd_for "$server")" "$out/$server-plain.log"
    for p in 1 16; do
      r[$server,set,$p]+="$(bench "$SRV_PORT" set "$p" "$N" 100000) "
      r[$server,get,$p]+="$(bench "$SRV_PORT" get "$p" "$N" 100000) "
    done
    lib_stop
  done
  echo "rep $rep/$REPS done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { echo "$1 / $2" | bc -l; }
printf '%-40s %12s %12s %7s\n' "SET/s, 100-byte values, -r 10000000" below "at maxmem" ratio
for server in redis node; do
  for p in 1 16; do
    a=$(echo "${r[$server,below,$p]}" | median); b=$(echo "${r[$server,lru,$p]}" | median)
    printf '%-40s %12.0f %12.0f %7.2f\n' "$server P$p (allkeys-lru, $MAXMEM)" "$a" "$b" "$(ratio "$b" "$a")"
  done
done
echo
printf '%-40s %12s %12s %7s\n' "accounting cost (no maxmemory)" "$BASE_REV" "this build" ratio
for t in set get; do
  for p in 1 16; do
    a=$(echo "${r[base,$t,$p]}" | median); b=$(echo "${r[node,$t,$p]}" | median)
    printf '%-40s %12.0f %12.0f %7.2f\n' "${t^^}/s P$p" "$a" "$b" "$(ratio "$b" "$a")"
  done
done
