//! From a shard's view to the ordered steps that give it exactly one primary with every
//! other node replicating from it, failing over when the primary has failed.

use super::choice::{choose_primary, failover_candidate};
use super::view::{NodeView, Role};

/// One action on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Put the role label on the node (the writer and reader Services follow labels).
    Label { node: String, role: Role },
    /// Tell a node to stop replicating and accept writes (`REPLICAOF NO ONE`).
    Promote { node: String },
    /// Tell a node to replicate from the primary (`REPLICAOF host port`).
    ReplicateFrom { node: String, primary_host: String, primary_port: u16 },
    /// A node that acts as primary but is not the shard's (a returning old primary, or
    /// one fenced by a newer epoch): `REPLICAOF host port`, then close its client
    /// connections so clients reconnect to the real primary instead of looping on
    /// READONLY errors or writing to a node that will be resynced.
    Demote { node: String, primary_host: String, primary_port: u16 },
    /// Start one more replica (scale up); it counts once in sync.
    AddReplica { ordinal: i32 },
    /// Stop and remove a replica (scale down).
    RemoveReplica { node: String },
    /// Planned handover: the primary hands its role to an in-sync replica (`FAILOVER TO`),
    /// which waits for the replica to catch up so no acknowledged write is lost.
    Switchover { from: String, to: String },
    /// Restart a node so it takes a change that cannot be applied live.
    Restart { node: String },
}

impl Step {
    /// The node the step acts on (for a switchover, the primary that receives FAILOVER).
    pub fn node(&self) -> Option<&str> {
        match self {
            Step::Label { node, .. }
            | Step::Promote { node }
            | Step::ReplicateFrom { node, .. }
            | Step::Demote { node, .. }
            | Step::RemoveReplica { node }
            | Step::Restart { node } => Some(node),
            Step::Switchover { from, .. } => Some(from),
            Step::AddReplica { .. } => None,
        }
    }
}

/// An automatic failover the plan makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverDecision {
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// The plan for one shard: which node is primary, the epoch of that role, and the steps
/// that make the shard match. Steps are in the order they must run: the primary is
/// confirmed before replicas are pointed at it, and labels change after the node's role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardPlan {
    pub primary: Option<String>,
    /// The shard's epoch after the plan: one more than before when it fails over.
    pub epoch: u64,
    pub steps: Vec<Step>,
    /// Set when the plan promotes a replica in place of a failed primary.
    pub failover: Option<FailoverDecision>,
}

/// What the driver knows of a shard beyond the per-node views.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardView {
    pub nodes: Vec<NodeView>,
    /// The epoch of the current primary's role.
    pub epoch: u64,
    /// The failure detector's verdict on the labelled primary.
    pub primary_failed: bool,
    /// Automatic failover is on (spec.failover.enabled).
    pub failover_enabled: bool,
    /// The shard has acknowledged writes (some node ever reported a positive offset or
    /// keys). An empty node must then never become the source of data.
    pub had_data: bool,
}

/// The whole decision for one shard: fail over when the primary has failed (or came
/// back empty while a replica still holds the data), otherwise keep every node in its
/// place (`plan_shard`).
pub fn plan(view: &ShardView) -> ShardPlan {
    let current = choose_primary(&view.nodes);
    if let (Some(primary), true) = (current, view.failover_enabled) {
        let reason = if view.primary_failed && !primary.reachable() {
            Some("primary failed every probe for the detection time".to_string())
        } else if primary.came_back_empty && view.had_data {
            Some("primary came back empty after a restart".to_string())
        } else {
            None
        };
        if let Some(reason) = reason
            && let Some(to) = failover_candidate(&view.nodes, primary, view.had_data)
        {
            return fail_over(&view.nodes, primary, to, view.epoch + 1, reason);
        }
    }
    ShardPlan { epoch: view.epoch, ..plan_shard(&view.nodes) }
}

fn fail_over(nodes: &[NodeView], from: &NodeView, to: &NodeView, epoch: u64, reason: String) -> ShardPlan {
    let mut steps = vec![Step::Promote { node: to.name.clone() }, Step::Label { node: to.name.clone(), role: Role::Primary }];
    // The old primary loses its label at once, so the writer endpoint never points back
    // at it; when it returns it is demoted and resynced.
    steps.push(Step::Label { node: from.name.clone(), role: Role::Replica });
    for node in nodes.iter().filter(|n| n.name != to.name && n.reachable()) {
        let (primary_host, primary_port) = (to.host.clone(), to.port);
        if node.reports_primary() {
            steps.push(Step::Demote { node: node.name.clone(), primary_host, primary_port });
        } else {
            steps.push(Step::ReplicateFrom { node: node.name.clone(), primary_host, primary_port });
        }
        if node.name != from.name && node.labelled != Some(Role::Replica) {
            steps.push(Step::Label { node: node.name.clone(), role: Role::Replica });
        }
    }
    let failover = FailoverDecision { from: from.name.clone(), to: to.name.clone(), reason };
    ShardPlan { primary: Some(to.name.clone()), epoch, steps, failover: Some(failover) }
}

/// The steps that bring a shard to one primary and replicas of it, without moving the
/// primary role. The executor stops a node's steps at the first that fails, so a node
/// whose REPLICAOF failed is not labelled. Unreachable nodes get no steps (they are
/// retried on a later pass); a primary that cannot be reached is left alone here, since
/// replacing it is failover's decision, not this one's.
pub fn plan_shard(nodes: &[NodeView]) -> ShardPlan {
    let Some(primary) = choose_primary(nodes) else {
        return ShardPlan::default();
    };
    let mut steps = Vec::new();
    if primary.reachable() && !primary.reports_primary() {
        steps.push(Step::Promote { node: primary.name.clone() });
    }
    if primary.labelled != Some(Role::Primary) && primary.reachable() {
        steps.push(Step::Label { node: primary.name.clone(), role: Role::Primary });
    }
    for node in nodes.iter().filter(|n| n.name != primary.name) {
        if !node.reachable() {
            continue;
        }
        // Only one node may carry the primary label, so the writer endpoint never
        // selects two.
        if node.labelled == Some(Role::Primary) && !primary.reachable() {
            steps.push(Step::Label { node: node.name.clone(), role: Role::Replica });
            continue;
        }
        // A node is labelled replica (and so joins the reader Service) only once it
        // follows the primary: an empty standalone node must never serve reads.
        if !node.follows(primary) {
            if !primary.reachable() {
                continue;
            }
            let (primary_host, primary_port) = (primary.host.clone(), primary.port);
            // A node that served as primary (a stale label, or data of its own) may have
            // clients writing to it: it is fenced, not just re-pointed.
            let served = node.labelled == Some(Role::Primary) || node.replication.as_ref().is_some_and(|r| r.offset > 0 || r.keys > 0);
            if node.reports_primary() && served {
                steps.push(Step::Demote { node: node.name.clone(), primary_host, primary_port });
            } else {
                steps.push(Step::ReplicateFrom { node: node.name.clone(), primary_host, primary_port });
            }
        }
        if node.labelled != Some(Role::Replica) {
            steps.push(Step::Label { node: node.name.clone(), role: Role::Replica });
        }
    }
    ShardPlan { primary: Some(primary.name.clone()), steps, ..Default::default() }
}
