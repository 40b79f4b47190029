//! The node configuration (`node.conf`, redis.conf syntax) and the ConfigMap holding it.
//! The password never goes here: a ConfigMap is readable by anyone who may read the
//! namespace's configuration, so it reaches the node from its Secret through the
//! environment.

use std::collections::BTreeMap;
use std::fmt::Write;

use k8s_openapi::api::core::v1::ConfigMap;

use super::BuildError;
use super::meta::ClusterMeta;
use super::names;
use super::sizing::Sizing;
use crate::api::{CacheClusterSpec, PersistenceMode, check_parameters};

/// The settings of `node.conf` in file order: the ones the operator manages, then the
/// spec's parameters in name order (so the same spec always gives the same text and
/// hashes). Only settings cache-node knows go here: it refuses to start on an unknown
/// directive. So TLS and a memcached listener are added here when the node gains those
/// settings, not before.
pub fn node_settings(spec: &CacheClusterSpec, sizing: &Sizing) -> Result<Vec<(String, String)>, BuildError> {
    check_parameters(&spec.parameters).map_err(BuildError::BadParameters)?;
    let mut lines: Vec<(&str, String)> = vec![
        // Every address, IPv6 optional: pods may have no IPv6 at all.
        ("bind", "* -::*".to_string()),
        // The NetworkPolicy and the password guard the node; protected mode would refuse
        // every client of a passwordless cluster, since none of them is on loopback.
        ("protected-mode", "no".to_string()),
        ("port", names::RESP_PORT.to_string()),
        ("admin-port", names::ADMIN_PORT.to_string()),
        ("dir", names::DATA_DIR.to_string()),
        ("logformat", "json".to_string()),
    ];
    // A `threads` parameter is the user's explicit choice and replaces the derived one.
    if !spec.parameters.contains_key("threads") {
        lines.push(("threads", sizing.threads.to_string()));
    }
    lines.push(("maxmemory", sizing.maxmemory_bytes.to_string()));
    lines.push(("maxmemory-policy", spec.maxmemory_policy.as_str().to_string()));
    let (save, appendonly) = persistence_settings(spec.persistence.as_ref().map_or(PersistenceMode::None, |p| p.mode));
    lines.push(("save", save.to_string()));
    lines.push(("appendonly", appendonly.to_string()));
    let failover = spec.failover.clone().unwrap_or_default();
    lines.push(("min-replicas-to-write", failover.min_replicas_to_write.to_string()));
    lines.push(("min-replicas-max-lag", failover.min_replicas_max_lag_seconds.to_string()));
    Ok(lines.into_iter().map(|(n, v)| (n.to_string(), v)).chain(spec.parameters.iter().map(|(n, v)| (n.clone(), v.clone()))).collect())
}

/// The text of `node.conf` (redis.conf syntax) for `node_settings`.
pub fn node_conf(spec: &CacheClusterSpec, sizing: &Sizing) -> Result<String, BuildError> {
    Ok(render(&node_settings(spec, sizing)?))
}

/// Settings as `node.conf` lines under the operator's header.
pub fn render(settings: &[(String, String)]) -> String {
    let mut text = String::from("# Written by cachefleet-operator from the CacheCluster; edits are overwritten.\n");
    for (name, value) in settings {
        // `bind` takes several words; every other value is one argument.
        let value = if name == "bind" { value.clone() } else { quote(value) };
        let _ = writeln!(text, "{name} {value}");
    }
    text
}

/// Settings a running node could take with CONFIG SET but that the operator still rolls
/// out by restarting: maxmemory follows the pod's memory limit, which only a new pod gets
/// (raising it live on a pod with the old, smaller limit invites the OOM killer).
const RESTART_ONLY: &[&str] = &["maxmemory"];

/// Whether a running node takes this setting with CONFIG SET (cache-node's own table
/// says which parameters are mutable; unknown names are treated as needing a restart).
pub fn applies_live(name: &str) -> bool {
    !RESTART_ONLY.contains(&name) && cache_node::config::params::find(name).is_some_and(|p| p.mutable)
}

