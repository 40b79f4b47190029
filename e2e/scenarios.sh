# shellcheck shell=bash disable=SC2016
# (SC2016: the single-quoted scripts run in the client pod and expand there, on purpose.)
# Failover scenarios of the end-to-end suite, sourced by e2e/run.sh once the cluster is
# Ready: a steady write load through the writer Service, with `WAIT 1` after every write,
# while (a) the primary pod is deleted, (b) the nodes of one zone are cordoned and its pods
# deleted, (c) an image change and a live setting roll through the cluster. After each,
# every acknowledged write must still be readable.
#
# Uses from run.sh: k, log, fail, step, wait_until, indent, TEST_NAMESPACE, CC_NAME,
# ARTIFACTS_DIR, CLUSTER_NAME, NODE_IMAGE, NODE_IMAGE_REPO, IMAGE_TAG, READY_TIMEOUT.

# Seconds from deleting the primary pod until writes succeed again (the detection time,
# 3 s by default, the probes and the Service's endpoints all fit well inside).
FAILOVER_BUDGET=${FAILOVER_BUDGET:-60}
# Longest run of failed writes a planned switchover may cause (FAILOVER's own pause is at
# most 5 s; the rest is the writer Service's endpoints following the labels).
SWITCHOVER_BUDGET=${SWITCHOVER_BUDGET:-15}
# Seconds the rolling image change gets to finish.
ROLL_TIMEOUT=${ROLL_TIMEOUT:-600}

# What scenarios_cleanup must undo when a scenario fails half-way.
SCENARIO_CORDONED=()
SCENARIO_WATCH_PID=""

# scenarios_cleanup: uncordons what a scenario cordoned and stops its watcher. Called from
# run.sh's EXIT trap; safe to call twice.
scenarios_cleanup() {
  local node
  if [[ -n $SCENARIO_WATCH_PID ]]; then
    kill "$SCENARIO_WATCH_PID" 2>/dev/null || true
    wait "$SCENARIO_WATCH_PID" 2>/dev/null || true
    SCENARIO_WATCH_PID=""
  fi
  for node in "${SCENARIO_CORDONED[@]}"; do
    k uncordon "$node" >/dev/null 2>&1 || log "could not uncordon $node"
  done
  SCENARIO_CORDONED=()
}

# ---------------------------------------------------------------------------- the write load

# The load, run inside the client pod (busybox sh): one write at a time through HOST,
# each `SET NAME:n n` followed on the same connection by `WAIT 1 1000`. Every write is
# logged as `n ok|unreplicated|fail UPTIME [reply]`: ok = acknowledged by the primary and
# at least one replica, unreplicated = accepted but no replica confirmed within 1 s,
# fail = not accepted. UPTIME (/proc/uptime, 10 ms steps) is the pod's clock.
LOAD_SCRIPT='host=$1 name=$2
log=/tmp/load-$name.log
: >"$log"
rm -f "/tmp/load-$name.done"
n=0
while [ ! -e "/tmp/load-$name.stop" ]; do
  n=$((n + 1))
  reply=$(printf "SET %s:%d %d\nWAIT 1 1000\n" "$name" "$n" "$n" | timeout 3 redis-cli -h "$host" -p 6379 2>&1 | tr "\n" " ")
  now=$(cut -d" " -f1 /proc/uptime)
  case $reply in
    "OK 0 "*) echo "$n unreplicated $now" ;;
    "OK "[0-9]*) echo "$n ok $now" ;;
    *) echo "$n fail $now $reply" ;;
  esac >>"$log"
done
touch "/tmp/load-$name.done"'

