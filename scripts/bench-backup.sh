#!/usr/bin/env bash
# Backup benchmarks (the goals of the backup work; results go to docs/benchmarks.md,
# "Backups"):
#   - what a snapshot costs the primary: a cache-node primary with one replica holds KEYS
#     keys (16-byte values); redis-benchmark sends SETs (50 clients, pipeline P) to the
#     primary, and its throughput is measured over DURATION seconds (commands processed,
#     from INFO) without, then with `cache-node snapshot save` copying the replica
#     back to back for the whole window. Goal: the primary keeps at least 95%.
#     Also the primary's own CPU time per SET (its process only, from /proc) in both
#     runs: what the snapshot costs the primary itself, apart from the cores the replica
#     and the copy take on a machine too small to give them cores of their own.
#   - how long a snapshot takes: `cache-node snapshot save --from <replica>` of the
#     idle KEYS keys, against redis-server's own BGSAVE of the same keys. Goal: no longer.
# REPS repetitions (the order of the two throughput runs alternates); medians are printed.
#   scripts/bench-backup.sh            # REPS=3 KEYS=1000000 DURATION=10 P=1
#   CACHE_NODE=path/to/cache-node scripts/bench-backup.sh   # skip the release build
#   PRIMARY_CPUS=0 REPLICA_CPUS=1 scripts/bench-backup.sh   # pin the primary and
#     redis-benchmark to one set of CPUs, the replica and the snapshot copies to another
#     (taskset), to tell what a snapshot costs from CPUs shared with it
# Needs redis-server, redis-cli and redis-benchmark; reuses ../shared/bench/lib.sh to start
# and stop servers (own session, free loopback port, stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
# shellcheck source=/dev/null
. "$BENCH/lib.sh"
REPS=${REPS:-3}
KEYS=${KEYS:-1000000}
DURATION=${DURATION:-10}
P=${P:-1}
PRIMARY_CPUS=${PRIMARY_CPUS:-}
REPLICA_CPUS=${REPLICA_CPUS:-}
if [ -z "${CACHE_NODE:-}" ]; then
  cargo build --release -q -p cache-node
  CACHE_NODE=target/release/cache-node
fi
out=$(mktemp -d -t bench-backup.XXXXXX)
export OUT_DIR=$out
REPLICA_PID=
LOOP_PID=
stop_others() {
  [ -n "$LOOP_PID" ] && { kill "$LOOP_PID" 2>/dev/null || true; wait "$LOOP_PID" 2>/dev/null || true; }
  [ -n "${BENCH_PID:-}" ] && { kill "$BENCH_PID" 2>/dev/null || true; wait "$BENCH_PID" 2>/dev/null || true; }
  [ -n "$REPLICA_PID" ] && { kill -TERM "$REPLICA_PID" 2>/dev/null || true; wait "$REPLICA_PID" 2>/dev/null || true; }
  LOOP_PID=; BENCH_PID=; REPLICA_PID=
}
trap 'stop_others; lib_cleanup; rm -rf "$out"' EXIT

node_cmd() { # port dir extra...
  local port=$1 dir=$2; shift 2
  echo "$CACHE_NODE --bind 127.0.0.1 --port $port --admin-port 0 --loglevel warning --save '' --dir $dir $*"
}

REPLICA_PORT=
start_replica() { # primary-port
  local port
  port=$(lib_free_port)
  mkdir -p "$out/replica"
  # shellcheck disable=SC2046
  local pre=()
  [ -n "$REPLICA_CPUS" ] && pre=(taskset -c "$REPLICA_CPUS")
  setsid "${pre[@]}" bash -c "exec $(node_cmd "$port" "$out/replica" --replicaof 127.0.0.1 "$1")" </dev/null >>"$out/replica.log" 2>&1 &
  REPLICA_PID=$!
  for _ in $(seq 1 300); do
    redis-cli -p "$port" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
    sleep 0.05
  done
  REPLICA_PORT=$port
}

info_field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'; }

# SETs per second processed by the primary over DURATION seconds of redis-benchmark load;
# with "snapshot", `cache-node snapshot save` copies the replica back to back meanwhile
# (copies finished / refused in the window go to $out/copies).
throughput() { # primary-port replica-port plain|snapshot
  local c0 c1 t0 t1 copies=0
  lib_pin "$PRIMARY_CPUS" redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n 2000000000 -P "$P" -r 1000000 -d 16 -t set -q >/dev/null 2>&1 &
  BENCH_PID=$!
  sleep 1
  if [ "$3" = snapshot ]; then
    rm -rf "$out/snaps" "$out/copies.n" "$out/failed.n"
    # A copy the replica refuses (e.g. NOMASTERLINK while it resyncs) is counted and
    # tried again.
    (
      i=0 ok=0 failed=0
      while :; do
        i=$((i + 1))
        if lib_pin "$REPLICA_CPUS" "$CACHE_NODE" snapshot save --from "127.0.0.1:$2" --to "$out/snaps" --name "copy-$i" >/dev/null 2>>"$out/save.log"; then
          ok=$((ok + 1)); echo "$ok" >"$out/copies.n"
          "$CACHE_NODE" snapshot delete "$out/snaps" "copy-$i" >/dev/null
        else
          failed=$((failed + 1)); echo "$failed" >"$out/failed.n"
          sleep 0.1
        fi
      done
    ) &
    LOOP_PID=$!
    sleep 0.2
  fi
  c0=$(info_field "$1" stats total_commands_processed); t0=$(lib_now); k0=$(lib_session_ticks "$SRV_SID")
  sleep "$DURATION"
  c1=$(info_field "$1" stats total_commands_processed); t1=$(lib_now); k1=$(lib_session_ticks "$SRV_SID")
  if [ -n "$LOOP_PID" ]; then
    # The loop first, then the copy it may be running (its child), so none outlives the window.
    kill "$LOOP_PID" 2>/dev/null || true
    pkill -P "$LOOP_PID" 2>/dev/null || true
    wait "$LOOP_PID" 2>/dev/null || true; LOOP_PID=
    copies="$(cat "$out/copies.n" 2>/dev/null || echo 0)/$(cat "$out/failed.n" 2>/dev/null || echo 0)"
  fi
  kill "$BENCH_PID" 2>/dev/null || true; wait "$BENCH_PID" 2>/dev/null || true; BENCH_PID=
  echo "$copies" >"$out/copies"
  echo "$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l) $(echo "($k1 - $k0) * 1000000 / $(getconf CLK_TCK) / ($c1 - $c0)" | bc -l)"
}

