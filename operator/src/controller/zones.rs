//! Pod zones: each pod's Kubernetes node (`spec.nodeName`) and that node's zone label
//! (`zoneSpread.topologyKey`, by default `topology.kubernetes.io/zone`, the label the
//! StatefulSet's spread constraint uses too). The brain uses them to break failover ties toward
//! another zone than the failed primary's (a zone outage takes its nodes together) and
//! status shows them. A zone is a tie-breaker, never a requirement: a node that cannot be
//! read (no RBAC for nodes, a node already gone) leaves the pod's zone unknown and the
//! pass goes on.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::{Api, Client};
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::observe::ObservedNode;

/// How long a node's zone is trusted: a node never changes zone in practice, but its
/// name may be reused by a new node after a while.
const TTL: Duration = Duration::from_secs(600);
/// How long a node that could not be read is left alone before asking again, so a
/// missing permission costs one request a minute, not one per pass.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(60);

/// Zones of Kubernetes nodes by node name and label key, read on demand with a
/// metadata-only GET and kept for a while: a pass asks only about nodes it has not seen
/// recently.
#[derive(Debug, Default)]
pub struct ZoneCache {
    nodes: Mutex<HashMap<NodeLabel, Known>>,
}

/// A node's name and a label key.
type NodeLabel = (String, String);

#[derive(Debug)]
struct Known {
    zone: Option<String>,
    until: Instant,
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref().filter(|n| !n.is_empty())
}

impl ZoneCache {
    fn fresh(&self, node: &str, key: &str, now: Instant) -> bool {
        self.nodes.lock().get(&(node.to_string(), key.to_string())).is_some_and(|k| now < k.until)
    }

    /// The zone (the node label `key`) of each pod, by pod name, whose node is known and
    /// carries the label.
    pub async fn zones_of(&self, client: &Client, pods: &BTreeMap<String, Pod>, key: &str) -> BTreeMap<String, String> {
        let now = Instant::now();
        let wanted: BTreeSet<&str> = pods.values().filter_map(node_name).collect();
        let api: Api<Node> = Api::all(client.clone());
        for node in wanted.into_iter().filter(|n| !self.fresh(n, key, now)) {
            let (zone, keep) = match api.get_metadata_opt(node).await {
                Ok(meta) => (meta.and_then(|m| m.metadata.labels.and_then(|mut l| l.remove(key))), TTL),
                Err(e) => {
                    tracing::warn!(node, error = %e, "cannot read the node's zone; failover ties ignore it");
                    (None, RETRY_AFTER_ERROR)
                }
            };
            self.nodes.lock().insert((node.to_string(), key.to_string()), Known { zone, until: now + keep });
        }
        let nodes = self.nodes.lock();
        pods.iter()
            .filter_map(|(pod, p)| {
                let zone = nodes.get(&(node_name(p)?.to_string(), key.to_string()))?.zone.clone()?;
                Some((pod.clone(), zone))
            })
            .collect()
    }
}

/// Puts each observed node's zone into its view.
pub fn fill(observed: &mut [ObservedNode], zones: &BTreeMap<String, String>) {
    for node in observed {
        node.view.zone = zones.get(&node.view.name).cloned();
    }
}
