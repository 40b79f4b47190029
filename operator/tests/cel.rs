//! The CEL rules of the CRDs (x-kubernetes-validations), evaluated locally as the API
//! server would at apply time: for each rule, a spec it accepts and one it refuses with
//! its message. Transition rules (those reading oldSelf) go through validate_cel_update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cache_node::config::params::{self, Kind, PARAMS};
use cachefleet_operator::api::{CacheCluster, CacheSnapshot, CacheUser, allowed_parameters, check_parameters};
use cachefleet_operator::crdgen;
use kube::core::cel::{CompiledSchema, ErrorKind, ValidationErrors, Validator, compile_schema, validate_cel, validate_cel_update};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn object<T: serde::de::DeserializeOwned>(kind: &str, spec: Value) -> T {
    let value = json!({
        "apiVersion": "cachefleet.dev/v1alpha1",
        "kind": kind,
        "metadata": { "name": "sessions", "namespace": "prod" },
        "spec": spec,
    });
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{kind} does not deserialize: {e}"))
}

/// A CacheCluster spec exactly as written (through no Rust type, which would drop an
/// empty list), with the schema's defaults applied as the API server does.
fn cluster_as_written(spec: Value) -> Result<(), ValidationErrors> {
    let object = json!({
        "apiVersion": "cachefleet.dev/v1alpha1",
        "kind": "CacheCluster",
        "metadata": { "name": "sessions", "namespace": "prod" },
        "spec": spec,
    });
    let (_, schema) = schemas().into_iter().find(|(name, _)| name == "cacheclusters.cachefleet.dev").unwrap();
    Validator::new().validate(&schema, &object, None)
}

fn cluster(spec: Value) -> CacheCluster {
    object("CacheCluster", spec)
}

fn user(spec: Value) -> CacheUser {
    object("CacheUser", spec)
}

fn snapshot(spec: Value) -> CacheSnapshot {
    object("CacheSnapshot", spec)
}

#[track_caller]
fn accepted(result: Result<(), ValidationErrors>) {
    if let Err(errors) = result {
        panic!("refused: {errors:#?}");
    }
}

/// Refused by exactly one rule, which evaluated to false (not an evaluation error), with
/// this message.
#[track_caller]
fn refused(result: Result<(), ValidationErrors>, message: &str) {
    let errors = result.expect_err("accepted, but should be refused");
    let got: Vec<(ErrorKind, &str)> = errors.iter().map(|e| (e.kind.clone(), e.message.as_str())).collect();
    assert_eq!(got, vec![(ErrorKind::ValidationFailure, message)], "{errors:#?}");
}

// --- CacheCluster: rules on the whole spec ---------------------------------------------

#[test]
fn replicated_mode_has_one_shard() {
    accepted(validate_cel(&cluster(json!({ "shards": 1 }))));
    accepted(validate_cel(&cluster(json!({ "mode": "cluster", "shards": 3 }))));
    // memcached has no modes: shards are independent nodes.
    accepted(validate_cel(&cluster(json!({ "engine": "memcached", "shards": 3, "replicasPerShard": 0 }))));
    refused(validate_cel(&cluster(json!({ "shards": 2 }))), "shards must be 1 when mode is replicated (set mode: cluster to shard the keyspace)");
}

#[test]
fn memcached_has_no_replicas() {
    accepted(validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0 }))));
    accepted(validate_cel(&cluster(json!({ "engine": "redis", "replicasPerShard": 2 }))));
    // replicasPerShard defaults to 1, so a memcached spec must say 0.
    refused(validate_cel(&cluster(json!({ "engine": "memcached" }))), "memcached has no replication: replicasPerShard must be 0");
}

#[test]
fn memcached_keeps_nothing_on_disk() {
    accepted(validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0, "persistence": { "mode": "none" } }))));
    accepted(validate_cel(&cluster(json!({ "persistence": { "mode": "aof", "storageSize": "1Gi" } }))));
    refused(
        validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0, "persistence": { "mode": "rdb", "storageSize": "1Gi" } }))),
        "memcached keeps nothing on disk: persistence.mode must be none",
    );
}

