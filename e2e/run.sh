#!/usr/bin/env bash
# End-to-end suite: a kind cluster with three zones, both images built and loaded, the
# Helm chart installed, and examples/replicated.yaml run through its life: Ready, spread
# over three zones, writes through the writer endpoint read back through the writer and
# the readers, printer columns, deletion of everything it owned. See e2e/README.md.
#
#   e2e/run.sh                  # everything, then delete the kind cluster
#   KEEP_CLUSTER=1 e2e/run.sh   # keep the cluster afterwards (and after a failure)
set -euo pipefail

# 4.4: empty arrays under set -u.
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
  echo "e2e/run.sh needs bash 4.4 or newer (this is bash $BASH_VERSION; on macOS: brew install bash)" >&2
  exit 1
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=e2e/lib.sh
source "$ROOT/e2e/lib.sh"
# shellcheck source=e2e/scenarios.sh
source "$ROOT/e2e/scenarios.sh"

# ---------------------------------------------------------------------------- settings

CLUSTER_NAME=${CLUSTER_NAME:-cachefleet-e2e}
KEEP_CLUSTER=${KEEP_CLUSTER:-0}
REUSE_CLUSTER=${REUSE_CLUSTER:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
KIND_NODE_IMAGE=${KIND_NODE_IMAGE:-}
IMAGE_TAG=${IMAGE_TAG:-e2e}
OPERATOR_IMAGE_REPO=${OPERATOR_IMAGE_REPO:-cachefleet/cachefleet-operator}
NODE_IMAGE_REPO=${NODE_IMAGE_REPO:-cachefleet/cache-node}
CLIENT_IMAGE=${CLIENT_IMAGE:-redis:7-alpine}
RELEASE=${RELEASE:-cachefleet}
OPERATOR_NAMESPACE=${OPERATOR_NAMESPACE:-cachefleet-system}
TEST_NAMESPACE=${TEST_NAMESPACE:-cachefleet-e2e-$(date +%s)}
EXAMPLE=${EXAMPLE:-$ROOT/examples/replicated.yaml}
READY_TIMEOUT=${READY_TIMEOUT:-300}
OPERATOR_TIMEOUT=${OPERATOR_TIMEOUT:-180}
DELETE_TIMEOUT=${DELETE_TIMEOUT:-120}
REPLICATION_TIMEOUT=${REPLICATION_TIMEOUT:-60}
# 1: schedule snapshots of the cluster, wait for one as a CacheSnapshot and restore a new
# cluster from it (0 skips that part).
SNAPSHOTS=${SNAPSHOTS:-1}
SNAPSHOT_TIMEOUT=${SNAPSHOT_TIMEOUT:-240}
# 1: the failover scenarios of e2e/scenarios.sh under a write load: the primary pod
# deleted, a zone lost, a rolling image change and a live setting (0 skips them).
SCENARIOS=${SCENARIOS:-1}
ARTIFACTS_DIR=${ARTIFACTS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/cachefleet-e2e.XXXXXX")}
mkdir -p "$ARTIFACTS_DIR"

OPERATOR_IMAGE="$OPERATOR_IMAGE_REPO:$IMAGE_TAG"
NODE_IMAGE="$NODE_IMAGE_REPO:$IMAGE_TAG"
# The suite's own kubeconfig: the user's current context is never touched.
export KUBECONFIG="$ARTIFACTS_DIR/kubeconfig"

# What exists, for cleanup and diagnostics.
CREATED_CLUSTER=0
CLUSTER_UP=0
CHART_INSTALLED=0
NAMESPACE_CREATED=0
CC_NAME=""

on_exit() {
  local rc=$?
  set +e
  if ((CLUSTER_UP)); then
    scenarios_cleanup
  fi
  if ((rc != 0)); then
    log "FAILED${E2E_STEP:+ in step: $E2E_STEP} (exit status $rc)"
    if ((CLUSTER_UP)); then
      dump_diagnostics "$ARTIFACTS_DIR/diagnostics" \
        "$( ((CHART_INSTALLED)) && echo "$OPERATOR_NAMESPACE")" "$RELEASE" \
        "$( ((NAMESPACE_CREATED)) && echo "$TEST_NAMESPACE")" "$CC_NAME"
    fi
  fi
  print_timings
  if ((CLUSTER_UP)) && ((!CREATED_CLUSTER)); then
    log "the kind cluster $CLUSTER_NAME was reused (REUSE_CLUSTER=1) and is left in place"
  fi
  if ((CREATED_CLUSTER)); then
    if [[ $KEEP_CLUSTER == 1 ]]; then
      log "kept kind cluster $CLUSTER_NAME (KEEP_CLUSTER=1). Use it with:"
      log "    export KUBECONFIG=$KUBECONFIG"
      log "delete it with: kind delete cluster --name $CLUSTER_NAME"
    else
      log "deleting kind cluster $CLUSTER_NAME"
      kind delete cluster --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG" >/dev/null 2>&1 ||
        log "could not delete kind cluster $CLUSTER_NAME: run kind delete cluster --name $CLUSTER_NAME"
    fi
  fi
  if ((rc == 0)); then
    log "PASSED (${SECONDS}s)"
  else
    log "artifacts: $ARTIFACTS_DIR"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------- checks used below

# zones_of_workers: prints "node zone" for every node that is not a control plane.
zones_of_workers() {
  k get nodes -l '!node-role.kubernetes.io/control-plane' \
    -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}{end}'
}

# redis_cli HOST ARGS...: runs redis-cli in the client pod, against HOST:6379. The time
# limit inside the pod bounds a connection that hangs.
redis_cli() {
  local host=$1
  shift
  k exec -n "$TEST_NAMESPACE" redis-client -- timeout 15 redis-cli -h "$host" -p 6379 "$@"
}

# reply_is EXPECTED HOST ARGS...: succeeds when the command's reply is exactly EXPECTED;
# otherwise prints what came back (for wait_until's timeout message).
reply_is() {
  local expected=$1 got
  shift
  got=$(redis_cli "$@" 2>&1) || {
    printf 'redis-cli failed: %s\n' "$got"
    return 1
  }
  [[ $got == "$expected" ]] || {
    printf "expected '%s', got '%s'\n" "$expected" "$got"
    return 1
  }
}

# owned_objects: the objects the operator creates for the example's cluster, by the names
# the operator gives them (operator/src/resources/names.rs), one shard.
owned_objects() {
  printf '%s\n' \
    "statefulset/$CC_NAME-0" \
    "service/$CC_NAME-0" \
    "service/$CC_NAME-primary" \
    "service/$CC_NAME-reader" \
    "service/$CC_NAME-metrics" \
    "configmap/$CC_NAME-config" \
    "poddisruptionbudget/$CC_NAME-0"
  if ((SNAPSHOTS)); then
    printf '%s\n' "cronjob/$CC_NAME-snapshots" "persistentvolumeclaim/$CC_NAME-snapshots"
  fi
}

# completed_snapshot: prints the name of a Completed scheduled CacheSnapshot of the
# cluster; fails (printing what there is) while there is none.
completed_snapshot() {
  local rows name
  rows=$(k get cachesnapshots -n "$TEST_NAMESPACE" -l "cachefleet.dev/cluster=$CC_NAME" \
    -o jsonpath='{range .items[*]}{.metadata.name} {.spec.trigger} {.status.phase}{"\n"}{end}') || return 1
  name=$(awk '$2 == "Scheduled" && $3 == "Completed" { print $1; exit }' <<<"$rows")
  [[ -n $name ]] || {
    printf 'CacheSnapshots of %s:\n%s\nJobs:\n%s\n' "$CC_NAME" "${rows:-<none>}" \
      "$(k get jobs -n "$TEST_NAMESPACE" -l "cachefleet.dev/cluster=$CC_NAME" 2>&1)"
    return 1
  }
  printf '%s\n' "$name"
}

# leftovers: prints every object of the cluster still present, by name or by label;
# succeeds only when there is none.
leftovers() {
  local by_name by_label objects
  mapfile -t objects < <(owned_objects)
  by_name=$(k get -n "$TEST_NAMESPACE" "${objects[@]}" --ignore-not-found -o name) || return 1
  by_label=$(k get -n "$TEST_NAMESPACE" statefulsets,services,configmaps,poddisruptionbudgets,cronjobs \
    -l "cachefleet.dev/cluster=$CC_NAME" -o name) || return 1
  [[ -z $by_name && -z $by_label ]] || {
    printf 'still present:\n%s\n%s\n' "$by_name" "$by_label"
    return 1
  }
}

# ---------------------------------------------------------------------------- 1. prerequisites

step "check prerequisites"
need_tools \
  docker "Install Docker Engine (Linux) or Docker Desktop: https://docs.docker.com/get-docker/" \
  kind "Install kind 0.24 or newer: https://kind.sigs.k8s.io/docs/user/quick-start/#installation (or: go install sigs.k8s.io/kind@latest)" \
  kubectl "Install kubectl: https://kubernetes.io/docs/tasks/tools/" \
  helm "Install Helm 3: https://helm.sh/docs/intro/install/"
docker info >/dev/null 2>&1 || fail "docker cannot reach a Docker engine (is it running? can this user use it?): $(docker info 2>&1 | tail -n 3)"
log "    docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'), $(kind version), kubectl $(kubectl version --client 2>/dev/null | sed -n 's/^Client Version: //p'), helm $(helm version --short 2>/dev/null)"
[[ -f $EXAMPLE ]] || fail "example $EXAMPLE not found"
[[ -f $ROOT/charts/cachefleet/Chart.yaml ]] || fail "the Helm chart is missing: $ROOT/charts/cachefleet/Chart.yaml"
log "    artifacts and kubeconfig: $ARTIFACTS_DIR"

# ---------------------------------------------------------------------------- 2. kind cluster

step "create kind cluster $CLUSTER_NAME (1 control plane, 3 workers in zone-a, zone-b, zone-c)"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  [[ $REUSE_CLUSTER == 1 ]] ||
    fail "a kind cluster named $CLUSTER_NAME already exists. Delete it (kind delete cluster --name $CLUSTER_NAME), pick another CLUSTER_NAME, or set REUSE_CLUSTER=1 to run on it (it is then not deleted)"
  log "    reusing the existing cluster (REUSE_CLUSTER=1)"
  kind get kubeconfig --name "$CLUSTER_NAME" >"$KUBECONFIG"
else
  # Marked before creating, so that a half-created cluster is deleted too.
  CREATED_CLUSTER=1
  kind create cluster --name "$CLUSTER_NAME" --config "$ROOT/e2e/kind-config.yaml" \
    --kubeconfig "$KUBECONFIG" --wait 180s ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}
fi
CLUSTER_UP=1
kubectl wait --for=condition=Ready nodes --all --timeout=180s >/dev/null ||
  fail "the cluster's nodes did not all become Ready within 180s"
zones=$(zones_of_workers)
log "    workers and zones:"
indent <<<"$zones"
expect_equal "zones of the three workers" "zone-a zone-b zone-c" "$(awk '{print $2}' <<<"$zones" | sort | paste -sd ' ' -)"

# ---------------------------------------------------------------------------- 3. images

step "build images $NODE_IMAGE and $OPERATOR_IMAGE"
if [[ $SKIP_BUILD == 1 ]]; then
  log "    SKIP_BUILD=1: using the images already built"
else
  # Cache mounts in the Dockerfiles need BuildKit (the default builder since Docker 23).
  DOCKER_BUILDKIT=1 docker build -f "$ROOT/cache-node/Dockerfile" -t "$NODE_IMAGE" "$ROOT"
  DOCKER_BUILDKIT=1 docker build -f "$ROOT/operator/Dockerfile" -t "$OPERATOR_IMAGE" "$ROOT"
fi
for image in "$NODE_IMAGE" "$OPERATOR_IMAGE"; do
  docker image inspect "$image" >/dev/null 2>&1 ||
    fail "image $image is not in the local Docker image store (a buildx builder other than 'default' keeps images to itself: run 'docker buildx use default', or build with --load)"
done

step "load images into kind"
kind load docker-image --name "$CLUSTER_NAME" "$NODE_IMAGE" "$OPERATOR_IMAGE"

# ---------------------------------------------------------------------------- 4. operator

step "install the chart into $OPERATOR_NAMESPACE"
CHART_INSTALLED=1
helm upgrade --install "$RELEASE" "$ROOT/charts/cachefleet" \
  --namespace "$OPERATOR_NAMESPACE" --create-namespace \
  --set-string image.repository="$OPERATOR_IMAGE_REPO" \
  --set-string image.tag="$IMAGE_TAG" \
  --set-string image.pullPolicy=Never \
  --set-string cacheNodeImage.repository="$NODE_IMAGE_REPO" \
  --set-string cacheNodeImage.tag="$IMAGE_TAG" \
  --wait --timeout "${OPERATOR_TIMEOUT}s" ||
  fail "helm could not install the chart, or the operator did not become ready within ${OPERATOR_TIMEOUT}s"
kubectl wait --for=condition=Established crd/cacheclusters.cachefleet.dev --timeout=60s >/dev/null ||
  fail "the CacheCluster CRD is not established"

step "wait for the operator rollout"
deployments=$(k get deployments -n "$OPERATOR_NAMESPACE" -l "app.kubernetes.io/instance=$RELEASE" -o name)
[[ -n $deployments ]] || fail "the chart created no Deployment labelled app.kubernetes.io/instance=$RELEASE in $OPERATOR_NAMESPACE"
for deployment in $deployments; do
  kubectl rollout status -n "$OPERATOR_NAMESPACE" "$deployment" --timeout="${OPERATOR_TIMEOUT}s" ||
    fail "$deployment did not roll out within ${OPERATOR_TIMEOUT}s"
done

# ---------------------------------------------------------------------------- 5. the cluster

step "create namespace $TEST_NAMESPACE and a redis-cli client pod"
k create namespace "$TEST_NAMESPACE" >/dev/null
NAMESPACE_CREATED=1
# One long-lived client pod: each check is a kubectl exec, not a pod start.
k run redis-client -n "$TEST_NAMESPACE" --image="$CLIENT_IMAGE" --image-pull-policy=IfNotPresent \
  --restart=Never --command -- sleep 86400 >/dev/null

step "apply $(basename "$EXAMPLE")"
applied=$(k apply -n "$TEST_NAMESPACE" -f "$EXAMPLE" -o name)
CC_NAME=$(sed -n 's|^cachecluster\.cachefleet\.dev/||p' <<<"$applied" | head -n 1)
[[ -n $CC_NAME ]] || fail "$EXAMPLE holds no CacheCluster (kubectl apply said: $applied)"
log "    CacheCluster $CC_NAME"

step "wait up to ${READY_TIMEOUT}s for CacheCluster $CC_NAME to be Ready"
if ! kubectl wait -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" --for=condition=Ready --timeout="${READY_TIMEOUT}s" >/dev/null; then
  log "    conditions of $CC_NAME:"
  condition_summary "$TEST_NAMESPACE" "cachecluster/$CC_NAME" | indent
  fail "CacheCluster $CC_NAME was not Ready within ${READY_TIMEOUT}s (its conditions are above)"
fi
condition_summary "$TEST_NAMESPACE" "cachecluster/$CC_NAME" | indent

step "check the shard's pods are in distinct zones, one primary and the rest replicas"
replicas=$(k get -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" -o jsonpath='{.spec.replicasPerShard}')
want_pods=$((1 + replicas))
pods=$(k get pods -n "$TEST_NAMESPACE" -l "cachefleet.dev/cluster=$CC_NAME,cachefleet.dev/shard=0" \
  -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.labels.cachefleet\.dev/role}{"\n"}{end}')
expect_equal "number of pods in shard 0" "$want_pods" "$(grep -c . <<<"$pods" || true)"
declare -A pod_of_zone=()
primaries=0
replica_pods=()
while read -r pod node role; do
  expected_prefix="$CC_NAME-0-"
  [[ $pod == "$expected_prefix"* ]] || fail "pod $pod does not follow the name <cluster>-<shard>-<ordinal>"
  [[ -n $node ]] || fail "pod $pod is not scheduled"
  zone=$(k get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')
  [[ -n $zone ]] || fail "pod $pod runs on $node, which has no zone label (the control plane?)"
  log "    $pod  node=$node  zone=$zone  role=${role:-<none>}"
  [[ -z ${pod_of_zone[$zone]:-} ]] || fail "pods ${pod_of_zone[$zone]} and $pod are both in zone $zone"
  pod_of_zone[$zone]=$pod
  case $role in
    primary) primaries=$((primaries + 1)) ;;
    replica) replica_pods+=("$pod") ;;
    *) fail "pod $pod has role label '${role}', expected primary or replica" ;;
  esac
