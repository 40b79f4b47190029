//! The StatefulSet of one shard: its primary and replicas, one cache-node pod each.
//! Which pod is primary is a label the controller sets, not an ordinal, so nothing here
//! depends on it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, ObjectFieldSelector,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodAffinityTerm, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile, SecretKeySelector,
    SecurityContext, TopologySpreadConstraint, Volume, VolumeMount, VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::BuildError;
use super::build::Context;
use super::meta::match_labels;
use super::names;
use crate::api::{PersistenceMode, PersistenceSpec, PodOverrides, SpreadPolicy, ZoneSpreadSpec};

/// The unprivileged user of the cache-node image (distroless's `nonroot`).
pub const NODE_USER: i64 = 65532;
/// Node label holding the node's name: one pod of a shard per node.
const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
/// Name of the volumes (and of the claim template).
const CONFIG_VOLUME: &str = "config";
const DATA_VOLUME: &str = "data";
/// The pod's own name and namespace (downward API), for the address it announces.
pub const POD_NAME_ENV: &str = "CACHE_NODE_POD_NAME";
pub const POD_NAMESPACE_ENV: &str = "CACHE_NODE_POD_NAMESPACE";

pub(super) fn stateful_set(ctx: &Context<'_>, shard: i32) -> Result<StatefulSet, BuildError> {
    let name = names::shard_name(&ctx.meta.name, shard);
    let selector = names::shard_selector(&ctx.meta.name, shard);
    let persistence = ctx.spec.persistence.clone().unwrap_or_default();
    let claim = match persistence.mode {
        PersistenceMode::None => None,
        mode => Some(data_claim(ctx, shard, &persistence, mode)?),
    };
    Ok(StatefulSet {
        metadata: ctx.meta.shard_object(name.clone(), shard),
        spec: Some(StatefulSetSpec {
            replicas: Some(ctx.spec.nodes_per_shard()),
            selector: match_labels(selector),
            service_name: Some(name),
            // Pods of a shard start together: ordering buys nothing when any pod can be
            // primary, and it would stall a shard behind one unschedulable pod.
            pod_management_policy: Some("Parallel".into()),
            // The operator rolls the pods itself (controller/rolling.rs): replicas first,
            // then a switchover, then the old primary. The StatefulSet controller's own
            // roll goes by ordinal and would restart the primary without handing over.
            update_strategy: Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None }),
            template: pod_template(ctx, shard, claim.is_none())?,
            persistent_volume_claim_retention_policy: claim.as_ref().map(|_| StatefulSetPersistentVolumeClaimRetentionPolicy {
                // Data outlives the objects: deleting a cluster (or shrinking a shard) by
                // mistake must not take the volumes with it.
                when_deleted: Some("Retain".into()),
                when_scaled: Some("Retain".into()),
            }),
            volume_claim_templates: claim.map(|c| vec![c]),
            ..StatefulSetSpec::default()
        }),
        status: None,
    })
}