#[test]
fn memcached_takes_no_snapshots() {
    accepted(validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0, "snapshots": { "enabled": false } }))));
    accepted(validate_cel(&cluster(json!({ "snapshots": {} }))));
    // snapshots.enabled defaults to true.
    refused(
        validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0, "snapshots": {} }))),
        "memcached cannot take snapshots: snapshots.enabled must be false",
    );
}

#[test]
fn memcached_has_no_acl_users() {
    accepted(cluster_as_written(json!({ "engine": "memcached", "replicasPerShard": 0, "auth": { "passwordSecret": { "name": "pw" }, "users": [] } })));
    accepted(validate_cel(&cluster(json!({ "auth": { "users": ["app"] } }))));
    refused(
        validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0, "auth": { "users": ["app"] } }))),
        "memcached has no ACL users: auth.users must be empty",
    );
}

/// A memcached cluster with only a password (no `users` field at all, as a user writes
/// it and as the API server stores it: the field has no default).
#[test]
fn memcached_with_only_a_password_is_accepted() {
    accepted(validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0, "auth": { "passwordSecret": { "name": "pw" } } }))));
}

#[test]
fn node_type_or_resources_not_both() {
    accepted(validate_cel(&cluster(json!({ "nodeType": "cache.r7g.large" }))));
    accepted(validate_cel(&cluster(json!({ "resources": { "limits": { "memory": "2Gi" } } }))));
    refused(
        validate_cel(&cluster(json!({ "nodeType": "cache.r7g.large", "resources": { "limits": { "memory": "2Gi" } } }))),
        "set either nodeType or resources, not both",
    );
}

#[test]
fn min_replicas_to_write_is_at_most_the_replicas() {
    accepted(validate_cel(&cluster(json!({ "replicasPerShard": 2, "failover": { "minReplicasToWrite": 2 } }))));
    accepted(validate_cel(&cluster(json!({ "replicasPerShard": 0, "failover": {} }))));
    refused(
        validate_cel(&cluster(json!({ "replicasPerShard": 1, "failover": { "minReplicasToWrite": 2 } }))),
        "failover.minReplicasToWrite cannot exceed replicasPerShard",
    );
}

#[test]
fn restore_from_is_set_at_creation_only() {
    let restoring = cluster(json!({ "restoreFrom": { "snapshot": "nightly" } }));
    let plain = cluster(json!({}));
    accepted(validate_cel(&restoring));
    accepted(validate_cel_update(&restoring, &restoring));
    accepted(validate_cel_update(&cluster(json!({ "restoreFrom": { "snapshot": "nightly" }, "replicasPerShard": 2 })), &restoring));
    accepted(validate_cel_update(&cluster(json!({ "replicasPerShard": 2 })), &plain));
    let message = "restoreFrom is set at creation only and cannot change";
    refused(validate_cel_update(&restoring, &plain), message);
    refused(validate_cel_update(&plain, &restoring), message);
    refused(validate_cel_update(&cluster(json!({ "restoreFrom": { "snapshot": "weekly" } })), &restoring), message);
}

#[test]
fn restore_from_names_a_snapshot_or_a_location_not_both() {
    accepted(validate_cel(&cluster(json!({ "restoreFrom": { "location": "s3://backups/prod/nightly" } }))));
    let message = "restoreFrom needs exactly one of snapshot or location";
    refused(validate_cel(&cluster(json!({ "restoreFrom": { "snapshot": "nightly", "location": "pvc://old/nightly" } }))), message);
    refused(validate_cel(&cluster(json!({ "restoreFrom": {} }))), message);
}

