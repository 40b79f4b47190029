//! Reconcile against a scripted API server (tower-test): every request a pass makes is
//! recorded and answered by a fake that behaves like the API server for these calls
//! (server-side apply echoes the object, lists return the fixture objects, gets return
//! 404 when absent). Nodes and events are fakes that record what they were asked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cachefleet_operator::api::CacheCluster;
use cachefleet_operator::controller::events::{ClusterEvent, EventSink};
use cachefleet_operator::controller::{Context, error_policy, reconcile::reconcile};
use cachefleet_operator::metrics::Metrics;
use cachefleet_operator::nodes::{NodeAddr, NodeClient, NodeError, NodeInfo};
use cachefleet_operator::resources::BuildOptions;
use cachefleet_operator::topology::{Replication, ReportedRole};
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One request as the API server saw it.
#[derive(Clone, Debug)]
struct Call {
    method: String,
    path: String,
    query: String,
    body: Value,
}

impl Call {
    fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The fake API server's state: objects returned by lists/gets, and injected failures.
#[derive(Default)]
struct ApiState {
    pods: Vec<Value>,
    secrets: HashMap<String, Value>,
    /// Extra objects returned by list calls on these collection paths (for pruning).
    listed: HashMap<String, Vec<Value>>,
    /// Pods returned when a Job's pods are listed (by the job-name label).
    job_pods: Vec<Value>,
    /// Single objects returned by GET on their path.
    objects: HashMap<String, Value>,
    /// Answer 500 to requests whose `METHOD path` starts with this.
    fail: Option<String>,
    /// Answer with this code to requests whose `METHOD path` starts with this.
    refuse: Option<(String, u16)>,
    /// What the API server keeps of an applied object beyond what was sent (a
    /// StatefulSet's generation and status), by path: merged into the apply's answer.
    server_side: HashMap<String, Value>,
    calls: Vec<Call>,
}

fn status_body(code: u16, reason: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "message": reason, "reason": reason, "code": code})
}

fn respond(state: &mut ApiState, call: &Call) -> (StatusCode, Value) {
    if state.fail.as_ref().is_some_and(|f| call.line().starts_with(f.as_str())) {
        return (StatusCode::INTERNAL_SERVER_ERROR, status_body(500, "InternalError"));
    }
    if let Some((prefix, code)) = &state.refuse
        && call.line().starts_with(prefix.as_str())
    {
        return (StatusCode::from_u16(*code).unwrap(), status_body(*code, "Cannot evict pod as it would violate the pod's disruption budget."));
    }
    let segments: Vec<&str> = call.path.trim_start_matches('/').split('/').collect();
    match call.method.as_str() {
        "PATCH" => {
            let mut obj = call.body.clone();
            obj["metadata"]["resourceVersion"] = json!("1");
            // A status patch answers with the whole object, spec included.
            if call.path.ends_with("/status") {
                obj["spec"] = if call.path.contains("/cachesnapshots/") { json!({"cluster": "c"}) } else { json!({}) };
                obj["metadata"]["name"] = json!(segments[segments.len() - 2]);
            }
            // A merge patch of metadata answers with the whole object.
            if call.path.contains("/cacheclusters/") && obj.get("spec").is_none() {
                obj["apiVersion"] = json!("cachefleet.dev/v1alpha1");
                obj["kind"] = json!("CacheCluster");
                obj["spec"] = json!({});
            }
            if let Some(kept) = state.server_side.get(&call.path) {
                obj["metadata"]["generation"] = kept["metadata"]["generation"].clone();
                obj["status"] = kept["status"].clone();
            }
            if call.path.contains("/cachesnapshots/") && obj.get("spec").is_none() {
                obj["apiVersion"] = json!("cachefleet.dev/v1alpha1");
                obj["kind"] = json!("CacheSnapshot");
                obj["spec"] = json!({"cluster": "c"});
            }
            (StatusCode::OK, obj)
        }
        "POST" => {
            let mut obj = call.body.clone();
            obj["metadata"]["resourceVersion"] = json!("1");
            (StatusCode::CREATED, obj)
        }
        "DELETE" => (StatusCode::OK, json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success"})),
        "GET" if call.path.ends_with("/pods") && call.query.contains("batch.kubernetes.io%2Fjob-name") => {
            (StatusCode::OK, json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": state.job_pods}))
        }
        "GET" if state.objects.contains_key(&call.path) => (StatusCode::OK, state.objects[&call.path].clone()),
        "GET" if segments.len() >= 2 && ["cachesnapshots", "jobs", "persistentvolumeclaims"].contains(&segments[segments.len() - 2]) => {
            (StatusCode::NOT_FOUND, status_body(404, "NotFound"))
        }
        "GET" if call.path.ends_with("/pods") => (StatusCode::OK, json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": state.pods})),
        "GET" if segments.len() >= 2 && segments[segments.len() - 2] == "secrets" => match state.secrets.get(segments[segments.len() - 1]) {
            Some(s) => (StatusCode::OK, s.clone()),
            None => (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
        },
        "GET" => {
            let items = state.listed.get(&call.path).cloned().unwrap_or_default();
            (StatusCode::OK, json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}))
        }
        _ => (StatusCode::METHOD_NOT_ALLOWED, status_body(405, "MethodNotAllowed")),
    }
}

fn fake_api(state: Arc<Mutex<ApiState>>) -> kube::Client {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let call = Call {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().unwrap_or_default().to_string(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            let (code, reply) = {
                let mut s = state.lock();
                let r = respond(&mut s, &call);
                s.calls.push(call);
                r
            };
            send.send_response(Response::builder().status(code).body(Body::from(serde_json::to_vec(&reply).unwrap())).unwrap());
        }
    });
    kube::Client::new(service, "default")
}

/// A REPLICAOF a fake node received: the node's host, and the primary (None: NO ONE).
type ReplicaOf = (String, Option<(String, u16)>);

/// A CONFIG SET a fake node received: the node's host and the (name, value) pairs.
type ConfigSet = (String, Vec<(String, String)>);

/// Nodes answer ROLE from a table keyed by host; REPLICAOF either works or fails like a
/// node without replication.
#[derive(Default)]
struct FakeNodes {
    roles: Mutex<HashMap<String, ReportedRole>>,
    replicaof_fails: bool,
    replicaof_calls: Mutex<Vec<ReplicaOf>>,
    /// INFO answers by host; a host without one answers with an empty node.
    infos: Mutex<HashMap<String, NodeInfo>>,
    /// Hosts told CLIENT KILL TYPE normal.
    kill_calls: Mutex<Vec<String>>,
    /// Hosts asked INFO.
    info_calls: Mutex<Vec<String>>,
    /// FAILOVER TO calls: the primary's host and the target's. The fake hands over at
    /// once: the target reports primary, the old primary follows it.
    failover_calls: Mutex<Vec<(String, String)>>,
    /// CONFIG SET calls.
    config_set_calls: Mutex<Vec<ConfigSet>>,
}

impl NodeClient for FakeNodes {
    fn role<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<ReportedRole, NodeError>> {
        Box::pin(async move {
            self.roles.lock().get(&node.host).cloned().ok_or(NodeError::Timeout { host: node.host.clone(), port: node.port, timeout: Duration::from_secs(3) })
        })
    }
    fn info<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<NodeInfo, NodeError>> {
        Box::pin(async move {
            self.info_calls.lock().push(node.host.clone());
            Ok(self.infos.lock().get(&node.host).cloned().unwrap_or_default())
        })
    }
    fn kill_clients<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move {
            self.kill_calls.lock().push(node.host.clone());
            Ok(())
        })
    }
    fn failover_to<'a>(&'a self, node: &'a NodeAddr, target: (&'a str, u16), _timeout: Duration) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move {
            self.failover_calls.lock().push((node.host.clone(), target.0.to_string()));
            let mut roles = self.roles.lock();
            roles.insert(target.0.to_string(), ReportedRole::Primary { replicas: 1 });
            roles.insert(node.host.clone(), ReportedRole::Replica { primary_host: target.0.to_string(), primary_port: target.1, in_sync: true });
            Ok(())
        })
    }
    fn config_set<'a>(&'a self, node: &'a NodeAddr, settings: &'a [(String, String)]) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move {
            self.config_set_calls.lock().push((node.host.clone(), settings.to_vec()));
            Ok(())
        })
    }
    fn replicate_from<'a>(&'a self, node: &'a NodeAddr, primary: Option<(&'a str, u16)>) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move {
            self.replicaof_calls.lock().push((node.host.clone(), primary.map(|(h, p)| (h.to_string(), p))));
            if self.replicaof_fails {
                return Err(NodeError::BadRole { host: node.host.clone(), port: node.port, reply: "ERR unknown command 'REPLICAOF'".into() });
            }
            Ok(())
        })
    }
}

#[derive(Default)]
struct FakeEvents(Mutex<Vec<ClusterEvent>>);

impl EventSink for FakeEvents {
    fn publish<'a>(&'a self, _cluster: &'a CacheCluster, event: ClusterEvent) -> BoxFuture<'a, ()> {
        self.0.lock().push(event);
        Box::pin(async {})
    }
}

struct Harness {
    api: Arc<Mutex<ApiState>>,
    nodes: Arc<FakeNodes>,
    events: Arc<FakeEvents>,
    ctx: Arc<Context>,
    /// The controller's monotonic clock, in milliseconds.
    clock: Arc<AtomicU64>,
}

impl Harness {
    fn new(nodes: FakeNodes) -> Harness {
        let api = Arc::new(Mutex::new(ApiState::default()));
        let client = fake_api(api.clone());
        let nodes = Arc::new(nodes);
        let events = Arc::new(FakeEvents::default());
        let options = BuildOptions { default_image: "cache-node:test".into(), service_monitor_supported: false };
        let clock = Arc::new(AtomicU64::new(0));
        let ticks = clock.clone();
        let ctx =
            Context::new(client, nodes.clone(), events.clone(), Metrics::new().unwrap(), options).with_clock(Arc::new(move || ticks.load(Ordering::SeqCst)));
        Harness { api, nodes, events, ctx: Arc::new(ctx), clock }
    }

    /// A harness whose context runs a prober per cluster on the real clock, and the
    /// stream of passes the probers ask for (the controller's `reconcile_on`).
    fn with_probers(nodes: FakeNodes) -> (Harness, futures::channel::mpsc::UnboundedReceiver<ObjectRef<CacheCluster>>) {
        let api = Arc::new(Mutex::new(ApiState::default()));
        let client = fake_api(api.clone());
        let nodes = Arc::new(nodes);
        let events = Arc::new(FakeEvents::default());
        let options = BuildOptions { default_image: "cache-node:test".into(), service_monitor_supported: false };
        let (trigger, triggered) = futures::channel::mpsc::unbounded();
        let ctx = Context::new(client, nodes.clone(), events.clone(), Metrics::new().unwrap(), options).with_probers(trigger);
        (Harness { api, nodes, events, ctx: Arc::new(ctx), clock: Arc::new(AtomicU64::new(0)) }, triggered)
    }

