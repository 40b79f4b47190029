//! Shared by the resources_* tests: clusters from YAML and short ways into the objects.

#![allow(dead_code)]

use std::collections::BTreeMap;

pub use cachefleet_operator::api::CacheCluster;
pub use cachefleet_operator::resources::{BuildError, BuildOptions, Desired, build};
use k8s_openapi::api::core::v1::{Container, PodSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub const IMAGE: &str = "registry.example/cache-node:test";
pub const UID: &str = "6f1c1d7e-0000-4000-8000-000000000001";

/// A CacheCluster `name` in namespace `ns` with the given spec (YAML flow or block).
pub fn cluster_in(name: &str, ns: &str, spec_yaml: &str) -> CacheCluster {
    let spec: serde_json::Value = serde_saphyr::from_str(spec_yaml).unwrap();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "cachefleet.dev/v1alpha1",
        "kind": "CacheCluster",
        "metadata": { "name": name, "namespace": ns, "uid": UID },
        "spec": spec,
    }))
    .unwrap()
}

pub fn cluster(spec_yaml: &str) -> CacheCluster {
    cluster_in("c", "ns", spec_yaml)
}

pub fn opts(service_monitor_supported: bool) -> BuildOptions {
    BuildOptions { default_image: IMAGE.to_string(), service_monitor_supported }
}

pub fn try_desired(spec_yaml: &str) -> Result<Desired, BuildError> {
    build(&cluster(spec_yaml), &opts(false))
}

pub fn desired(spec_yaml: &str) -> Desired {
    try_desired(spec_yaml).unwrap()
}

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// (kind, metadata) of every object, in render order.
pub fn all_metadata(d: &Desired) -> Vec<(String, ObjectMeta)> {
    let mut out = vec![("ConfigMap".to_string(), d.config_map.metadata.clone())];
    out.extend(d.services.iter().map(|s| ("Service".to_string(), s.metadata.clone())));
    for shard in &d.shards {
        out.push(("Service".to_string(), shard.headless_service.metadata.clone()));
        out.push(("PodDisruptionBudget".to_string(), shard.pdb.metadata.clone()));
        out.push(("StatefulSet".to_string(), shard.stateful_set.metadata.clone()));
    }
    out.extend(d.network_policy.iter().map(|n| ("NetworkPolicy".to_string(), n.metadata.clone())));
    out.extend(d.service_monitor.iter().map(|m| ("ServiceMonitor".to_string(), m.metadata.clone())));
    out
}

pub fn service<'a>(d: &'a Desired, name: &str) -> &'a Service {
    d.services.iter().find(|s| s.metadata.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no Service {name}"))
}

pub fn service_names(d: &Desired) -> Vec<String> {
    d.services.iter().map(|s| s.metadata.name.clone().unwrap()).collect()
}

pub fn pod_spec(d: &Desired, shard: usize) -> &PodSpec {
    d.shards[shard].stateful_set.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

pub fn node_container(d: &Desired, shard: usize) -> &Container {
    let spec = pod_spec(d, shard);
    assert_eq!(spec.containers.len(), 1);
    &spec.containers[0]
}

pub fn node_conf(d: &Desired) -> &str {
    d.config_map.data.as_ref().unwrap()["node.conf"].as_str()
}

/// The value of `name` in node.conf, as cache-node reads it.
pub fn conf_value(d: &Desired, name: &str) -> Option<String> {
    cache_node::config::file::parse(node_conf(d)).unwrap().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}
