//! Planned changes, one safe step at a time: the driver asks again after each step has
//! taken effect, so a change never has two nodes of a shard in flight at once.

use super::plan::Step;
use super::view::NodeView;

/// The next step toward `replicas` replicas behind `primary`, or None when the shard has
/// them (or must wait). One replica is added at a time and only while every existing
/// replica is in sync, so a new node never counts before it holds the data. A replica is
/// removed from the top ordinals, out-of-sync ones first, never the primary.
pub fn next_scale_step(nodes: &[NodeView], primary: &NodeView, replicas: usize) -> Option<Step> {
    let others: Vec<&NodeView> = nodes.iter().filter(|n| n.name != primary.name).collect();
    if others.len() < replicas {
        if others.iter().any(|n| !n.in_sync_with(primary)) {
            return None;
        }
        let ordinal = nodes.iter().map(|n| n.ordinal).max().map_or(0, |m| m + 1);
        return Some(Step::AddReplica { ordinal });
    }
    if others.len() > replicas {
        let victim = others.iter().max_by_key(|n| (!n.in_sync_with(primary), n.ordinal))?;
        return Some(Step::RemoveReplica { node: victim.name.clone() });
    }
    None
}

/// The next step of a rolling change, where `stale(name)` says a node still runs the
/// old settings. Replicas first, one at a time and only while all others are in sync;
/// then a switchover to the caught-up replica with the most data; then the old primary,
/// which is a replica by then. None when done or waiting for replicas to catch up.
pub fn next_roll_step(nodes: &[NodeView], primary: &NodeView, stale: &dyn Fn(&str) -> bool) -> Option<Step> {
    let replicas: Vec<&NodeView> = nodes.iter().filter(|n| n.name != primary.name).collect();
    if replicas.iter().any(|n| !n.in_sync_with(primary)) {
        return None;
    }
    if let Some(r) = replicas.iter().filter(|n| stale(&n.name)).min_by_key(|n| n.ordinal) {
        return Some(Step::Restart { node: r.name.clone() });
    }
    if stale(&primary.name) {
        return match replicas.iter().max_by_key(|n| (n.offset().unwrap_or(i64::MIN), std::cmp::Reverse(n.ordinal))) {
            Some(to) => Some(Step::Switchover { from: primary.name.clone(), to: to.name.clone() }),
            // A shard without replicas can only restart its primary (a short outage).
            None => Some(Step::Restart { node: primary.name.clone() }),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::view::{Replication, ReportedRole, Role};

    fn primary() -> NodeView {
        NodeView {
            name: "n0".into(),
            host: "h".into(),
            port: 10,
            labelled: Some(Role::Primary),
            reported: Some(ReportedRole::Primary { replicas: 2 }),
            ..Default::default()
        }
    }
    fn replica(ordinal: i32, in_sync: bool, offset: i64) -> NodeView {
        NodeView {
            name: format!("n{ordinal}"),
            ordinal,
            host: "h".into(),
            port: 10 + ordinal as u16,
            labelled: Some(Role::Replica),
            reported: Some(ReportedRole::Replica { primary_host: "h".into(), primary_port: 10, in_sync }),
            replication: Some(Replication { offset, link_up: in_sync, ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn scaling_adds_one_in_sync_replica_at_a_time_and_removes_from_the_top() {
        let p = primary();
        let cases: Vec<(Vec<NodeView>, usize, Option<Step>)> = vec![
            (vec![p.clone(), replica(1, true, 5)], 3, Some(Step::AddReplica { ordinal: 2 })),
            (vec![p.clone(), replica(1, true, 5), replica(2, false, 0)], 3, None),
            (vec![p.clone(), replica(1, true, 5), replica(2, true, 5), replica(3, true, 5)], 3, None),
            (vec![p.clone(), replica(1, true, 5), replica(2, true, 5), replica(3, true, 5)], 1, Some(Step::RemoveReplica { node: "n3".into() })),
            (vec![p.clone(), replica(1, false, 5), replica(2, true, 5), replica(3, true, 5)], 2, Some(Step::RemoveReplica { node: "n1".into() })),
            (vec![p.clone()], 0, None),
        ];
        for (nodes, want, step) in cases {
            assert_eq!(next_scale_step(&nodes, &p, want), step, "{} nodes to {want}", nodes.len());
        }
    }

    #[test]
    fn a_roll_takes_replicas_first_then_switches_over_then_the_old_primary() {
        let p = primary();
        let nodes = vec![p.clone(), replica(1, true, 5), replica(2, true, 7)];
        let all = |_: &str| true;
        assert_eq!(next_roll_step(&nodes, &p, &all), Some(Step::Restart { node: "n1".into() }));
        let only_primary = |n: &str| n == "n0";
        assert_eq!(next_roll_step(&nodes, &p, &only_primary), Some(Step::Switchover { from: "n0".into(), to: "n2".into() }));
        assert_eq!(next_roll_step(&nodes, &p, &|_: &str| false), None);
        // A replica still catching up after its restart: wait.
        let catching_up = vec![p.clone(), replica(1, false, 0), replica(2, true, 7)];
        assert_eq!(next_roll_step(&catching_up, &p, &all), None);
        assert_eq!(next_roll_step(std::slice::from_ref(&p), &p, &all), Some(Step::Restart { node: "n0".into() }));
    }
}