    fn calls(&self) -> Vec<Call> {
        std::mem::take(&mut self.api.lock().calls)
    }

    fn events(&self) -> Vec<ClusterEvent> {
        std::mem::take(&mut *self.events.0.lock())
    }
}

fn cluster(spec: Value, status: Option<Value>) -> CacheCluster {
    let mut obj = json!({
        "apiVersion": "cachefleet.dev/v1alpha1",
        "kind": "CacheCluster",
        "metadata": {"name": "c", "namespace": "ns", "uid": "0b6a2c1e-0000-4000-8000-000000000001", "generation": 3},
        "spec": spec,
    });
    if let Some(s) = status {
        obj["status"] = s;
    }
    serde_json::from_value(obj).unwrap()
}

fn pod(name: &str, shard: i32, role: Option<&str>, ready: bool) -> Value {
    let mut labels = json!({"app.kubernetes.io/name": "cache-node", "cachefleet.dev/cluster": "c", "cachefleet.dev/shard": shard.to_string()});
    if let Some(r) = role {
        labels["cachefleet.dev/role"] = json!(r);
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "labels": labels},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    })
}

fn host(ordinal: i32) -> String {
    format!("c-0-{ordinal}.c-0.ns.svc")
}

const APPLY_ONE_SHARD: [&str; 8] = [
    // The StatefulSets' current sizes: apply keeps them, scaling moves them.
    "GET /apis/apps/v1/namespaces/ns/statefulsets",
    "PATCH /api/v1/namespaces/ns/configmaps/c-config",
    "PATCH /api/v1/namespaces/ns/services/c-0",
    "PATCH /apis/apps/v1/namespaces/ns/statefulsets/c-0",
    "PATCH /apis/policy/v1/namespaces/ns/poddisruptionbudgets/c-0",
    "PATCH /api/v1/namespaces/ns/services/c-primary",
    "PATCH /api/v1/namespaces/ns/services/c-reader",
    "PATCH /api/v1/namespaces/ns/services/c-metrics",
];
const PRUNE_LISTS: [&str; 6] = [
    "GET /apis/apps/v1/namespaces/ns/statefulsets",
    "GET /api/v1/namespaces/ns/services",
    "GET /apis/policy/v1/namespaces/ns/poddisruptionbudgets",
    "GET /api/v1/namespaces/ns/configmaps",
    "GET /apis/networking.k8s.io/v1/namespaces/ns/networkpolicies",
    "GET /apis/batch/v1/namespaces/ns/cronjobs",
];

fn lines(calls: &[Call]) -> Vec<String> {
    calls.iter().map(Call::line).collect()
}

fn expected(extra: &[&str]) -> Vec<String> {
    APPLY_ONE_SHARD.iter().chain(PRUNE_LISTS.iter()).chain(["GET /api/v1/namespaces/ns/pods"].iter()).chain(extra.iter()).map(|s| s.to_string()).collect()
}

fn status_of(calls: &[Call]) -> Value {
    calls.iter().find(|c| c.path.ends_with("/status")).map(|c| c.body["status"].clone()).expect("no status patch")
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == type_).unwrap()
}

#[tokio::test]
async fn create_path_applies_every_object_with_one_field_manager_and_reports_creating() {
    let h = Harness::new(FakeNodes::default());
    let action = reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), None)), h.ctx.clone()).await.unwrap();
    // Failover is on by default: nodes are probed every detectionSeconds / 3 (at least 1 s).
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
    let calls = h.calls();
    assert_eq!(lines(&calls), expected(&["PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c/status"]));
    for c in calls.iter().filter(|c| c.method == "PATCH") {
        assert!(c.query.contains("fieldManager=cachefleet-operator") && c.query.contains("force=true"), "{} {}", c.line(), c.query);
    }
    // Owned objects point at the cluster, so deleting it deletes them.
    let sts = &calls[3].body;
    assert_eq!(sts["metadata"]["ownerReferences"][0]["uid"], "0b6a2c1e-0000-4000-8000-000000000001");
    assert_eq!(sts["spec"]["replicas"], 2);
    // Pruning lists only this cluster's objects.
    assert!(calls[8].query.contains("cachefleet.dev%2Fcluster%3Dc"), "{}", calls[8].query);

    let status = status_of(&calls);
    assert_eq!(status["phase"], "Creating");
    assert_eq!(status["readyNodes"], "0/2");
    assert_eq!(status["observedGeneration"], 3);
    assert_eq!(status["endpoints"]["primary"], "c-primary.ns.svc:6379");
    assert_eq!(status["endpoints"]["reader"], "c-reader.ns.svc:6379");
    let ready = condition(&status, "Ready");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("NodesNotReady")));
    assert!(ready["message"].as_str().unwrap().contains("c-0-0 (pod does not exist yet)"), "{ready}");
    assert_eq!(condition(&status, "Progressing")["status"], "True");
    assert_eq!(condition(&status, "Degraded")["status"], "False");
    assert_eq!(h.events(), vec![ClusterEvent { warning: false, reason: "NotReady", action: "Reconcile", note: ready_note(ready) }]);
}

fn ready_note(ready: &Value) -> String {
    format!("{}: {}", ready["reason"].as_str().unwrap(), ready["message"].as_str().unwrap())
}

#[tokio::test]
async fn first_pod_becomes_primary_and_the_other_is_pointed_at_it_then_labelled() {
    let nodes = FakeNodes::default();
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 0 });
    nodes.roles.lock().insert(host(1), ReportedRole::Primary { replicas: 0 });
    let h = Harness::new(nodes);
    h.api.lock().pods = vec![pod("c-0-0", 0, None, true), pod("c-0-1", 0, None, true)];
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), None)), h.ctx.clone()).await.unwrap();

    let calls = h.calls();
    assert_eq!(
        lines(&calls),
        expected(&[
            "PATCH /api/v1/namespaces/ns/pods/c-0-0",
            "PATCH /api/v1/namespaces/ns/pods/c-0-1",
            "PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c/status",
        ])
    );
    let label = |i: usize| calls[i].body["metadata"]["labels"]["cachefleet.dev/role"].clone();
    assert_eq!((label(15), label(16)), (json!("primary"), json!("replica")));
    assert_eq!(*h.nodes.replicaof_calls.lock(), vec![(host(1), Some((host(0), 6379)))]);

    let status = status_of(&calls);
    assert_eq!(status["shards"][0]["primary"], "c-0-0");
    assert_eq!(status["shards"][0]["nodes"][1]["role"], "replica");
    // The replica was only just told to follow: not in sync until the next probe says so.
    assert_eq!(condition(&status, "Ready")["reason"], "ReplicasSyncing");
    let events = h.events();
    assert!(events.iter().any(|e| e.reason == "PrimaryAssigned" && e.note == "c-0-0 is the primary of shard 0"), "{events:?}");
    assert_eq!(h.ctx.metrics.role_changes.get(), 3);
}

#[tokio::test]
async fn a_settled_cluster_is_ready_and_an_unchanged_status_is_not_written_again() {
    let nodes = FakeNodes::default();
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 1 });
    nodes.roles.lock().insert(host(1), ReportedRole::Replica { primary_host: host(0), primary_port: 6379, in_sync: true });
    let h = Harness::new(nodes);
    h.api.lock().pods = vec![pod("c-0-0", 0, Some("primary"), true), pod("c-0-1", 0, Some("replica"), true)];
    let action = reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), None)), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
    let calls = h.calls();
    assert_eq!(lines(&calls), expected(&["PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c/status"]));
    assert!(h.nodes.replicaof_calls.lock().is_empty());
    let status = status_of(&calls);
    assert_eq!(status["phase"], "Ready");
    assert_eq!(status["readyNodes"], "2/2");
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(h.events().iter().map(|e| e.reason).collect::<Vec<_>>(), vec!["ClusterReady"]);

    // The next pass sees the status it wrote: nothing to patch, no event.
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), Some(status))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(lines(&calls), expected(&[]));
    assert!(h.events().is_empty());
}

#[tokio::test]
async fn a_node_that_refuses_replicaof_is_not_labelled_and_the_cluster_is_degraded() {
    let nodes = FakeNodes { replicaof_fails: true, ..Default::default() };
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 0 });
    nodes.roles.lock().insert(host(1), ReportedRole::Primary { replicas: 0 });
    let h = Harness::new(nodes);
    h.api.lock().pods = vec![pod("c-0-0", 0, None, true), pod("c-0-1", 0, None, true)];
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    // Pod 0 is labelled primary; pod 1 is not labelled replica, so the reader Service
    // never sends reads to a node that holds no data.
    assert_eq!(
        lines(&calls),
        expected(&["PATCH /api/v1/namespaces/ns/pods/c-0-0", "PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c/status"])
    );
    let status = status_of(&calls);
    assert_eq!(status["phase"], "Degraded");
    let ready = condition(&status, "Ready");
    assert_eq!(ready["reason"], "ReplicationFailed");
    assert!(ready["message"].as_str().unwrap().contains("unknown command 'REPLICAOF'"), "{ready}");
    assert_eq!(condition(&status, "Degraded")["status"], "True");
    assert!(h.events().iter().any(|e| e.warning && e.reason == "NotReady"));
}

#[tokio::test]
async fn an_unsupported_spec_is_reported_once_and_waits_for_a_change() {
    let h = Harness::new(FakeNodes::default());
    let spec = json!({"mode": "cluster", "shards": 3});
    let action = reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = h.calls();
    // Nothing is created for a spec that cannot be carried out.
    assert_eq!(lines(&calls), vec!["PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c/status".to_string()]);
    let status = status_of(&calls);
    assert_eq!(status["phase"], "Failed");
    let ready = condition(&status, "Ready");
    assert_eq!(ready["reason"], "Unsupported");
    assert!(ready["message"].as_str().unwrap().contains("mode cluster"));
    assert_eq!(h.events().len(), 1);

    reconcile(Arc::new(cluster(spec, Some(status))), h.ctx.clone()).await.unwrap();
    assert!(h.calls().is_empty(), "an unchanged refusal must not be written again");
    assert!(h.events().is_empty());
}

