//! The StatefulSet of each shard: replicas, pod template, container, sizing, storage,
//! auth and placement.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod resources_support;

use cachefleet_operator::resources::config::{node_settings, restart_hash};
use cachefleet_operator::resources::sizing::sizing;
use k8s_openapi::api::core::v1::{PodAffinityTerm, Probe};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use resources_support::*;

fn q(s: &str) -> Quantity {
    Quantity(s.to_string())
}

fn shard_selector(shard: &str) -> std::collections::BTreeMap<String, String> {
    labels(&[("app.kubernetes.io/name", "cache-node"), ("cachefleet.dev/cluster", "c"), ("cachefleet.dev/shard", shard)])
}

fn http_probe(p: &Option<Probe>) -> (String, IntOrString) {
    let get = p.as_ref().unwrap().http_get.as_ref().unwrap();
    (get.path.clone().unwrap(), get.port.clone())
}

#[test]
fn minimal_spec_one_shard_of_a_primary_and_one_replica() {
    let d = desired("{}");
    assert_eq!(d.shards.len(), 1);
    let sts = &d.shards[0].stateful_set;
    let spec = sts.spec.as_ref().unwrap();
    assert_eq!(sts.metadata.name.as_deref(), Some("c-0"));
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(spec.service_name.as_deref(), Some("c-0"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    // The operator rolls the pods itself: replicas, then a switchover, then the old primary.
    assert_eq!(spec.update_strategy.as_ref().unwrap().type_.as_deref(), Some("OnDelete"));
    assert_eq!(spec.selector.match_labels.as_ref(), Some(&shard_selector("0")));
    assert_eq!(spec.volume_claim_templates, None);

    let template = &spec.template;
    let template_labels = template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
    // The selector must match the template, or the API server refuses the StatefulSet.
    for (k, v) in spec.selector.match_labels.as_ref().unwrap() {
        assert_eq!(template_labels.get(k), Some(v), "selector label {k}");
    }
    assert!(!template_labels.contains_key("cachefleet.dev/role"), "roles are the controller's, never the template's");
    let annotations = template.metadata.as_ref().unwrap().annotations.as_ref().unwrap();
    assert_eq!(annotations.get("cachefleet.dev/config-hash"), Some(&restart_hash_of("{}")));

    let pod = pod_spec(&d, 0);
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    assert_eq!(pod.enable_service_links, Some(false));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!((psc.run_as_non_root, psc.run_as_user, psc.fs_group), (Some(true), Some(65532), Some(65532)));
    assert_eq!(psc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    assert_eq!(
        (pod.node_selector.as_ref(), pod.tolerations.as_ref(), pod.priority_class_name.as_ref(), pod.image_pull_secrets.as_ref()),
        (None, None, None, None)
    );

    let volumes = pod.volumes.as_ref().unwrap();
    assert_eq!(volumes.len(), 2);
    assert_eq!(volumes[0].name, "config");
    assert_eq!(volumes[0].config_map.as_ref().unwrap().name, "c-config");
    assert_eq!(volumes[1].name, "data");
    assert!(volumes[1].empty_dir.is_some(), "no persistence: data on an emptyDir");

    let c = node_container(&d, 0);
    assert_eq!(c.name, "cache-node");
    assert_eq!(c.image.as_deref(), Some(IMAGE));
    let args = c.args.as_ref().unwrap();
    assert_eq!(
        args,
        &["/etc/cache-node/node.conf".to_string(), "--replica-announce-ip=$(CACHE_NODE_POD_NAME).c-0.$(CACHE_NODE_POD_NAMESPACE).svc".to_string()]
    );
    // Once Kubernetes expanded the pod's name and namespace, a replica announces the
    // stable name the operator addresses it by (so FAILOVER TO that name finds it).
    let env = c.env.as_ref().unwrap();
    let fields: Vec<(&str, &str)> =
        env.iter().map(|e| (e.name.as_str(), e.value_from.as_ref().unwrap().field_ref.as_ref().unwrap().field_path.as_str())).collect();
    assert_eq!(fields, [("CACHE_NODE_POD_NAME", "metadata.name"), ("CACHE_NODE_POD_NAMESPACE", "metadata.namespace")]);
    let expanded = args[1].replace("$(CACHE_NODE_POD_NAME)", "c-0-2").replace("$(CACHE_NODE_POD_NAMESPACE)", "ns");
    let cfg = cache_node::cli::parse(vec!["cache-node".to_string(), expanded]).unwrap();
    assert_eq!(cfg.str("replica-announce-ip"), cachefleet_operator::resources::names::pod_host("c", "ns", 0, 2));
    let ports: Vec<(Option<&str>, i32)> = c.ports.as_ref().unwrap().iter().map(|p| (p.name.as_deref(), p.container_port)).collect();
    assert_eq!(ports, [(Some("redis"), 6379), (Some("metrics"), 9121)]);
    let metrics = IntOrString::String("metrics".into());
    assert_eq!(http_probe(&c.readiness_probe), ("/readyz".into(), metrics.clone()));
    assert_eq!(http_probe(&c.liveness_probe), ("/healthz".into(), metrics.clone()));
    assert_eq!(http_probe(&c.startup_probe), ("/healthz".into(), metrics));
    let liveness = c.liveness_probe.as_ref().unwrap();
    assert!(liveness.period_seconds.unwrap() * liveness.failure_threshold.unwrap() >= 60, "liveness must tolerate a busy minute");
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(
        (sc.run_as_non_root, sc.run_as_user, sc.allow_privilege_escalation, sc.read_only_root_filesystem),
        (Some(true), Some(65532), Some(false), Some(true))
    );
    assert_eq!(sc.capabilities.as_ref().unwrap().drop.as_deref(), Some(&["ALL".to_string()][..]));
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    let mounts: Vec<(&str, &str, Option<bool>)> =
        c.volume_mounts.as_ref().unwrap().iter().map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only)).collect();
    assert_eq!(mounts, [("config", "/etc/cache-node", Some(true)), ("data", "/data", None)]);
    assert!(c.lifecycle.is_none(), "cache-node handles SIGTERM itself");

    // Default preset cache.t4g.small.
    let r = c.resources.as_ref().unwrap();
    assert_eq!(r.limits.as_ref().unwrap().get("memory"), Some(&q("1403Mi")));
    assert_eq!(r.limits.as_ref().unwrap().get("cpu"), None);
    assert_eq!(r.requests.as_ref().unwrap().get("cpu"), Some(&q("500m")));
}

#[test]
fn cluster_mode_three_shards_of_three_nodes() {
    let d = desired("{mode: cluster, shards: 3, replicasPerShard: 2}");
    assert_eq!(d.shards.len(), 3);
    for (i, shard) in d.shards.iter().enumerate() {
        let spec = shard.stateful_set.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.service_name, Some(format!("c-{i}")));
        assert_eq!(spec.selector.match_labels.as_ref(), Some(&shard_selector(&i.to_string())));
        // Each shard's placement rules count only that shard's pods.
        let pod = pod_spec(&d, i);
        let spread = &pod.topology_spread_constraints.as_ref().unwrap()[0];
        assert_eq!(spread.label_selector.as_ref().unwrap().match_labels.as_ref(), Some(&shard_selector(&i.to_string())));
    }
}

