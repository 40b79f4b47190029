#!/usr/bin/env bash
# Persistence benchmarks of cache-node against redis-server, side by side on this
# machine (the goals of the persistence work; results go to docs/benchmarks.md):
#   - BGSAVE of KEYS keys (16-byte values): wall time from BGSAVE to the end of the save;
#   - start-up with that dump: wall time until the server answers PING;
#   - SET throughput with appendonly yes, appendfsync everysec (and always), 50 clients,
#     pipeline 1 and 16.
# Servers run one after the other (A, B, A, B...), REPS times; medians and cache-node/redis
# ratios are printed (time ratios: lower is better; throughput: higher is better).
#   scripts/bench-persistence.sh            # REPS=3 KEYS=1000000 N=300000
# Needs redis-server, redis-cli and redis-benchmark; reuses ../shared/bench/lib.sh to start
# and stop servers (own session, free loopback port, stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
# shellcheck source=/dev/null
. "$BENCH/lib.sh"
REPS=${REPS:-3}
KEYS=${KEYS:-1000000}
N=${N:-300000}
cargo build --release -q -p cache-node
out=$(mktemp -d -t bench-persistence.XXXXXX)
export OUT_DIR=$out
trap 'lib_cleanup; rm -rf "$out"' EXIT

cmd_for() { # server dir extra...
  local server=$1 dir=$2; shift 2
  if [ "$server" = redis ]; then
    echo "redis-server --port {port} --bind 127.0.0.1 --save '' --dir $dir $*"
  else
    echo "target/release/cache-node --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save '' --dir $dir $*"
  fi
}

field() { redis-cli -p "$1" info persistence | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'; }

# Seconds from BGSAVE until the save has ended (polled every 10 ms).
bgsave_secs() { # port
  local t0 t1
  t0=$(lib_now)
  redis-cli -p "$1" bgsave >/dev/null
  for _ in $(seq 1 30000); do
    [ "$(field "$1" rdb_bgsave_in_progress)" = 0 ] && break
    sleep 0.01
  done
  t1=$(lib_now)
  [ "$(field "$1" rdb_last_bgsave_status)" = ok ] || { echo "BGSAVE failed on port $1" >&2; exit 1; }
  echo "$t1 - $t0" | bc -l
}

sets() { # port pipeline [n]: SET requests per second, 50 clients
  redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n "${3:-$N}" -P "$2" -r 1000000 -t set -q --csv 2>/dev/null |
    awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

declare -A r
for rep in $(seq 1 "$REPS"); do
  for server in redis node; do
    dir="$out/$server"
    rm -rf "$dir"; mkdir -p "$dir"
    lib_start "$(cmd_for "$server" "$dir")" "$out/$server.log"
    lib_fill "$SRV_PORT" "$KEYS" 16 'key:%d' resp
    r[$server,save]+="$(bgsave_secs "$SRV_PORT") "
    lib_stop
    t0=$(lib_now)
    lib_start "$(cmd_for "$server" "$dir")" "$out/$server-load.log"
    r[$server,load]+="$(echo "$(lib_now) - $t0" | bc -l) "
    lib_stop
    for fsync in everysec always; do
      rm -rf "$dir"; mkdir -p "$dir"
      lib_start "$(cmd_for "$server" "$dir" --appendonly yes --appendfsync "$fsync")" "$out/$server-aof.log"
      for p in 1 16; do
        r[$server,aof-$fsync,$p]+="$(sets "$SRV_PORT" "$p") "
      done
      lib_stop
    done
  done
  echo "rep $rep/$REPS done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-34s %12s %12s %7s\n' measure redis cache-node ratio
line() { # label key
  local a b
  a=$(echo "${r[redis,$2]}" | median); b=$(echo "${r[node,$2]}" | median)
  printf '%-34s %12.2f %12.2f %7.2f\n' "$1" "$a" "$b" "$(echo "$b / $a" | bc -l)"
}
line "BGSAVE of $KEYS keys (s)" save
line "start-up loading the dump (s)" load
for fsync in everysec always; do
  for p in 1 16; do
    line "SET/s appendfsync $fsync P$p" "aof-$fsync,$p"
  done
done
