#!/usr/bin/env bash
# Benchmarks cache-node against redis-server on this machine, side by side, with the
# shared harness (../shared/bench). Results and the exact commands go to docs/benchmarks.md.
#   scripts/bench.sh throughput   # redis-benchmark matrix, interleaved, medians, ratios
#   scripts/bench.sh threads      # default thread count vs --threads 1
#   scripts/bench.sh memory       # bytes per key at several fill levels
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
[ -x "$BENCH/compare.sh" ] || { echo "bench.sh: $BENCH/compare.sh not found (../shared beside the repo)" >&2; exit 2; }
cargo build --release -p cache-node >/dev/null
REDIS='redis-server --port {port} --bind 127.0.0.1 --save "" --appendonly no'
# In a directory of its own: a dump.rdb left in the working directory would be loaded.
NODE_DIR=$(mktemp -d -t bench-node.XXXXXX)
trap 'rm -rf "$NODE_DIR"' EXIT
NODE="target/release/cache-node --bind 127.0.0.1 --port {port} --admin-port 0 --loglevel warning --save '' --dir $NODE_DIR"
case "${1:-throughput}" in
  throughput) "$BENCH/compare.sh" -a redis -b cache-node "$REDIS" "$NODE" ;;
  threads) "$BENCH/compare.sh" -a threads-default -b threads-1 "$NODE" "$NODE --threads 1" ;;
  memory)
    for n in ${KEYS_LIST:-100000 300000 700000 1000000}; do
      "$BENCH/memory.sh" -n "$n" "$REDIS" "$NODE" 'memcache:memcached -u nobody -l 127.0.0.1 -p {port} -U 0 -m 4096 -t 2'
    done ;;
  *) echo "usage: $0 throughput|threads|memory" >&2; exit 2 ;;
esac