fn pod_template(ctx: &Context<'_>, shard: i32, ephemeral_data: bool) -> Result<PodTemplateSpec, BuildError> {
    let overrides = ctx.spec.pod.clone().unwrap_or_default();
    // The user's labels first, without the operator's own `cachefleet.dev/` keys (a role
    // label here would mark every pod primary); then the operator's labels, which win.
    let mut labels: BTreeMap<String, String> =
        overrides.labels.iter().filter(|(k, _)| !k.starts_with("cachefleet.dev/")).map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.extend(ctx.meta.shard_labels(shard));
    let mut annotations = overrides.annotations.clone();
    annotations.insert(names::ANNOTATION_CONFIG_HASH.to_string(), ctx.config_hash.clone());

    let data_volume = ephemeral_data.then(|| Volume { name: DATA_VOLUME.into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() });
    let config_volume = Volume {
        name: CONFIG_VOLUME.into(),
        config_map: Some(ConfigMapVolumeSource { name: names::config_map(&ctx.meta.name), ..ConfigMapVolumeSource::default() }),
        ..Volume::default()
    };

    let mut volumes: Vec<Volume> = [Some(config_volume), data_volume].into_iter().flatten().collect();
    // A seeded cluster's pods first place their shard's snapshot in the data directory.
    let restore = match &ctx.restore {
        Some(prefix) => {
            let (init, extra) = ctx.snapshots.restore_container(prefix, shard, DATA_VOLUME)?;
            volumes.extend(extra);
            Some(vec![init])
        }
        None => None,
    };

    Ok(PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels), annotations: Some(annotations), ..ObjectMeta::default() }),
        spec: Some(PodSpec {
            init_containers: restore,
            containers: vec![container(ctx, shard)],
            volumes: Some(volumes),
            affinity: Some(affinity(ctx, shard, &overrides)),
            topology_spread_constraints: Some(vec![zone_spread(ctx, shard)]),
            termination_grace_period_seconds: Some(if overrides.termination_grace_period_seconds > 0 {
                overrides.termination_grace_period_seconds
            } else {
                PodOverrides::default().termination_grace_period_seconds
            }),
            node_selector: (!overrides.node_selector.is_empty()).then(|| overrides.node_selector.clone()),
            tolerations: (!overrides.tolerations.is_empty()).then(|| overrides.tolerations.clone()),
            priority_class_name: overrides.priority_class_name.clone(),
            image_pull_secrets: (!overrides.image_pull_secrets.is_empty()).then(|| overrides.image_pull_secrets.clone()),
            // The node talks to no API server, and service environment variables of a busy
            // namespace only slow the start and leak names.
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(node_pod_security()),
            ..PodSpec::default()
        }),
    })
}

fn container(ctx: &Context<'_>, shard: i32) -> Container {
    let (client_port_name, client_port) = names::client_port(ctx.spec.engine);
    let mut args = vec![names::config_path()];
    let mut env = Vec::new();
    // A replica announces its stable DNS name (names::pod_host, spelled with the pod's own
    // name and namespace) instead of its pod IP, so its primary lists it by the address
    // the operator uses: a planned switchover (`FAILOVER TO <name> 6379`) finds it, and
    // the old primary then replicates from that name, not from an IP that changes.
    for (var, path) in [(POD_NAME_ENV, "metadata.name"), (POD_NAMESPACE_ENV, "metadata.namespace")] {
        env.push(EnvVar {
            name: var.into(),
            value_from: Some(EnvVarSource { field_ref: Some(ObjectFieldSelector { field_path: path.into(), api_version: None }), ..EnvVarSource::default() }),
            ..EnvVar::default()
        });
    }
    args.push(format!("--replica-announce-ip=$({POD_NAME_ENV}).{}.$({POD_NAMESPACE_ENV}).svc", names::shard_name(&ctx.meta.name, shard)));
    if let Some(secret) = ctx.spec.auth.as_ref().and_then(|a| a.password_secret.as_ref()) {
        env.push(EnvVar {
            name: names::PASSWORD_ENV.into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector { name: secret.name.clone(), key: secret.key.clone(), optional: Some(false) }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
        // Kubernetes expands `$(VAR)` in args, so the password is in no object, only in
        // the Secret. One `--flag=value` argument, so a password starting with `-` is
        // still read as the value.
        args.push(format!("--requirepass=$({})", names::PASSWORD_ENV));
        // Replicas authenticate to their primary with the same password.
        args.push(format!("--masterauth=$({})", names::PASSWORD_ENV));
    }
    let http_probe = |path: &str, period: i32, timeout: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction { path: Some(path.into()), port: IntOrString::String(names::PORT_NAME_METRICS.into()), ..HTTPGetAction::default() }),
        period_seconds: Some(period),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(failures),
        ..Probe::default()
    };
    Container {
        name: names::CONTAINER_NAME.into(),
        image: Some(ctx.image.clone()),
        args: Some(args),
        env: Some(env),
        ports: Some(vec![
            ContainerPort { name: Some(client_port_name.into()), container_port: client_port, protocol: Some("TCP".into()), ..ContainerPort::default() },
            ContainerPort {
                name: Some(names::PORT_NAME_METRICS.into()),
                container_port: names::ADMIN_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        // Ready = accepting clients; the Services route only to ready pods.
        readiness_probe: Some(http_probe("/readyz", 5, 2, 2)),
        // A minute of failed checks before a restart: a node busy with a large command or
        // a slow disk must not lose its memory to an impatient probe.
        liveness_probe: Some(http_probe("/healthz", 10, 5, 6)),
        // Until the process answers at all; liveness takes over after.
        startup_probe: Some(http_probe("/healthz", 2, 2, 60)),
        resources: Some(ctx.sizing.resources.clone()),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(NODE_USER),
            run_as_group: Some(NODE_USER),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount { name: CONFIG_VOLUME.into(), mount_path: names::CONFIG_DIR.into(), read_only: Some(true), ..VolumeMount::default() },
            VolumeMount { name: DATA_VOLUME.into(), mount_path: names::DATA_DIR.into(), ..VolumeMount::default() },
        ]),
        ..Container::default()
    }
}

/// The pod security context of every pod running the cache-node image (nodes and the
/// snapshot Jobs).
pub(super) fn node_pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(NODE_USER),
        run_as_group: Some(NODE_USER),
        // Makes the data volume writable by the node; skipped when already right,
        // so a restart does not walk a large volume.
        fs_group: Some(NODE_USER),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..PodSecurityContext::default()
    }
}

