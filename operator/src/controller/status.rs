//! Status: what the operator tells people and automation, computed from what it observed
//! and did in this pass. Pure. The contract is docs/status-conditions.md.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::act::ShardOutcome;
use super::observe::ObservedNode;
use super::validate::Invalid;
use crate::api::{CacheCluster, CacheClusterStatus, ClusterEndpoints, Engine, Mode, NodeStatus, Phase, ShardStatus};
use crate::resources::names;
use crate::topology::{ReportedRole, Role, Step};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";

pub(super) fn condition(type_: &str, status: bool, reason: &str, message: String, generation: Option<i64>, now: &Time) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// Keeps a condition's lastTransitionTime while its status stays the same, as the API
/// conventions ask; the time then says how long it has been so.
fn carry_transition_times(old: Option<&CacheClusterStatus>, mut new: Vec<Condition>) -> Vec<Condition> {
    for c in &mut new {
        if let Some(prev) = old.and_then(|s| s.conditions.iter().find(|p| p.type_ == c.type_))
            && prev.status == c.status
        {
            c.last_transition_time = prev.last_transition_time.clone();
        }
    }
    new
}

/// Conditions this module does not compute (BackupHealthy, from the snapshots stage)
/// stay as they were.
fn keep_others(old: Option<&CacheClusterStatus>, mut new: Vec<Condition>) -> Vec<Condition> {
    let others = old.into_iter().flat_map(|s| s.conditions.iter()).filter(|c| ![READY, PROGRESSING, DEGRADED].contains(&c.type_.as_str()));
    new.extend(others.cloned());
    new
}

/// Puts `c` in the status, keeping its lastTransitionTime when its status did not change.
pub fn set_condition(status: &mut CacheClusterStatus, mut c: Condition) {
    match status.conditions.iter_mut().find(|p| p.type_ == c.type_) {
        Some(prev) => {
            if prev.status == c.status {
                c.last_transition_time = prev.last_transition_time.clone();
            }
            *prev = c;
        }
        None => status.conditions.push(c),
    }
}

fn was_ready(old: Option<&CacheClusterStatus>) -> bool {
    old.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == READY && c.status == "True"))
}

/// Status of a spec that cannot be carried out.
pub fn invalid(cluster: &CacheCluster, why: &Invalid, now: &Time) -> CacheClusterStatus {
    let generation = cluster.metadata.generation;
    let old = cluster.status.as_ref();
    let conditions = vec![
        condition(READY, false, why.reason, why.message.clone(), generation, now),
        condition(PROGRESSING, false, why.reason, "waiting for the spec to change".to_string(), generation, now),
        condition(DEGRADED, false, "AsExpected", "nothing is running that could be degraded by this spec".to_string(), generation, now),
    ];
    CacheClusterStatus {
        observed_generation: generation,
        phase: Some(Phase::Failed),
        conditions: keep_others(old, carry_transition_times(old, conditions)),
        ..old.cloned().unwrap_or_default()
    }
}

/// Where clients connect.
pub fn endpoints(cluster: &CacheCluster, namespace: &str) -> ClusterEndpoints {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let at = |service: String, port: i32| Some(format!("{service}.{namespace}.svc:{port}"));
    match (cluster.spec.engine, cluster.spec.mode) {
        (Engine::Memcached, _) => ClusterEndpoints { configuration: at(names::configuration_service(name), names::MEMCACHED_PORT), ..Default::default() },
        (Engine::Redis, Mode::Cluster) => ClusterEndpoints { configuration: at(names::configuration_service(name), names::RESP_PORT), ..Default::default() },
        (Engine::Redis, Mode::Replicated) => ClusterEndpoints {
            primary: at(names::primary_service(name), names::RESP_PORT),
            reader: at(names::reader_service(name), names::RESP_PORT),
            configuration: None,
        },
    }
}

/// The role label a node carries after this pass's label steps.
fn role_after(node: &ObservedNode, outcomes: &[ShardOutcome]) -> Option<Role> {
    let relabelled = outcomes.iter().flat_map(|o| &o.done).find_map(|s| match s {
        Step::Label { node: n, role } if *n == node.view.name => Some(*role),
        _ => None,
    });
    relabelled.or(node.view.labelled)
}