#[test]
fn memcached_cannot_take_a_final_snapshot() {
    accepted(validate_cel(&cluster(json!({ "deletionPolicy": "Snapshot" }))));
    accepted(validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0, "deletionPolicy": "Retain" }))));
    refused(
        validate_cel(&cluster(json!({ "engine": "memcached", "replicasPerShard": 0, "deletionPolicy": "Snapshot" }))),
        "memcached cannot take snapshots: deletionPolicy cannot be Snapshot",
    );
}

#[test]
fn a_backup_window_is_in_utc_so_it_takes_no_time_zone() {
    accepted(validate_cel(&cluster(json!({ "snapshots": { "backupWindow": "03:00-04:00" } }))));
    accepted(validate_cel(&cluster(json!({ "snapshots": { "schedule": "0 3 * * *", "timeZone": "Europe/Paris" } }))));
    refused(
        validate_cel(&cluster(json!({ "snapshots": { "backupWindow": "03:00-04:00", "timeZone": "Europe/Paris" } }))),
        "snapshots.backupWindow is in UTC and replaces schedule; timeZone applies to schedule only",
    );
}

// --- CacheCluster: rules on fields -----------------------------------------------------

#[test]
fn engine_is_immutable() {
    let redis = cluster(json!({ "engine": "redis", "replicasPerShard": 0 }));
    let memcached = cluster(json!({ "engine": "memcached", "replicasPerShard": 0 }));
    accepted(validate_cel_update(&cluster(json!({ "engine": "redis", "replicasPerShard": 0, "shards": 1, "nodeType": "cache.m7g.large" })), &redis));
    refused(validate_cel_update(&memcached, &redis), "engine is immutable: create a new cluster to change it");
    refused(validate_cel_update(&redis, &memcached), "engine is immutable: create a new cluster to change it");
}

#[test]
fn mode_is_immutable() {
    let replicated = cluster(json!({ "mode": "replicated" }));
    let sharded = cluster(json!({ "mode": "cluster", "shards": 1 }));
    accepted(validate_cel_update(&cluster(json!({ "mode": "cluster", "shards": 4 })), &sharded));
    refused(validate_cel_update(&sharded, &replicated), "mode is immutable: create a new cluster to change it");
    refused(validate_cel_update(&replicated, &sharded), "mode is immutable: create a new cluster to change it");
}

#[test]
fn explicit_resources_need_a_memory_limit() {
    accepted(validate_cel(&cluster(json!({ "resources": { "requests": { "cpu": "500m" }, "limits": { "memory": "1Gi" } } }))));
    let message = "resources.limits.memory is required: maxmemory is derived from it";
    refused(validate_cel(&cluster(json!({ "resources": { "requests": { "memory": "1Gi" } } }))), message);
    refused(validate_cel(&cluster(json!({ "resources": { "limits": { "cpu": "1" } } }))), message);
}

#[test]
fn auth_needs_a_password_or_users() {
    accepted(validate_cel(&cluster(json!({ "auth": { "passwordSecret": { "name": "pw" } } }))));
    accepted(validate_cel(&cluster(json!({ "auth": { "users": ["app"] } }))));
    accepted(validate_cel(&cluster(json!({ "auth": { "passwordSecret": { "name": "pw" }, "users": ["app"] } }))));
    refused(cluster_as_written(json!({ "auth": { "users": [] } })), "auth needs a passwordSecret, users, or both");
}

/// `auth: {}`, as written and as stored (users has no default): refused, but by an
/// evaluation error (`no such key: users`) instead of the rule's message.
#[test]
fn empty_auth_is_refused_with_the_rules_message() {
    refused(validate_cel(&cluster(json!({ "auth": {} }))), "auth needs a passwordSecret, users, or both");
}

