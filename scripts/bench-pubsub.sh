#!/usr/bin/env bash
# Pub/sub benchmark of cache-node against redis-server, side by side on this machine
# (results go to docs/benchmarks.md): PUBLISH throughput (redis-benchmark, 50 clients,
# pipeline 1 and 16, a 32-byte message) to a channel with 1 and with 100 subscribers.
# The subscribers are one small Python process that reads and discards everything
# (and reports the bytes it received, to check delivery kept up). Each server runs
# alone, one kind after the other, REPS times; medians are printed with their ratio.
#   scripts/bench-pubsub.sh                 # REPS=3 N=200000
# Needs redis-server, redis-benchmark and python3; reuses ../shared/bench/lib.sh to start
# and stop servers (own session, free loopback port, stopped by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
# shellcheck source=/dev/null
. "$BENCH/lib.sh"
REPS=${REPS:-3}
N=${N:-200000}
cargo build --release -q -p cache-node
out=$(mktemp -d -t bench-pubsub.XXXXXX)
export OUT_DIR=$out
SUB_PID=
stop_subscribers() {
  [ -n "$SUB_PID" ] || return 0
  kill -TERM "$SUB_PID" 2>/dev/null || true
  wait "$SUB_PID" 2>/dev/null || true
  SUB_PID=
}
trap 'stop_subscribers; lib_cleanup; rm -rf "$out"' EXIT

# Both servers get the same limits: none for subscribers, so that a momentarily slower
# reader is never cut off in one run and not in the other.
server_cmd() { # kind
  if [ "$1" = redis ]; then
    echo "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --client-output-buffer-limit 'pubsub 0 0 0'"
  else
    echo "target/release/cache-node --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save '' --dir $out --client-output-buffer-limit 'pubsub 0 0 0'"
  fi
}

# Starts COUNT subscribers of channel `bench` in one process (at most 600 s); waits
# until all are subscribed.
start_subscribers() { # port count
  rm -f "$out/ready" "$out/received"
  timeout 600 python3 - "$1" "$2" "$out" <<'PY' &
import selectors, signal, socket, sys
port, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sel, socks, total = selectors.DefaultSelector(), [], 0
def done(*_):
    open(out + "/received", "w").write(str(total))
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nbench\r\n")
    want = b"*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n"
    got = b""
    while len(got) < len(want):
        got += s.recv(len(want) - len(got))
    assert got == want, got
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    socks.append(s)
open(out + "/ready", "w").write("ok")
while True:
    for key, _ in sel.select():
        try:
            total += len(key.fileobj.recv(1 << 20))
        except BlockingIOError:
            pass
PY
  SUB_PID=$!
  for _ in $(seq 1 300); do [ -f "$out/ready" ] && return 0; sleep 0.05; done
  echo "subscribers never became ready" >&2
  return 1
}

publishes() { # port pipeline: PUBLISH requests per second
  redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n "$N" -P "$2" -q --csv PUBLISH bench 0123456789abcdef0123456789abcdef 2>/dev/null |
    awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

declare -A r
for rep in $(seq 1 "$REPS"); do
  for kind in redis node; do
    for subs in 1 100; do
      lib_start "$(server_cmd "$kind")" "$out/$kind.log"
      start_subscribers "$SRV_PORT" "$subs"
      for p in 1 16; do r[$kind,$subs,$p]+="$(publishes "$SRV_PORT" "$p") "; done
      stop_subscribers
      lib_stop
    done
  done
  echo "rep $rep/$REPS done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-36s %12s %12s %8s\n' measure redis cache-node ratio
for subs in 1 100; do
  for p in 1 16; do
    a=$(echo "${r[redis,$subs,$p]}" | median); b=$(echo "${r[node,$subs,$p]}" | median)
    printf '%-36s %12.0f %12.0f %8.2f\n' "PUBLISH/s P$p, $subs subscriber(s)" "$a" "$b" "$(echo "$b / $a" | bc -l)"
  done
done