#[test]
fn node_type_sets_resources_threads_and_maxmemory() {
    let d = desired("{nodeType: cache.r7g.large}");
    let r = node_container(&d, 0).resources.as_ref().unwrap();
    assert_eq!(r.limits.as_ref().unwrap().get("memory"), Some(&q("13384Mi")));
    assert_eq!(r.requests.as_ref().unwrap().get("memory"), Some(&q("13384Mi")), "memory request = limit");
    assert_eq!(r.requests.as_ref().unwrap().get("cpu"), Some(&q("2")));
    assert_eq!(r.limits.as_ref().unwrap().get("cpu"), None, "no CPU limit");
    assert_eq!(conf_value(&d, "threads").as_deref(), Some("2"));
    assert_eq!(conf_value(&d, "maxmemory"), Some((13384u64 * 1024 * 1024 * 3 / 4).to_string()));
}

#[test]
fn explicit_resources_pass_through_and_size_the_node() {
    let d = desired("{resources: {limits: {memory: 3Gi}, requests: {memory: 3Gi, cpu: 2500m}}, reservedMemoryPercent: 10}");
    let r = node_container(&d, 0).resources.as_ref().unwrap();
    assert_eq!(r.limits.as_ref().unwrap().get("memory"), Some(&q("3Gi")));
    assert_eq!(r.requests.as_ref().unwrap().get("cpu"), Some(&q("2500m")));
    assert_eq!(conf_value(&d, "threads").as_deref(), Some("3"));
    assert_eq!(conf_value(&d, "maxmemory"), Some((3u64 * 1024 * 1024 * 1024 * 9 / 10).to_string()));
}

