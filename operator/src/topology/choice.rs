//! Choices about who holds a shard's data: which node is its primary now, and which
//! replica takes over when that primary fails.

use std::cmp::Reverse;

use super::view::{NodeView, ReportedRole, Role};

/// Which node is the shard's primary.
///
/// - The node labelled primary keeps the role, so a restart of the operator never moves
///   it. When several carry the label (an interrupted change), the newest epoch wins,
///   then the one the nodes agree on: reachable, reporting itself primary, with the most
///   replicas.
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
            let newest = labelled.iter().filter_map(|n| n.epoch).max();
            let contenders: Vec<&NodeView> = labelled.iter().copied().filter(|n| newest.is_none() || n.epoch == newest).collect();
            if contenders.len() == 1 {
                return contenders.first().copied();
            }
            let agreed = contenders.iter().filter(|n| replicas_of(n).is_some()).max_by_key(|n| (replicas_of(n), Reverse(n.ordinal)));
            return agreed.or_else(|| contenders.iter().min_by_key(|n| n.ordinal)).copied();
        }
    }
    if let Some(adopted) = nodes.iter().filter(|n| replicas_of(n).unwrap_or(0) > 0).max_by_key(|n| (replicas_of(n), Reverse(n.ordinal))) {
        return Some(adopted);
    }
    nodes.iter().filter(|n| n.reachable()).min_by_key(|n| n.ordinal)
}

/// Why a node may not take over from a failed primary; None when it may.
pub fn unfit_for_promotion(node: &NodeView, failed: &NodeView, shard_had_data: bool) -> Option<&'static str> {
    if node.name == failed.name {
        return Some("it is the failed primary");
    }
    if !node.reachable() {
        return Some("unreachable");
    }
    if node.came_back_empty {
        return Some("it came back empty after a restart");
    }
    let Some(repl) = &node.replication else { return Some("its replication state is unknown") };
    if repl.loading {
        return Some("still loading its data");
    }
    if repl.sync_in_progress {
        return Some("a full sync is under way");
    }
    if shard_had_data && repl.offset <= 0 && repl.keys == 0 {
        return Some("it holds none of the shard's data");
    }
    if matches!(node.reported, Some(ReportedRole::Primary { .. })) && !node.follows(failed) {
        // A standalone node claiming primary is not part of this shard's history.
        return Some("it is not a replica of the shard");
    }
    None
}

/// The replica to promote when `failed` (the shard's primary) is down: among the fit
/// ones, the highest replication offset (least data lost); on a tie, one in another zone
/// than the failed primary (a zone outage takes its nodes together); then the lowest
/// ordinal, so the choice is deterministic.
pub fn failover_candidate<'a>(nodes: &'a [NodeView], failed: &NodeView, shard_had_data: bool) -> Option<&'a NodeView> {
    let other_zone = |n: &NodeView| match (&n.zone, &failed.zone) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    };
    nodes
        .iter()
        .filter(|n| unfit_for_promotion(n, failed, shard_had_data).is_none())
        .max_by_key(|n| (n.offset().unwrap_or(i64::MIN), other_zone(n), Reverse(n.ordinal)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::view::Replication;

    fn replica(name: &str, offset: i64, zone: &str) -> NodeView {
        NodeView {
            name: name.into(),
            ordinal: name.trim_start_matches('n').parse().unwrap_or(0),
            host: name.into(),
            port: 1,
            labelled: Some(Role::Replica),
            reported: Some(ReportedRole::Replica { primary_host: "n0".into(), primary_port: 1, in_sync: false }),
            replication: Some(Replication { offset, keys: u64::from(offset > 0), ..Default::default() }),
            zone: Some(zone.into()),
            ..Default::default()
        }
    }

    fn failed() -> NodeView {
        NodeView { name: "n0".into(), host: "n0".into(), port: 1, labelled: Some(Role::Primary), zone: Some("a".into()), ..Default::default() }
    }

    #[test]
    fn the_fit_replica_with_the_most_data_wins_and_ties_leave_the_failed_zone() {
        let loading = |mut n: NodeView| {
            n.replication.as_mut().unwrap().loading = true;
            n
        };
        let syncing = |mut n: NodeView| {
            n.replication.as_mut().unwrap().sync_in_progress = true;
            n
        };
        let empty = |mut n: NodeView| {
            n.came_back_empty = true;
            n
        };
        let down = |mut n: NodeView| {
            n.reported = None;
            n
        };
        let cases: Vec<(&str, Vec<NodeView>, Option<&str>)> = vec![
            ("highest offset", vec![replica("n1", 100, "b"), replica("n2", 120, "a")], Some("n2")),
            ("tie goes to another zone", vec![replica("n1", 100, "a"), replica("n2", 100, "b")], Some("n2")),
            ("tie in the same zones goes to the lowest ordinal", vec![replica("n2", 100, "b"), replica("n1", 100, "b")], Some("n1")),
            ("loading is never chosen", vec![loading(replica("n1", 500, "b")), replica("n2", 100, "b")], Some("n2")),
            ("syncing is never chosen", vec![syncing(replica("n1", 500, "b")), replica("n2", 100, "b")], Some("n2")),
            ("came back empty is never chosen", vec![empty(replica("n1", 500, "b"))], None),
            ("no data while the shard had some", vec![replica("n1", 0, "b")], None),
            ("unreachable", vec![down(replica("n1", 100, "b"))], None),
            ("unknown state", vec![NodeView { replication: None, ..replica("n1", 100, "b") }], None),
        ];
        for (what, mut nodes, want) in cases {
            nodes.push(failed());
            assert_eq!(failover_candidate(&nodes, &failed(), true).map(|n| n.name.as_str()), want, "{what}");
        }
        // A shard that never held data may promote an empty replica.
        let nodes = vec![failed(), replica("n1", 0, "b")];
        assert_eq!(failover_candidate(&nodes, &failed(), false).map(|n| n.name.as_str()), Some("n1"));
    }

    #[test]
    fn two_labelled_primaries_resolve_to_the_newest_epoch() {
        let mut old = replica("n1", 100, "a");
        old.labelled = Some(Role::Primary);
        old.reported = Some(ReportedRole::Primary { replicas: 2 });
        old.epoch = Some(3);
        let mut new = replica("n2", 100, "b");
        new.labelled = Some(Role::Primary);
        new.reported = Some(ReportedRole::Primary { replicas: 0 });
        new.epoch = Some(4);
        assert_eq!(choose_primary(&[old, new]).map(|n| n.name.as_str()), Some("n2"));
    }
}