/// The settings the operator applies to running nodes with CONFIG SET.
pub fn live_settings(settings: &[(String, String)]) -> Vec<(String, String)> {
    settings.iter().filter(|(n, _)| applies_live(n)).cloned().collect()
}

/// Fingerprint of the settings that need a restart: the pod template carries it, so a
/// change of one of them rolls the pods, and a change of only live settings does not.
pub fn restart_hash(settings: &[(String, String)]) -> String {
    let fixed: Vec<(String, String)> = settings.iter().filter(|(n, _)| !applies_live(n)).cloned().collect();
    config_hash(&render(&fixed))
}

/// Fingerprint of the live settings, recorded in status once every node took them.
pub fn live_hash(settings: &[(String, String)]) -> String {
    config_hash(&render(&live_settings(settings)))
}

/// (`save`, `appendonly`) for a persistence mode. rdb: Redis's default snapshot schedule;
/// aof: every write logged, fsynced once a second (ElastiCache's AOF setting), with no
/// extra snapshots (the AOF's base is one); none: nothing on disk, a restart is empty.
fn persistence_settings(mode: PersistenceMode) -> (&'static str, &'static str) {
    match mode {
        PersistenceMode::None => ("", "no"),
        PersistenceMode::Rdb => ("3600 1 300 100 60 10000", "no"),
        PersistenceMode::Aof => ("", "yes"),
    }
}

/// The ConfigMap `<cluster>-config` with `node.conf`.
pub fn config_map(meta: &ClusterMeta, node_conf: &str) -> ConfigMap {
    ConfigMap {
        metadata: meta.object(names::config_map(&meta.name)),
        data: Some(BTreeMap::from([(names::CONFIG_KEY.to_string(), node_conf.to_string())])),
        ..ConfigMap::default()
    }
}