#[test]
fn persistence_aof_claims_a_volume_per_node_with_the_storage_class() {
    let d = desired("{persistence: {mode: aof, storageSize: 20Gi, storageClassName: gp3}}");
    let spec = d.shards[0].stateful_set.spec.as_ref().unwrap();
    let claims = spec.volume_claim_templates.as_ref().unwrap();
    assert_eq!(claims.len(), 1);
    let claim = &claims[0];
    assert_eq!(claim.metadata.name.as_deref(), Some("data"));
    let cs = claim.spec.as_ref().unwrap();
    assert_eq!(cs.access_modes.as_deref(), Some(&["ReadWriteOnce".to_string()][..]));
    assert_eq!(cs.storage_class_name.as_deref(), Some("gp3"));
    assert_eq!(cs.resources.as_ref().unwrap().requests.as_ref().unwrap().get("storage"), Some(&q("20Gi")));
    // The claim replaces the emptyDir; the mount stays.
    let volumes = pod_spec(&d, 0).volumes.as_ref().unwrap();
    assert!(volumes.iter().all(|v| v.name != "data"), "{volumes:?}");
    assert!(node_container(&d, 0).volume_mounts.as_ref().unwrap().iter().any(|m| m.name == "data" && m.mount_path == "/data"));
    let retention = spec.persistent_volume_claim_retention_policy.as_ref().unwrap();
    assert_eq!((retention.when_deleted.as_deref(), retention.when_scaled.as_deref()), (Some("Retain"), Some("Retain")));

    // Without a class the cluster's default applies.
    let d = desired("{persistence: {mode: rdb, storageSize: 5Gi}}");
    let claim = &d.shards[0].stateful_set.spec.as_ref().unwrap().volume_claim_templates.as_ref().unwrap()[0];
    assert_eq!(claim.spec.as_ref().unwrap().storage_class_name, None);
    // Explicit none is no claim.
    assert!(desired("{persistence: {mode: none}}").shards[0].stateful_set.spec.as_ref().unwrap().volume_claim_templates.is_none());
}

#[test]
fn password_comes_from_the_secret_through_the_environment() {
    let d = desired("{auth: {passwordSecret: {name: c-auth, key: token}}}");
    let c = node_container(&d, 0);
    let env: Vec<_> = c.env.as_ref().unwrap().iter().filter(|e| e.name == "CACHE_NODE_REQUIREPASS").collect();
    assert_eq!(env.len(), 1);
    assert_eq!(env[0].value, None, "the password must not be in the pod spec");
    let secret = env[0].value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!((secret.name.as_str(), secret.key.as_str()), ("c-auth", "token"));
    let args: Vec<String> = c.args.as_ref().unwrap().iter().filter(|a| !a.starts_with("--replica-announce-ip=")).cloned().collect();
    assert_eq!(
        args,
        ["/etc/cache-node/node.conf".to_string(), "--requirepass=$(CACHE_NODE_REQUIREPASS)".to_string(), "--masterauth=$(CACHE_NODE_REQUIREPASS)".to_string()]
    );
    assert!(!node_conf(&d).contains("requirepass"));

    // What the node reads once Kubernetes has expanded the variable, even for a password
    // that looks like a flag or has spaces.
    for password in ["s3cret", "-starts-with-dash", "has spaces", "--port"] {
        let expanded: Vec<String> = args.iter().map(|a| a.replace("$(CACHE_NODE_REQUIREPASS)", password)).collect();
        let mut argv = vec!["cache-node".to_string()];
        // The config file is not on this machine; the flags alone are what is checked.
        argv.extend(expanded.into_iter().skip(1));
        let cfg = cache_node::cli::parse(argv).unwrap();
        assert_eq!(cfg.str("requirepass"), password);
    }

    // The key defaults to `password`.
    let d = desired("{auth: {passwordSecret: {name: c-auth}}}");
    let env = node_container(&d, 0).env.as_ref().unwrap();
    let secret = env.iter().find_map(|e| e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref())).unwrap();
    assert_eq!(secret.key, "password");
}