#[test]
fn tls_needs_exactly_one_certificate_source() {
    accepted(validate_cel(&cluster(json!({ "tls": { "enabled": true, "secretName": "tls" } }))));
    accepted(validate_cel(&cluster(json!({ "tls": { "enabled": true, "issuerRef": { "name": "ca" } } }))));
    accepted(validate_cel(&cluster(json!({ "tls": { "enabled": false } }))));
    let message = "tls needs exactly one of secretName or issuerRef when enabled";
    refused(validate_cel(&cluster(json!({ "tls": { "enabled": true } }))), message);
    refused(validate_cel(&cluster(json!({ "tls": { "enabled": true, "secretName": "tls", "issuerRef": { "name": "ca" } } }))), message);
}

#[test]
fn persistence_on_disk_needs_a_size() {
    accepted(validate_cel(&cluster(json!({ "persistence": { "mode": "none" } }))));
    accepted(validate_cel(&cluster(json!({ "persistence": { "mode": "rdb", "storageSize": "5Gi" } }))));
    refused(validate_cel(&cluster(json!({ "persistence": { "mode": "aof" } }))), "persistence needs storageSize when mode is rdb or aof");
}

#[test]
fn storage_class_is_immutable() {
    let fast = cluster(json!({ "persistence": { "mode": "aof", "storageSize": "5Gi", "storageClassName": "fast" } }));
    accepted(validate_cel_update(&cluster(json!({ "persistence": { "mode": "aof", "storageSize": "10Gi", "storageClassName": "fast" } })), &fast));
    refused(
        validate_cel_update(&cluster(json!({ "persistence": { "mode": "aof", "storageSize": "5Gi", "storageClassName": "slow" } })), &fast),
        "persistence.storageClassName is immutable",
    );
}

/// A transition rule on an optional field runs only when the old object has the field,
/// so setting a class on a cluster created without one (its claims use the default
/// class) passes.
#[test]
fn storage_class_cannot_be_set_after_creation() {
    let default_class = cluster(json!({ "persistence": { "mode": "aof", "storageSize": "5Gi" } }));
    let fast = cluster(json!({ "persistence": { "mode": "aof", "storageSize": "5Gi", "storageClassName": "fast" } }));
    refused(validate_cel_update(&fast, &default_class), "persistence.storageClassName is immutable");
    refused(validate_cel_update(&default_class, &fast), "persistence.storageClassName is immutable");
}

#[test]
fn snapshot_destination_is_exactly_one_place() {
    accepted(validate_cel(&cluster(json!({ "snapshots": { "destination": { "pvc": {} } } }))));
    accepted(validate_cel(&cluster(json!({ "snapshots": { "destination": { "s3": { "bucket": "backups", "credentialsSecret": "s3" } } } }))));
    let message = "snapshots.destination needs exactly one of pvc or s3";
    refused(validate_cel(&cluster(json!({ "snapshots": { "destination": {} } }))), message);
    refused(
        validate_cel(&cluster(json!({ "snapshots": { "destination": { "pvc": {}, "s3": { "bucket": "backups", "credentialsSecret": "s3" } } } }))),
        message,
    );
}

// --- CacheCluster: the parameter group -------------------------------------------------

fn with_parameters(pairs: &[(&str, &str)]) -> CacheCluster {
    let map: BTreeMap<&str, &str> = pairs.iter().copied().collect();
    cluster(json!({ "parameters": map }))
}

#[test]
fn parameters_accept_only_what_the_operator_does_not_manage() {
    accepted(validate_cel(&with_parameters(&[("timeout", "300"), ("hz", "20"), ("loglevel", "warning")])));
    let message = format!("parameters accepts only: {}", allowed_parameters().join(", "));
    // Managed by the operator from other fields.
    refused(validate_cel(&with_parameters(&[("port", "6380")])), &message);
    refused(validate_cel(&with_parameters(&[("maxmemory", "1gb")])), &message);
    // Unknown, an alias, and another spelling: the node would take the last two, but the
    // spec keeps one canonical name per parameter.
    refused(validate_cel(&with_parameters(&[("nope", "1")])), &message);
    refused(validate_cel(&with_parameters(&[("io-threads", "2")])), &message);
    refused(validate_cel(&with_parameters(&[("HZ", "20")])), &message);
}

