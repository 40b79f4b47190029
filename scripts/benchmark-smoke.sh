#!/usr/bin/env bash
# Quick redis-benchmark run against the release binary: proves real-client traffic
# (plain and pipelined) works end to end. Not a performance measurement (see
# scripts/bench.sh for that). Needs target/release/cache-node and redis-benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${CACHE_NODE_BIN:-target/release/cache-node}
[ -x "$BIN" ] || { echo "benchmark-smoke: $BIN not found (cargo build --release -p cache-node)" >&2; exit 2; }
command -v redis-benchmark >/dev/null || { echo "benchmark-smoke: redis-benchmark not found (apt-get install redis-tools)" >&2; exit 2; }

work=$(mktemp -d)
pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A port that is free now; the node's own log confirms what it bound.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))
"$BIN" --bind 127.0.0.1 --port "$port" --admin-port 0 --loglevel warning >"$work/node.log" 2>&1 &
pid=$!

# Bounded wait for PING.
for _ in $(seq 100); do
  if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "benchmark-smoke: cache-node exited:" >&2; cat "$work/node.log" >&2; exit 1; }
  sleep 0.1
done
[ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ] || { echo "benchmark-smoke: no PONG on port $port after 10 s" >&2; exit 1; }

fail=0
run() {
  local out
  out=$(timeout 60 redis-benchmark -p "$port" -q -n 20000 -t set,get,incr,mset "$@" 2>&1 | tr '\r' '\n' | grep -v '^ *$' | grep -v 'rps=' || true)
  # shellcheck disable=SC2001  # indents every line of a multi-line value
  echo "$out" | sed 's/^/    /'
  # Every line must be a finished result: "NAME: N requests per second[, p50=...]".
  local bad
  bad=$(echo "$out" | grep -Ev '^[A-Z][A-Za-z0-9 ()_-]*: [0-9]+(\.[0-9]+)? requests per second' || true)
  if [ -z "$out" ] || [ -n "$bad" ] || echo "$out" | grep -qi 'error'; then
    echo "benchmark-smoke: unexpected redis-benchmark output ${*:-}:" >&2
    echo "${bad:-$out}" >&2
    fail=1
  fi
  [ "$(echo "$out" | grep -c 'requests per second')" -eq 4 ] || { echo "benchmark-smoke: expected 4 results ${*:-}" >&2; fail=1; }
}
echo "  redis-benchmark -n 20000 -t set,get,incr,mset"
run
echo "  redis-benchmark -n 20000 -t set,get,incr,mset -P 16"
run -P 16

# Stop by PID and check for a clean exit.
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  echo "benchmark-smoke: cache-node did not stop within 10 s of SIGTERM" >&2
  fail=1
else
  wait "$pid" || { echo "benchmark-smoke: cache-node exited with status $?" >&2; fail=1; }
  pid=""
fi
if grep -qiE 'panic|error' "$work/node.log"; then
  echo "benchmark-smoke: errors in the node's log:" >&2
  grep -iE 'panic|error' "$work/node.log" | head -20 >&2
  fail=1
fi
exit $fail
