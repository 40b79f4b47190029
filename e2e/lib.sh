# shellcheck shell=bash
# Helpers of the end-to-end suite, sourced by e2e/run.sh: logging, per-step timing,
# bounded waits, checks, and the diagnostics dumped when a step fails.

# ---------------------------------------------------------------------------- output

log() {
  printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"
}

# indent: stdin, shifted right under the step's lines.
indent() {
  sed 's/^/      /'
}

# fail MESSAGE...: report why the current step failed and stop (the EXIT trap of run.sh
# then dumps diagnostics and cleans up).
fail() {
  printf '%s FAIL: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------- steps

E2E_STEP=""
E2E_STEP_START=0
E2E_TIMINGS=()

# step NAME: closes the running step, recording how long it took, and starts NAME.
step() {
  step_end
  E2E_STEP=$1
  E2E_STEP_START=$SECONDS
  log "==> $1"
}

# step_end: closes the running step, if any.
step_end() {
  [[ -n $E2E_STEP ]] || return 0
  local took=$((SECONDS - E2E_STEP_START))
  E2E_TIMINGS+=("$(printf '%5ds  %s' "$took" "$E2E_STEP")")
  log "    ok (${took}s)"
  E2E_STEP=""
}

# print_timings: the time of every finished step, and of the running one if a failure
# interrupted it.
print_timings() {
  local line
  log "step timings:"
  for line in "${E2E_TIMINGS[@]}"; do
    printf '    %s\n' "$line"
  done
  if [[ -n $E2E_STEP ]]; then
    printf '    %5ds  %s  (FAILED)\n' "$((SECONDS - E2E_STEP_START))" "$E2E_STEP"
  fi
}

# ---------------------------------------------------------------------------- checks

# need_tools COMMAND HOW-TO-INSTALL [COMMAND HOW-TO-INSTALL...]: fails, with an install
# hint for each, when any COMMAND is missing.
need_tools() {
  local missing=0
  while (($# >= 2)); do
    if ! command -v "$1" >/dev/null 2>&1; then
      printf '%s is not installed (or not on PATH). %s\n' "$1" "$2" >&2
      missing=$((missing + 1))
    fi
    shift 2
  done
  ((missing == 0)) || fail "$missing required tool(s) missing, see above"
}

# wait_until SECONDS INTERVAL WHAT COMMAND [ARGS...]: runs COMMAND every INTERVAL seconds
# until it succeeds. After SECONDS it gives up, saying what it waited for and what
# COMMAND printed last, and returns 1.
wait_until() {
  local limit=$1 interval=$2 what=$3 out=""
  shift 3
  local deadline=$((SECONDS + limit))
  while true; do
    if out=$("$@" 2>&1); then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      printf '%s timed out after %ds waiting for %s; last attempt said:\n%s\n' "$(date -u +%H:%M:%S)" "$limit" "$what" "$out" >&2
      return 1
    fi
    sleep "$interval"
  done
}

# expect_equal WHAT EXPECTED ACTUAL: fails unless ACTUAL is exactly EXPECTED.
expect_equal() {
  [[ $3 == "$2" ]] || fail "$1: expected '$2', got '$3'"
}

# ---------------------------------------------------------------------------- kubernetes

# k: kubectl for one-shot requests, bounded: the API server is local, so a request that
# takes longer than this is a hang, not a slow answer. Waits (kubectl wait, rollout
# status, delete --wait) call kubectl directly with their own --timeout, since a request
# timeout would cut their watches short.
KUBECTL_REQUEST_TIMEOUT=${KUBECTL_REQUEST_TIMEOUT:-30s}

k() {
  kubectl --request-timeout="$KUBECTL_REQUEST_TIMEOUT" "$@"
}

# condition_summary NAMESPACE KIND/NAME: one line per status condition of an object.
condition_summary() {
  k get -n "$1" "$2" \
    -o jsonpath='{range .status.conditions[*]}{.type}={.status} reason={.reason}: {.message}{"\n"}{end}' 2>&1 || true
}

# ---------------------------------------------------------------------------- diagnostics

# diag DIR FILE COMMAND [ARGS...]: runs COMMAND, printing its output under a header and
# saving it as DIR/FILE. A failing command is reported and does not stop the dump.
diag() {
  local dir=$1 file=$2
  shift 2
  {
    printf '\n----- %s\n' "$*"
    "$@" </dev/null 2>&1 || printf '(exit status %d)\n' "$?"
  } | tee "$dir/$file"
}

# dump_diagnostics DIR OPERATOR_NAMESPACE RELEASE TEST_NAMESPACE CLUSTER: what one needs
# to understand a failure, printed and saved under DIR. Any argument may be empty when
# the run failed before that thing existed.
dump_diagnostics() {
  local dir=$1 op_ns=$2 release=$3 ns=$4 cluster=$5 pod
  mkdir -p "$dir"
  log "diagnostics (also saved in $dir):"
  diag "$dir" nodes.txt k get nodes -o wide -L topology.kubernetes.io/zone
  if [[ -n $op_ns ]]; then
    diag "$dir" operator-objects.txt k get -n "$op_ns" all -o wide
    diag "$dir" operator-describe.txt k describe -n "$op_ns" pods -l "app.kubernetes.io/instance=$release"
    diag "$dir" operator-logs.txt k logs -n "$op_ns" -l "app.kubernetes.io/instance=$release" --all-containers --prefix --tail=500
    diag "$dir" operator-logs-previous.txt k logs -n "$op_ns" -l "app.kubernetes.io/instance=$release" --all-containers --prefix --tail=200 --previous
    diag "$dir" operator-events.txt k get events -n "$op_ns" --sort-by=.lastTimestamp
  fi
  if [[ -n $ns ]]; then
    diag "$dir" cluster-objects.txt k get -n "$ns" cacheclusters,statefulsets,services,endpointslices,configmaps,poddisruptionbudgets,pods -o wide
    if [[ -n $cluster ]]; then
      diag "$dir" cachecluster.yaml k get -n "$ns" "cachecluster/$cluster" -o yaml
      diag "$dir" cachecluster-describe.txt k describe -n "$ns" "cachecluster/$cluster"
    fi
    diag "$dir" pods-describe.txt k describe -n "$ns" pods
    k get -n "$ns" pods -l app.kubernetes.io/name=cache-node -o name 2>/dev/null | while read -r pod; do
      [[ $pod == pod/* ]] || continue
      diag "$dir" "logs-${pod#pod/}.txt" k logs -n "$ns" "$pod" --all-containers --tail=200
      diag "$dir" "logs-${pod#pod/}-previous.txt" k logs -n "$ns" "$pod" --all-containers --tail=200 --previous
    done
    diag "$dir" events.txt k get events -n "$ns" --sort-by=.lastTimestamp
  fi
}
