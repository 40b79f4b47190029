//! The NetworkPolicy of a cluster, when asked for: only listed clients, the cluster's own
//! nodes and the operator reach the cache port; metrics scrapers reach the metrics port.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::build::Context;
use super::meta::match_labels;
use super::names;

pub(super) fn network_policy(ctx: &Context<'_>) -> Option<NetworkPolicy> {
    let spec = ctx.spec.network_policy.as_ref().filter(|n| n.enabled)?;
    let cluster = ctx.meta.name.as_str();
    let (_, client_port) = names::client_port(ctx.spec.engine);
    // Nodes replicate from each other over the client port.
    let own_nodes = NetworkPolicyPeer { pod_selector: Some(match_labels(names::cluster_selector(cluster))), ..NetworkPolicyPeer::default() };
    // The operator probes and commands every node, from whatever namespace it runs in.
    let operator = NetworkPolicyPeer {
        pod_selector: Some(match_labels(BTreeMap::from([(names::LABEL_NAME.to_string(), names::OPERATOR_APP_NAME.to_string())]))),
        namespace_selector: Some(LabelSelector::default()),
        ..NetworkPolicyPeer::default()
    };

    // Snapshot Jobs copy each shard over the client port.
    let snapshot_pods = NetworkPolicyPeer { pod_selector: Some(match_labels(names::snapshot_pod_selector(cluster))), ..NetworkPolicyPeer::default() };
    let mut cache_from = spec.allowed_clients.clone();
    cache_from.extend([own_nodes, snapshot_pods, operator.clone()]);
    let mut metrics_from = vec![operator];
    metrics_from.extend(spec.allowed_metrics_scrapers.iter().cloned());
    metrics_from.extend(spec.allowed_clients.iter().cloned());

    // Neither list is ever empty: an empty `from` would admit everyone.
    Some(NetworkPolicy {
        metadata: ctx.meta.object(names::network_policy(cluster)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(match_labels(names::cluster_selector(cluster))),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule { from: Some(cache_from), ports: Some(vec![tcp(client_port)]) },
                NetworkPolicyIngressRule { from: Some(metrics_from), ports: Some(vec![tcp(names::ADMIN_PORT)]) },
            ]),
            ..NetworkPolicySpec::default()
        }),
    })
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort { port: Some(IntOrString::Int(port)), protocol: Some("TCP".into()), end_port: None }
}