pub(super) fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }
}

/// The claim template of a node's data volume.
fn data_claim(ctx: &Context<'_>, shard: i32, persistence: &PersistenceSpec, mode: PersistenceMode) -> Result<PersistentVolumeClaim, BuildError> {
    let mode_name = if mode == PersistenceMode::Aof { "aof" } else { "rdb" };
    let size = persistence.storage_size.clone().ok_or(BuildError::MissingStorageSize(mode_name))?;
    Ok(PersistentVolumeClaim {
        // Claim templates cannot change once the StatefulSet exists, so only labels that
        // never change go here.
        metadata: ObjectMeta { name: Some(DATA_VOLUME.into()), labels: Some(ctx.meta.shard_labels(shard)), ..ObjectMeta::default() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements { requests: Some(BTreeMap::from([("storage".to_string(), size)])), limits: None }),
            storage_class_name: persistence.storage_class_name.clone(),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    })
}

/// Spreads a shard's pods over zones, so losing a zone loses at most one of its copies.
fn zone_spread(ctx: &Context<'_>, shard: i32) -> TopologySpreadConstraint {
    let spread = ctx.spec.zone_spread.clone().unwrap_or_default();
    TopologySpreadConstraint {
        max_skew: spread.max_skew.max(1),
        topology_key: spread.topology_key.clone(),
        when_unsatisfiable: match spread.zones {
            SpreadPolicy::Required => "DoNotSchedule".into(),
            SpreadPolicy::Preferred => "ScheduleAnyway".into(),
        },
        label_selector: Some(match_labels(names::shard_selector(&ctx.meta.name, shard))),
        ..TopologySpreadConstraint::default()
    }
}

/// The user's affinity with the operator's node anti-affinity added first: two copies
/// of a shard on one node die together.
fn affinity(ctx: &Context<'_>, shard: i32, overrides: &PodOverrides) -> Affinity {
    let spread: ZoneSpreadSpec = ctx.spec.zone_spread.clone().unwrap_or_default();
    let user = overrides.affinity.clone().unwrap_or_default();
    let term = PodAffinityTerm {
        label_selector: Some(match_labels(names::shard_selector(&ctx.meta.name, shard))),
        topology_key: HOSTNAME_KEY.into(),
        ..PodAffinityTerm::default()
    };
    let mut anti = user.pod_anti_affinity.unwrap_or_default();
    match spread.nodes {
        SpreadPolicy::Required => anti.required_during_scheduling_ignored_during_execution.get_or_insert_with(Vec::new).insert(0, term),
        SpreadPolicy::Preferred => anti
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .insert(0, WeightedPodAffinityTerm { weight: 100, pod_affinity_term: term }),
    }
    Affinity { node_affinity: user.node_affinity, pod_affinity: user.pod_affinity, pod_anti_affinity: Some(anti) }
}
