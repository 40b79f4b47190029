#!/usr/bin/env bash
# Scripting benchmark of cache-node against redis-server, side by side on this machine
# (results go to docs/benchmarks.md):
#   - EVALSHA of a 3-command script (INCR, EXPIRE, GET on a random key), 50 clients,
#     pipeline 1 and 16;
#   - plain SET and GET in the same runs, to show what the script gate costs commands.
# Both servers run side by side and each row runs on them back to back REPS times
# (scripts/bench-pairs.sh); medians of requests per second (higher is better), the median of
# the per-pair ratios cache-node/redis with its range, and each server's CPU per request.
#   scripts/bench-scripting.sh     # REPS=3 N=300000 N16=5*N (NO_BUILD=1: use the built binary)
#   BASE_BIN=path/to/cache-node scripts/bench-scripting.sh   # also SET/GET of that build
#     (e.g. one from before scripting: what the gate costs plain commands)
# Needs redis-server, redis-cli and redis-benchmark; reuses ../shared/bench/lib.sh to start
# and stop servers (own session, free loopback port, stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
# shellcheck source=/dev/null
. "$BENCH/lib.sh"
# shellcheck source=scripts/bench-pairs.sh
. scripts/bench-pairs.sh
REPS=${REPS:-3}
N=${N:-300000}
N16=${N16:-$((N * 5))}
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p cache-node
out=$(mktemp -d -t bench-scripting.XXXXXX)
export OUT_DIR=$out
trap 'pair_stop_all; lib_cleanup; rm -rf "$out"' EXIT

SCRIPT="redis.call('incr', KEYS[1]); redis.call('expire', KEYS[1], 100); return redis.call('get', KEYS[1])"

cmd_for() { # server
  case $1 in
    redis) echo "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir $out" ;;
    node) echo "target/release/cache-node --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save '' --dir $out" ;;
    base) echo "$BASE_BIN --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save '' --dir $out" ;;
  esac
}
servers="redis node"
[ -z "${BASE_BIN:-}" ] || servers="$servers base"

rps() { # port pipeline requests args...: requests per second, 50 clients
  local port=$1 p=$2 n=$3; shift 3
  redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n "$n" -P "$p" -r 100000 -q --csv "$@" 2>/dev/null |
    awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print $2 }'
}

for server in $servers; do
  pair_start "$server" "$(cmd_for "$server")" "$out/$server.log"
  redis-benchmark -h 127.0.0.1 -p "$(pair_port "$server")" -c 50 -n 200000 -t ping_mbulk -q >/dev/null 2>&1 || true
done
sha=$(redis-cli -p "$(pair_port redis)" script load "$SCRIPT")
[ "$(redis-cli -p "$(pair_port node)" script load "$SCRIPT")" = "$sha" ] || { echo "script sha differs" >&2; exit 1; }
for p in 1 16; do
  n=$N; [ "$p" = 1 ] || n=$N16
  PAIR_SKIP=base pair_row "evalsha,$p" "$n" rps "$p" "$n" evalsha "$sha" 1 'counter:__rand_int__'
  pair_row "set,$p" "$n" rps "$p" "$n" set 'key:__rand_int__' v
  pair_row "get,$p" "$n" rps "$p" "$n" get 'key:__rand_int__'
  echo "P$p done" >&2
done
pair_stop_all

echo "$REPS pairs per row; ratio: median of per-pair ratios (range); cpu: server CPU us per request"
pair_header 34
for p in 1 16; do
  pair_line 34 "EVALSHA (INCR+EXPIRE+GET)/s P$p" "evalsha,$p"
  pair_line 34 "SET/s P$p" "set,$p"
  pair_line 34 "GET/s P$p" "get,$p"
done
if [ -n "${BASE_BIN:-}" ]; then
  printf '\n%-34s %12s %12s %7s\n' "measure (gate cost)" base cache-node ratio
  for p in 1 16; do
    for c in set get; do
      a=$(echo "${PAIR_RPS[base,$c,$p]}" | pair_median); b=$(echo "${PAIR_RPS[node,$c,$p]}" | pair_median)
      printf '%-34s %12.0f %12.0f %7.2f\n' "${c^^}/s P$p" "$a" "$b" "$(echo "$b / $a" | bc -l)"
    done
  done
fi
