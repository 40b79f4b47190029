#!/usr/bin/env bash
# Chaos benchmark of failover on a local cluster (`cachefleet-operator local`), loopback only:
#   - TRIALS times: kill -9 the primary under a write load (each write confirmed with
#     WAIT 1), measure the time from the kill to the first write taken by the new primary,
#     and count acknowledged writes missing afterwards (each trial waits for the old
#     primary to rejoin before the next);
#   - a planned switchover (a rolling config change): the longest pause between writes.
# Prints p50/p99 and per-trial lines; method and results are in docs/failover.md.
#   scripts/chaos-failover.sh                       # TRIALS=20, the spec's default detection
#   TRIALS=5 DETECTION_SECONDS=3 scripts/chaos-failover.sh
# Stops every process it started (the driver by PID; the driver stops its nodes, and any
# node it reported is killed by PID should the driver not).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p cachefleet-operator -p cache-node
else
  cargo build -q -p cachefleet-operator -p cache-node
fi
exec timeout --signal=TERM "${TIME_LIMIT:-900}" python3 scripts/chaos_failover.py \
  --operator "target/$PROFILE/cachefleet-operator" --node-binary "target/$PROFILE/cache-node" \
  --trials "${TRIALS:-20}" --base-port "${BASE_PORT:-23000}" ${DETECTION_SECONDS:+--detection "$DETECTION_SECONDS"}
