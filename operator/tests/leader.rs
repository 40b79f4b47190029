//! Leader election's API calls against a scripted API server (tower-test): the Lease is
//! created when missing, left alone while another holder's lease is valid, taken over
//! with the resourceVersion read when it expired, and a 409 on that write means another
//! candidate won the round.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cachefleet_operator::leader::{LeaderConfig, try_once};
use http::{Request, Response, StatusCode};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::client::Body;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

type Script = Vec<(&'static str, StatusCode, Value)>;
/// `METHOD path` and body of each request seen.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// Answers requests in order from `script` (method prefix, status, body) and records
/// `METHOD path` and the body of each.
fn scripted(script: Script) -> (kube::Client, Seen) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        for (method, status, reply) in script {
            let Some((request, send)) = handle.next_request().await else { return };
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            assert_eq!(parts.method.as_str(), method, "unexpected {} {}", parts.method, parts.uri);
            record.lock().unwrap().push((format!("{} {}", parts.method, parts.uri.path()), serde_json::from_slice(&bytes).unwrap_or(Value::Null)));
            send.send_response(Response::builder().status(status).body(Body::from(serde_json::to_vec(&reply).unwrap())).unwrap());
        }
    });
    (kube::Client::new(service, "ops"), seen)
}

fn cfg() -> LeaderConfig {
    LeaderConfig::new("cachefleet-operator".into(), "ops".into(), "me".into())
}

fn lease(holder: &str, renewed: Timestamp) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "cachefleet-operator", "namespace": "ops", "resourceVersion": "41"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(), "leaseTransitions": 2},
    })
}

fn not_found() -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404})
}

#[tokio::test]
async fn a_missing_lease_is_created_with_us_as_holder() {
    let created = lease("me", Timestamp::now());
    let (client, seen) = scripted(vec![("GET", StatusCode::NOT_FOUND, not_found()), ("POST", StatusCode::CREATED, created)]);
    assert!(try_once(&Api::<Lease>::namespaced(client, "ops"), &cfg()).await.unwrap());
    let seen = seen.lock().unwrap();
    assert_eq!(seen[1].0, "POST /apis/coordination.k8s.io/v1/namespaces/ops/leases");
    assert_eq!(seen[1].1["spec"]["holderIdentity"], "me");
}

#[tokio::test]
async fn a_valid_lease_of_another_replica_is_not_written() {
    let (client, seen) = scripted(vec![("GET", StatusCode::OK, lease("other", Timestamp::now()))]);
    assert!(!try_once(&Api::<Lease>::namespaced(client, "ops"), &cfg()).await.unwrap());
    assert_eq!(seen.lock().unwrap().len(), 1, "no write while another holder's lease is valid");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_with_the_version_read_and_a_conflict_loses() {
    let old = Timestamp::now().checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(60)).unwrap();
    let conflict = json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "reason": "Conflict", "code": 409});
    let (client, seen) = scripted(vec![("GET", StatusCode::OK, lease("other", old)), ("PUT", StatusCode::CONFLICT, conflict)]);
    assert!(!try_once(&Api::<Lease>::namespaced(client, "ops"), &cfg()).await.unwrap());
    let seen = seen.lock().unwrap();
    assert_eq!(seen[1].0, "PUT /apis/coordination.k8s.io/v1/namespaces/ops/leases/cachefleet-operator");
    // Optimistic concurrency: the write carries the version it read.
    assert_eq!(seen[1].1["metadata"]["resourceVersion"], "41");
    assert_eq!(seen[1].1["spec"]["holderIdentity"], "me");
    assert_eq!(seen[1].1["spec"]["leaseTransitions"], 3);
}
