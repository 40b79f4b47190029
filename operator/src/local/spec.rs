//! The cluster file as the local driver runs it: validated like the operator does, and
//! turned into the same node.conf the operator puts in the ConfigMap.

use std::collections::BTreeMap;
use std::time::Duration;

use cache_node::config::params;

use crate::api::{CacheCluster, RestoreSpec, SnapshotsSpec};
use crate::controller::validate;
use crate::resources::{config, sizing};

/// Local processes share one machine: a node gets at most this many worker threads,
/// whatever its nodeType would get in a pod.
const MAX_LOCAL_THREADS: u32 = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct LocalSpec {
    pub name: String,
    pub shards: i32,
    pub replicas: usize,
    pub failover_enabled: bool,
    pub detection: Duration,
    /// node.conf, as the operator renders it.
    pub conf_text: String,
    /// The same settings by name (values unquoted), to tell live changes from rolls.
    pub settings: BTreeMap<String, String>,
    pub snapshots: Option<SnapshotsSpec>,
    pub restore_from: Option<RestoreSpec>,
}

/// Reads and validates a CacheCluster YAML.
pub fn load(yaml: &str) -> anyhow::Result<LocalSpec> {
    let cluster: CacheCluster = crate::cli::parse_cache_cluster(yaml)?;
    let name = cluster.metadata.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| anyhow::anyhow!("the CacheCluster has no metadata.name"))?;
    let spec = &cluster.spec;
    validate::check(spec).map_err(|invalid| anyhow::anyhow!("{}: {}", invalid.reason, invalid.message))?;
    if spec.auth.as_ref().is_some_and(|a| a.password_secret.is_some()) {
        anyhow::bail!("auth.passwordSecret names a Kubernetes Secret, which a local cluster cannot read; remove auth to run it locally");
    }
    let mut sizing = sizing::sizing(spec)?;
    sizing.threads = sizing.threads.min(MAX_LOCAL_THREADS);
    let conf_text = config::node_conf(spec, &sizing)?;
    let failover = spec.failover.clone().unwrap_or_default();
    Ok(LocalSpec {
        name,
        shards: spec.shards,
        replicas: usize::try_from(spec.replicas_per_shard).unwrap_or(0),
        failover_enabled: failover.enabled,
        detection: Duration::from_secs(u64::try_from(failover.detection_seconds).unwrap_or(1).max(1)),
        settings: settings(&conf_text),
        conf_text,
        snapshots: spec.snapshots.clone(),
        restore_from: spec.restore_from.clone(),
    })
}

/// `name value` lines of a node.conf, with redis.conf quoting undone.
pub fn settings(conf: &str) -> BTreeMap<String, String> {
    conf.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(' '))
        .map(|(name, value)| (name.to_string(), unquote(value.trim())))
        .collect()
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

/// How a change of settings reaches running nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigChange {
    None,
    /// Every changed setting can be set on a running node (CONFIG SET).
    Live(Vec<(String, String)>),
    /// Some cannot: the nodes restart one at a time; these settings need it.
    Roll(Vec<String>),
}

pub fn diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> ConfigChange {
    let changed: Vec<(String, String)> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(old.keys().filter(|k| !new.contains_key(*k)).map(|k| (k.clone(), default_of(k))))
        .collect();
    if changed.is_empty() {
        return ConfigChange::None;
    }
    let fixed: Vec<String> = changed.iter().filter(|(k, _)| !params::find(k).is_some_and(|p| p.mutable)).map(|(k, _)| k.clone()).collect();
    if fixed.is_empty() { ConfigChange::Live(changed) } else { ConfigChange::Roll(fixed) }
}

/// A removed parameter goes back to the node's default.
fn default_of(name: &str) -> String {
    params::find(name).map_or_else(String::new, |p| p.default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {name: demo}\nspec:\n  replicasPerShard: 1\n";

    #[test]
    fn loads_a_cluster_with_the_operator_s_node_conf() {
        let spec = load(BASE).unwrap();
        assert_eq!((spec.name.as_str(), spec.shards, spec.replicas, spec.failover_enabled), ("demo", 1, 1, true));
        assert_eq!(spec.settings.get("maxmemory-policy").map(String::as_str), Some("volatile-lru"));
        assert_eq!(spec.settings.get("save").map(String::as_str), Some(""));
        assert!(spec.settings.get("threads").and_then(|t| t.parse::<u32>().ok()).is_some_and(|t| t <= MAX_LOCAL_THREADS));
    }

    #[test]
    fn refuses_what_the_operator_refuses_and_what_needs_kubernetes() {
        assert!(load(&format!("{BASE}  parameters: {{hz: '9999'}}\n")).unwrap_err().to_string().contains("hz"));
        assert!(load(&format!("{BASE}  auth: {{passwordSecret: {{name: pw}}}}\n")).unwrap_err().to_string().contains("Secret"));
        assert!(load("kind: Pod\n").is_err());
    }

    #[test]
    fn tells_live_changes_from_rolls() {
        let a = load(BASE).unwrap().settings;
        let live = load(&format!("{BASE}  parameters: {{timeout: '300'}}\n")).unwrap().settings;
        assert_eq!(diff(&a, &live), ConfigChange::Live(vec![("timeout".into(), "300".into())]));
        assert_eq!(diff(&live, &a), ConfigChange::Live(vec![("timeout".into(), "0".into())]));
        let aof = load(&format!("{BASE}  persistence: {{mode: aof, storageSize: 1Gi}}\n")).unwrap().settings;
        assert_eq!(diff(&a, &aof), ConfigChange::Live(vec![("appendonly".into(), "yes".into())]));
        let roll = load(&format!("{BASE}  parameters: {{databases: '32', timeout: '5'}}\n")).unwrap().settings;
        assert_eq!(diff(&a, &roll), ConfigChange::Roll(vec!["databases".into()]));
        assert_eq!(diff(&a, &a), ConfigChange::None);
    }
}