/// A value the rule of `kind` accepts, one it refuses, and the end of the rule's message.
fn value_cases(kind: Kind) -> Option<(String, String, String)> {
    match kind {
        Kind::Int { min, max } => {
            let refused = if max < i64::MAX { max + 1 } else { min - 1 };
            Some((max.min(999_999_999_999_999_999).to_string(), refused.to_string(), format!("an integer from {min} to {max}")))
        }
        Kind::Memory { .. } => Some(("64mb".to_string(), "64 mb".to_string(), "a size such as 100mb or 4gb".to_string())),
        Kind::Bool => Some(("no".to_string(), "false".to_string(), "yes or no".to_string())),
        Kind::Enum(options) => Some((options[options.len() - 1].to_string(), "bogus".to_string(), format!("one of {}", options.join(", ")))),
        Kind::Str | Kind::Words => None,
    }
}

#[test]
fn every_parameter_value_rule_accepts_and_refuses() {
    let allowed = allowed_parameters();
    let mut checked = 0;
    for p in PARAMS.iter().filter(|p| allowed.contains(&p.name)) {
        let Some((good, bad, what)) = value_cases(p.kind) else { continue };
        accepted(validate_cel(&with_parameters(&[(p.name, &good)])));
        refused(validate_cel(&with_parameters(&[(p.name, &bad)])), &format!("parameters.{} must be {what}", p.name));
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} parameters have value rules");
}

#[test]
fn integer_parameters_check_both_bounds_and_the_syntax() {
    let message = "parameters.hz must be an integer from 1 to 500";
    for good in ["1", "500", "10"] {
        accepted(validate_cel(&with_parameters(&[("hz", good)])));
    }
    for bad in ["0", "501", "-1", "1.5", "ten", "", " 10", "0x10", "99999999999999999999"] {
        refused(validate_cel(&with_parameters(&[("hz", bad)])), message);
    }
    // The widest bound, past 32 bits.
    accepted(validate_cel(&with_parameters(&[("maxclients", "4294967295")])));
    refused(validate_cel(&with_parameters(&[("maxclients", "4294967296")])), "parameters.maxclients must be an integer from 1 to 4294967295");
}

/// The rules of spec.parameters alone, compiled once: the property below evaluates
/// hundreds of values.
struct ParameterRules {
    compiled: CompiledSchema,
    validator: Validator,
}

impl ParameterRules {
    fn new() -> Self {
        let (_, schema) = schemas().into_iter().find(|(name, _)| name == "cacheclusters.cachefleet.dev").unwrap();
        ParameterRules { compiled: compile_schema(&schema["properties"]["spec"]["properties"]["parameters"]), validator: Validator::new() }
    }

    fn accept(&self, name: &str, value: &str) -> bool {
        self.validator.validate_compiled(&self.compiled, &json!({ name: value }), None).is_ok()
    }
}