/// One argument as redis.conf reads it: bare when it is plain printable text, else in
/// double quotes with `"`, `\` and control characters escaped.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'));
    if plain {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// FNV-1a, 64 bits, as 16 hex digits: a stable fingerprint of a text (the same on every
/// build and platform, unlike std's hasher).
pub fn config_hash(text: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = text.bytes().fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EvictionPolicy;
    use k8s_openapi::api::core::v1::ResourceRequirements;

    fn sizing(threads: u32, maxmemory: u64) -> Sizing {
        Sizing { resources: ResourceRequirements::default(), memory_limit_bytes: maxmemory * 2, maxmemory_bytes: maxmemory, threads }
    }

    fn spec(parameters: &[(&str, &str)]) -> CacheClusterSpec {
        let mut spec: CacheClusterSpec = serde_json::from_str("{}").unwrap();
        spec.parameters = parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        spec
    }

    /// The pairs cache-node itself reads from the text.
    fn parsed(text: &str) -> Vec<(String, String)> {
        cache_node::config::file::parse(text).unwrap()
    }

    #[test]
    fn managed_settings_then_parameters_in_name_order() {
        let mut s = spec(&[("timeout", "300"), ("hz", "20")]);
        s.maxmemory_policy = EvictionPolicy::AllkeysLfu;
        let text = node_conf(&s, &sizing(4, 1_000_000)).unwrap();
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "bind * -::*",
                "protected-mode no",
                "port 6379",
                "admin-port 9121",
                "dir /data",
                "logformat json",
                "threads 4",
                "maxmemory 1000000",
                "maxmemory-policy allkeys-lfu",
                "save \"\"",
                "appendonly no",
                "min-replicas-to-write 0",
                "min-replicas-max-lag 10",
                "hz 20",
                "timeout 300",
            ]
        );
        assert!(!text.contains("requirepass"), "the password must never be in the ConfigMap");
        // cache-node accepts every line, and applies every value as written.
        let mut cfg = cache_node::config::Config::default();
        for (name, value) in parsed(&text) {
            cfg.set_initial(&name, &value).unwrap();
        }
        assert_eq!((cfg.threads(), cfg.int("maxmemory"), cfg.str("maxmemory-policy")), (4, 1_000_000, "allkeys-lfu"));
        assert_eq!(cfg.bind(), vec!["*", "-::*"]);
    }

    #[test]
    fn a_threads_parameter_replaces_the_derived_count() {
        let text = node_conf(&spec(&[("threads", "3")]), &sizing(8, 1 << 30)).unwrap();
        assert_eq!(text.matches("threads ").count(), 1, "{text}");
        assert!(text.contains("threads 3\n"));
    }

    #[test]
    fn values_are_quoted_as_redis_conf_reads_them() {
        for value in ["plain", "two words", "", "say \"hi\"", "back\\slash", "it's", "tab\there", "new\nline", "\u{1}", "é"] {
            let line = format!("logfile {}\n", quote(value));
            assert_eq!(parsed(&line), vec![("logfile".to_string(), value.to_string())], "{value:?} written as {line:?}");
        }
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote("plain"), "plain");
    }

    #[test]
    fn refuses_bad_parameters_with_every_problem() {
        let err = node_conf(&spec(&[("port", "1"), ("nope", "x"), ("hz", "0")]), &sizing(1, 1 << 30)).unwrap_err();
        let BuildError::BadParameters(problems) = &err else { panic!("{err:?}") };
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(err.to_string().contains("unknown parameter nope"), "{err}");
    }

    #[test]
    fn hash_is_fnv1a_and_tracks_the_text() {
        // Reference values of FNV-1a 64.
        assert_eq!(config_hash(""), "cbf29ce484222325");
        assert_eq!(config_hash("a"), "af63dc4c8601ec8c");
        assert_eq!(config_hash("foobar"), "85944171f73967e8");
        let a = node_conf(&spec(&[]), &sizing(2, 1 << 30)).unwrap();
        let b = node_conf(&spec(&[("timeout", "10")]), &sizing(2, 1 << 30)).unwrap();
        assert_eq!(config_hash(&a), config_hash(&a.clone()));
        assert_ne!(config_hash(&a), config_hash(&b));
    }

    #[test]
    fn live_settings_leave_the_restart_hash_alone_and_the_rest_change_it() {
        let settings = |params: &[(&str, &str)], maxmemory: u64| node_settings(&spec(params), &sizing(2, maxmemory)).unwrap();
        let base = settings(&[], 1 << 30);
        for live in [&[("timeout", "300")][..], &[("maxmemory-samples", "10"), ("hz", "20")][..]] {
            let changed = settings(live, 1 << 30);
            assert_eq!(restart_hash(&base), restart_hash(&changed), "{live:?} is applied live");
            assert_ne!(live_hash(&base), live_hash(&changed), "{live:?}");
        }
        for fixed in [&[("databases", "32")][..], &[("threads", "3")][..]] {
            assert_ne!(restart_hash(&base), restart_hash(&settings(fixed, 1 << 30)), "{fixed:?} needs a restart");
        }
        // maxmemory is mutable in the node but follows the memory limit: restart only.
        assert_ne!(restart_hash(&base), restart_hash(&settings(&[], 2 << 30)));
        assert_eq!(live_hash(&base), live_hash(&settings(&[], 2 << 30)));
        let live = live_settings(&base);
        assert!(live.iter().any(|(n, v)| n == "maxmemory-policy" && v == "volatile-lru"), "{live:?}");
        assert!(!live.iter().any(|(n, _)| ["maxmemory", "port", "bind", "threads", "logformat"].contains(&n.as_str())), "{live:?}");
        // The text is the settings rendered.
        assert_eq!(render(&base), node_conf(&spec(&[]), &sizing(2, 1 << 30)).unwrap());
    }
}
