#!/usr/bin/env bash
# Scripting benchmark of cache-node against redis-server, side by side on this machine
# (results go to docs/benchmarks.md):
#   - EVALSHA of a 3-command script (INCR, EXPIRE, GET on a random key), 50 clients,
#     pipeline 1 and 16;
#   - plain SET and GET in the same runs, to show what the script gate costs commands.
# Servers run one after the other (A, B, A, B...), REPS times; medians and cache-node/redis
# ratios are printed (requests per second: higher is better).
#   scripts/bench-scripting.sh            # REPS=3 N=300000 (NO_BUILD=1: use the built binary)
#   BASE_BIN=path/to/cache-node scripts/bench-scripting.sh   # also SET/GET of that build
#     (e.g. one from before scripting: what the gate costs plain commands)
# Needs redis-server, redis-cli and redis-benchmark; reuses ../shared/bench/lib.sh to start
# and stop servers (own session, free loopback port, stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
# shellcheck source=/dev/null
. "$BENCH/lib.sh"
REPS=${REPS:-3}
N=${N:-300000}
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p cache-node
out=$(mktemp -d -t bench-scripting.XXXXXX)
export OUT_DIR=$out
trap 'lib_cleanup; rm -rf "$out"' EXIT

SCRIPT="redis.call('incr', KEYS[1]); redis.call('expire', KEYS[1], 100); return redis.call('get', KEYS[1])"

cmd_for() { # server
  case $1 in
    redis) echo "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no" ;;
    node) echo "target/release/cache-node --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save ''" ;;
    base) echo "$BASE_BIN --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save ''" ;;
  esac
}
servers="redis node"
[ -z "${BASE_BIN:-}" ] || servers="$servers base"

rps() { # port pipeline args...: requests per second, 50 clients
  local port=$1 p=$2; shift 2
  redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n "$N" -P "$p" -r 100000 -q --csv "$@" 2>/dev/null |
    awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print $2 }'
}

declare -A r
for rep in $(seq 1 "$REPS"); do
  for server in $servers; do
    lib_start "$(cmd_for "$server")" "$out/$server.log"
    [ "$server" = base ] || sha=$(redis-cli -p "$SRV_PORT" script load "$SCRIPT")
    for p in 1 16; do
      [ "$server" = base ] || r[$server,evalsha,$p]+="$(rps "$SRV_PORT" "$p" evalsha "$sha" 1 'counter:__rand_int__') "
      r[$server,set,$p]+="$(rps "$SRV_PORT" "$p" set 'key:__rand_int__' v) "
      r[$server,get,$p]+="$(rps "$SRV_PORT" "$p" get 'key:__rand_int__') "
    done
    lib_stop
  done
  echo "rep $rep/$REPS done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-34s %12s %12s %7s\n' measure redis cache-node ratio
line() { # label key
  local a b
  a=$(echo "${r[redis,$2]}" | median); b=$(echo "${r[node,$2]}" | median)
  printf '%-34s %12.0f %12.0f %7.2f\n' "$1" "$a" "$b" "$(echo "$b / $a" | bc -l)"
}
for p in 1 16; do
  line "EVALSHA (INCR+EXPIRE+GET)/s P$p" "evalsha,$p"
  line "SET/s P$p" "set,$p"
  line "GET/s P$p" "get,$p"
done
if [ -n "${BASE_BIN:-}" ]; then
  printf '\n%-34s %12s %12s %7s\n' "measure (gate cost)" base cache-node ratio
  for p in 1 16; do
    for c in set get; do
      a=$(echo "${r[base,$c,$p]}" | median); b=$(echo "${r[node,$c,$p]}" | median)
      printf '%-34s %12.0f %12.0f %7.2f\n' "${c^^}/s P$p" "$a" "$b" "$(echo "$b / $a" | bc -l)"
    done
  done
fi
