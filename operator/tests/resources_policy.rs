//! The optional objects: NetworkPolicy and ServiceMonitor.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod resources_support;

use cachefleet_operator::resources::{build, service_monitor};
use k8s_openapi::api::networking::v1::{NetworkPolicyIngressRule, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use resources_support::*;
use serde_json::json;

fn peer(yaml: &str) -> NetworkPolicyPeer {
    serde_saphyr::from_str(yaml).unwrap()
}

/// The cluster's snapshot Job pods copy each shard over the client port.
fn snapshot_pods() -> NetworkPolicyPeer {
    peer("{podSelector: {matchLabels: {app.kubernetes.io/name: cachefleet-snapshot, cachefleet.dev/cluster: c}}}")
}

fn own_nodes() -> NetworkPolicyPeer {
    peer("{podSelector: {matchLabels: {app.kubernetes.io/name: cache-node, cachefleet.dev/cluster: c}}}")
}

fn operator() -> NetworkPolicyPeer {
    peer("{podSelector: {matchLabels: {app.kubernetes.io/name: cachefleet-operator}}, namespaceSelector: {}}")
}

fn rule_ports(rule: &NetworkPolicyIngressRule) -> Vec<(Option<IntOrString>, Option<String>)> {
    rule.ports.as_ref().unwrap().iter().map(|p| (p.port.clone(), p.protocol.clone())).collect()
}

#[test]
fn no_network_policy_unless_enabled() {
    assert!(desired("{}").network_policy.is_none());
    assert!(desired("{networkPolicy: {enabled: false, allowedClients: [{podSelector: {}}]}}").network_policy.is_none());
}

#[test]
fn network_policy_admits_clients_nodes_and_operator_to_the_cache_port_and_scrapers_to_metrics() {
    let spec = r#"
networkPolicy:
  enabled: true
  allowedClients:
    - podSelector: {matchLabels: {app: web}}
    - ipBlock: {cidr: 10.1.0.0/16}
  allowedMetricsScrapers:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
"#;
    let d = desired(spec);
    let np = d.network_policy.as_ref().unwrap();
    assert_eq!(np.metadata.name.as_deref(), Some("c"));
    let s = np.spec.as_ref().unwrap();
    assert_eq!(
        s.pod_selector.as_ref().unwrap().match_labels.as_ref(),
        Some(&labels(&[("app.kubernetes.io/name", "cache-node"), ("cachefleet.dev/cluster", "c")]))
    );
    assert_eq!(s.policy_types.as_deref(), Some(&["Ingress".to_string()][..]));
    let rules = s.ingress.as_ref().unwrap();
    assert_eq!(rules.len(), 2);

    let web = peer("{podSelector: {matchLabels: {app: web}}}");
    let block = peer("{ipBlock: {cidr: 10.1.0.0/16}}");
    let monitoring = peer("{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}");
    assert_eq!(rule_ports(&rules[0]), [(Some(IntOrString::Int(6379)), Some("TCP".into()))]);
    assert_eq!(rules[0].from.as_deref(), Some(&[web.clone(), block.clone(), own_nodes(), snapshot_pods(), operator()][..]));
    assert_eq!(rule_ports(&rules[1]), [(Some(IntOrString::Int(9121)), Some("TCP".into()))]);
    assert_eq!(rules[1].from.as_deref(), Some(&[operator(), monitoring, web, block][..]));
}

#[test]
fn network_policy_without_clients_still_names_its_peers() {
    // An empty `from` would admit everyone; the cluster's own nodes and the operator are
    // always listed instead.
    let d = desired("{networkPolicy: {enabled: true}}");
    let rules = d.network_policy.unwrap().spec.unwrap().ingress.unwrap();
    assert_eq!(rules[0].from.as_deref(), Some(&[own_nodes(), snapshot_pods(), operator()][..]));
    assert_eq!(rules[1].from.as_deref(), Some(&[operator()][..]));
}

#[test]
fn network_policy_for_memcached_opens_its_port() {
    let d = desired("{engine: memcached, replicasPerShard: 0, networkPolicy: {enabled: true}}");
    let rules = d.network_policy.unwrap().spec.unwrap().ingress.unwrap();
    assert_eq!(rule_ports(&rules[0]), [(Some(IntOrString::Int(11211)), Some("TCP".into()))]);
}

#[test]
fn service_monitor_needs_the_spec_and_the_kind() {
    let on = "{monitoring: {serviceMonitor: {interval: 15s, labels: {release: prometheus, app.kubernetes.io/name: nope}}}}";
    assert!(build(&cluster(on), &opts(false)).unwrap().service_monitor.is_none(), "the kind is not served");
    assert!(build(&cluster("{}"), &opts(true)).unwrap().service_monitor.is_none(), "not asked for");
    assert!(build(&cluster("{monitoring: {serviceMonitor: {enabled: false}}}"), &opts(true)).unwrap().service_monitor.is_none());

    let d = build(&cluster(on), &opts(true)).unwrap();
    let sm = d.service_monitor.as_ref().unwrap();
    let types = sm.types.as_ref().unwrap();
    assert_eq!((types.api_version.as_str(), types.kind.as_str()), ("monitoring.coreos.com/v1", "ServiceMonitor"));
    assert_eq!(sm.metadata.name.as_deref(), Some("c"));
    let l = sm.metadata.labels.as_ref().unwrap();
    assert_eq!(l.get("release").map(String::as_str), Some("prometheus"));
    assert_eq!(l.get("app.kubernetes.io/name").map(String::as_str), Some("cache-node"), "operator labels win");
    assert_eq!(
        sm.data,
        json!({"spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "cache-node", "cachefleet.dev/cluster": "c", "cachefleet.dev/metrics": "true"}},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
        }})
    );
    // It selects the metrics Service, and only it.
    let selected: Vec<String> = d
        .services
        .iter()
        .chain(d.shards.iter().map(|s| &s.headless_service))
        .filter(|s| {
            let have = s.metadata.labels.as_ref().unwrap();
            sm.data["spec"]["selector"]["matchLabels"].as_object().unwrap().iter().all(|(k, v)| have.get(k).map(String::as_str) == v.as_str())
        })
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(selected, ["c-metrics"]);
    // ... by a port that Service has.
    assert!(service(&d, "c-metrics").spec.as_ref().unwrap().ports.as_ref().unwrap().iter().any(|p| p.name.as_deref() == Some("metrics")));
}

#[test]
fn service_monitor_resource_names_its_plural() {
    let r = service_monitor::api_resource();
    assert_eq!(
        (r.group.as_str(), r.version.as_str(), r.kind.as_str(), r.plural.as_str()),
        ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors")
    );
}