done <<<"$pods"
expect_equal "pods labelled primary in shard 0" 1 "$primaries"

step "write through $CC_NAME-primary, read back through $CC_NAME-primary and $CC_NAME-reader"
kubectl wait -n "$TEST_NAMESPACE" pod/redis-client --for=condition=Ready --timeout=180s >/dev/null ||
  fail "the client pod ($CLIENT_IMAGE) did not start within 180s (can the kind nodes pull it?)"
primary_host="$CC_NAME-primary.$TEST_NAMESPACE.svc"
reader_host="$CC_NAME-reader.$TEST_NAMESPACE.svc"
key="e2e:$RANDOM$RANDOM"
value="written-at-$(date +%s)-$RANDOM"
# The Service's endpoints may trail the pod's readiness by a moment.
wait_until 30 2 "SET through $primary_host" reply_is OK "$primary_host" SET "$key" "$value" ||
  fail "could not write through the writer endpoint"
got=$(redis_cli "$primary_host" GET "$key" 2>&1) || fail "GET through $primary_host failed: $got"
expect_equal "GET through $primary_host" "$value" "$got"
wait_until "$REPLICATION_TIMEOUT" 2 "the key to replicate to the readers ($reader_host)" \
  reply_is "$value" "$reader_host" GET "$key" ||
  fail "the key written through the writer endpoint was not readable through the reader endpoint within ${REPLICATION_TIMEOUT}s"
