//! Settings a running node takes without a restart (cache-node's mutable parameters,
//! resources::config::applies_live) reach the nodes with CONFIG SET; the ConfigMap
//! changes too, so a node started later reads them from its file. The pod template's
//! hash leaves them out, so such a change restarts no pod.
//!
//! Status records the fingerprint of the live settings every node accepted; a different
//! one in the spec sends all of them (CONFIG SET of an unchanged value changes nothing)
//! to every running node, and the new fingerprint is recorded once every one accepted.

use futures::future::join_all;

use super::Context;
use super::events::ClusterEvent;
use super::observe::ObservedNode;
use crate::api::CacheCluster;
use crate::nodes::NodeAddr;
use crate::resources::config::config_hash;

/// The fingerprint of a list of live settings (the order is node.conf's, so stable).
pub fn fingerprint(settings: &[(String, String)]) -> String {
    config_hash(&crate::resources::config::render(settings))
}

/// Brings every running node to `settings` when the recorded fingerprint differs, and
/// returns the fingerprint to record. A cluster with none recorded (new, or older than
/// this mechanism) started every pod from the current ConfigMap: it is recorded as is.
pub async fn apply(
    ctx: &Context,
    cluster: &CacheCluster,
    observed: &[ObservedNode],
    settings: &[(String, String)],
    recorded: Option<&str>,
    password: Option<&str>,
) -> Option<String> {
    let wanted = fingerprint(settings);
    let Some(recorded) = recorded else { return Some(wanted) };
    if recorded == wanted {
        return Some(wanted);
    }
    // A pod that is not running reads the new file when it starts; one that runs but
    // does not answer must take the settings before they count as applied.
    let running: Vec<&ObservedNode> = observed.iter().filter(|n| n.view.reachable() || n.pod_ready).collect();
    let sent = running.iter().map(|n| async move {
        let addr = NodeAddr { host: n.view.host.clone(), port: n.view.port, password: password.map(str::to_string) };
        let result =
            if n.view.reachable() { ctx.nodes.config_set(&addr, settings).await.map_err(|e| e.to_string()) } else { Err("it does not answer".to_string()) };
        (n.view.name.clone(), result)
    });
    let failed: Vec<String> = join_all(sent).await.into_iter().filter_map(|(pod, r)| r.err().map(|e| format!("{pod}: {e}"))).collect();
    if !failed.is_empty() {
        tracing::warn!(failed = %failed.join("; "), "CONFIG SET of the live settings failed on some nodes; retrying next pass");
        return Some(recorded.to_string());
    }
    tracing::info!(nodes = running.len(), settings = settings.len(), "live settings applied with CONFIG SET");
    let note = format!("applied the settings that need no restart to {} running node(s) with CONFIG SET; no pod restarted", running.len());
    ctx.events.publish(cluster, ClusterEvent { warning: false, reason: "SettingsApplied", action: "ApplySettings", note }).await;
    Some(wanted)
}
