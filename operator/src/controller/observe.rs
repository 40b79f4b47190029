//! Observe: the cluster's pods and what each node says its role is.

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use std::collections::BTreeMap;

use super::error::{Error, KubeStage};
use crate::api::CacheCluster;
use crate::nodes::{NodeAddr, NodeClient, NodeInfo};
use crate::resources::names;
use crate::topology::{NodeView, Role};

/// A node the spec wants, with its pod if it exists.
#[derive(Clone, Debug)]
pub struct ObservedNode {
    pub shard: i32,
    pub view: NodeView,
    /// The pod exists and its Ready condition is True.
    pub pod_ready: bool,
    pub pod_exists: bool,
    /// INFO of a node that answered (run id and replication state).
    pub info: Option<NodeInfo>,
    /// Why the probe failed, when it did.
    pub probe_error: Option<String>,
}

pub async fn list_pods(api: &Api<Pod>, cluster: &str) -> Result<BTreeMap<String, Pod>, Error> {
    let lp = ListParams::default().labels(&names::selector_string(&names::cluster_selector(cluster)));
    let pods = api.list(&lp).await.stage("listing pods")?;
    Ok(pods.items.into_iter().filter_map(|p| p.metadata.name.clone().map(|n| (n, p))).collect())
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A pod worth probing: running and not being deleted. A pod stuck Terminating or in
/// phase Unknown (its Kubernetes node is unreachable) counts as a failed probe, so a lost
/// node or zone fails the primary over even when no process restarts.
fn pod_running(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

fn labelled_role(pod: &Pod) -> Option<Role> {
    match pod.metadata.labels.as_ref()?.get(names::LABEL_ROLE)?.as_str() {
        names::ROLE_PRIMARY => Some(Role::Primary),
        names::ROLE_REPLICA => Some(Role::Replica),
        _ => None,
    }
}

/// Every node the spec asks for, and every node its StatefulSet still has (`sizes`: a
/// shard's StatefulSet replicas, while scaling differs from the spec), probed in parallel
/// (each probe bounded by the node client's timeout).
pub async fn nodes(
    cluster: &CacheCluster,
    namespace: &str,
    pods: &BTreeMap<String, Pod>,
    sizes: &BTreeMap<i32, i32>,
    client: &dyn NodeClient,
    password: Option<&str>,
) -> Vec<ObservedNode> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let port = names::RESP_PORT as u16;
    let mut wanted = Vec::new();
    for shard in 0..cluster.spec.shards {
        let count = sizes.get(&shard).copied().unwrap_or(0).max(cluster.spec.nodes_per_shard());
        for ordinal in 0..count {
            let pod_name = names::pod_name(name, shard, ordinal);
            let host = names::pod_host(name, namespace, shard, ordinal);
            wanted.push((shard, ordinal, pod_name, host));
        }
    }
    let probes = wanted.into_iter().map(|(shard, ordinal, pod_name, host)| async move {
        let pod = pods.get(&pod_name);
        let addr = NodeAddr { host: host.clone(), port, password: password.map(str::to_string) };
        let (reported, info, probe_error) = match pod {
            Some(p) if pod_running(p) => match client.role(&addr).await {
                // Without INFO the node still counts as up, but is never promoted: the
                // brain does not rank what it cannot measure.
                Ok(role) => (Some(role), client.info(&addr).await.ok(), None),
                Err(e) => (None, None, Some(e.to_string())),
            },
            Some(p) if p.metadata.deletion_timestamp.is_some() => (None, None, Some("pod is terminating".to_string())),
            Some(_) => (None, None, Some("pod is not running".to_string())),
            None => (None, None, Some("pod does not exist yet".to_string())),
        };
        ObservedNode {
            shard,
            view: NodeView {
                name: pod_name,
                ordinal,
                host,
                port,
                labelled: pod.and_then(labelled_role),
                reported,
                replication: info.as_ref().map(|i| i.replication.clone()),
                ready: pod.is_some_and(pod_ready),
                ..NodeView::default()
            },
            pod_ready: pod.is_some_and(pod_ready),
            pod_exists: pod.is_some(),
            info,
            probe_error,
        }
    });
    join_all(probes).await
}