# The reader Service may keep answering from one replica: ask each one by its stable
# name through the shard's headless Service, as the nodes themselves address each other.
for pod in "${replica_pods[@]}"; do
  wait_until "$REPLICATION_TIMEOUT" 2 "the key to replicate to $pod" \
    reply_is "$value" "$pod.$CC_NAME-0.$TEST_NAMESPACE.svc" GET "$key" ||
    fail "replica $pod did not have the key within ${REPLICATION_TIMEOUT}s"
done
readonly_reply=$(redis_cli "$reader_host" SET "$key" other 2>&1 || true)
[[ $readonly_reply == *READONLY* ]] ||
  fail "a write through the reader endpoint should be refused with READONLY, got: $readonly_reply"
log "    $key=$value read back through the writer, the reader and each of ${#replica_pods[@]} replicas; the readers refuse writes"

step "check the printer columns of kubectl get cacheclusters"
table=$(k get cacheclusters -n "$TEST_NAMESPACE")
printf '%s\n' "$table" | indent
endpoint=$(k get -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" -o jsonpath='{.status.endpoints.primary}')
[[ $endpoint == "$CC_NAME-primary."* ]] ||
  fail "status.endpoints.primary should name the Service $CC_NAME-primary, got '$endpoint'"
# column HEADER: the value under HEADER in the cluster's row of the table.
column() {
  awk -v name="$CC_NAME" -v header="$1" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == header) col = i; next }
    $1 == name && col { print $col }' <<<"$table"
}
expect_equal "PRIMARY column of kubectl get cacheclusters" "$endpoint" "$(column PRIMARY)"
expect_equal "NODES column of kubectl get cacheclusters" "$want_pods/$want_pods" "$(column NODES)"
expect_equal "PHASE column of kubectl get cacheclusters" "Ready" "$(column PHASE)"