fn anti_affinity_term(d: &resources_support::Desired, required: bool) -> PodAffinityTerm {
    let anti = pod_spec(d, 0).affinity.as_ref().unwrap().pod_anti_affinity.as_ref().unwrap();
    if required {
        assert!(anti.preferred_during_scheduling_ignored_during_execution.is_none());
        anti.required_during_scheduling_ignored_during_execution.as_ref().unwrap()[0].clone()
    } else {
        assert!(anti.required_during_scheduling_ignored_during_execution.is_none());
        let w = &anti.preferred_during_scheduling_ignored_during_execution.as_ref().unwrap()[0];
        assert_eq!(w.weight, 100);
        w.pod_affinity_term.clone()
    }
}

#[test]
fn zone_spread_preferred_by_default() {
    let d = desired("{}");
    let spread = &pod_spec(&d, 0).topology_spread_constraints.as_ref().unwrap()[0];
    assert_eq!((spread.topology_key.as_str(), spread.max_skew, spread.when_unsatisfiable.as_str()), ("topology.kubernetes.io/zone", 1, "ScheduleAnyway"));
    let term = anti_affinity_term(&d, false);
    assert_eq!(term.topology_key, "kubernetes.io/hostname");
    assert_eq!(term.label_selector.as_ref().unwrap().match_labels.as_ref(), Some(&shard_selector("0")));
}

#[test]
fn zone_spread_required() {
    let d = desired("{zoneSpread: {zones: Required, nodes: Required, maxSkew: 2, topologyKey: example.com/rack}}");
    let spread = &pod_spec(&d, 0).topology_spread_constraints.as_ref().unwrap()[0];
    assert_eq!((spread.topology_key.as_str(), spread.max_skew, spread.when_unsatisfiable.as_str()), ("example.com/rack", 2, "DoNotSchedule"));
    let term = anti_affinity_term(&d, true);
    assert_eq!(term.topology_key, "kubernetes.io/hostname");
    assert_eq!(term.label_selector.as_ref().unwrap().match_labels.as_ref(), Some(&shard_selector("0")));

    // Each policy on its own.
    let d = desired("{zoneSpread: {zones: Required}}");
    assert_eq!(pod_spec(&d, 0).topology_spread_constraints.as_ref().unwrap()[0].when_unsatisfiable, "DoNotSchedule");
    anti_affinity_term(&d, false);
    let d = desired("{zoneSpread: {nodes: Required}}");
    assert_eq!(pod_spec(&d, 0).topology_spread_constraints.as_ref().unwrap()[0].when_unsatisfiable, "ScheduleAnyway");
    anti_affinity_term(&d, true);
}

#[test]
fn pod_overrides_are_applied_and_merged_with_the_operators_rules() {
    let spec = r#"
pod:
  labels: {team: payments, app.kubernetes.io/name: nope, cachefleet.dev/role: primary}
  annotations: {example.com/owner: payments, cachefleet.dev/config-hash: forged}
  nodeSelector: {pool: cache}
  tolerations: [{key: dedicated, operator: Equal, value: cache, effect: NoSchedule}]
  priorityClassName: high
  imagePullSecrets: [{name: regcred}]
  terminationGracePeriodSeconds: 120
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [{matchExpressions: [{key: arch, operator: In, values: [arm64]}]}]
    podAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 10
          podAffinityTerm: {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app: web}}}
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 50
          podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: batch}}}
      requiredDuringSchedulingIgnoredDuringExecution:
        - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: other-db}}}