/// Whatever the CRD accepts, the node accepts: a spec that passes admission never
/// leaves a node unable to start. (The CRD is stricter in spelling: canonical lower
/// case, no `+` sign.)
#[test]
fn parameter_values_the_crd_accepts_the_node_accepts() {
    let candidates = [
        "",
        "0",
        "1",
        "-1",
        "+5",
        "10",
        "64",
        "65",
        "256",
        "257",
        "500",
        "501",
        "65535",
        "65536",
        "100000",
        "100001",
        "2147483647",
        "2147483648",
        "4294967295",
        "4294967296",
        "1.5",
        "abc",
        "yes",
        "no",
        "YES",
        "true",
        "debug",
        "nothing",
        "Notice",
        "bogus",
        "100b",
        "1k",
        "1kb",
        "1mb",
        "1MB",
        "64m",
        "512mb",
        "1g",
        "1gb",
        "3gb",
        "5gb",
        "1 mb",
        "1tb",
    ];
    let rules = ParameterRules::new();
    // The compiled rules are the CRD's: they refuse what validate_cel refuses.
    assert!(rules.accept("hz", "10") && !rules.accept("hz", "0") && !rules.accept("port", "1"));
    let allowed = allowed_parameters();
    for p in PARAMS.iter().filter(|p| allowed.contains(&p.name)) {
        // Memory sizes: the rule checks the syntax only; see
        // memory_parameter_bounds_are_refused_at_apply_time.
        if matches!(p.kind, Kind::Memory { .. }) {
            continue;
        }
        for value in candidates {
            let by_crd = rules.accept(p.name, value);
            let by_node = params::normalise(p, value).is_ok();
            assert!(!by_crd || by_node, "{} {value:?}: the CRD accepts it, the node refuses it", p.name);
            let canonical = params::normalise(p, value).is_ok_and(|n| n == value);
            assert!(!canonical || by_crd, "{} {value:?}: the node accepts it, the CRD refuses it", p.name);
        }
        // The operator's own check agrees with the node on the default.
        assert!(check_parameters(&BTreeMap::from([(p.name.to_string(), p.default.to_string())])).is_ok(), "{} default", p.name);
    }
}

/// A size outside the node's bounds (proto-max-bulk-len is 1mb to 4gb - 1) must be
/// refused at apply time, like an integer out of range.
#[test]
fn memory_parameter_bounds_are_refused_at_apply_time() {
    for (value, node_accepts) in [("1mb", true), ("4095mb", true), ("1k", false), ("4gb", false), ("5gb", false)] {
        assert_eq!(params::normalise(params::find("proto-max-bulk-len").unwrap(), value).is_ok(), node_accepts, "{value}");
        let by_crd = validate_cel(&with_parameters(&[("proto-max-bulk-len", value)])).is_ok();
        assert_eq!(by_crd, node_accepts, "proto-max-bulk-len {value}");
    }
}

// --- CacheUser ---------------------------------------------------------------------------

#[test]
fn user_has_a_password_or_explicitly_none() {
    accepted(validate_cel(&user(json!({ "userName": "app", "passwordSecret": { "name": "app-pw" } }))));
    accepted(validate_cel(&user(json!({ "userName": "app", "noPasswordRequired": true }))));
    let message = "set passwordSecret, or noPasswordRequired: true, but not both";
    refused(validate_cel(&user(json!({ "userName": "app" }))), message);
    refused(validate_cel(&user(json!({ "userName": "app", "noPasswordRequired": true, "passwordSecret": { "name": "app-pw" } }))), message);
}

#[test]
fn user_name_is_immutable() {
    let app = user(json!({ "userName": "app", "noPasswordRequired": true }));
    accepted(validate_cel_update(&user(json!({ "userName": "app", "noPasswordRequired": true, "accessString": "on ~app:* +@read" })), &app));
    refused(validate_cel_update(&user(json!({ "userName": "app2", "noPasswordRequired": true })), &app), "userName is immutable");
}

#[test]
fn user_is_not_the_default_user() {
    accepted(validate_cel(&user(json!({ "userName": "defaults", "noPasswordRequired": true }))));
    refused(
        validate_cel(&user(json!({ "userName": "default", "noPasswordRequired": true }))),
        "the default user is configured by the cluster's auth.passwordSecret",
    );
}

// --- CacheSnapshot ---------------------------------------------------------------------

#[test]
fn snapshot_spec_is_immutable() {
    let manual = snapshot(json!({ "cluster": "sessions" }));
    accepted(validate_cel(&manual));
    let mut with_status = manual.clone();
    with_status.status = Some(serde_json::from_value(json!({ "phase": "Completed", "keys": 42 })).unwrap());
    accepted(validate_cel_update(&with_status, &manual));
    let message = "a snapshot's spec cannot change; create a new CacheSnapshot";
    refused(validate_cel_update(&snapshot(json!({ "cluster": "other" })), &manual), message);
    refused(validate_cel_update(&snapshot(json!({ "cluster": "sessions", "trigger": "Scheduled" })), &manual), message);
}

