//! Every object the builders return carries the cluster's namespace, labels and a
//! controller owner reference; a cluster without the metadata to build them is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod resources_support;

use cachefleet_operator::resources::{BuildError, build};
use resources_support::*;

fn cluster_labels(name: &str) -> std::collections::BTreeMap<String, String> {
    labels(&[
        ("app.kubernetes.io/name", "cache-node"),
        ("app.kubernetes.io/instance", name),
        ("app.kubernetes.io/managed-by", "cachefleet-operator"),
        ("app.kubernetes.io/part-of", "cachefleet"),
        ("cachefleet.dev/cluster", name),
    ])
}

#[test]
fn every_object_has_namespace_labels_and_a_blocking_controller_owner_reference() {
    let spec = "{mode: cluster, shards: 3, replicasPerShard: 2, networkPolicy: {enabled: true}, monitoring: {serviceMonitor: {}}}";
    let d = build(&cluster_in("sessions", "prod", spec), &opts(true)).unwrap();
    let all = all_metadata(&d);
    // ConfigMap, 4 Services, 3 × (headless Service, PDB, StatefulSet), NetworkPolicy, ServiceMonitor.
    assert_eq!(all.len(), 1 + 4 + 9 + 2);
    for (kind, meta) in &all {
        let what = format!("{kind} {:?}", meta.name);
        assert_eq!(meta.namespace.as_deref(), Some("prod"), "{what}");
        let got = meta.labels.as_ref().unwrap();
        for (k, v) in cluster_labels("sessions") {
            assert_eq!(got.get(&k), Some(&v), "{what} label {k}");
        }
        let owners = meta.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1, "{what}");
        let o = &owners[0];
        assert_eq!(
            (o.api_version.as_str(), o.kind.as_str(), o.name.as_str(), o.uid.as_str(), o.controller, o.block_owner_deletion),
            ("cachefleet.dev/v1alpha1", "CacheCluster", "sessions", UID, Some(true), Some(true)),
            "{what}"
        );
    }
}

#[test]
fn shard_objects_carry_their_shard_label_and_cluster_objects_none() {
    let d = desired("{mode: cluster, shards: 3}");
    for (i, shard) in d.shards.iter().enumerate() {
        assert_eq!(shard.index, i as i32);
        for meta in [&shard.stateful_set.metadata, &shard.headless_service.metadata, &shard.pdb.metadata] {
            assert_eq!(meta.name.as_deref(), Some(format!("c-{i}").as_str()));
            assert_eq!(meta.labels.as_ref().unwrap().get("cachefleet.dev/shard"), Some(&i.to_string()));
        }
    }
    assert!(d.services.iter().all(|s| !s.metadata.labels.as_ref().unwrap().contains_key("cachefleet.dev/shard")));
    assert!(!d.config_map.metadata.labels.as_ref().unwrap().contains_key("cachefleet.dev/shard"));
}

#[test]
fn missing_name_namespace_or_uid_is_refused() {
    let opts = opts(false);
    let mut c = cluster("{}");
    c.metadata.name = None;
    assert_eq!(build(&c, &opts).unwrap_err(), BuildError::MissingMetadata("name"));
    let mut c = cluster("{}");
    c.metadata.namespace = None;
    assert_eq!(build(&c, &opts).unwrap_err(), BuildError::MissingMetadata("namespace"));
    let mut c = cluster("{}");
    c.metadata.uid = None;
    assert_eq!(build(&c, &opts).unwrap_err(), BuildError::MissingMetadata("uid"));
    let mut c = cluster("{}");
    c.metadata.uid = Some(String::new());
    assert_eq!(build(&c, &opts).unwrap_err(), BuildError::MissingMetadata("uid"));
}

#[test]
fn specs_the_schema_should_have_refused_are_errors_not_panics() {
    assert_eq!(try_desired("{shards: 0}").unwrap_err(), BuildError::BadShards(0));
    assert_eq!(try_desired("{resources: {limits: {memory: lots}}}").unwrap_err(), BuildError::BadMemory("lots".into()));
    assert_eq!(try_desired("{resources: {requests: {memory: 1Gi}}}").unwrap_err(), BuildError::MissingMemoryLimit);
    assert_eq!(try_desired("{resources: {limits: {memory: 512Ki}}}").unwrap_err(), BuildError::TooLittleMemory("512Ki".into()));
    assert_eq!(try_desired("{persistence: {mode: aof}}").unwrap_err(), BuildError::MissingStorageSize("aof"));
    let err = try_desired("{parameters: {port: '1', nosuch: x}}").unwrap_err();
    assert!(matches!(&err, BuildError::BadParameters(p) if p.len() == 2), "{err:?}");
}

#[test]
fn the_same_cluster_always_builds_the_same_objects() {
    // Parameters in a map of another order must give the same config (and config hash).
    let spec = "{mode: cluster, shards: 2, parameters: {timeout: '10', hz: '20', maxmemory-samples: '7'}}";
    let reordered = "{mode: cluster, shards: 2, parameters: {maxmemory-samples: '7', hz: '20', timeout: '10'}}";
    let render = |s: &str| cachefleet_operator::resources::render::to_yaml_stream(&desired(s)).unwrap();
    assert_eq!(render(spec), render(spec));
    assert_eq!(render(spec), render(reordered));
}
