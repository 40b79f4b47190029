#!/usr/bin/env bash
# Replication benchmarks of cache-node against redis-server, side by side on this machine
# (the goals of the replication work; results go to docs/benchmarks.md):
#   - what 2 attached replicas cost the primary: SET throughput (redis-benchmark, 50
#     clients, pipeline 1 and 16) with 0 and with 2 replicas, for each server;
#   - the same with 2 stream sinks instead of replicas (scripts/replica_sink.py: they sync
#     and read the stream but apply nothing). That is the primary's own cost of feeding
#     two replicas, as in production where replicas run on other machines; real replicas
#     on this machine also take the cores the primary and the client run on;
#   - replica lag under that load: a probe writes a fresh value to the primary every
#     50 ms and times how long until a replica returns it (median and max, ms).
#   - the primary's own CPU time per SET (its process only, from /proc) with 0 and with 2
#     replicas: on a machine too small to give the replicas cores of their own, this is
#     what the replicas cost the primary itself, apart from their competing for its cores;
#   - each replica's CPU time per SET it applies (mean of the two, counted until they
#     have caught up with the primary's offset).
# Each server's primary and replicas run on this machine, one server kind after the other,
# REPS times; medians are printed.
#   scripts/bench-replication.sh            # REPS=3 N=300000 (NO_BUILD=1: use the built binary)
# Needs redis-server and redis-benchmark; reuses ../shared/bench/lib.sh to start and stop
# servers (own session, free loopback port, stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
# shellcheck source=/dev/null
. "$BENCH/lib.sh"
REPS=${REPS:-3}
N=${N:-300000}
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p cache-node
out=$(mktemp -d -t bench-replication.XXXXXX)
export OUT_DIR=$out
REPLICA_PIDS=()
REPLICA_PORTS=()
SINK_PIDS=()
stop_pids() { # name of an array of PIDs this shell started: TERM each, reap each, empty it
  local -n pids=$1
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
stop_replicas() {
  stop_pids REPLICA_PIDS
  REPLICA_PORTS=()
}
stop_sinks() { stop_pids SINK_PIDS; }
trap 'stop_sinks; stop_replicas; lib_cleanup; rm -rf "$out"' EXIT

# Attaches n stream sinks to the primary and waits (at most 15 s) until it reports them online.
start_sinks() { # primary-port n
  for _ in $(seq 1 "$2"); do
    python3 scripts/replica_sink.py 127.0.0.1 "$1" </dev/null >>"$out/sink.log" 2>&1 &
    SINK_PIDS+=($!)
  done
  for _ in $(seq 1 300); do
    [ "$(redis-cli -p "$1" info replication | grep -c 'state=online')" -ge "$2" ] && return
    sleep 0.05
  done
  echo "sinks never came online" >&2
}

server_cmd() { # kind port extra...
  local kind=$1 port=$2; shift 2
  # Each server in a fresh directory: a redis-server replica writes the snapshot it
  # received to dump.rdb, which the next server started in a shared one would load.
  local dir
  dir=$(mktemp -d -p "$out" srv.XXXXXX)
  if [ "$kind" = redis ]; then
    echo "redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --dir $dir $*"
  else
    echo "target/release/cache-node --bind 127.0.0.1 --port $port --admin-port 0 --loglevel warning --save '' --dir $dir $*"
  fi
}

sets() { # port pipeline: SET requests per second
  redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n "$N" -P "$2" -r 1000000 -t set -q --csv 2>/dev/null |
    awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

replica_ticks() { # utime+stime ticks of all replicas
  local p t=0
  for p in "${REPLICA_PIDS[@]}"; do t=$((t + $(lib_session_ticks "$p"))); done
  echo "$t"
}

# Waits (at most 30 s) until every replica has applied the primary's whole stream.
caught_up() { # primary-port
  local want port ok
  want=$(redis-cli -p "$1" info replication | tr -d '\r' | awk -F: '$1 == "master_repl_offset" { print $2 }')
  for _ in $(seq 1 600); do
    ok=1
    for port in "${REPLICA_PORTS[@]}"; do
      [ "$(redis-cli -p "$port" info replication | tr -d '\r' | awk -F: '$1 == "slave_repl_offset" { print $2 }')" -ge "$want" ] 2>/dev/null || ok=
    done
    [ -n "$ok" ] && return
    sleep 0.05
  done
}

# "requests-per-second primary-cpu-us-per-request replica-cpu-us-per-request" of one SET
# run (the replica figure is the mean over the replicas; 0 without replicas).
measure() { # port pipeline
  local t0 t1 r0 r1 rps hz n=${#REPLICA_PIDS[@]}
  hz=$(getconf CLK_TCK)
  t0=$(lib_session_ticks "$SRV_SID"); r0=$(replica_ticks)
  rps=$(sets "$1" "$2")
  caught_up "$1"
  t1=$(lib_session_ticks "$SRV_SID"); r1=$(replica_ticks)
  echo "$rps $(echo "($t1 - $t0) * 1000000 / $hz / $N" | bc -l) $(echo "($r1 - $r0) * 1000000 / $hz / $N / ($n + ($n == 0))" | bc -l)"
}

# Starts a replica (in this shell, so its PID is remembered and stopped); sets REPLICA_PORT.
REPLICA_PORT=
start_replica() { # kind primary-port
  local port
  port=$(lib_free_port)
  # shellcheck disable=SC2046
  setsid bash -c "exec $(server_cmd "$1" "$port" --replicaof 127.0.0.1 "$2")" </dev/null >>"$out/replica-$port.log" 2>&1 &
  REPLICA_PIDS+=($!)
  for _ in $(seq 1 300); do
    redis-cli -p "$port" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
    sleep 0.05
  done
  REPLICA_PORT=$port
  REPLICA_PORTS+=("$port")
}

# Probe: every 50 ms SET a new value on the primary and time until the replica has it.
probe() { # primary-port replica-port seconds -> "median max" in ms
  python3 - "$1" "$2" "$3" <<'PY'
import socket, sys, time
def conn(port):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, s.makefile("rb")
def call(c, *args):
    s, f = c
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    line = f.readline()
    if line.startswith(b"$") and line != b"$-1\r\n":
        return f.read(int(line[1:]) + 2)[:-2]
    return None if line.startswith(b"$-1") else line
p, r = conn(sys.argv[1]), conn(sys.argv[2])
lags, end = [], time.time() + float(sys.argv[3])
i = 0
while time.time() < end:
    i += 1
    v = b"%d" % i
    call(p, b"SET", b"probe", v)
    t0 = time.time()
    while call(r, b"GET", b"probe") != v:
        if time.time() - t0 > 5:
            break
    lags.append((time.time() - t0) * 1000)
    time.sleep(0.05)
lags.sort()
print("%.2f %.2f" % (lags[len(lags) // 2], lags[-1]))
PY
}

declare -A r
for rep in $(seq 1 "$REPS"); do
  for kind in redis node; do
    lib_start "$(server_cmd "$kind" "{port}")" "$out/$kind.log"
    for p in 1 16; do
      read -r rps cpu _ < <(measure "$SRV_PORT" "$p")
      r[$kind,alone,$p]+="$rps "; r[$kind,alonecpu,$p]+="$cpu "
    done
    start_sinks "$SRV_PORT" 2
    for p in 1 16; do
      read -r rps cpu _ < <(measure "$SRV_PORT" "$p")
      r[$kind,sinks,$p]+="$rps "; r[$kind,sinkscpu,$p]+="$cpu "
    done
    stop_sinks
    start_replica "$kind" "$SRV_PORT"
    a=$REPLICA_PORT
    start_replica "$kind" "$SRV_PORT"
    for p in 1 16; do
      read -r rps cpu rcpu < <(measure "$SRV_PORT" "$p")
      r[$kind,two,$p]+="$rps "; r[$kind,twocpu,$p]+="$cpu "; r[$kind,replcpu,$p]+="$rcpu "
    done
    # Lag while a steady P16 load runs.
    redis-benchmark -h 127.0.0.1 -p "$SRV_PORT" -c 50 -n 100000000 -P 16 -r 1000000 -t set -q >/dev/null 2>&1 &
    BENCH_PID=$!
    sleep 1
    lag=$(probe "$SRV_PORT" "$a" 5)
    kill "$BENCH_PID" 2>/dev/null; wait "$BENCH_PID" 2>/dev/null || true; BENCH_PID=
    r[$kind,lagmed]+="${lag% *} "
    r[$kind,lagmax]+="${lag#* } "
    stop_replicas
    lib_stop
  done
  echo "rep $rep/$REPS done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-40s %12s %12s\n' measure redis cache-node
for p in 1 16; do
  for kind in redis node; do
    a=$(echo "${r[$kind,alone,$p]}" | median); b=$(echo "${r[$kind,two,$p]}" | median)
    r[$kind,cost,$p]=$(echo "1 - $b / $a" | bc -l)
    r[$kind,a,$p]=$a; r[$kind,b,$p]=$b
    a=$(echo "${r[$kind,alonecpu,$p]}" | median); b=$(echo "${r[$kind,twocpu,$p]}" | median)
    r[$kind,ca,$p]=$a; r[$kind,cb,$p]=$b
    # Throughput a CPU-bound primary loses when each SET costs it b instead of a.
    r[$kind,ccost,$p]=$(echo "1 - $a / $b" | bc -l)
    r[$kind,rc,$p]=$(echo "${r[$kind,replcpu,$p]}" | median)
    r[$kind,s,$p]=$(echo "${r[$kind,sinks,$p]}" | median)
    r[$kind,scost,$p]=$(echo "1 - ${r[$kind,s,$p]} / ${r[$kind,a,$p]}" | bc -l)
    r[$kind,cs,$p]=$(echo "${r[$kind,sinkscpu,$p]}" | median)
    r[$kind,cscost,$p]=$(echo "1 - ${r[$kind,ca,$p]} / ${r[$kind,cs,$p]}" | bc -l)
  done
  printf '%-40s %12.0f %12.0f\n' "SET/s P$p, no replica" "${r[redis,a,$p]}" "${r[node,a,$p]}"
  printf '%-40s %12.0f %12.0f\n' "SET/s P$p, 2 replicas" "${r[redis,b,$p]}" "${r[node,b,$p]}"
  printf '%-40s %11.1f%% %11.1f%%\n' "throughput cost of 2 replicas, P$p" "$(echo "${r[redis,cost,$p]} * 100" | bc -l)" "$(echo "${r[node,cost,$p]} * 100" | bc -l)"
  printf '%-40s %12.2f %12.2f\n' "primary CPU us/SET P$p, no replica" "${r[redis,ca,$p]}" "${r[node,ca,$p]}"
  printf '%-40s %12.2f %12.2f\n' "primary CPU us/SET P$p, 2 replicas" "${r[redis,cb,$p]}" "${r[node,cb,$p]}"
  printf '%-40s %11.1f%% %11.1f%%\n' "primary's own cost of 2 replicas, P$p" "$(echo "${r[redis,ccost,$p]} * 100" | bc -l)" "$(echo "${r[node,ccost,$p]} * 100" | bc -l)"
  printf '%-40s %12.2f %12.2f\n' "replica CPU us/SET applied P$p" "${r[redis,rc,$p]}" "${r[node,rc,$p]}"
  printf '%-40s %12.0f %12.0f\n' "SET/s P$p, 2 stream sinks" "${r[redis,s,$p]}" "${r[node,s,$p]}"
  printf '%-40s %11.1f%% %11.1f%%\n' "throughput cost of 2 sinks, P$p" "$(echo "${r[redis,scost,$p]} * 100" | bc -l)" "$(echo "${r[node,scost,$p]} * 100" | bc -l)"
  printf '%-40s %12.2f %12.2f\n' "primary CPU us/SET P$p, 2 sinks" "${r[redis,cs,$p]}" "${r[node,cs,$p]}"
  printf '%-40s %11.1f%% %11.1f%%\n' "primary's own cost of 2 sinks, P$p" "$(echo "${r[redis,cscost,$p]} * 100" | bc -l)" "$(echo "${r[node,cscost,$p]} * 100" | bc -l)"
done
printf '%-40s %12.2f %12.2f\n' "replica lag under P16 load, median (ms)" "$(echo "${r[redis,lagmed]}" | median)" "$(echo "${r[node,lagmed]}" | median)"
printf '%-40s %12.2f %12.2f\n' "replica lag under P16 load, max (ms)" "$(echo "${r[redis,lagmax]}" | median)" "$(echo "${r[node,lagmax]}" | median)"