"#;
    let d = desired(spec);
    let meta = d.shards[0].stateful_set.spec.as_ref().unwrap().template.metadata.as_ref().unwrap();
    let template_labels = meta.labels.as_ref().unwrap();
    assert_eq!(template_labels.get("team").map(String::as_str), Some("payments"));
    assert_eq!(template_labels.get("app.kubernetes.io/name").map(String::as_str), Some("cache-node"), "operator labels win");
    assert!(!template_labels.contains_key("cachefleet.dev/role"), "a user role label would mark every pod primary");
    let annotations = meta.annotations.as_ref().unwrap();
    assert_eq!(annotations.get("example.com/owner").map(String::as_str), Some("payments"));
    assert_eq!(annotations.get("cachefleet.dev/config-hash"), Some(&restart_hash_of(spec)));

    let pod = pod_spec(&d, 0);
    assert_eq!(pod.node_selector.as_ref(), Some(&labels(&[("pool", "cache")])));
    assert_eq!(pod.tolerations.as_ref().unwrap()[0].key.as_deref(), Some("dedicated"));
    assert_eq!(pod.priority_class_name.as_deref(), Some("high"));
    assert_eq!(pod.image_pull_secrets.as_ref().unwrap()[0].name, "regcred");
    assert_eq!(pod.termination_grace_period_seconds, Some(120));

    let affinity = pod.affinity.as_ref().unwrap();
    assert!(affinity.node_affinity.as_ref().unwrap().required_during_scheduling_ignored_during_execution.is_some());
    assert_eq!(affinity.pod_affinity.as_ref().unwrap().preferred_during_scheduling_ignored_during_execution.as_ref().unwrap()[0].weight, 10);
    let anti = affinity.pod_anti_affinity.as_ref().unwrap();
    // The operator's preferred term first, then the user's; the user's required term kept.
    let preferred = anti.preferred_during_scheduling_ignored_during_execution.as_ref().unwrap();
    assert_eq!(preferred.iter().map(|w| w.weight).collect::<Vec<_>>(), [100, 50]);
    assert_eq!(preferred[0].pod_affinity_term.label_selector.as_ref().unwrap().match_labels.as_ref(), Some(&shard_selector("0")));
    let required = anti.required_during_scheduling_ignored_during_execution.as_ref().unwrap();
    assert_eq!(required.len(), 1);
    assert_eq!(required[0].label_selector.as_ref().unwrap().match_labels.as_ref(), Some(&labels(&[("app", "other-db")])));

    // With nodes: Required the operator's term joins the user's required ones.
    let d = desired(&format!("{spec}zoneSpread: {{nodes: Required}}\n"));
    let anti = pod_spec(&d, 0).affinity.as_ref().unwrap().pod_anti_affinity.as_ref().unwrap();
    assert_eq!(anti.required_during_scheduling_ignored_during_execution.as_ref().unwrap().len(), 2);
    assert_eq!(anti.preferred_during_scheduling_ignored_during_execution.as_ref().unwrap().len(), 1);
}

#[test]
fn spec_image_wins_over_the_default() {
    assert_eq!(node_container(&desired("{image: example/cache-node:1.2}"), 0).image.as_deref(), Some("example/cache-node:1.2"));
}

/// The restart hash of a spec's node settings, as the pod template should carry it.
fn restart_hash_of(spec_yaml: &str) -> String {
    let spec = cluster(spec_yaml).spec;
    restart_hash(&node_settings(&spec, &sizing(&spec).unwrap()).unwrap())
}

#[test]
fn config_changes_change_the_pod_template() {
    let hash = |spec: &str| {
        let d = desired(spec);
        d.shards[0].stateful_set.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().annotations.as_ref().unwrap()["cachefleet.dev/config-hash"].clone()
    };
    assert_eq!(hash("{}"), hash("{}"));
    // Settings a running node takes with CONFIG SET are applied live: no roll.
    assert_eq!(hash("{}"), hash("{parameters: {timeout: '60'}}"));
    assert_eq!(hash("{}"), hash("{maxmemoryPolicy: noeviction}"));
    // Settings that need a restart, and the size (maxmemory follows the memory limit), roll.
    assert_ne!(hash("{}"), hash("{parameters: {databases: '32'}}"));
    assert_ne!(hash("{}"), hash("{nodeType: cache.m7g.large}"));
    // The replica count is not config: scaling must not roll the pods.
    assert_eq!(hash("{replicasPerShard: 1}"), hash("{replicasPerShard: 3}"));
}

#[test]
fn memcached_serves_its_own_port() {
    let d = desired("{engine: memcached, shards: 2, replicasPerShard: 0}");
    assert_eq!(d.shards.len(), 2);
    assert_eq!(d.shards[0].stateful_set.spec.as_ref().unwrap().replicas, Some(1));
    let ports: Vec<(Option<&str>, i32)> = node_container(&d, 1).ports.as_ref().unwrap().iter().map(|p| (p.name.as_deref(), p.container_port)).collect();
    assert_eq!(ports, [(Some("memcached"), 11211), (Some("metrics"), 9121)]);
}