# Seconds of `cache-node snapshot save` of the replica (idle).
save_secs() { # replica-port
  local t0 t1
  rm -rf "$out/snaps"
  t0=$(lib_now)
  "$CACHE_NODE" snapshot save --from "127.0.0.1:$1" --to "$out/snaps" --name timed >"$out/timed.json"
  t1=$(lib_now)
  grep -q "\"keys\": $KEYS," "$out/timed.json" || { echo "the snapshot does not hold $KEYS keys:" >&2; cat "$out/timed.json" >&2; exit 1; }
  echo "$t1 - $t0" | bc -l
}

# Seconds from BGSAVE until the save has ended (polled every 10 ms).
bgsave_secs() { # port
  local t0 t1
  t0=$(lib_now)
  redis-cli -p "$1" bgsave >/dev/null
  for _ in $(seq 1 30000); do
    [ "$(info_field "$1" persistence rdb_bgsave_in_progress)" = 0 ] && break
    sleep 0.01
  done
  t1=$(lib_now)
  [ "$(info_field "$1" persistence rdb_last_bgsave_status)" = ok ] || { echo "BGSAVE failed on port $1" >&2; exit 1; }
  echo "$t1 - $t0" | bc -l
}

echo "other processes' CPU before the run: $(QUIET_WAIT=0 lib_quiet)% of one core ($(nproc) cores)" >&2
declare -A r
for rep in $(seq 1 "$REPS"); do
  rm -rf "$out/primary" "$out/replica"; mkdir -p "$out/primary"
  SERVER_CPUS=$PRIMARY_CPUS lib_start "$(node_cmd "{port}" "$out/primary")" "$out/primary.log"
  lib_fill "$SRV_PORT" "$KEYS" 16 'key:%d' resp || { echo "filling cache-node failed" >&2; exit 1; }
  start_replica "$SRV_PORT"
  [ "$(redis-cli -p "$SRV_PORT" wait 1 120000)" = 1 ] || { echo "the replica did not catch up" >&2; exit 1; }
  r[save]+="$(save_secs "$REPLICA_PORT") "
  order=(plain snapshot)
  [ $((rep % 2)) = 0 ] && order=(snapshot plain)
  for mode in "${order[@]}"; do
    read -r rps cpu < <(throughput "$SRV_PORT" "$REPLICA_PORT" "$mode")
    r[$mode]+="$rps "; r[${mode}cpu]+="$cpu "
    [ "$mode" = snapshot ] && r[copies]+="$(cat "$out/copies") "
  done
  stop_others
  lib_stop
  rm -rf "$out/redis"; mkdir -p "$out/redis"
  lib_start "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir $out/redis" "$out/redis.log"
  lib_fill "$SRV_PORT" "$KEYS" 16 'key:%d' resp || { echo "filling redis-server failed" >&2; exit 1; }
  r[bgsave]+="$(bgsave_secs "$SRV_PORT") "
  lib_stop
  echo "rep $rep/$REPS done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
plain=$(echo "${r[plain]}" | median); snap=$(echo "${r[snapshot]}" | median)
save=$(echo "${r[save]}" | median); bgsave=$(echo "${r[bgsave]}" | median)
plaincpu=$(echo "${r[plaincpu]}" | median); snapcpu=$(echo "${r[snapshotcpu]}" | median)
echo "runs: plain ${r[plain]}| snapshot ${r[snapshot]}| copies done/refused ${r[copies]}| save ${r[save]}| bgsave ${r[bgsave]}" >&2
[ -s "$out/save.log" ] && { echo "copies refused:" >&2; sort "$out/save.log" | uniq -c >&2; }
printf '%-58s %12s\n' measure median
printf '%-58s %12.0f\n' "primary SET/s, P$P, no snapshot" "$plain"
printf '%-58s %12.0f\n' "primary SET/s, P$P, snapshots of the replica back to back" "$snap"
printf '%-58s %12.3f\n' "ratio (goal >= 0.95)" "$(echo "$snap / $plain" | bc -l)"
printf '%-58s %12.2f\n' "primary CPU us per SET, no snapshot" "$plaincpu"
printf '%-58s %12.2f\n' "primary CPU us per SET, snapshots back to back" "$snapcpu"
printf '%-58s %12.3f\n' "primary's own throughput ratio (CPU-bound; goal >= 0.95)" "$(echo "$plaincpu / $snapcpu" | bc -l)"
printf '%-58s %12.2f\n' "snapshot save of $KEYS keys from the replica (s)" "$save"
printf '%-58s %12.2f\n' "redis-server BGSAVE of $KEYS keys (s)" "$bgsave"
printf '%-58s %12.3f\n' "ratio save / BGSAVE (goal <= 1)" "$(echo "$save / $bgsave" | bc -l)"
