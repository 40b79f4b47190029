//! The topology brain: from an observed view of one shard's nodes to the steps that give
//! it exactly one primary with every other node replicating from it. Pure and free of
//! Kubernetes types, so the same decisions can drive pods or local processes, and are
//! tested as plain code. The controller carries out the steps, one pass at a time.
//!
//! This is the initial role assignment. Promoting a replica when a primary fails (by
//! replication offset and zone) extends `choose_primary` with the failover work.

/// A node's role as it reports it (RESP `ROLE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportedRole {
    Primary {
        /// Replicas currently connected to it.
        replicas: usize,
    },
    Replica {
        /// The host and port it replicates from.
        primary_host: String,
        primary_port: u16,
        /// Whether its link to that primary is up and in sync.
        in_sync: bool,
    },
}

/// A role label the controller puts on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica,
}

/// One node of a shard as observed in this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// Stable name (the pod name).
    pub name: String,
    /// Position in the shard (the StatefulSet ordinal).
    pub ordinal: i32,
    /// Stable address others use to reach it (`host`, port).
    pub host: String,
    pub port: u16,
    /// The role label it carries now.
    pub labelled: Option<Role>,
    /// What it answered to ROLE; None when it could not be reached.
    pub reported: Option<ReportedRole>,
}

/// One action on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Put the role label on the node (the writer and reader Services follow labels).
    Label { node: String, role: Role },
    /// Tell a node to stop replicating and accept writes (`REPLICAOF NO ONE`).
    Promote { node: String },
    /// Tell a node to replicate from the primary (`REPLICAOF host port`).
    ReplicateFrom { node: String, primary_host: String, primary_port: u16 },
}

/// The plan for one shard: which node is primary, and the steps that make the shard
/// match. Steps are in the order they must run: the primary is confirmed before
/// replicas are pointed at it, and labels change after the node's own role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardPlan {
    pub primary: Option<String>,
    pub steps: Vec<Step>,
}

/// Which node is the shard's primary.
///
/// - The node labelled primary keeps the role, so a restart of the operator never moves
///   it. When several carry the label (an interrupted change), the one the nodes agree
///   on wins: reachable, reporting itself primary, with the most replicas.
/// - Without a label, a node that already reports itself primary with replicas attached
///   is adopted (the operator died between REPLICAOF and labelling).
/// - Otherwise the reachable node with the lowest ordinal: on a new shard, the first pod.
pub fn choose_primary(nodes: &[NodeView]) -> Option<&NodeView> {
    let replicas_of = |n: &NodeView| match n.reported {
        Some(ReportedRole::Primary { replicas }) => Some(replicas),
        _ => None,
    };
    let labelled: Vec<&NodeView> = nodes.iter().filter(|n| n.labelled == Some(Role::Primary)).collect();
    match labelled.len() {
        1 => return labelled.first().copied(),
        0 => {}
        _ => {
            let agreed = labelled.iter().filter(|n| replicas_of(n).is_some()).max_by_key(|n| (replicas_of(n), std::cmp::Reverse(n.ordinal)));
            return agreed.or_else(|| labelled.iter().min_by_key(|n| n.ordinal)).copied();
        }
    }
    if let Some(adopted) = nodes.iter().filter(|n| replicas_of(n).unwrap_or(0) > 0).max_by_key(|n| (replicas_of(n), std::cmp::Reverse(n.ordinal))) {
        return Some(adopted);
    }
    nodes.iter().filter(|n| n.reported.is_some()).min_by_key(|n| n.ordinal)
}