# Every acknowledged write of load NAME read back through HOST, inside the client pod.
VERIFY_SCRIPT='host=$1 name=$2
log=/tmp/load-$name.log
awk -v p="$name" "\$2 == \"ok\" { print \"GET \" p \":\" \$1 }" "$log" >"/tmp/verify-$name.cmds"
awk "\$2 == \"ok\" { print \$1 }" "$log" >"/tmp/verify-$name.want"
timeout 120 redis-cli -h "$host" -p 6379 <"/tmp/verify-$name.cmds" >"/tmp/verify-$name.got" || { echo "reading back failed"; exit 1; }
lost=$(paste -d" " "/tmp/verify-$name.want" "/tmp/verify-$name.got" | awk "\$1 != \$2" | wc -l)
echo "acknowledged=$(wc -l <"/tmp/verify-$name.want") lost=$lost"
if [ "$lost" -ne 0 ]; then
  paste -d" " "/tmp/verify-$name.want" "/tmp/verify-$name.got" | awk "\$1 != \$2 { print \"  \" \$1 \" read back as [\" \$2 \"]\" }" | head -n 10
  exit 1
fi'

# in_client SCRIPT ARGS...: runs a sh script in the client pod with ARGS as $1...
in_client() {
  local script=$1
  shift
  k exec -n "$TEST_NAMESPACE" redis-client -- sh -c "$script" sh "$@"
}

# client_uptime: the client pod's clock, as the load logs it.
client_uptime() {
  in_client 'cut -d" " -f1 /proc/uptime'
}

# load_start NAME: starts a load named NAME through the writer Service, detached in the
# client pod, and waits for its first acknowledged write.
load_start() {
  local name=$1 host="$CC_NAME-primary.$TEST_NAMESPACE.svc"
  in_client 'rm -f "/tmp/load-$2.stop"; nohup sh -c "$1" sh "$3" "$2" >/dev/null 2>&1 &' "$LOAD_SCRIPT" "$name" "$host"
  wait_until 30 1 "the first acknowledged write of load $name" \
    in_client 'grep -q " ok " "/tmp/load-$1.log"' "$name" ||
    fail "load $name acknowledged no write within 30s: $(in_client 'tail -n 3 "/tmp/load-$1.log"' "$name" 2>&1)"
}

# load_stop NAME: stops load NAME, waits for its last write, and copies its log to the
# artifacts folder; prints the log's path.
load_stop() {
  local name=$1 file="$ARTIFACTS_DIR/load-$1.log"
  in_client 'touch "/tmp/load-$1.stop"' "$name"
  wait_until 30 1 "load $name to stop" in_client 'test -e "/tmp/load-$1.done"' "$name" ||
    fail "load $name did not stop within 30s"
  in_client 'cat "/tmp/load-$1.log"' "$name" >"$file"
  printf '%s\n' "$file"
}

# load_verify NAME: fails unless every acknowledged write of NAME reads back through the
# writer Service.
load_verify() {
  local name=$1 out
  out=$(in_client "$VERIFY_SCRIPT" "$CC_NAME-primary.$TEST_NAMESPACE.svc" "$name" 2>&1) ||
    fail "acknowledged writes of load $name were lost: $out"
  log "    $out"
}

# load_summary FILE SINCE: one line of KEY=VALUE about a load log, from the pod clock's
# SINCE on: writes, ok, unreplicated, failed, windows (runs of failed writes), longest
# (seconds of the longest run, from its first failure to the next accepted write) and
# resumed (seconds from SINCE to the first accepted write after the last run that began
# after SINCE; 0 when no write failed).
load_summary() {
  awk -v since="$2" '
    { writes++ }
    $2 == "ok" { ok++ }
    $2 == "unreplicated" { unrep++ }
    $2 == "fail" {
      failed++
      if (!open) { open = 1; start = $3; windows++ }
      next
    }
    open {
      open = 0
      if ($3 - start > longest) longest = $3 - start
      if (start >= since) resumed = $3 - since
    }
    END {
      if (open) { windows_open = 1 }
      printf "writes=%d ok=%d unreplicated=%d failed=%d windows=%d longest=%.2f resumed=%.2f still_failing=%d\n",
        writes, ok, unrep, failed, windows, longest, resumed, windows_open
    }' "$1"
}