/// Status of a running cluster.
pub fn running(cluster: &CacheCluster, namespace: &str, nodes: &[ObservedNode], outcomes: &[ShardOutcome], now: &Time) -> CacheClusterStatus {
    let generation = cluster.metadata.generation;
    let old = cluster.status.as_ref();
    let desired = nodes.len();
    let ready_count = nodes.iter().filter(|n| n.pod_ready).count();

    let mut shards = Vec::new();
    let mut no_primary = Vec::new();
    let mut primary_down = Vec::new();
    let mut not_in_sync = Vec::new();
    for outcome in outcomes {
        let members: Vec<&ObservedNode> = nodes.iter().filter(|n| n.shard == outcome.index).collect();
        let primary = outcome.primary.as_ref().and_then(|p| members.iter().find(|n| n.view.name == *p));
        match primary {
            None => no_primary.push(outcome.index),
            // A node promoted (or handed the role by a switchover) in this pass answers as
            // primary from now on.
            Some(p)
                if !matches!(p.view.reported, Some(ReportedRole::Primary { .. }))
                    && !outcome.done.iter().any(|s| matches!(s, Step::Promote { node } | Step::Switchover { to: node, .. } if *node == p.view.name)) =>
            {
                primary_down.push(p.view.name.clone())
            }
            Some(p) => {
                for n in members.iter().filter(|n| n.view.name != p.view.name) {
                    // Link up (ROLE `connected`) is not enough: a replica still loading
                    // or in a full sync holds a partial data set.
                    if !n.view.in_sync_with(&p.view) {
                        not_in_sync.push(n.view.name.clone());
                    }
                }
            }
        }
        shards.push(ShardStatus {
            index: outcome.index,
            primary: outcome.primary.clone(),
            nodes: members
                .iter()
                .map(|n| NodeStatus {
                    pod: n.view.name.clone(),
                    role: role_after(n, outcomes).map(|r| match r {
                        Role::Primary => names::ROLE_PRIMARY.to_string(),
                        Role::Replica => names::ROLE_REPLICA.to_string(),
                    }),
                    zone: n.view.zone.clone(),
                    ready: n.pod_ready,
                    lag_bytes: None,
                })
                .collect(),
            slots: None,
        });
    }

    let failures: Vec<String> = outcomes.iter().flat_map(|o| o.failed.iter().map(|(node, e)| format!("{node}: {e}"))).collect();
    let waiting: Vec<String> =
        nodes.iter().filter(|n| !n.pod_ready).map(|n| format!("{} ({})", n.view.name, n.probe_error.as_deref().unwrap_or("pod not ready"))).collect();
    let nodes_msg = format!("{ready_count}/{desired} nodes ready");

    let (ready, reason, message) = if !failures.is_empty() {
        (false, "ReplicationFailed", format!("{nodes_msg}; role commands failed: {}", failures.join("; ")))
    } else if !waiting.is_empty() {
        (false, "NodesNotReady", format!("{nodes_msg}; waiting for {}", waiting.join(", ")))
    } else if !no_primary.is_empty() {
        (false, "NoPrimary", format!("{nodes_msg}; no reachable node to make primary in shard(s) {no_primary:?}"))
    } else if !primary_down.is_empty() {
        (false, "PrimaryUnreachable", format!("{nodes_msg}; primary {} does not answer as a primary", primary_down.join(", ")))
    } else if !not_in_sync.is_empty() {
        (false, "ReplicasSyncing", format!("{nodes_msg}; replicas not yet in sync: {}", not_in_sync.join(", ")))
    } else {
        (true, "ClusterReady", format!("{nodes_msg}; every shard has a primary and its replicas in sync"))
    };

    let degraded_reason = if !failures.is_empty() {
        Some("ReplicationFailed")
    } else if !primary_down.is_empty() {
        Some("PrimaryUnreachable")
    } else if !ready && was_ready(old) {
        Some("NodesNotReady")
    } else {
        None
    };
    let conditions = vec![
        condition(READY, ready, reason, message.clone(), generation, now),
        if ready {
            condition(PROGRESSING, false, "Reconciled", "the cluster matches its spec".to_string(), generation, now)
        } else {
            condition(PROGRESSING, true, "Reconciling", message.clone(), generation, now)
        },
        match degraded_reason {
            Some(r) => condition(DEGRADED, true, r, message, generation, now),
            None => condition(DEGRADED, false, "AsExpected", "no fault seen".to_string(), generation, now),
        },
    ];
    let creating = !was_ready(old) && matches!(old.and_then(|s| s.phase), None | Some(Phase::Pending) | Some(Phase::Creating) | Some(Phase::Failed));
    let phase = if ready {
        Phase::Ready
    } else if degraded_reason.is_some() {
        Phase::Degraded
    } else if creating {
        Phase::Creating
    } else {
        Phase::Updating
    };
    CacheClusterStatus {
        observed_generation: generation,
        phase: Some(phase),
        conditions: keep_others(old, carry_transition_times(old, conditions)),
        ready_nodes: Some(format!("{ready_count}/{desired}")),
        endpoints: Some(endpoints(cluster, namespace)),
        shards,
        epoch: old.and_then(|s| s.epoch),
        last_failover: old.and_then(|s| s.last_failover.clone()),
        failovers_in_progress: old.map(|s| s.failovers_in_progress.clone()).unwrap_or_default(),
        last_snapshot: old.and_then(|s| s.last_snapshot.clone()),
        rollout: old.and_then(|s| s.rollout.clone()),
        applied_settings_hash: old.and_then(|s| s.applied_settings_hash.clone()),
    }
}

/// Whether the status differs from what is stored (so unchanged passes write nothing).
pub fn changed(old: Option<&CacheClusterStatus>, new: &CacheClusterStatus) -> bool {
    old != Some(new)
}

/// The Ready condition, if any.
pub fn ready_condition(status: Option<&CacheClusterStatus>) -> Option<&Condition> {
    status?.conditions.iter().find(|c| c.type_ == READY)
}