/// The steps that bring a shard to one primary and replicas of it. The executor stops a
/// node's steps at the first that fails, so a node whose REPLICAOF failed is not labelled.
/// Unreachable nodes get
/// no steps (they are retried on a later pass); a primary that cannot be reached is left
/// alone here, since replacing it is failover's decision, not this one's.
pub fn plan_shard(nodes: &[NodeView]) -> ShardPlan {
    let Some(primary) = choose_primary(nodes) else {
        return ShardPlan { primary: None, steps: Vec::new() };
    };
    let mut steps = Vec::new();
    if let Some(ReportedRole::Replica { .. }) = primary.reported {
        steps.push(Step::Promote { node: primary.name.clone() });
    }
    if primary.labelled != Some(Role::Primary) && primary.reported.is_some() {
        steps.push(Step::Label { node: primary.name.clone(), role: Role::Primary });
    }
    let primary_up = primary.reported.is_some();
    for node in nodes.iter().filter(|n| n.name != primary.name) {
        let Some(reported) = &node.reported else { continue };
        let follows = matches!(reported, ReportedRole::Replica { primary_host, primary_port, .. }
            if *primary_host == primary.host && *primary_port == primary.port);
        // A node is labelled replica (and so joins the reader Service) only once it
        // follows the primary: an empty standalone node must never serve reads.
        if !follows {
            if !primary_up {
                continue;
            }
            steps.push(Step::ReplicateFrom { node: node.name.clone(), primary_host: primary.host.clone(), primary_port: primary.port });
        }
        if node.labelled != Some(Role::Replica) {
            steps.push(Step::Label { node: node.name.clone(), role: Role::Replica });
        }
    }
    ShardPlan { primary: Some(primary.name.clone()), steps }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ordinal: i32, labelled: Option<Role>, reported: Option<ReportedRole>) -> NodeView {
        NodeView { name: format!("c-0-{ordinal}"), ordinal, host: format!("c-0-{ordinal}.c-0"), port: 6379, labelled, reported }
    }
    fn primary(replicas: usize) -> Option<ReportedRole> {
        Some(ReportedRole::Primary { replicas })
    }
    fn replica_of(ordinal: i32) -> Option<ReportedRole> {
        Some(ReportedRole::Replica { primary_host: format!("c-0-{ordinal}.c-0"), primary_port: 6379, in_sync: true })
    }
    fn label(o: i32, role: Role) -> Step {
        Step::Label { node: format!("c-0-{o}"), role }
    }
    fn follow(o: i32, p: i32) -> Step {
        Step::ReplicateFrom { node: format!("c-0-{o}"), primary_host: format!("c-0-{p}.c-0"), primary_port: 6379 }
    }

    #[test]
    fn a_new_shard_makes_the_first_pod_primary_and_points_the_others_at_it() {
        let plan = plan_shard(&[node(0, None, primary(0)), node(1, None, primary(0)), node(2, None, primary(0))]);
        assert_eq!(plan.primary.as_deref(), Some("c-0-0"));
        assert_eq!(plan.steps, vec![label(0, Role::Primary), follow(1, 0), label(1, Role::Replica), follow(2, 0), label(2, Role::Replica)]);
    }

    #[test]
    fn a_settled_shard_needs_nothing() {
        let plan =
            plan_shard(&[node(0, Some(Role::Primary), primary(2)), node(1, Some(Role::Replica), replica_of(0)), node(2, Some(Role::Replica), replica_of(0))]);
        assert_eq!(plan.steps, vec![]);
    }

    #[test]
    fn the_labelled_primary_keeps_the_role_whatever_its_ordinal() {
        let plan =
            plan_shard(&[node(0, Some(Role::Replica), primary(0)), node(1, Some(Role::Primary), primary(1)), node(2, Some(Role::Replica), replica_of(1))]);
        assert_eq!(plan.primary.as_deref(), Some("c-0-1"));
        // Pod 0 came back empty after a restart and reports itself primary: it rejoins as a replica.
        assert_eq!(plan.steps, vec![follow(0, 1)]);
    }

    #[test]
    fn an_unlabelled_primary_with_replicas_is_adopted() {
        let plan = plan_shard(&[node(0, None, primary(0)), node(1, None, primary(1)), node(2, None, replica_of(1))]);
        assert_eq!(plan.primary.as_deref(), Some("c-0-1"));
        assert_eq!(plan.steps, vec![label(1, Role::Primary), follow(0, 1), label(0, Role::Replica), label(2, Role::Replica)]);
    }

    #[test]
    fn two_labelled_primaries_resolve_to_the_one_with_replicas() {
        let plan = plan_shard(&[node(0, Some(Role::Primary), primary(0)), node(1, Some(Role::Primary), primary(1)), node(2, None, replica_of(1))]);
        assert_eq!(plan.primary.as_deref(), Some("c-0-1"));
        assert_eq!(plan.steps, vec![follow(0, 1), label(0, Role::Replica), label(2, Role::Replica)]);
    }

    #[test]
    fn a_labelled_primary_that_reports_replica_is_promoted_first() {
        let plan = plan_shard(&[node(0, Some(Role::Primary), replica_of(1)), node(1, None, primary(1))]);
        assert_eq!(plan.primary.as_deref(), Some("c-0-0"));
        assert_eq!(plan.steps, vec![Step::Promote { node: "c-0-0".into() }, follow(1, 0), label(1, Role::Replica)]);
    }

    #[test]
    fn unreachable_nodes_get_no_steps_and_no_primary_is_picked_among_none() {
        assert_eq!(plan_shard(&[node(0, None, None), node(1, None, None)]), ShardPlan { primary: None, steps: vec![] });
        // Pod 0 is not up yet: pod 1 becomes primary rather than waiting.
        let plan = plan_shard(&[node(0, None, None), node(1, None, primary(0)), node(2, None, primary(0))]);
        assert_eq!(plan.primary.as_deref(), Some("c-0-1"));
        assert_eq!(plan.steps, vec![label(1, Role::Primary), follow(2, 1), label(2, Role::Replica)]);
    }

    #[test]
    fn a_labelled_primary_that_is_down_is_kept_and_replicas_are_left_alone() {
        let plan = plan_shard(&[node(0, Some(Role::Primary), None), node(1, None, replica_of(0)), node(2, None, primary(0))]);
        assert_eq!(plan.primary.as_deref(), Some("c-0-0"));
        // Pod 1 follows the primary already and is labelled; pod 2 does not, and stays out
        // of the reader Service until the primary is back.
        assert_eq!(plan.steps, vec![label(1, Role::Replica)]);
    }
}