if ((SCENARIOS)); then
  scenario_primary_deleted
  scenario_zone_lost
  scenario_rolling_change
fi

if ((SNAPSHOTS)); then
  step "schedule snapshots of $CC_NAME every minute and wait for one as a CacheSnapshot"
  k patch -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" --type=merge \
    -p '{"spec":{"snapshots":{"enabled":true,"schedule":"* * * * *","retain":2,"destination":{"pvc":{"storageSize":"1Gi"}}}}}' >/dev/null
  wait_until 60 2 "the CronJob $CC_NAME-snapshots" k get -n "$TEST_NAMESPACE" "cronjob/$CC_NAME-snapshots" -o name ||
    fail "the operator did not create the CronJob $CC_NAME-snapshots"
  wait_until "$SNAPSHOT_TIMEOUT" 5 "a Completed scheduled CacheSnapshot of $CC_NAME" completed_snapshot ||
    fail "no scheduled snapshot of $CC_NAME completed within ${SNAPSHOT_TIMEOUT}s"
  snapshot=$(completed_snapshot)
  k get cachesnapshots -n "$TEST_NAMESPACE" | indent
  snap_keys=$(k get -n "$TEST_NAMESPACE" "cachesnapshot/$snapshot" -o jsonpath='{.status.keys}')
  ((snap_keys >= 1)) || fail "CacheSnapshot $snapshot holds $snap_keys keys; the key $key was written before it"
  backup=$(k get -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" -o jsonpath='{.status.conditions[?(@.type=="BackupHealthy")].status}')
  expect_equal "BackupHealthy condition of $CC_NAME" True "$backup"
  log "    $snapshot: $snap_keys keys"

  restored="$CC_NAME-restored"
  step "create $restored from $snapshot and read the key back from it"
  k apply -n "$TEST_NAMESPACE" -f - >/dev/null <<YAML
apiVersion: cachefleet.dev/v1alpha1
kind: CacheCluster
metadata:
  name: $restored
spec:
  replicasPerShard: 0
  nodeType: cache.t4g.micro
  restoreFrom:
    snapshot: $snapshot
YAML
  if ! kubectl wait -n "$TEST_NAMESPACE" "cachecluster/$restored" --for=condition=Ready --timeout="${READY_TIMEOUT}s" >/dev/null; then
    condition_summary "$TEST_NAMESPACE" "cachecluster/$restored" | indent
    fail "CacheCluster $restored was not Ready within ${READY_TIMEOUT}s (its conditions are above)"
  fi
  restored_host="$restored-primary.$TEST_NAMESPACE.svc"
  wait_until 30 2 "GET $key through $restored_host" reply_is "$value" "$restored_host" GET "$key" ||
    fail "the restored cluster $restored does not hold $key=$value"
  log "    $key=$value read back from $restored"
  kubectl delete -n "$TEST_NAMESPACE" "cachecluster/$restored" --wait=true --timeout="${DELETE_TIMEOUT}s" >/dev/null ||
    fail "CacheCluster $restored was not deleted within ${DELETE_TIMEOUT}s"
fi

step "delete CacheCluster $CC_NAME and wait for everything it owned to go"
uid=$(k get -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" -o jsonpath='{.metadata.uid}')
mapfile -t objects < <(owned_objects)
for object in "${objects[@]}"; do
  owners=$(k get -n "$TEST_NAMESPACE" "$object" -o jsonpath='{.metadata.ownerReferences[*].uid}' 2>&1) ||
    fail "$object should exist before the deletion: $owners"
  [[ " $owners " == *" $uid "* ]] || fail "$object is not owned by CacheCluster $CC_NAME (owner uids: '${owners}')"
done
log "    ${#objects[@]} objects exist and are owned by the CacheCluster"
kubectl delete -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" --wait=true --timeout="${DELETE_TIMEOUT}s" >/dev/null ||
  fail "CacheCluster $CC_NAME was not deleted within ${DELETE_TIMEOUT}s (a finalizer that does not finish?)"
wait_until "$DELETE_TIMEOUT" 2 "the garbage collector to delete what $CC_NAME owned" leftovers ||
  fail "objects of $CC_NAME outlived it"

step "delete namespace $TEST_NAMESPACE"
kubectl delete namespace "$TEST_NAMESPACE" --wait=true --timeout=120s >/dev/null ||
  fail "namespace $TEST_NAMESPACE was not deleted within 120s"
NAMESPACE_CREATED=0

step "uninstall the chart"
helm uninstall "$RELEASE" --namespace "$OPERATOR_NAMESPACE" --wait --timeout 120s >/dev/null ||
  fail "helm could not uninstall $RELEASE within 120s"
CHART_INSTALLED=0
left=$(k get deployments -n "$OPERATOR_NAMESPACE" -l "app.kubernetes.io/instance=$RELEASE" -o name)
[[ -z $left ]] || fail "the operator's Deployment outlived helm uninstall: $left"

if ((CREATED_CLUSTER)) && [[ $KEEP_CLUSTER != 1 ]]; then
  step "delete kind cluster $CLUSTER_NAME"
  kind delete cluster --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG"
  CREATED_CLUSTER=0
  CLUSTER_UP=0
fi
step_end
