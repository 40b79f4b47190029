#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine, installing what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
command -v redis-server >/dev/null || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
echo "==> redis-benchmark smoke (release build)"
cargo build --release --locked -p cache-node
./scripts/benchmark-smoke.sh
echo "==> all tests passed"