# field KEY LINE: the value of KEY=VALUE in LINE.
field() {
  sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# ---------------------------------------------------------------------------- cluster facts

# shard_pods: the shard's pods, one line each of tab-separated fields (any may be empty
# but the name: a Pending pod has no node, a new one no role yet): name node role ready
# uid image revision. Read them with awk -F'\t'.
shard_pods() {
  k get pods -n "$TEST_NAMESPACE" -l "cachefleet.dev/cluster=$CC_NAME,cachefleet.dev/shard=0" \
    -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.spec.nodeName}{"\t"}{.metadata.labels.cachefleet\.dev/role}{"\t"}{.status.conditions[?(@.type=="Ready")].status}{"\t"}{.metadata.uid}{"\t"}{.spec.containers[0].image}{"\t"}{.metadata.labels.controller-revision-hash}{"\n"}{end}'
}

# primary_pod: the pod labelled primary (fails unless exactly one is).
primary_pod() {
  local pods
  pods=$(k get pods -n "$TEST_NAMESPACE" -l "cachefleet.dev/cluster=$CC_NAME,cachefleet.dev/role=primary" -o jsonpath='{.items[*].metadata.name}') || return 1
  [[ -n $pods && $pods != *" "* ]] || {
    printf 'pods labelled primary: [%s]\n' "$pods"
    return 1
  }
  printf '%s\n' "$pods"
}

# primary_is_not OLD: succeeds once a pod other than OLD is the only one labelled primary.
primary_is_not() {
  local now
  now=$(primary_pod) || return 1
  [[ $now != "$1" ]] || {
    echo "$1 is still labelled primary"
    return 1
  }
}

