//! Act: carry out each shard's plan (topology::plan) on nodes and pod labels.

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams};
use std::collections::BTreeSet;

use super::observe::ObservedNode;
use crate::nodes::{NodeAddr, NodeClient};
use crate::resources::names;
use crate::topology::{Role, ShardPlan, ShardView, Step, plan};

/// What happened to one shard in this pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardOutcome {
    pub index: i32,
    pub primary: Option<String>,
    /// Steps that succeeded, for events and metrics.
    pub done: Vec<Step>,
    /// Node and error of each step that failed (later steps of that node were skipped).
    pub failed: Vec<(String, String)>,
}

/// Plans every shard from its view (failover included).
pub fn plans(views: &[(i32, ShardView)]) -> Vec<(i32, ShardPlan)> {
    views.iter().map(|(shard, view)| (*shard, plan(view))).collect()
}

/// Adds the labels a resumed failover still needs: the target's primary label (its view
/// pretends it has it, so the brain keeps it primary) right after its promotion, and the
/// old primary's replica label, so the writer Service never selects it again.
pub fn label_resumed_failover(plan: &mut ShardPlan, target: &str, label_target: bool, old_primary: Option<&str>) {
    let mut at = plan.steps.iter().position(|s| matches!(s, Step::Promote { node } if node == target)).map_or(0, |i| i + 1);
    if label_target {
        plan.steps.insert(at, Step::Label { node: target.to_string(), role: Role::Primary });
        at += 1;
    }
    if let Some(old) = old_primary
        && !plan.steps.iter().any(|s| matches!(s, Step::Label { node, .. } if node == old))
    {
        plan.steps.insert(at, Step::Label { node: old.to_string(), role: Role::Replica });
    }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Primary => names::ROLE_PRIMARY,
        Role::Replica => names::ROLE_REPLICA,
    }
}

async fn run_step(step: &Step, pods: &Api<Pod>, client: &dyn NodeClient, nodes: &[ObservedNode], password: Option<&str>) -> Result<(), String> {
    let addr = |node: &str| {
        nodes.iter().find(|n| n.view.name == node).map(|n| NodeAddr { host: n.view.host.clone(), port: n.view.port, password: password.map(str::to_string) })
    };
    match step {
        Step::Label { node, role } => {
            let patch = serde_json::json!({ "metadata": { "labels": { names::LABEL_ROLE: role_label(*role) } } });
            pods.patch(node, &PatchParams::default(), &Patch::Merge(&patch)).await.map(drop).map_err(|e| format!("labelling {node}: {e}"))
        }
        Step::Promote { node } => {
            let a = addr(node).ok_or_else(|| format!("{node} is not a node of this cluster"))?;
            client.replicate_from(&a, None).await.map_err(|e| format!("REPLICAOF NO ONE: {e}"))
        }
        Step::ReplicateFrom { node, primary_host, primary_port } => {
            let a = addr(node).ok_or_else(|| format!("{node} is not a node of this cluster"))?;
            client.replicate_from(&a, Some((primary_host, *primary_port))).await.map_err(|e| format!("REPLICAOF {primary_host} {primary_port}: {e}"))
        }
        // Re-pointing keeps the data safe; closing its clients sends them back through
        // the writer Service instead of looping on READONLY.
        Step::Demote { node, primary_host, primary_port } => {
            let a = addr(node).ok_or_else(|| format!("{node} is not a node of this cluster"))?;
            client.replicate_from(&a, Some((primary_host, *primary_port))).await.map_err(|e| format!("REPLICAOF {primary_host} {primary_port}: {e}"))?;
            client.kill_clients(&a).await.map_err(|e| format!("CLIENT KILL TYPE normal: {e}"))
        }
        // Scaling and rolling are the StatefulSet's work on Kubernetes; topology::plan
        // never asks for them.
        Step::AddReplica { .. } | Step::RemoveReplica { .. } | Step::Switchover { .. } | Step::Restart { .. } => {
            Err(format!("{step:?} is not carried out here"))
        }
    }
}

fn step_node(step: &Step) -> &str {
    step.node().unwrap_or_default()
}

/// Runs the plans in order. A failed step stops the rest of its node's steps (so a
/// node that could not be pointed at the primary is not labelled replica), not the
/// other nodes'.
pub async fn execute(
    plans: Vec<(i32, ShardPlan)>,
    pods: &Api<Pod>,
    client: &dyn NodeClient,
    nodes: &[ObservedNode],
    password: Option<&str>,
) -> Vec<ShardOutcome> {
    let mut outcomes = Vec::new();
    for (index, plan) in plans {
        let mut outcome = ShardOutcome { index, primary: plan.primary.clone(), ..Default::default() };
        let mut blocked: BTreeSet<String> = BTreeSet::new();
        for step in plan.steps {
            let node = step_node(&step).to_string();
            if blocked.contains(&node) {
                continue;
            }
            match run_step(&step, pods, client, nodes, password).await {
                Ok(()) => {
                    tracing::info!(shard = index, ?step, "role step done");
                    outcome.done.push(step);
                }
                Err(e) => {
                    tracing::warn!(shard = index, ?step, error = %e, "role step failed");
                    outcome.failed.push((node.clone(), e));
                    blocked.insert(node);
                }
            }
        }
        outcomes.push(outcome);
    }
    outcomes
}
