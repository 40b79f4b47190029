//! Services (per shard and per cluster) and PodDisruptionBudgets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod resources_support;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use resources_support::*;

fn selector(s: &Service) -> std::collections::BTreeMap<String, String> {
    s.spec.as_ref().unwrap().selector.clone().unwrap()
}

/// (name, port, target port) of each port.
fn ports(s: &Service) -> Vec<(String, i32, IntOrString)> {
    s.spec.as_ref().unwrap().ports.as_ref().unwrap().iter().map(|p| (p.name.clone().unwrap(), p.port, p.target_port.clone().unwrap())).collect()
}

fn port(name: &str, number: i32) -> (String, i32, IntOrString) {
    (name.to_string(), number, IntOrString::String(name.to_string()))
}

fn role(r: &str) -> std::collections::BTreeMap<String, String> {
    labels(&[("app.kubernetes.io/name", "cache-node"), ("cachefleet.dev/cluster", "c"), ("cachefleet.dev/role", r)])
}

fn whole_cluster() -> std::collections::BTreeMap<String, String> {
    labels(&[("app.kubernetes.io/name", "cache-node"), ("cachefleet.dev/cluster", "c")])
}

#[test]
fn replicated_mode_has_writer_reader_and_metrics_but_no_configuration_endpoint() {
    let d = desired("{}");
    assert_eq!(service_names(&d), ["c-primary", "c-reader", "c-metrics"]);
    let primary = service(&d, "c-primary");
    assert_eq!(selector(primary), role("primary"));
    assert_eq!(ports(primary), [port("redis", 6379)]);
    assert_eq!(primary.spec.as_ref().unwrap().type_.as_deref(), Some("ClusterIP"));
    let reader = service(&d, "c-reader");
    assert_eq!(selector(reader), role("replica"));
    assert_eq!(ports(reader), [port("redis", 6379)]);
}

#[test]
fn cluster_mode_adds_the_configuration_endpoint_over_every_node() {
    let d = desired("{mode: cluster, shards: 3, replicasPerShard: 2}");
    assert_eq!(service_names(&d), ["c-primary", "c-reader", "c", "c-metrics"]);
    let config = service(&d, "c");
    assert_eq!(selector(config), whole_cluster());
    assert_eq!(ports(config), [port("redis", 6379)]);
    assert_eq!(selector(service(&d, "c-reader")), role("replica"));
}

#[test]
fn without_replicas_the_reader_answers_with_every_node() {
    let d = desired("{replicasPerShard: 0}");
    assert_eq!(selector(service(&d, "c-reader")), whole_cluster());
    assert_eq!(selector(service(&d, "c-primary")), role("primary"));
}

#[test]
fn metrics_service_is_labelled_for_the_service_monitor() {
    let d = desired("{}");
    let metrics = service(&d, "c-metrics");
    assert_eq!(metrics.metadata.labels.as_ref().unwrap().get("cachefleet.dev/metrics").map(String::as_str), Some("true"));
    assert_eq!(selector(metrics), whole_cluster());
    assert_eq!(ports(metrics), [port("metrics", 9121)]);
    // Only the metrics Service carries the label.
    for s in d.services.iter().filter(|s| s.metadata.name.as_deref() != Some("c-metrics")) {
        assert!(!s.metadata.labels.as_ref().unwrap().contains_key("cachefleet.dev/metrics"), "{:?}", s.metadata.name);
    }
}

#[test]
fn headless_service_per_shard_publishes_not_ready_pods() {
    let d = desired("{mode: cluster, shards: 2}");
    for (i, shard) in d.shards.iter().enumerate() {
        let s = &shard.headless_service;
        assert_eq!(s.metadata.name, Some(format!("c-{i}")));
        let spec = s.spec.as_ref().unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
        let mut want = whole_cluster();
        want.insert("cachefleet.dev/shard".into(), i.to_string());
        assert_eq!(selector(s), want);
        assert_eq!(ports(s), [port("redis", 6379), port("metrics", 9121)]);
        // The StatefulSet's serviceName must name this Service for pod DNS to exist.
        assert_eq!(shard.stateful_set.spec.as_ref().unwrap().service_name, s.metadata.name);
    }
}

#[test]
fn memcached_has_one_endpoint_over_every_node() {
    let d = desired("{engine: memcached, shards: 3, replicasPerShard: 0}");
    assert_eq!(service_names(&d), ["c", "c-metrics"]);
    assert_eq!(selector(service(&d, "c")), whole_cluster());
    assert_eq!(ports(service(&d, "c")), [port("memcached", 11211)]);
    assert_eq!(ports(&d.shards[2].headless_service), [port("memcached", 11211), port("metrics", 9121)]);
}

#[test]
fn a_pdb_per_shard_lets_one_pod_go_at_a_time() {
    let d = desired("{mode: cluster, shards: 2, replicasPerShard: 2}");
    for (i, shard) in d.shards.iter().enumerate() {
        let pdb = &shard.pdb;
        assert_eq!(pdb.metadata.name, Some(format!("c-{i}")));
        let spec = pdb.spec.as_ref().unwrap();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(spec.min_available, None);
        let mut want = whole_cluster();
        want.insert("cachefleet.dev/shard".into(), i.to_string());
        assert_eq!(spec.selector.as_ref().unwrap().match_labels.as_ref(), Some(&want));
    }
}
