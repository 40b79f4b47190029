#!/usr/bin/env bash
# Data-type benchmarks of cache-node against redis-server, side by side on this machine
# (the goals of the data-structures work; results go to docs/benchmarks.md):
#   - throughput of LPUSH, LPOP, SADD, HSET, ZADD and ZRANGE of 100 members, with
#     redis-benchmark, 50 clients, pipeline 1 and 16 (N requests at P1, N16 at P16). Both
#     servers run side by side and each row runs on them back to back REPS times
#     (scripts/bench-pairs.sh): medians, and the median of the per-pair ratios
#     cache-node / redis with its range;
#   - the server's own CPU time per request in the same runs (all its threads, from
#     /proc), which says which server does less work when the client is the bottleneck;
#   - memory per element of one 1M-member hash, set and sorted set (INFO used_memory
#     growth / elements).
#   scripts/bench-types.sh     # REPS=3 N=200000 N16=5*N MEMBERS=1000000 CLIENT_THREADS=1
# MEMBERS=0 skips the memory part.
# NO_BUILD=1 uses the release binary already built.
# CLIENT_THREADS=2 runs redis-benchmark with two threads: one client thread saturates its
# core on replies of 100 members, and then both servers read the same rate.
# Needs redis-server and redis-benchmark; reuses ../shared/bench/lib.sh to start and stop
# servers (own session, free loopback port, stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
# shellcheck source=/dev/null
. "$BENCH/lib.sh"
# shellcheck source=scripts/bench-pairs.sh
. scripts/bench-pairs.sh
REPS=${REPS:-3}
N=${N:-200000}
N16=${N16:-$((N * 5))}
MEMBERS=${MEMBERS:-1000000}
CLIENT_THREADS=${CLIENT_THREADS:-1}
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p cache-node
out=$(mktemp -d -t bench-types.XXXXXX)
# In a fresh directory: a dump.rdb left in the working directory would be loaded.
REDIS="redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir $out"
NODE="target/release/cache-node --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save '' --dir $out"
trap 'pair_stop_all; lib_stop; rm -rf "$out"' EXIT

# One row: prints requests per second.
row() { # port test pipeline
  local test=$2 p=$3
  local args=(-h 127.0.0.1 -p "$1" -c 50 -n "$(requests "$test" "$p")" -P "$p" -q --csv)
  [ "$CLIENT_THREADS" = 1 ] || args+=(--threads "$CLIENT_THREADS")
  case $test in
    zrange100) args+=(ZRANGE bench:z 0 99) ;;
    sadd) args+=(-r 100000 SADD bench:s "__rand_int__") ;;
    hset) args+=(-r 100000 HSET bench:h "f:__rand_int__" v) ;;
    zadd) args+=(-r 100000 ZADD bench:zz "__rand_int__" "m:__rand_int__") ;;
    *) args+=(-t "$test") ;;
  esac
  redis-benchmark "${args[@]}" 2>/dev/null | awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

requests() { # test pipeline: how many requests row() sends
  local n=$N
  [ "$2" = 1 ] || n=$N16
  case $1 in zrange100) echo $((n / 4)) ;; *) echo "$n" ;; esac
}

prefill() { # port: the sorted set ZRANGE reads its 100 members from
  redis-cli -p "$1" del bench:z >/dev/null
  local members=() i
  for i in $(seq 1 150); do members+=("$i" "m$i"); done
  redis-cli -p "$1" zadd bench:z "${members[@]}" >/dev/null
}

pair_start redis "$REDIS" "$out/redis.log"
pair_start node "$NODE" "$out/node.log"
for server in redis node; do
  # Warm up first (connections, allocator, thread placement), as compare.sh does.
  redis-benchmark -h 127.0.0.1 -p "$(pair_port $server)" -c 50 -n 200000 -t ping_mbulk -q >/dev/null 2>&1 || true
  prefill "$(pair_port $server)"
done
for p in 1 16; do
  for t in lpush lpop sadd hset zadd zrange100; do
    pair_row "$t,$p" "$(requests "$t" "$p")" row "$t" "$p"
    echo "$t P$p done" >&2
  done
done
pair_stop_all

echo "redis-benchmark threads: $CLIENT_THREADS; $REPS pairs per row; ratio: median of per-pair ratios (range);"
echo "cpu: server CPU us per request (medians)"
pair_header 14
for p in 1 16; do
  for t in lpush lpop sadd hset zadd zrange100; do
    pair_line 14 "$t P$p" "$t,$p"
  done
done

# Memory per element of one big collection of each type.
used() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }
fill() { # port type
  python3 - "$1" "$2" "$MEMBERS" <<'PY' | redis-cli -p "$1" --pipe >/dev/null
import sys
port, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = sys.stdout.buffer
def cmd(args):
    out.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
for s in range(0, n, 100):
    r = range(s, min(s + 100, n))
    if kind == "hash":
        cmd([b"HSET", b"big"] + [x for i in r for x in (b"field:%d" % i, b"value:%d" % i)])
    elif kind == "set":
        cmd([b"SADD", b"big"] + [b"member:%d" % i for i in r])
    else:
        cmd([b"ZADD", b"big"] + [x for i in r for x in (b"%d" % i, b"member:%d" % i)])
PY
}
[ "$MEMBERS" != 0 ] || exit 0
printf '\n%-6s %14s %14s %7s   (bytes per element, %s elements)\n' type redis cache-node ratio "$MEMBERS"
for kind in hash set zset; do
  declare -A per=()
  for server in redis node; do
    cmd=$REDIS; [ "$server" = node ] && cmd=$NODE
    lib_start "$cmd" "$out/$server-mem.log"
    before=$(used "$SRV_PORT")
    fill "$SRV_PORT" "$kind"
    per[$server]=$(echo "($(used "$SRV_PORT") - $before) / $MEMBERS" | bc -l)
    lib_stop
  done
  printf '%-6s %14.1f %14.1f %7.2f\n' "$kind" "${per[redis]}" "${per[node]}" "$(echo "${per[node]} / ${per[redis]}" | bc -l)"
done