#[tokio::test]
async fn a_missing_password_secret_is_reported_and_retried_and_a_present_one_reaches_the_nodes() {
    let h = Harness::new(FakeNodes::default());
    let spec = json!({"replicasPerShard": 0, "auth": {"passwordSecret": {"name": "pw"}}});
    let action = reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let calls = h.calls();
    assert_eq!(lines(&calls)[0], "GET /api/v1/namespaces/ns/secrets/pw");
    let ready = condition(&status_of(&calls), "Ready").clone();
    assert_eq!(ready["reason"], "SecretNotFound");

    h.api.lock().secrets.insert("pw".into(), json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw"}, "data": {"password": "czNjcmV0"}}));
    reconcile(Arc::new(cluster(spec, None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    let sts = calls.iter().find(|c| c.path.ends_with("/statefulsets/c-0") && c.method == "PATCH").unwrap();
    let env = sts.body["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(env.contains("\"name\":\"pw\"") && !env.contains("s3cret"), "the password goes by Secret reference, never inline: {env}");
}

#[tokio::test]
async fn objects_the_spec_no_longer_wants_are_deleted() {
    let h = Harness::new(FakeNodes::default());
    let stale = |api_version: &str, kind: &str, name: &str| json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "ns"}});
    h.api
        .lock()
        .listed
        .insert("/apis/apps/v1/namespaces/ns/statefulsets".into(), vec![stale("apps/v1", "StatefulSet", "c-0"), stale("apps/v1", "StatefulSet", "c-1")]);
    h.api.lock().listed.insert("/api/v1/namespaces/ns/services".into(), vec![stale("v1", "Service", "c-1"), stale("v1", "Service", "c-primary")]);
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), None)), h.ctx.clone()).await.unwrap();
    let deleted: Vec<String> = h.calls().iter().filter(|c| c.method == "DELETE").map(Call::line).collect();
    assert_eq!(deleted, vec!["DELETE /apis/apps/v1/namespaces/ns/statefulsets/c-1", "DELETE /api/v1/namespaces/ns/services/c-1"]);
}

#[tokio::test]
async fn an_api_failure_fails_the_pass_and_backs_off_exponentially() {
    let h = Harness::new(FakeNodes::default());
    h.api.lock().fail = Some("PATCH /apis/apps/v1".into());
    let c = Arc::new(cluster(json!({"replicasPerShard": 1}), None));
    let err = reconcile(c.clone(), h.ctx.clone()).await.unwrap_err();
    assert_eq!(err.category(), "kube");
    assert!(err.to_string().contains("applying objects"), "{err}");
    // Nothing after the failed apply ran: no role changes, no status.
    assert!(!h.calls().iter().any(|c| c.path.ends_with("/status") || c.path.contains("/pods")));
    assert_eq!(error_policy(c.clone(), &err, h.ctx.clone()), Action::requeue(Duration::from_secs(5)));
    assert_eq!(error_policy(c.clone(), &err, h.ctx.clone()), Action::requeue(Duration::from_secs(10)));
    assert_eq!(h.ctx.metrics.reconcile_errors.with_label_values(&["kube"]).get(), 2);
    // A good pass resets the backoff.
    h.api.lock().fail = None;
    reconcile(c.clone(), h.ctx.clone()).await.unwrap();
    assert_eq!(error_policy(c, &err, h.ctx.clone()), Action::requeue(Duration::from_secs(5)));
}

// Snapshots: finished scheduled Jobs become CacheSnapshots, retention prunes them, and
// BackupHealthy says whether the schedule works.

const SNAPSHOTS: &str = "/apis/cachefleet.dev/v1alpha1/namespaces/ns/cachesnapshots";
const JOBS: &str = "/apis/batch/v1/namespaces/ns/jobs";

fn snapshot_job(name: &str, condition: &str, message: Option<&str>) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "ns", "labels": {"cachefleet.dev/cluster": "c", "app.kubernetes.io/component": "snapshot", "cachefleet.dev/trigger": "Scheduled"}},
        "status": {
            "startTime": "2026-11-27T05:00:00Z",
            "conditions": [{"type": condition, "status": "True", "reason": if condition == "Failed" { "BackoffLimitExceeded" } else { "" },
                            "message": message.unwrap_or(""), "lastTransitionTime": "2026-11-27T05:01:00Z"}]
        }
    })
}

fn manifest(job: &str, shard: i32, keys: u64, bytes: u64) -> String {
    json!({
        "format": "cachefleet.dev/snapshot/v1", "name": format!("{job}-shard-{shard}"), "cluster": "c", "shard": shard,
        "slots": [[0, 16383]], "createdUnix": 1_795_755_660i64, "created": "2026-11-27T05:01:00Z",
        "source": format!("10.0.0.{shard}:6379"), "sourceRole": "replica", "engine": "redis", "engineVersion": "7.2.0",
        "rdbVersion": 11, "keys": keys, "keysWithExpiry": 0, "bytes": bytes, "crc64": "00", "replId": "x", "replOffset": 1
    })
    .to_string()
}