# cluster_ready: the CacheCluster's Ready condition is True and no rollout is under way.
cluster_ready() {
  local ready rollout
  ready=$(k get -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') || return 1
  rollout=$(k get -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" -o jsonpath='{.status.rollout.message}') || return 1
  [[ $ready == True && -z $rollout ]] || {
    condition_summary "$TEST_NAMESPACE" "cachecluster/$CC_NAME"
    echo "rollout: ${rollout:-none}"
    return 1
  }
}

# wait_cluster_ready WHY: bounded wait for cluster_ready.
wait_cluster_ready() {
  wait_until "$READY_TIMEOUT" 3 "$CC_NAME to be Ready $1" cluster_ready ||
    fail "$CC_NAME was not Ready within ${READY_TIMEOUT}s $1"
}

# not_ready_watch FILE WANT: every second, how many of the shard's WANT pods are not Ready
# (a missing pod counts), one number a line in FILE. Runs until killed, or for the roll's
# time limit at most.
not_ready_watch() {
  local file=$1 want=$2 ready deadline=$((SECONDS + ROLL_TIMEOUT + 120))
  while ((SECONDS < deadline)); do
    ready=$(k get pods -n "$TEST_NAMESPACE" -l "cachefleet.dev/cluster=$CC_NAME,cachefleet.dev/shard=0" \
      -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c '^True$') || ready=0
    printf '%d\n' "$((want - ready))" >>"$file"
    sleep 1
  done
}

# all_pods_run IMAGE WANT: the shard's WANT pods all exist, run IMAGE and are Ready.
all_pods_run() {
  local pods
  pods=$(shard_pods) || return 1
  awk -F'\t' -v image="$1" -v want="$2" '
    { n++; if ($6 == image && $4 == "True") good++ }
    END { exit !(n == want && good == want) }' <<<"$pods" || {
    printf 'pods (name node role ready uid image revision):\n%s\n' "$pods"
    return 1
  }
}

# config_everywhere NAME VALUE: every pod of the shard answers CONFIG GET NAME with VALUE.
config_everywhere() {
  local pod got
  for pod in $(shard_pods | awk -F'\t' '{print $1}'); do
    got=$(in_client 'timeout 5 redis-cli -h "$1" -p 6379 CONFIG GET "$2" | tail -n 1' "$pod.$CC_NAME-0.$TEST_NAMESPACE.svc" "$1") || return 1
    [[ $got == "$2" ]] || {
      echo "$pod has $1=$got"
      return 1
    }
  done
}

# ---------------------------------------------------------------------------- (a) primary pod deleted

scenario_primary_deleted() {
  local old t0 t1 file summary resumed
  step "scenario: delete the primary pod under a write load (WAIT 1 per write)"
  old=$(primary_pod) || fail "no single primary before the scenario: $old"
  load_start deleted
  sleep 3
  t0=$(client_uptime)
  k delete pod -n "$TEST_NAMESPACE" "$old" --wait=false >/dev/null
  log "    deleted $old at client uptime $t0"
  wait_until "$FAILOVER_BUDGET" 1 "another pod than $old to be labelled primary" primary_is_not "$old" ||
    fail "no failover within ${FAILOVER_BUDGET}s of deleting $old"
  log "    $(primary_pod) is primary"
  # An acknowledged write after the labels moved went to the new primary.
  t1=$(client_uptime)
  wait_until "$FAILOVER_BUDGET" 1 "writes to succeed again after the failover" \
    in_client 'awk -v t="$2" "\$3 > t && \$2 == \"ok\" { found = 1 } END { exit !found }" "/tmp/load-$1.log"' deleted "$t1" ||
    fail "no acknowledged write within ${FAILOVER_BUDGET}s of deleting $old"
  sleep 5
  file=$(load_stop deleted)
  summary=$(load_summary "$file" "$t0")
  log "    $summary"
  resumed=$(field resumed "$summary")
  log "    writes succeeded again ${resumed}s after the primary pod was deleted"
  awk -v r="$resumed" -v b="$FAILOVER_BUDGET" 'BEGIN { exit !(r <= b) }' ||
    fail "writes resumed only after ${resumed}s (budget ${FAILOVER_BUDGET}s)"
  [[ $(field still_failing "$summary") == 0 ]] || fail "writes were still failing when the load stopped: $(tail -n 3 "$file")"
  load_verify deleted
  wait_cluster_ready "after the failover (the old primary rejoins as a replica)"
}

# ---------------------------------------------------------------------------- (b) a zone lost

scenario_zone_lost() {
  local old node zone nodes t0 t1 file summary pod
  step "scenario: cordon the nodes of the primary's zone and delete its pods under a write load"
  old=$(primary_pod) || fail "no single primary before the scenario: $old"
  node=$(k get pod -n "$TEST_NAMESPACE" "$old" -o jsonpath='{.spec.nodeName}')
  zone=$(k get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')
  [[ -n $zone ]] || fail "node $node of $old has no zone label"
  mapfile -t nodes < <(k get nodes -l "topology.kubernetes.io/zone=$zone" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
  load_start zone
  sleep 3
  t0=$(client_uptime)
  for node in "${nodes[@]}"; do
    SCENARIO_CORDONED+=("$node")
    k cordon "$node" >/dev/null
  done
  for pod in $(shard_pods | awk -F'\t' -v nodes=" ${nodes[*]} " '$2 != "" && index(nodes, " " $2 " ") { print $1 }'); do
    k delete pod -n "$TEST_NAMESPACE" "$pod" --wait=false >/dev/null
    log "    deleted $pod (zone $zone)"
  done
  log "    cordoned ${nodes[*]} (zone $zone) at client uptime $t0"
  wait_until "$FAILOVER_BUDGET" 1 "a pod outside zone $zone to be labelled primary" primary_is_not "$old" ||
    fail "no failover within ${FAILOVER_BUDGET}s of losing zone $zone"
  pod=$(primary_pod)
  node=$(k get pod -n "$TEST_NAMESPACE" "$pod" -o jsonpath='{.spec.nodeName}')
  [[ $(k get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}') != "$zone" ]] ||
    fail "the new primary $pod runs in the lost zone $zone"
  t1=$(client_uptime)
  wait_until "$FAILOVER_BUDGET" 1 "writes to succeed again without zone $zone" \
    in_client 'awk -v t="$2" "\$3 > t && \$2 != \"fail\" { found = 1 } END { exit !found }" "/tmp/load-$1.log"' zone "$t1" ||
    fail "no accepted write within ${FAILOVER_BUDGET}s of losing zone $zone"
  sleep 5
  file=$(load_stop zone)
  summary=$(load_summary "$file" "$t0")
  log "    $summary"
  log "    $pod is primary; writes succeeded again $(field resumed "$summary")s after the zone was lost"
  [[ $(field still_failing "$summary") == 0 ]] || fail "writes were still failing without zone $zone: $(tail -n 3 "$file")"
  load_verify zone
  scenarios_cleanup
  log "    uncordoned zone $zone"
  wait_cluster_ready "after zone $zone came back"
}

# ---------------------------------------------------------------------------- (c) rolling changes

scenario_rolling_change() {
  local want new_image before after t0 file summary old worst uids_before uids_after
  step "scenario: roll an image change through the cluster under a write load"
  want=$(shard_pods | grep -c .)
  new_image="$NODE_IMAGE_REPO:$IMAGE_TAG-roll"
  # The same binary under another tag: a new pod template, so every pod must be replaced.
  docker tag "$NODE_IMAGE" "$new_image"
  kind load docker-image --name "$CLUSTER_NAME" "$new_image" >/dev/null
  old=$(primary_pod) || fail "no single primary before the roll: $old"
  before=$(shard_pods)
  load_start roll
  : >"$ARTIFACTS_DIR/not-ready.txt"
  not_ready_watch "$ARTIFACTS_DIR/not-ready.txt" "$want" &
  SCENARIO_WATCH_PID=$!
  t0=$(client_uptime)
  k patch -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" --type=merge -p "{\"spec\":{\"image\":\"$new_image\"}}" >/dev/null
  wait_until "$ROLL_TIMEOUT" 3 "every pod of $CC_NAME to run $new_image" all_pods_run "$new_image" "$want" ||
    fail "the roll to $new_image did not finish within ${ROLL_TIMEOUT}s"
  wait_cluster_ready "after the roll"
  scenarios_cleanup
  file=$(load_stop roll)
  summary=$(load_summary "$file" "$t0")
  log "    $summary"
  after=$(shard_pods)
  printf 'before:\n%s\nafter:\n%s\n' "$before" "$after" | indent
  worst=$(sort -n "$ARTIFACTS_DIR/not-ready.txt" | tail -n 1)
  log "    at most ${worst:-0} of $want pods were not Ready at once (sampled every second)"
  ((${worst:-0} <= 1)) || fail "$worst pods of the shard were down at once during the roll"
  primary_is_not "$old" >/dev/null || fail "the primary $old was restarted without a switchover"
  k get events -n "$TEST_NAMESPACE" --field-selector "involvedObject.name=$CC_NAME,reason=SwitchedOver" -o name | grep -q . ||
    fail "no SwitchedOver event for $CC_NAME"
  # The switchover may cost one short run of failed writes; nothing else may fail.
  (($(field windows "$summary") <= 1)) || fail "writes failed in $(field windows "$summary") separate runs during the roll"
  awk -v l="$(field longest "$summary")" -v b="$SWITCHOVER_BUDGET" 'BEGIN { exit !(l <= b) }' ||
    fail "writes failed for $(field longest "$summary")s in a row during the roll (budget ${SWITCHOVER_BUDGET}s)"
  load_verify roll

  step "scenario: a setting that needs no restart is applied to every node live"
  uids_before=$(shard_pods | awk -F'\t' '{print $1, $5}' | sort)
  k patch -n "$TEST_NAMESPACE" "cachecluster/$CC_NAME" --type=merge -p '{"spec":{"parameters":{"timeout":"123"}}}' >/dev/null
  wait_until 60 2 "every node to have timeout 123" config_everywhere timeout 123 ||
    fail "timeout=123 did not reach every node within 60s"
  sleep 5
  uids_after=$(shard_pods | awk -F'\t' '{print $1, $5}' | sort)
  expect_equal "pods (name uid) after a live setting change" "$uids_before" "$uids_after"
  cluster_ready >/dev/null || fail "$CC_NAME is not Ready after a live setting change"
  log "    timeout=123 on every node; no pod restarted"
}
