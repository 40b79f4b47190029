//! The ConfigMap and the node.conf in it, as cache-node reads it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod resources_support;

use resources_support::*;

#[test]
fn config_map_holds_node_conf_that_cache_node_accepts() {
    let d = desired("{maxmemoryPolicy: allkeys-lru, parameters: {timeout: '300', loglevel: warning}}");
    assert_eq!(d.config_map.metadata.name.as_deref(), Some("c-config"));
    let data = d.config_map.data.as_ref().unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["node.conf"]);

    let pairs = cache_node::config::file::parse(node_conf(&d)).unwrap();
    let mut cfg = cache_node::config::Config::default();
    for (name, value) in &pairs {
        cfg.set_initial(name, value).unwrap_or_else(|e| panic!("{name} {value}: {e}"));
    }
    assert_eq!(cfg.port(), 6379);
    assert_eq!(cfg.admin_port(), 9121);
    assert_eq!(cfg.bind(), ["*", "-::*"]);
    assert_eq!(cfg.str("protected-mode"), "no");
    assert_eq!(cfg.str("dir"), "/data");
    assert_eq!(cfg.str("logformat"), "json");
    assert_eq!(cfg.str("maxmemory-policy"), "allkeys-lru");
    assert_eq!(cfg.int("maxmemory"), 1403 * 1024 * 1024 * 3 / 4);
    assert_eq!(cfg.threads(), 2);
    assert_eq!(cfg.int("timeout"), 300);
    assert_eq!(cfg.str("loglevel"), "warning");
    // Managed settings first, then the parameters by name.
    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "bind",
            "protected-mode",
            "port",
            "admin-port",
            "dir",
            "logformat",
            "threads",
            "maxmemory",
            "maxmemory-policy",
            "save",
            "appendonly",
            "min-replicas-to-write",
            "min-replicas-max-lag",
            "loglevel",
            "timeout"
        ]
    );
    assert_eq!(cfg.str("save"), "");
    assert_eq!(cfg.str("appendonly"), "no");
}

#[test]
fn persistence_modes_become_save_and_appendonly() {
    for (mode, save, aof) in [("rdb", "3600 1 300 100 60 10000", "no"), ("aof", "", "yes"), ("none", "", "no")] {
        let d = desired(&format!("{{persistence: {{mode: {mode}, storageSize: 1Gi}}}}"));
        let pairs = cache_node::config::file::parse(node_conf(&d)).unwrap();
        let mut cfg = cache_node::config::Config::default();
        for (name, value) in &pairs {
            cfg.set_initial(name, value).unwrap_or_else(|e| panic!("{name} {value}: {e}"));
        }
        assert_eq!((cfg.str("save"), cfg.str("appendonly")), (save, aof), "mode {mode}");
    }
}

#[test]
fn the_password_never_reaches_the_config_map() {
    let d = desired("{auth: {passwordSecret: {name: c-auth}}}");
    assert!(!node_conf(&d).contains("requirepass"));
    assert!(!node_conf(&d).contains("c-auth"));
}

#[test]
fn default_maxmemory_policy_is_elasticaches() {
    assert_eq!(conf_value(&desired("{}"), "maxmemory-policy").as_deref(), Some("volatile-lru"));
}