fn job_pod(job: &str, containers: &[(&str, &str)]) -> Value {
    let statuses: Vec<Value> = containers
        .iter()
        .map(|(name, message)| {
            json!({"name": name, "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                                     "state": {"terminated": {"exitCode": 0, "message": message}}})
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("{job}-abcde"), "namespace": "ns", "labels": {"batch.kubernetes.io/job-name": job}},
           "status": {"phase": "Succeeded", "containerStatuses": statuses}})
}

fn snapshot(name: &str, trigger: &str, phase: &str, completed: &str) -> Value {
    json!({
        "apiVersion": "cachefleet.dev/v1alpha1", "kind": "CacheSnapshot",
        "metadata": {"name": name, "namespace": "ns", "labels": {"cachefleet.dev/cluster": "c"}},
        "spec": {"cluster": "c", "trigger": trigger},
        "status": {"phase": phase, "completedAt": completed},
    })
}

fn snapshots_spec() -> Value {
    json!({"replicasPerShard": 0, "snapshots": {"retain": 2, "destination": {"s3": {"bucket": "backups", "prefix": "prod", "credentialsSecret": "s3"}}}})
}

#[tokio::test]
async fn a_completed_scheduled_job_becomes_a_completed_cache_snapshot() {
    let h = Harness::new(FakeNodes::default());
    let job = "c-snapshots-29400300";
    h.api.lock().listed.insert(JOBS.into(), vec![snapshot_job(job, "Complete", None)]);
    h.api.lock().job_pods = vec![job_pod(job, &[("shard-0", &manifest(job, 0, 1200, 65536))])];
    reconcile(Arc::new(cluster(snapshots_spec(), None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    let l = lines(&calls);
    assert!(l.contains(&"PATCH /apis/batch/v1/namespaces/ns/cronjobs/c-snapshots".to_string()), "{l:?}");

    let create = calls.iter().find(|c| c.method == "POST" && c.path == SNAPSHOTS).expect("a CacheSnapshot is created");
    assert_eq!(create.body["metadata"]["name"], job);
    assert_eq!(create.body["spec"], json!({"cluster": "c", "trigger": "Scheduled"}));
    assert_eq!(create.body["metadata"]["finalizers"], json!(["cachefleet.dev/snapshot-files"]));
    assert_eq!(create.body["metadata"]["ownerReferences"][0]["kind"], "CacheCluster");

    let status = &calls.iter().find(|c| c.path == format!("{SNAPSHOTS}/{job}/status")).expect("its status is written").body["status"];
    assert_eq!(status["phase"], "Completed");
    assert_eq!(status["keys"], 1200);
    assert_eq!(status["sizeBytes"], 65536);
    assert_eq!(status["location"], "s3://backups/prod");
    assert_eq!(status["job"], job);
    assert_eq!(status["completedAt"], "2026-11-27T05:01:00Z");
    assert_eq!(
        status["shards"][0],
        json!({"index": 0, "source": "10.0.0.0:6379", "location": format!("s3://backups/prod/{job}-shard-0"), "sizeBytes": 65536, "keys": 1200, "sourceRole": "replica"})
    );
    assert_eq!(status["destination"]["s3"]["credentialsSecret"], "s3");

    let cluster_status = status_of(&calls.iter().filter(|c| c.path.contains("/cacheclusters/")).cloned().collect::<Vec<_>>());
    let backup = condition(&cluster_status, "BackupHealthy");
    assert_eq!((backup["status"].as_str(), backup["reason"].as_str()), (Some("True"), Some("SnapshotCompleted")));
    assert_eq!(cluster_status["lastSnapshot"], json!({"name": job, "time": "2026-11-27T05:01:00Z"}));
    assert!(h.events().iter().any(|e| !e.warning && e.reason == "SnapshotCompleted" && e.note.contains(job)));
}

#[tokio::test]
async fn a_failed_scheduled_job_sets_backup_healthy_false_with_the_node_s_error_and_warns() {
    let h = Harness::new(FakeNodes::default());
    let job = "c-snapshots-29400301";
    h.api.lock().listed.insert(JOBS.into(), vec![snapshot_job(job, "Failed", Some("Job has reached the specified backoff limit"))]);
    h.api.lock().job_pods = vec![job_pod(job, &[("shard-0", "error: no node of c-0:6379 answered")])];
    reconcile(Arc::new(cluster(snapshots_spec(), None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    let status = &calls.iter().find(|c| c.path == format!("{SNAPSHOTS}/{job}/status")).unwrap().body["status"];
    assert_eq!(status["phase"], "Failed");
    assert!(status["message"].as_str().unwrap().contains("no node of c-0:6379 answered"), "{status}");

    let cluster_status = status_of(&calls.iter().filter(|c| c.path.contains("/cacheclusters/")).cloned().collect::<Vec<_>>());
    let backup = condition(&cluster_status, "BackupHealthy");
    assert_eq!((backup["status"].as_str(), backup["reason"].as_str()), (Some("False"), Some("SnapshotFailed")));
    assert!(backup["message"].as_str().unwrap().contains("no node of c-0:6379 answered"));
    // The cluster itself is not less ready for a failed backup.
    assert_eq!(condition(&cluster_status, "Ready")["reason"], "NodesNotReady");
    let events = h.events();
    assert!(events.iter().any(|e| e.warning && e.reason == "SnapshotFailed" && e.note.contains("c-0:6379")), "{events:?}");
}

#[tokio::test]
async fn retention_deletes_the_oldest_scheduled_snapshots_and_never_a_manual_one() {
    let h = Harness::new(FakeNodes::default());
    h.api.lock().listed.insert(
        SNAPSHOTS.into(),
        vec![
            snapshot("c-snapshots-1", "Scheduled", "Completed", "2026-11-24T05:01:00Z"),
            snapshot("c-snapshots-2", "Scheduled", "Completed", "2026-11-25T05:01:00Z"),
            snapshot("c-snapshots-3", "Scheduled", "Completed", "2026-11-26T05:01:00Z"),
            snapshot("before-upgrade", "Manual", "Completed", "2026-11-01T05:01:00Z"),
        ],
    );
    reconcile(Arc::new(cluster(snapshots_spec(), None)), h.ctx.clone()).await.unwrap();
    let deletes: Vec<String> = h.calls().iter().filter(|c| c.method == "DELETE" && c.path.starts_with(SNAPSHOTS)).map(|c| c.path.clone()).collect();
    assert_eq!(deletes, vec![format!("{SNAPSHOTS}/c-snapshots-1")]);
}

#[tokio::test]
async fn a_cluster_restoring_from_a_snapshot_waits_for_it_then_records_where_it_is() {
    let h = Harness::new(FakeNodes::default());
    let spec = json!({"replicasPerShard": 0, "restoreFrom": {"snapshot": "nightly"}});
    let action = reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let calls = h.calls();
    assert!(!lines(&calls).iter().any(|l| l.contains("statefulsets")), "nothing is created before the snapshot is found");
    assert_eq!(condition(&status_of(&calls), "Ready")["reason"], "RestoreSnapshotNotFound");

    let mut snap = snapshot("nightly", "Scheduled", "Running", "2026-11-26T05:01:00Z");
    h.api.lock().objects.insert(format!("{SNAPSHOTS}/nightly"), snap.clone());
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    let ready = condition(&status_of(&h.calls()), "Ready").clone();
    assert_eq!(ready["reason"], "RestoreSnapshotNotReady");
    assert!(ready["message"].as_str().unwrap().contains("Running"));

    snap["status"] = json!({"phase": "Completed", "location": "pvc://old-snapshots"});
    h.api.lock().objects.insert(format!("{SNAPSHOTS}/nightly"), snap);
    reconcile(Arc::new(cluster(spec, None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    let note = calls.iter().find(|c| c.method == "PATCH" && c.path == "/apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c").unwrap();
    assert_eq!(note.body["metadata"]["annotations"]["cachefleet.dev/restore-from"], "pvc://old-snapshots/nightly");
    let sts = calls.iter().find(|c| c.path.ends_with("/statefulsets/c-0")).unwrap();
    let init = &sts.body["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(init["args"][2], "--from=/snapshots/nightly-shard-0");
}

// The CacheSnapshot controller: manual snapshots run as Jobs, and the finalizer deletes
// the files with a Job before the object goes.

use cachefleet_operator::api::CacheSnapshot;
use cachefleet_operator::controller::snapshot_controller;

fn cache_snapshot(value: Value) -> Arc<CacheSnapshot> {
    Arc::new(serde_json::from_value(value).unwrap())
}

#[tokio::test]
async fn a_manual_snapshot_runs_a_job_named_after_it_and_follows_its_phase() {
    let h = Harness::new(FakeNodes::default());
    h.api.lock().objects.insert(
        "/apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c".into(),
        serde_json::to_value(cluster(json!({"replicasPerShard": 1, "auth": {"passwordSecret": {"name": "pw"}}}), None)).unwrap(),
    );
    let mut snap = json!({
        "apiVersion": "cachefleet.dev/v1alpha1", "kind": "CacheSnapshot",
        "metadata": {"name": "before-upgrade", "namespace": "ns", "uid": "5e0c0000-0000-4000-8000-000000000002"},
        "spec": {"cluster": "c"},
    });
    let action = snapshot_controller::reconcile(cache_snapshot(snap.clone()), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let calls = h.calls();
    assert_eq!(
        lines(&calls),
        vec![
            "PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cachesnapshots/before-upgrade",
            "GET /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c",
            "GET /apis/batch/v1/namespaces/ns/jobs/before-upgrade",
            "PATCH /apis/batch/v1/namespaces/ns/jobs/before-upgrade",
            "GET /api/v1/namespaces/ns/pods",
            "PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cachesnapshots/before-upgrade/status",
        ]
    );
    // A user's snapshot gets the files finalizer and the cluster label first.
    assert_eq!(calls[0].body, json!({"metadata": {"finalizers": ["cachefleet.dev/snapshot-files"], "labels": {"cachefleet.dev/cluster": "c"}}}));
    let job = &calls[3].body;
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CacheSnapshot");
    assert_eq!(job["spec"]["template"]["spec"]["containers"][0]["args"][6], "--name=$(JOB_NAME)-shard-0");
    assert_eq!(calls[5].body["status"]["phase"], "Pending");
    assert_eq!(calls[5].body["status"]["location"], "pvc://c-snapshots");

    // The Job completed: the snapshot is Completed, with an event on the cluster.
    let mut done = snapshot_job("before-upgrade", "Complete", None);
    done["metadata"]["labels"]["cachefleet.dev/trigger"] = json!("Manual");
    h.api.lock().objects.insert(format!("{JOBS}/before-upgrade"), done);
    h.api.lock().job_pods = vec![job_pod("before-upgrade", &[("shard-0", &manifest("before-upgrade", 0, 7, 300))])];
    snap["metadata"]["finalizers"] = json!(["cachefleet.dev/snapshot-files"]);
    snap["metadata"]["labels"] = json!({"cachefleet.dev/cluster": "c"});
    snap["status"] = calls[5].body["status"].clone();
    let action = snapshot_controller::reconcile(cache_snapshot(snap), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = h.calls();
    assert!(!lines(&calls).iter().any(|l| l.starts_with("PATCH /apis/batch")), "an existing Job is not re-applied");
    let status = &calls.iter().find(|c| c.path.ends_with("/status")).unwrap().body["status"];
    assert_eq!((status["phase"].as_str(), status["keys"].as_i64()), (Some("Completed"), Some(7)));
    assert!(h.events().iter().any(|e| e.reason == "SnapshotCompleted"));
}

#[tokio::test]
async fn the_finalizer_deletes_the_files_with_a_job_and_goes_once_it_succeeded() {
    let h = Harness::new(FakeNodes::default());
    let snap = json!({
        "apiVersion": "cachefleet.dev/v1alpha1", "kind": "CacheSnapshot",
        "metadata": {"name": "c-snapshots-1", "namespace": "ns", "uid": "5e0c0000-0000-4000-8000-000000000003",
                     "deletionTimestamp": "2026-11-27T06:00:00Z", "finalizers": ["cachefleet.dev/snapshot-files"]},
        "spec": {"cluster": "c", "trigger": "Scheduled"},
        "status": {"phase": "Completed", "location": "s3://backups/prod",
                   "destination": {"s3": {"bucket": "backups", "prefix": "prod", "region": "eu", "credentialsSecret": "s3"}},
                   "shards": [{"index": 0, "source": "a", "location": "s3://backups/prod/c-snapshots-1-shard-0", "sizeBytes": 1, "keys": 1},
                              {"index": 1, "source": "b", "location": "s3://backups/prod/c-snapshots-1-shard-1", "sizeBytes": 1, "keys": 1}]},
    });
    let action = snapshot_controller::reconcile(cache_snapshot(snap.clone()), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let calls = h.calls();
    assert_eq!(
        lines(&calls),
        vec!["GET /apis/batch/v1/namespaces/ns/jobs/c-snapshots-1-delete", "PATCH /apis/batch/v1/namespaces/ns/jobs/c-snapshots-1-delete"]
    );
    let pod = &calls[1].body["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][1]["args"], json!(["snapshot", "delete", "s3://backups/prod", "c-snapshots-1-shard-1", "--s3-region=eu"]));
    assert_eq!(pod["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"], "s3");
    assert_eq!(calls[1].body["metadata"]["ownerReferences"][0]["name"], "c-snapshots-1");

    let mut finished = calls[1].body.clone();
    finished["status"] = json!({"conditions": [{"type": "Complete", "status": "True"}]});
    h.api.lock().objects.insert(format!("{JOBS}/c-snapshots-1-delete"), finished);
    let action = snapshot_controller::reconcile(cache_snapshot(snap), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    let calls = h.calls();
    let release = calls.iter().find(|c| c.method == "PATCH" && c.path == format!("{SNAPSHOTS}/c-snapshots-1")).expect("the finalizer is removed");
    assert_eq!(release.body, json!({"metadata": {"finalizers": []}}));
}

#[tokio::test]
async fn deletion_policy_snapshot_holds_the_cluster_until_its_final_snapshot_completed() {
    let h = Harness::new(FakeNodes::default());
    let spec = json!({"replicasPerShard": 0, "deletionPolicy": "Snapshot"});
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(calls[0].line(), "PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c");
    assert_eq!(calls[0].body, json!({"metadata": {"finalizers": ["cachefleet.dev/final-snapshot"]}}));

    let mut deleting = cluster(spec, None);
    deleting.metadata.finalizers = Some(vec!["cachefleet.dev/final-snapshot".into()]);
    deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    let deleting = Arc::new(deleting);
    let action = reconcile(deleting.clone(), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let calls = h.calls();
    assert_eq!(lines(&calls), vec![format!("GET {SNAPSHOTS}/c-final-0b6a2c1e"), format!("POST {SNAPSHOTS}")]);
    assert_eq!(calls[1].body["spec"], json!({"cluster": "c", "trigger": "Manual"}));
    assert!(calls[1].body["metadata"].get("ownerReferences").is_none(), "the final snapshot outlives the cluster");

    h.api.lock().objects.insert(format!("{SNAPSHOTS}/c-final-0b6a2c1e"), snapshot("c-final-0b6a2c1e", "Manual", "Completed", "2026-11-27T06:01:00Z"));
    assert_eq!(reconcile(deleting, h.ctx.clone()).await.unwrap(), Action::await_change());
    let calls = h.calls();
    assert_eq!(calls.last().unwrap().body, json!({"metadata": {"finalizers": []}}));
    assert!(h.events().iter().any(|e| e.reason == "FinalSnapshotCompleted"));
}

#[tokio::test]
async fn files_on_a_claim_that_is_gone_need_no_delete_job() {
    let h = Harness::new(FakeNodes::default());
    let snap = json!({
        "apiVersion": "cachefleet.dev/v1alpha1", "kind": "CacheSnapshot",
        "metadata": {"name": "c-snapshots-2", "namespace": "ns", "uid": "5e0c0000-0000-4000-8000-000000000004",
                     "deletionTimestamp": "2026-11-27T06:00:00Z", "finalizers": ["cachefleet.dev/snapshot-files"]},
        "spec": {"cluster": "c", "trigger": "Scheduled"},
        "status": {"phase": "Completed", "location": "pvc://c-snapshots",
                   "shards": [{"index": 0, "source": "a", "location": "pvc://c-snapshots/c-snapshots-2-shard-0", "sizeBytes": 1, "keys": 1}]},
    });
    snapshot_controller::reconcile(cache_snapshot(snap), h.ctx.clone()).await.unwrap();
    assert_eq!(lines(&h.calls()), vec!["GET /api/v1/namespaces/ns/persistentvolumeclaims/c-snapshots".to_string(), format!("PATCH {SNAPSHOTS}/c-snapshots-2")]);
}

const STATUS: &str = "PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c/status";

fn info(offset: i64, keys: u64, run_id: &str) -> NodeInfo {
    NodeInfo { replication: Replication { offset, link_up: true, keys, ..Default::default() }, run_id: run_id.into() }
}

/// A shard of three: c-0-0 primary, c-0-1 (offset 100) and c-0-2 (offset 50) replicas of it.
fn three_nodes() -> FakeNodes {
    let nodes = FakeNodes::default();
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 2 });
    for i in [1, 2] {
        nodes.roles.lock().insert(host(i), ReportedRole::Replica { primary_host: host(0), primary_port: 6379, in_sync: true });
    }
    nodes.infos.lock().insert(host(0), info(100, 10, "a"));
    nodes.infos.lock().insert(host(1), info(100, 10, "b"));
    nodes.infos.lock().insert(host(2), info(50, 5, "c"));
    nodes
}

fn three_pods() -> Vec<Value> {
    vec![pod("c-0-0", 0, Some("primary"), true), pod("c-0-1", 0, Some("replica"), true), pod("c-0-2", 0, Some("replica"), true)]
}

fn failover_spec() -> Value {
    json!({"replicasPerShard": 2, "failover": {"detectionSeconds": 3}})
}

fn expected3(extra: &[&str]) -> Vec<String> {
    let apply = APPLY_ONE_SHARD.iter().chain(PRUNE_LISTS.iter()).chain(["GET /api/v1/namespaces/ns/pods"].iter());
    apply.chain(extra.iter()).map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn nothing_happens_while_the_detector_has_not_fired() {
    let h = Harness::new(three_nodes());
    h.api.lock().pods = three_pods();
    let spec = failover_spec();
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    h.calls();
    h.events();
    // The primary stops answering at t=1 s; probes at 1 s, 2 s and 3.9 s stay under 3 s
    // of failures.
    h.nodes.roles.lock().remove(&host(0));
    for at in [1_000, 2_000, 3_999] {
        h.clock.store(at, Ordering::SeqCst);
        let action = reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
        assert_eq!(action, Action::requeue(Duration::from_secs(1)));
        let calls = h.calls();
        assert!(!lines(&calls).iter().any(|l| l.contains("/pods/")), "{:?}", lines(&calls));
        let status = status_of(&calls);
        assert!(status.get("failoversInProgress").is_none() && status.get("lastFailover").is_none(), "{status}");
    }
    assert!(h.nodes.replicaof_calls.lock().is_empty());
    assert!(!h.events().iter().any(|e| e.reason.starts_with("Failover")));
    assert_eq!(h.ctx.metrics.failovers.get(), 0);
}

#[tokio::test]
async fn a_primary_that_stops_answering_is_failed_over_to_the_replica_with_the_most_data() {
    let h = Harness::new(three_nodes());
    h.api.lock().pods = three_pods();
    let spec = failover_spec();
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    h.calls();
    h.events();
    h.nodes.roles.lock().remove(&host(0));
    h.clock.store(1_000, Ordering::SeqCst);
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    h.calls();
    h.events();
    h.clock.store(4_000, Ordering::SeqCst);
    let action = reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));

    let calls = h.calls();
    assert_eq!(lines(&calls), expected3(&[STATUS, "PATCH /api/v1/namespaces/ns/pods/c-0-1", "PATCH /api/v1/namespaces/ns/pods/c-0-0", STATUS,]));
    // The decision is in status before any node is touched.
    let base = expected3(&[]).len();
    let flight = &calls[base].body["status"];
    assert_eq!(flight["epoch"], 1);
    assert_eq!(flight["failoversInProgress"][0]["from"], "c-0-0");
    assert_eq!(flight["failoversInProgress"][0]["to"], "c-0-1");
    assert_eq!(flight["failoversInProgress"][0]["epoch"], 1);
    let label = |i: usize| calls[i].body["metadata"]["labels"]["cachefleet.dev/role"].clone();
    assert_eq!((label(base + 1), label(base + 2)), (json!("primary"), json!("replica")));
    // c-0-2 keeps its replica label: it is only re-pointed.
    assert_eq!(*h.nodes.replicaof_calls.lock(), vec![(host(1), None), (host(2), Some((host(1), 6379)))]);

    let status = &calls[base + 3].body["status"];
    assert_eq!(status["epoch"], 1);
    assert!(status.get("failoversInProgress").is_none(), "{status}");
    let last = &status["lastFailover"];
    assert_eq!((last["shard"].as_i64(), last["from"].as_str(), last["to"].as_str()), (Some(0), Some("c-0-0"), Some("c-0-1")));
    assert_eq!(last["reason"], "primary failed every probe for the detection time");
    // From the first failed probe (t=1 s) to the end (t=4 s).
    assert_eq!(last["durationSeconds"], 3.0);
    assert_eq!(status["shards"][0]["primary"], "c-0-1");

    let events = h.events();
    let reasons: Vec<&str> = events.iter().map(|e| e.reason).collect();
    // Then a Ready-condition change: the re-pointed replica is not in sync yet.
    assert_eq!(reasons, vec!["FailoverStarted", "PrimaryAssigned", "FailoverCompleted", "NotReady"]);
    assert!(events[3].note.starts_with("ReplicasSyncing"), "{events:?}");
    assert!(events[0].warning && events[0].note.contains("promoting c-0-1 in place of c-0-0"), "{events:?}");
    let done = events.iter().find(|e| e.reason == "FailoverCompleted").unwrap();
    assert!(done.note.contains("after 3.0s"), "{}", done.note);
    assert_eq!(h.ctx.metrics.failovers.get(), 1);
    assert_eq!(h.ctx.metrics.failover_duration.get_sample_count(), 1);
    assert!(h.ctx.metrics.render().contains("cachefleet_failover_duration_seconds_bucket{le=\"3\"} 1"));
}

#[tokio::test]
async fn a_returning_old_primary_is_demoted_and_its_clients_disconnected() {
    let nodes = FakeNodes::default();
    // c-0-0 restarted with its data and claims the primary role; c-0-1 holds the label.
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 0 });
    nodes.roles.lock().insert(host(1), ReportedRole::Primary { replicas: 0 });
    nodes.infos.lock().insert(host(0), info(90, 9, "a2"));
    nodes.infos.lock().insert(host(1), info(120, 10, "b"));
    let h = Harness::new(nodes);
    h.api.lock().pods = vec![pod("c-0-0", 0, Some("replica"), true), pod("c-0-1", 0, Some("primary"), true)];
    let status = json!({"epoch": 1, "lastFailover": {"time": "2026-01-01T00:00:00Z", "shard": 0, "from": "c-0-0", "to": "c-0-1", "reason": "r", "epoch": 1, "durationSeconds": 3.5}});
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), Some(status))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(lines(&calls), expected(&[STATUS]));
    assert_eq!(*h.nodes.replicaof_calls.lock(), vec![(host(0), Some((host(1), 6379)))]);
    assert_eq!(*h.nodes.kill_calls.lock(), vec![host(0)]);
    let status = status_of(&calls);
    assert_eq!(status["epoch"], 1);
    assert_eq!(status["lastFailover"]["to"], "c-0-1");
    assert!(!h.events().iter().any(|e| e.reason.starts_with("Failover")));
}

#[tokio::test]
async fn a_failover_recorded_in_status_is_finished_by_a_restarted_operator_without_choosing_again() {
    let nodes = FakeNodes::default();
    // The previous operator process promoted c-0-1 and died before relabelling.
    nodes.roles.lock().insert(host(1), ReportedRole::Primary { replicas: 0 });
    nodes.roles.lock().insert(host(2), ReportedRole::Replica { primary_host: host(0), primary_port: 6379, in_sync: false });
    nodes.infos.lock().insert(host(1), info(100, 10, "b"));
    nodes.infos.lock().insert(host(2), info(100, 10, "c"));
    let h = Harness::new(nodes);
    h.api.lock().pods = three_pods();
    let record = json!({"time": "2026-01-01T00:00:00Z", "shard": 0, "from": "c-0-0", "to": "c-0-1", "reason": "r", "epoch": 4});
    let status = json!({"epoch": 4, "failoversInProgress": [record]});
    reconcile(Arc::new(cluster(failover_spec(), Some(status))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(lines(&calls), expected3(&["PATCH /api/v1/namespaces/ns/pods/c-0-1", "PATCH /api/v1/namespaces/ns/pods/c-0-0", STATUS]));
    let label = |i: usize| calls[i].body["metadata"]["labels"]["cachefleet.dev/role"].clone();
    let base = expected3(&[]).len();
    assert_eq!((label(base), label(base + 1)), (json!("primary"), json!("replica")));
    // c-0-1 already acts as primary: no second REPLICAOF NO ONE, and c-0-2 (as fit as
    // c-0-1) is not promoted in its place.
    assert_eq!(*h.nodes.replicaof_calls.lock(), vec![(host(2), Some((host(1), 6379)))]);
    let status = status_of(&calls);
    assert_eq!(status["epoch"], 4);
    assert!(status.get("failoversInProgress").is_none(), "{status}");
    assert_eq!(status["lastFailover"]["to"], "c-0-1");
    assert!(status["lastFailover"]["durationSeconds"].as_f64().unwrap() > 0.0);
    let reasons: Vec<&str> = h.events().iter().map(|e| e.reason).collect();
    assert!(reasons.contains(&"FailoverCompleted") && !reasons.contains(&"FailoverStarted"), "{reasons:?}");
    assert_eq!(h.ctx.metrics.failovers.get(), 0);
}

#[tokio::test]
async fn with_failover_off_a_dead_primary_is_only_reported() {
    let h = Harness::new(three_nodes());
    h.api.lock().pods = three_pods();
    let spec = json!({"replicasPerShard": 2, "failover": {"enabled": false, "detectionSeconds": 3}});
    h.nodes.roles.lock().remove(&host(0));
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    h.clock.store(60_000, Ordering::SeqCst);
    let action = reconcile(Arc::new(cluster(spec, None)), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    assert!(h.nodes.replicaof_calls.lock().is_empty());
    let status = status_of(&h.calls());
    assert_eq!(condition(&status, "Ready")["reason"], "PrimaryUnreachable");
}

#[tokio::test]
async fn a_primary_pod_that_comes_back_empty_is_replaced_at_once_and_demoted() {
    let h = Harness::new(three_nodes());
    h.api.lock().pods = three_pods();
    let spec = failover_spec();
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    h.calls();
    h.events();
    // The pod was deleted and recreated within a probe period: a new process, no data.
    h.nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 0 });
    h.nodes.infos.lock().insert(host(0), info(0, 0, "a2"));
    h.clock.store(1_000, Ordering::SeqCst);
    reconcile(Arc::new(cluster(spec, None)), h.ctx.clone()).await.unwrap();
    assert_eq!(
        *h.nodes.replicaof_calls.lock(),
        vec![(host(1), None), (host(0), Some((host(1), 6379))), (host(2), Some((host(1), 6379)))],
        "the empty node must never stay the source its replicas copy"
    );
    assert_eq!(*h.nodes.kill_calls.lock(), vec![host(0)]);
    let calls = h.calls();
    let status = &calls.iter().rfind(|c| c.path.ends_with("/status")).unwrap().body["status"];
    assert_eq!(status["lastFailover"]["reason"], "primary came back empty after a restart");
    assert_eq!(status["shards"][0]["primary"], "c-0-1");
}

// Replica scaling, driven by the brain: the StatefulSet's size moves one pod at a time,
// on settled shards only, and never takes the primary's pod.

const STATEFULSETS: &str = "/apis/apps/v1/namespaces/ns/statefulsets";
const RESIZE: &str = "PATCH /apis/apps/v1/namespaces/ns/statefulsets/c-0";

/// The shard's StatefulSet as the API server lists it, at `replicas` pods.
fn stateful_set(replicas: i32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "c-0", "namespace": "ns"},
           "spec": {"replicas": replicas, "selector": {}, "template": {}}})
}

/// The replicas of every PATCH of the shard's StatefulSet, in order.
fn sizes_patched(calls: &[Call]) -> Vec<i64> {
    calls.iter().filter(|c| c.line() == RESIZE).map(|c| c.body["spec"]["replicas"].as_i64().unwrap()).collect()
}

fn replica_of(primary: i32, in_sync: bool) -> ReportedRole {
    ReportedRole::Replica { primary_host: host(primary), primary_port: 6379, in_sync }
}

#[tokio::test]
async fn scaling_up_adds_one_pod_and_reports_ready_only_once_it_is_in_sync() {
    let nodes = FakeNodes::default();
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 1 });
    nodes.roles.lock().insert(host(1), replica_of(0, true));
    nodes.infos.lock().insert(host(0), info(100, 10, "a"));
    nodes.infos.lock().insert(host(1), info(100, 10, "b"));
    let h = Harness::new(nodes);
    h.api.lock().pods = vec![pod("c-0-0", 0, Some("primary"), true), pod("c-0-1", 0, Some("replica"), true)];
    h.api.lock().listed.insert(STATEFULSETS.into(), vec![stateful_set(2)]);
    // replicasPerShard went from 1 to 2.
    let spec = json!({"replicasPerShard": 2});

    let action = reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
    let calls = h.calls();
    assert_eq!(lines(&calls), expected(&[RESIZE, STATUS]));
    // Apply keeps the size; the scaling step adds one pod.
    assert_eq!(sizes_patched(&calls), vec![2, 3]);
    let status = status_of(&calls);
    let ready = condition(&status, "Ready");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("ScalingReplicas")));
    assert!(ready["message"].as_str().unwrap().starts_with("shard 0: 2 of 3 pods, resizing to 3"), "{ready}");
    assert_eq!(condition(&status, "Progressing")["reason"], "ScalingReplicas");
    assert_eq!(condition(&status, "Degraded")["status"], "False");
    let events = h.events();
    assert!(events.iter().any(|e| e.reason == "ScalingReplicas" && e.note == "shard 0: 2 -> 3 pods, adding c-0-2"), "{events:?}");

    // The new pod starts empty and standalone: it is pointed at the primary, nothing resized.
    h.api.lock().listed.insert(STATEFULSETS.into(), vec![stateful_set(3)]);
    h.api.lock().pods.push(pod("c-0-2", 0, None, false));
    h.nodes.roles.lock().insert(host(2), ReportedRole::Primary { replicas: 0 });
    reconcile(Arc::new(cluster(spec.clone(), Some(status))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(lines(&calls), expected(&["PATCH /api/v1/namespaces/ns/pods/c-0-2", STATUS]));
    assert_eq!(sizes_patched(&calls), vec![3]);
    assert_eq!(h.nodes.replicaof_calls.lock().last(), Some(&(host(2), Some((host(0), 6379)))));
    let status = status_of(&calls);
    assert_eq!(condition(&status, "Ready")["reason"], "ScalingReplicas");
    h.events();

    // Link up but still loading the copy: not in sync, not ready.
    h.api.lock().pods = vec![pod("c-0-0", 0, Some("primary"), true), pod("c-0-1", 0, Some("replica"), true), pod("c-0-2", 0, Some("replica"), false)];
    h.nodes.roles.lock().insert(host(2), replica_of(0, true));
    let mut loading = info(40, 4, "c");
    loading.replication.loading = true;
    h.nodes.infos.lock().insert(host(2), loading);
    reconcile(Arc::new(cluster(spec.clone(), Some(status.clone()))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(sizes_patched(&calls), vec![3]);
    let status = calls.iter().rfind(|c| c.path.ends_with("/status")).map_or(status, |c| c.body["status"].clone());
    let ready = condition(&status, "Ready");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("ScalingReplicas")));
    assert!(h.events().iter().all(|e| e.reason != "ScaledReplicas"));

    // In sync and Ready: the cluster is Ready and the scaling is reported done.
    h.nodes.infos.lock().insert(host(2), info(100, 10, "c"));
    h.api.lock().pods[2] = pod("c-0-2", 0, Some("replica"), true);
    reconcile(Arc::new(cluster(spec, Some(status))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(sizes_patched(&calls), vec![3]);
    let status = status_of(&calls);
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(status["readyNodes"], "3/3");
    let reasons: Vec<&str> = h.events().iter().map(|e| e.reason).collect();
    assert!(reasons.contains(&"ScaledReplicas") && reasons.contains(&"ClusterReady"), "{reasons:?}");
}

#[tokio::test]
async fn scaling_down_with_the_primary_on_the_top_ordinal_switches_over_first_then_shrinks() {
    let nodes = FakeNodes::default();
    nodes.roles.lock().insert(host(2), ReportedRole::Primary { replicas: 2 });
    nodes.roles.lock().insert(host(0), replica_of(2, true));
    nodes.roles.lock().insert(host(1), replica_of(2, true));
    nodes.infos.lock().insert(host(0), info(100, 10, "a"));
    nodes.infos.lock().insert(host(1), info(90, 10, "b"));
    nodes.infos.lock().insert(host(2), info(100, 10, "c"));
    let h = Harness::new(nodes);
    h.api.lock().pods = vec![pod("c-0-0", 0, Some("replica"), true), pod("c-0-1", 0, Some("replica"), true), pod("c-0-2", 0, Some("primary"), true)];
    h.api.lock().listed.insert(STATEFULSETS.into(), vec![stateful_set(3)]);
    // replicasPerShard went from 2 to 1: pod c-0-2, the primary, is the one to go.
    let spec = json!({"replicasPerShard": 1});

    reconcile(Arc::new(cluster(spec.clone(), Some(json!({"epoch": 3})))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(lines(&calls), expected(&[STATUS, "PATCH /api/v1/namespaces/ns/pods/c-0-0", "PATCH /api/v1/namespaces/ns/pods/c-0-2", STATUS]));
    assert_eq!(sizes_patched(&calls), vec![3], "nothing shrinks before the role moved");
    // The staying replica with the most data takes over, by FAILOVER TO, not REPLICAOF NO ONE.
    assert_eq!(*h.nodes.failover_calls.lock(), vec![(host(2), host(0))]);
    assert!(h.nodes.replicaof_calls.lock().is_empty());
    assert_eq!(*h.nodes.kill_calls.lock(), vec![host(2)]);
    let base = expected(&[]).len();
    let flight = &calls[base].body["status"];
    assert_eq!(flight["epoch"], 4);
    assert_eq!(flight["failoversInProgress"][0]["reason"], "planned switchover before scaling down");
    let label = |i: usize| calls[i].body["metadata"]["labels"]["cachefleet.dev/role"].clone();
    assert_eq!((label(base + 1), label(base + 2)), (json!("primary"), json!("replica")));
    let status = &calls[base + 3].body["status"];
    assert!(status.get("failoversInProgress").is_none(), "{status}");
    assert_eq!(status["epoch"], 4);
    assert_eq!((status["lastFailover"]["from"].as_str(), status["lastFailover"]["to"].as_str()), (Some("c-0-2"), Some("c-0-0")));
    assert_eq!(status["shards"][0]["primary"], "c-0-0");
    assert_eq!(condition(status, "Ready")["reason"], "ScalingReplicas");
    let reasons: Vec<&str> = h.events().iter().map(|e| e.reason).collect();
    assert!(reasons.contains(&"ScalingReplicas") && reasons.contains(&"PrimaryAssigned"), "{reasons:?}");
    let status = status.clone();

    // Next pass: c-0-1 still follows the old primary; it is re-pointed, nothing shrinks yet.
    h.api.lock().pods = vec![pod("c-0-0", 0, Some("primary"), true), pod("c-0-1", 0, Some("replica"), true), pod("c-0-2", 0, Some("replica"), true)];
    reconcile(Arc::new(cluster(spec.clone(), Some(status.clone()))), h.ctx.clone()).await.unwrap();
    assert_eq!(sizes_patched(&h.calls()), vec![3]);
    assert_eq!(*h.nodes.replicaof_calls.lock(), vec![(host(1), Some((host(0), 6379)))]);

    // Settled behind the new primary: the top pod (a replica now) goes.
    h.nodes.roles.lock().insert(host(1), replica_of(0, true));
    reconcile(Arc::new(cluster(spec, Some(status))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(sizes_patched(&calls), vec![3, 2]);
    assert_eq!(h.nodes.failover_calls.lock().len(), 1);
    assert!(h.events().iter().any(|e| e.reason == "ScalingReplicas" && e.note == "shard 0: 3 -> 2 pods, removing c-0-2"));
}

#[tokio::test]
async fn no_pod_is_removed_while_a_failover_is_in_flight() {
    let h = Harness::new(three_nodes());
    h.api.lock().pods = three_pods();
    h.api.lock().listed.insert(STATEFULSETS.into(), vec![stateful_set(3)]);
    // Asked to shrink to 2 pods while the primary has just stopped answering.
    let spec = json!({"replicasPerShard": 1, "failover": {"detectionSeconds": 3}});
    h.nodes.roles.lock().remove(&host(0));
    let mut status = None;
    for at in [0, 1_000, 4_000] {
        h.clock.store(at, Ordering::SeqCst);
        reconcile(Arc::new(cluster(spec.clone(), status.clone())), h.ctx.clone()).await.unwrap();
        let calls = h.calls();
        assert_eq!(sizes_patched(&calls), vec![3], "at {at} ms");
        status = calls.iter().rfind(|c| c.path.ends_with("/status")).map(|c| c.body["status"].clone()).or(status);
    }
    // The failover itself went ahead.
    assert_eq!(h.nodes.replicaof_calls.lock().first(), Some(&(host(1), None)));
    assert_eq!(status.unwrap()["lastFailover"]["to"], "c-0-1");
    assert!(h.events().iter().all(|e| e.reason != "ScalingReplicas"));
}

// Zones: a pod's zone is its Kubernetes node's topology.kubernetes.io/zone label.

fn on_node(mut pod: Value, node: &str) -> Value {
    pod["spec"] = json!({"nodeName": node, "containers": []});
    pod
}

fn node_in_zone(name: &str, zone: &str) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
           "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}}})
}

#[tokio::test]
async fn a_failover_tie_goes_to_the_replica_in_another_zone() {
    let h = Harness::new(three_nodes());
    // c-0-1 and c-0-2 hold the same data; c-0-1 shares the primary's zone.
    h.nodes.infos.lock().insert(host(2), info(100, 10, "c"));
    let pods = three_pods();
    h.api.lock().pods = vec![on_node(pods[0].clone(), "n-a1"), on_node(pods[1].clone(), "n-a2"), on_node(pods[2].clone(), "n-b1")];
    for (node, zone) in [("n-a1", "zone-a"), ("n-a2", "zone-a"), ("n-b1", "zone-b")] {
        h.api.lock().objects.insert(format!("/api/v1/nodes/{node}"), node_in_zone(node, zone));
    }
    let spec = failover_spec();
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    let read: Vec<String> = lines(&calls).into_iter().filter(|l| l.contains("/nodes/")).collect();
    assert_eq!(read, vec!["GET /api/v1/nodes/n-a1", "GET /api/v1/nodes/n-a2", "GET /api/v1/nodes/n-b1"]);
    let zones: Vec<Value> = status_of(&calls)["shards"][0]["nodes"].as_array().unwrap().iter().map(|n| n["zone"].clone()).collect();
    assert_eq!(zones, vec![json!("zone-a"), json!("zone-a"), json!("zone-b")]);

    h.nodes.roles.lock().remove(&host(0));
    for at in [1_000, 4_000] {
        h.clock.store(at, Ordering::SeqCst);
        reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    }
    // Zones are remembered: nodes are not read again on every pass.
    assert!(!lines(&h.calls()).iter().any(|l| l.contains("/nodes/")));
    assert_eq!(h.nodes.replicaof_calls.lock().first(), Some(&(host(2), None)), "the tie goes out of the failed primary's zone");
}

#[tokio::test]
async fn a_node_without_a_zone_or_unreadable_leaves_the_zone_unknown() {
    let h = Harness::new(three_nodes());
    let pods = three_pods();
    h.api.lock().pods = vec![on_node(pods[0].clone(), "n-a1"), pods[1].clone(), pods[2].clone()];
    h.api.lock().fail = Some("GET /api/v1/nodes/".into());
    reconcile(Arc::new(cluster(failover_spec(), None)), h.ctx.clone()).await.unwrap();
    let status = status_of(&h.calls());
    assert!(status["shards"][0]["nodes"][0].get("zone").is_none(), "{status}");
    assert_eq!(condition(&status, "Ready")["status"], "True");
}

// The prober: a task per cluster probes on the short period and asks for a pass only
// when its failure detector fires; the passes themselves go back to the slow requeue.

#[tokio::test]
async fn a_prober_triggers_a_pass_as_soon_as_the_primary_is_detected_failed() {
    let (h, mut triggered) = Harness::with_probers(three_nodes());
    h.api.lock().pods = three_pods();
    let spec = json!({"replicasPerShard": 2, "failover": {"detectionSeconds": 1}});
    let action = reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    // Ready, and the prober watches the nodes: the slow requeue.
    assert_eq!(action, Action::requeue(Duration::from_secs(60)));
    let probers = h.ctx.probers.as_ref().unwrap();
    assert_eq!(probers.keys(), vec!["ns/c".to_string()]);
    h.calls();

    h.nodes.roles.lock().remove(&host(0));
    let lost = std::time::Instant::now();
    let asked =
        tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut triggered)).await.expect("no pass asked for before the slow requeue");
    let after = lost.elapsed();
    assert_eq!(asked, Some(ObjectRef::new("c").within("ns")));
    assert_eq!(h.ctx.metrics.prober_triggers.get(), 1);
    // Not before the detection time, and long before the 60 s requeue: within the
    // detection time plus a probe period or two (and some slack for a loaded machine).
    assert!(after >= Duration::from_millis(900) && after < Duration::from_secs(5), "{after:?}");
    // Between passes the prober only probes nodes: no API call.
    assert!(h.calls().is_empty());

    // The pass it asked for fails over at once.
    let action = reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    assert_eq!(h.nodes.replicaof_calls.lock().first(), Some(&(host(1), None)));
    assert_eq!(action, Action::requeue(Duration::from_secs(10)), "not Ready yet: the re-pointed replica syncs");

    // Failover turned off: the prober stops.
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 2, "failover": {"enabled": false}}), None)), h.ctx.clone()).await.unwrap();
    assert!(probers.keys().is_empty());
}

#[tokio::test]
async fn zones_come_from_the_label_zone_spread_names() {
    let h = Harness::new(three_nodes());
    let pods = three_pods();
    h.api.lock().pods = vec![on_node(pods[0].clone(), "n1"), pods[1].clone(), pods[2].clone()];
    let node = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                      "metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "zone-a", "example.com/rack": "rack-7"}}});
    h.api.lock().objects.insert("/api/v1/nodes/n1".into(), node);
    let spec = json!({"replicasPerShard": 2, "zoneSpread": {"topologyKey": "example.com/rack"}});
    reconcile(Arc::new(cluster(spec, None)), h.ctx.clone()).await.unwrap();
    let status = status_of(&h.calls());
    assert_eq!(status["shards"][0]["nodes"][0]["zone"], "rack-7");
}

#[tokio::test]
async fn a_prober_triggers_a_pass_when_the_primary_restarts_and_the_pass_hands_its_role_over() {
    let (h, mut triggered) = Harness::with_probers(three_nodes());
    h.api.lock().pods = three_pods();
    let spec = json!({"replicasPerShard": 2, "failover": {"detectionSeconds": 3}});
    reconcile(Arc::new(cluster(spec.clone(), None)), h.ctx.clone()).await.unwrap();
    // Wait (bounded) for the prober's first round to have read the primary's run id.
    let seen_before = h.nodes.info_calls.lock().iter().filter(|h| **h == host(0)).count();
    tokio::time::timeout(Duration::from_secs(5), async {
        while h.nodes.info_calls.lock().iter().filter(|h| **h == host(0)).count() == seen_before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the prober never asked the primary its INFO");

    // The primary's process restarts without its data, well within a detection time.
    h.nodes.infos.lock().insert(host(0), info(0, 0, "a2"));
    let asked = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut triggered)).await.expect("no pass asked for");
    assert_eq!(asked, Some(ObjectRef::new("c").within("ns")));
    reconcile(Arc::new(cluster(spec, None)), h.ctx.clone()).await.unwrap();
    assert_eq!(h.nodes.replicaof_calls.lock().first(), Some(&(host(1), None)), "the replica holding the data takes over");
    let status = h.calls().iter().rfind(|c| c.path.ends_with("/status")).map(|c| c.body["status"].clone()).unwrap();
    assert_eq!(status["lastFailover"]["reason"], "primary came back empty after a restart");
}

// ---------------------------------------------------------------------------- rolling changes

const STS_PATH: &str = "/apis/apps/v1/namespaces/ns/statefulsets/c-0";
const STATUS_PATH: &str = "PATCH /apis/cachefleet.dev/v1alpha1/namespaces/ns/cacheclusters/c/status";

/// A pod of shard 0 made from StatefulSet revision `revision`.
fn pod_at(ordinal: i32, role: Option<&str>, revision: &str) -> Value {
    let mut p = pod(&format!("c-0-{ordinal}"), 0, role, true);
    p["metadata"]["labels"]["controller-revision-hash"] = json!(revision);
    p
}

/// The StatefulSet's controller has seen the latest template and wants `revision`.
fn statefulset_wants(h: &Harness, revision: &str) {
    h.api.lock().server_side.insert(
        STS_PATH.into(),
        json!({"metadata": {"generation": 2}, "status": {"replicas": 3, "observedGeneration": 2, "updateRevision": revision, "currentRevision": "c-0-old"}}),
    );
}

fn in_sync_with(primary: i32) -> ReportedRole {
    ReportedRole::Replica { primary_host: host(primary), primary_port: 6379, in_sync: true }
}

/// The disruptive actions of a pass, in order: pod evictions (API) and FAILOVERs (nodes).
fn disruptions(h: &Harness, calls: &[Call]) -> Vec<String> {
    let mut out: Vec<String> =
        calls.iter().filter(|c| c.path.ends_with("/eviction")).map(|c| format!("evict {}", c.path.split('/').nth_back(1).unwrap())).collect();
    out.extend(std::mem::take(&mut *h.nodes.failover_calls.lock()).into_iter().map(|(from, to)| format!("FAILOVER {from} TO {to}")));
    out
}

#[tokio::test]
async fn a_roll_of_one_shard_restarts_the_replicas_one_by_one_then_switches_over_then_restarts_the_old_primary() {
    let nodes = FakeNodes::default();
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 2 });
    nodes.roles.lock().insert(host(1), in_sync_with(0));
    nodes.roles.lock().insert(host(2), in_sync_with(0));
    for (o, id) in [(0, "a"), (1, "b"), (2, "c")] {
        nodes.infos.lock().insert(host(o), info(100, 10, id));
    }
    let h = Harness::new(nodes);
    statefulset_wants(&h, "c-0-new");
    h.api.lock().pods = vec![pod_at(0, Some("primary"), "c-0-old"), pod_at(1, Some("replica"), "c-0-old"), pod_at(2, Some("replica"), "c-0-old")];
    let spec = json!({"replicasPerShard": 2});
    let mut status: Option<Value> = None;
    // One pass: returns what it disrupted, and keeps the status it wrote for the next.
    let pass = |status: Option<Value>| {
        let h = &h;
        let spec = spec.clone();
        async move {
            reconcile(Arc::new(cluster(spec, status.clone())), h.ctx.clone()).await.unwrap();
            let calls = h.calls();
            let written = calls.iter().rev().find(|c| c.line() == STATUS_PATH).map(|c| c.body["status"].clone()).or(status);
            (disruptions(h, &calls), calls, written)
        }
    };

    // 1. The replica with the lowest ordinal goes first.
    let (done, calls, s) = pass(status).await;
    status = s;
    assert_eq!(done, ["evict c-0-1"]);
    let eviction = calls.iter().find(|c| c.path.ends_with("/eviction")).unwrap();
    assert_eq!(eviction.body["kind"], "Eviction", "evicted through the eviction API, so the PodDisruptionBudget applies");
    let rollout = &status.as_ref().unwrap()["rollout"];
    assert_eq!((rollout["shard"].as_i64(), rollout["updatedNodes"].as_str()), (Some(0), Some("0/3")));
    assert_eq!(condition(status.as_ref().unwrap(), "Progressing")["reason"], "RollingUpdate");
    assert!(h.events().iter().any(|e| e.reason == "RollingUpdate" && e.note.contains("c-0-1")));

    // 2. While it is being recreated nothing else moves.
    h.api.lock().pods.remove(1);
    h.nodes.roles.lock().remove(&host(1));
    let (done, _, s) = pass(status).await;
    status = s;
    assert_eq!(done, Vec::<String>::new());
    assert!(status.as_ref().unwrap()["rollout"]["message"].as_str().unwrap().contains("c-0-1 to be created"), "{status:?}");

    // 3. Back on the new revision, empty: the brain re-attaches it; the roll waits.
    h.api.lock().pods.insert(1, pod_at(1, None, "c-0-new"));
    h.nodes.roles.lock().insert(host(1), ReportedRole::Primary { replicas: 0 });
    h.nodes.infos.lock().insert(host(1), info(0, 0, "b2"));
    let (done, _, s) = pass(status).await;
    status = s;
    assert_eq!(done, Vec::<String>::new());
    assert_eq!(h.nodes.replicaof_calls.lock().drain(..).collect::<Vec<_>>(), vec![(host(1), Some((host(0), 6379)))]);

    // 4. Still syncing: it waits.
    h.api.lock().pods[1] = pod_at(1, Some("replica"), "c-0-new");
    h.nodes.roles.lock().insert(host(1), ReportedRole::Replica { primary_host: host(0), primary_port: 6379, in_sync: false });
    let (done, _, s) = pass(status).await;
    status = s;
    assert_eq!(done, Vec::<String>::new());

    // 5. In sync: the next replica.
    h.nodes.roles.lock().insert(host(1), in_sync_with(0));
    h.nodes.infos.lock().insert(host(1), info(100, 10, "b2"));
    let (done, _, s) = pass(status).await;
    status = s;
    assert_eq!(done, ["evict c-0-2"]);

    // 6. Both replicas updated and in sync: the primary hands over to a caught-up updated
    //    replica, and the labels follow in the same pass (new primary first).
    h.api.lock().pods[2] = pod_at(2, Some("replica"), "c-0-new");
    h.nodes.infos.lock().insert(host(2), info(100, 10, "c2"));
    let (done, calls, s) = pass(status).await;
    status = s;
    assert_eq!(done, [format!("FAILOVER {} TO {}", host(0), host(1))]);
    let after_apply: Vec<String> = lines(&calls).into_iter().skip(expected(&[]).len()).collect();
    assert_eq!(
        after_apply,
        [STATUS_PATH, "PATCH /api/v1/namespaces/ns/pods/c-0-1", "PATCH /api/v1/namespaces/ns/pods/c-0-0", STATUS_PATH],
        "the switchover is recorded in status before FAILOVER, then the labels move"
    );
    let flight = &calls.iter().find(|c| c.line() == STATUS_PATH).unwrap().body["status"];
    assert_eq!(flight["rollout"]["switchover"]["to"], "c-0-1");
    let label = |c: &Call| c.body["metadata"]["labels"]["cachefleet.dev/role"].clone();
    let relabels: Vec<Value> = calls.iter().filter(|c| c.path.contains("/pods/c-0-")).map(label).collect();
    assert_eq!(relabels, [json!("primary"), json!("replica")]);
    assert_eq!(*h.nodes.kill_calls.lock(), vec![host(0)], "the old primary's clients reconnect through the writer Service");
    let written = status.as_ref().unwrap();
    assert_eq!(written["epoch"], 1);
    assert!(written["rollout"].get("switchover").is_none(), "{written}");
    assert_eq!(written["shards"][0]["primary"], "c-0-1");
    assert!(h.events().iter().any(|e| e.reason == "SwitchedOver" && e.note.contains("c-0-1 is primary in place of c-0-0")));

    // 7. The old primary, a replica now, goes last.
    {
        let mut api = h.api.lock();
        api.pods[0] = pod_at(0, Some("replica"), "c-0-old");
        api.pods[1] = pod_at(1, Some("primary"), "c-0-new");
    }
    h.nodes.roles.lock().insert(host(2), in_sync_with(1));
    let (done, _, s) = pass(status).await;
    status = s;
    assert_eq!(done, ["evict c-0-0"]);

    // 8. Everything on the new revision: the rollout is over.
    h.api.lock().pods[0] = pod_at(0, Some("replica"), "c-0-new");
    let (done, _, s) = pass(status).await;
    let status = s.unwrap();
    assert_eq!(done, Vec::<String>::new());
    assert!(status.get("rollout").is_none(), "{status}");
    assert_eq!(condition(&status, "Progressing")["status"], "False");
    assert!(h.events().iter().any(|e| e.reason == "RollingUpdateCompleted"));
    assert!(h.nodes.config_set_calls.lock().is_empty(), "no live setting changed");
}

#[tokio::test]
async fn a_live_only_setting_is_sent_to_every_node_with_config_set_and_restarts_no_pod() {
    let nodes = FakeNodes::default();
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 2 });
    nodes.roles.lock().insert(host(1), in_sync_with(0));
    nodes.roles.lock().insert(host(2), in_sync_with(0));
    let h = Harness::new(nodes);
    statefulset_wants(&h, "c-0-1");
    h.api.lock().pods = vec![pod_at(0, Some("primary"), "c-0-1"), pod_at(1, Some("replica"), "c-0-1"), pod_at(2, Some("replica"), "c-0-1")];
    let template_hash = |calls: &[Call]| {
        let sts = calls.iter().find(|c| c.path == STS_PATH).unwrap();
        sts.body["spec"]["template"]["metadata"]["annotations"]["cachefleet.dev/config-hash"].clone()
    };

    // The first pass records the settings the pods started with.
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 2}), None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    let before = status_of(&calls);
    let recorded = before["appliedSettingsHash"].clone();
    assert!(recorded.is_string(), "{before}");
    assert!(h.nodes.config_set_calls.lock().is_empty(), "the pods started with these settings");
    let old_template = template_hash(&calls);
    h.events();

    // timeout is mutable in cache-node: CONFIG SET to all three nodes, no pod restarted.
    let changed = json!({"replicasPerShard": 2, "parameters": {"timeout": "300"}});
    reconcile(Arc::new(cluster(changed.clone(), Some(before))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert_eq!(template_hash(&calls), old_template, "a live-only change must not change the pod template");
    assert!(!calls.iter().any(|c| c.path.ends_with("/eviction") || c.method == "DELETE"), "{:?}", lines(&calls));
    let config_map = calls.iter().find(|c| c.path.ends_with("/configmaps/c-config")).unwrap();
    assert!(config_map.body["data"]["node.conf"].as_str().unwrap().contains("timeout 300"), "the file still changes, for pods started later");
    let mut sent: Vec<String> = h.nodes.config_set_calls.lock().iter().map(|(host, _)| host.clone()).collect();
    sent.sort();
    assert_eq!(sent, [host(0), host(1), host(2)]);
    for (host, pairs) in h.nodes.config_set_calls.lock().iter() {
        assert!(pairs.contains(&("timeout".to_string(), "300".to_string())), "{host}: {pairs:?}");
        assert!(!pairs.iter().any(|(n, _)| ["port", "bind", "threads", "maxmemory"].contains(&n.as_str())), "{host}: only live settings: {pairs:?}");
    }
    let after = status_of(&calls);
    assert_ne!(after["appliedSettingsHash"], recorded);
    assert!(after.get("rollout").is_none(), "{after}");
    assert!(h.events().iter().any(|e| e.reason == "SettingsApplied"));

    // Applied once: the next pass sends nothing.
    h.nodes.config_set_calls.lock().clear();
    reconcile(Arc::new(cluster(changed, Some(after))), h.ctx.clone()).await.unwrap();
    assert!(h.nodes.config_set_calls.lock().is_empty());
}

#[tokio::test]
async fn a_switchover_recorded_before_a_restart_is_finished_not_undone() {
    let nodes = FakeNodes::default();
    // FAILOVER went through; the operator died before moving the labels.
    nodes.roles.lock().insert(host(0), in_sync_with(1));
    nodes.roles.lock().insert(host(1), ReportedRole::Primary { replicas: 1 });
    nodes.infos.lock().insert(host(0), info(100, 10, "a"));
    nodes.infos.lock().insert(host(1), info(100, 10, "b"));
    let h = Harness::new(nodes);
    statefulset_wants(&h, "c-0-new");
    h.api.lock().pods = vec![pod_at(0, Some("primary"), "c-0-old"), pod_at(1, Some("replica"), "c-0-new")];
    let status = json!({
        "epoch": 4,
        "rollout": {"startedAt": "2026-01-01T00:00:00Z", "shard": 0, "updatedNodes": "1/2", "message": "switching",
                    "switchover": {"time": "2099-01-01T00:00:00Z", "shard": 0, "from": "c-0-0", "to": "c-0-1", "epoch": 5}},
    });
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), Some(status))), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert!(h.nodes.replicaof_calls.lock().is_empty(), "the old primary is not promoted back");
    let relabels: Vec<(String, Value)> = calls
        .iter()
        .filter(|c| c.path.contains("/pods/c-0-"))
        .map(|c| (c.path.rsplit('/').next().unwrap().to_string(), c.body["metadata"]["labels"]["cachefleet.dev/role"].clone()))
        .collect();
    assert_eq!(relabels, [("c-0-1".to_string(), json!("primary")), ("c-0-0".to_string(), json!("replica"))]);
    assert!(!calls.iter().any(|c| c.path.ends_with("/eviction")), "one step per pass");
    let written = status_of(&calls);
    assert_eq!(written["epoch"], 5);
    assert!(written["rollout"].get("switchover").is_none(), "{written}");
    assert_eq!(*h.nodes.kill_calls.lock(), vec![host(0)]);
    assert!(h.events().iter().any(|e| e.reason == "SwitchedOver"));
}

#[tokio::test]
async fn an_eviction_the_disruption_budget_refuses_is_retried_later_not_an_error() {
    let nodes = FakeNodes::default();
    nodes.roles.lock().insert(host(0), ReportedRole::Primary { replicas: 1 });
    nodes.roles.lock().insert(host(1), in_sync_with(0));
    let h = Harness::new(nodes);
    statefulset_wants(&h, "c-0-new");
    h.api.lock().pods = vec![pod_at(0, Some("primary"), "c-0-old"), pod_at(1, Some("replica"), "c-0-old")];
    h.api.lock().refuse = Some(("POST /api/v1/namespaces/ns/pods/c-0-1/eviction".into(), 429));
    reconcile(Arc::new(cluster(json!({"replicasPerShard": 1}), None)), h.ctx.clone()).await.unwrap();
    let calls = h.calls();
    assert!(calls.iter().any(|c| c.path.ends_with("/pods/c-0-1/eviction")));
    let status = status_of(&calls);
    let message = status["rollout"]["message"].as_str().unwrap();
    assert!(message.contains("c-0-1 may not be restarted yet") && message.contains("disruption budget"), "{message}");
    assert!(!h.events().iter().any(|e| e.reason == "RollingUpdate"), "nothing was restarted");
}