// --- every rule compiles, and every rule has a test above --------------------------------

fn schemas() -> Vec<(String, Value)> {
    crdgen::crds()
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap();
            let schema = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
            (name, serde_json::to_value(schema).unwrap())
        })
        .collect()
}

fn compilation_errors(schema: &CompiledSchema, path: &str, out: &mut Vec<String>) {
    for error in schema.compilation_errors() {
        out.push(format!("{path}: {error}"));
    }
    for (name, child) in &schema.properties {
        compilation_errors(child, &format!("{path}.{name}"), out);
    }
    for (child, suffix) in schema.items.iter().map(|c| (c, "[]")).chain(schema.additional_properties.iter().map(|c| (c, "{}"))) {
        compilation_errors(child, &format!("{path}{suffix}"), out);
    }
    for child in schema.all_of.iter().chain(&schema.one_of).chain(&schema.any_of) {
        compilation_errors(child, path, out);
    }
}

#[test]
fn every_rule_compiles() {
    for (name, schema) in schemas() {
        let mut errors = Vec::new();
        compilation_errors(&compile_schema(&schema), &name, &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
    }
}

fn rule_messages(schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                for rule in rules {
                    out.insert(rule["message"].as_str().expect("every rule has a message").to_string());
                }
            }
            map.values().for_each(|v| rule_messages(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| rule_messages(v, out)),
        _ => {}
    }
}

/// Rules with a test above. A new rule fails this test until it gets its own.
const TESTED: &[&str] = &[
    "shards must be 1 when mode is replicated (set mode: cluster to shard the keyspace)",
    "memcached has no replication: replicasPerShard must be 0",
    "memcached keeps nothing on disk: persistence.mode must be none",
    "memcached cannot take snapshots: snapshots.enabled must be false",
    "memcached has no ACL users: auth.users must be empty",
    "set either nodeType or resources, not both",
    "failover.minReplicasToWrite cannot exceed replicasPerShard",
    "restoreFrom is set at creation only and cannot change",
    "restoreFrom needs exactly one of snapshot or location",
    "memcached cannot take snapshots: deletionPolicy cannot be Snapshot",
    "snapshots.backupWindow is in UTC and replaces schedule; timeZone applies to schedule only",
    "engine is immutable: create a new cluster to change it",
    "mode is immutable: create a new cluster to change it",
    "resources.limits.memory is required: maxmemory is derived from it",
    "auth needs a passwordSecret, users, or both",
    "tls needs exactly one of secretName or issuerRef when enabled",
    "persistence needs storageSize when mode is rdb or aof",
    "persistence.storageClassName is immutable",
    "snapshots.destination needs exactly one of pvc or s3",
    "set passwordSecret, or noPasswordRequired: true, but not both",
    "userName is immutable",
    "the default user is configured by the cluster's auth.passwordSecret",
    "a snapshot's spec cannot change; create a new CacheSnapshot",
];

#[test]
fn every_rule_has_a_test() {
    let mut messages = BTreeSet::new();
    for (_, schema) in schemas() {
        rule_messages(&schema, &mut messages);
    }
    // The parameter group's rules are generated per parameter and tested per parameter.
    let untested: Vec<&String> =
        messages.iter().filter(|m| !TESTED.contains(&m.as_str()) && !m.starts_with("parameters.") && !m.starts_with("parameters accepts only:")).collect();
    assert!(untested.is_empty(), "rules without a test in this file: {untested:#?}");
    let stale: Vec<&&str> = TESTED.iter().filter(|m| !messages.contains(**m)).collect();
    assert!(stale.is_empty(), "tested messages no CRD rule has any more: {stale:#?}");
}
