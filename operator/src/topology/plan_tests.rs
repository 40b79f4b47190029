//! Table tests of plan_shard and plan.

use super::*;

fn node(ordinal: i32, labelled: Option<Role>, reported: Option<ReportedRole>) -> NodeView {
    NodeView { name: format!("c-0-{ordinal}"), ordinal, host: format!("c-0-{ordinal}.c-0"), port: 6379, labelled, reported, ..Default::default() }
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
    let plan = plan_shard(&[node(0, Some(Role::Replica), primary(0)), node(1, Some(Role::Primary), primary(1)), node(2, Some(Role::Replica), replica_of(1))]);
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
    // Pod 0 carried the primary label: it may have clients, so it is fenced.
    assert_eq!(plan.steps, vec![demote(0, 1), label(0, Role::Replica), label(2, Role::Replica)]);
}

#[test]
fn a_labelled_primary_that_reports_replica_is_promoted_first() {
    let plan = plan_shard(&[node(0, Some(Role::Primary), replica_of(1)), node(1, None, primary(1))]);
    assert_eq!(plan.primary.as_deref(), Some("c-0-0"));
    assert_eq!(plan.steps, vec![Step::Promote { node: "c-0-0".into() }, follow(1, 0), label(1, Role::Replica)]);
}

#[test]
fn unreachable_nodes_get_no_steps_and_no_primary_is_picked_among_none() {
    assert_eq!(plan_shard(&[node(0, None, None), node(1, None, None)]), ShardPlan::default());
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

fn with_data(mut n: NodeView, offset: i64) -> NodeView {
    n.replication = Some(Replication { offset, keys: 1, link_up: true, ..Default::default() });
    n
}

fn shard(nodes: Vec<NodeView>, primary_failed: bool) -> ShardView {
    ShardView { nodes, epoch: 4, primary_failed, failover_enabled: true, had_data: true }
}

fn demote(o: i32, p: i32) -> Step {
    Step::Demote { node: format!("c-0-{o}"), primary_host: format!("c-0-{p}.c-0"), primary_port: 6379 }
}

#[test]
fn a_failed_primary_is_replaced_by_the_replica_with_the_most_data() {
    let nodes = vec![
        node(0, Some(Role::Primary), None),
        with_data(node(1, Some(Role::Replica), replica_of(0)), 90),
        with_data(node(2, Some(Role::Replica), replica_of(0)), 100),
    ];
    let p = plan(&shard(nodes, true));
    assert_eq!(p.primary.as_deref(), Some("c-0-2"));
    assert_eq!(p.epoch, 5);
    assert_eq!(p.steps, vec![Step::Promote { node: "c-0-2".into() }, label(2, Role::Primary), label(0, Role::Replica), follow(1, 2)]);
    let decision = p.failover.unwrap();
    assert_eq!((decision.from.as_str(), decision.to.as_str()), ("c-0-0", "c-0-2"));
}

#[test]
fn no_failover_before_detection_when_disabled_or_without_a_fit_replica() {
    let nodes = || vec![node(0, Some(Role::Primary), None), with_data(node(1, Some(Role::Replica), replica_of(0)), 90)];
    let before = plan(&shard(nodes(), false));
    assert_eq!((before.primary.as_deref(), before.failover, before.epoch), (Some("c-0-0"), None, 4));
    let disabled = plan(&ShardView { failover_enabled: false, ..shard(nodes(), true) });
    assert_eq!(disabled.failover, None);
    let mut loading = nodes();
    if let Some(r) = loading[1].replication.as_mut() {
        r.loading = true;
    }
    assert_eq!(plan(&shard(loading, true)).failover, None);
}

#[test]
fn a_primary_that_came_back_empty_hands_over_to_the_replica_holding_the_data() {
    let mut empty = with_data(node(0, Some(Role::Primary), primary(1)), 0);
    empty.came_back_empty = true;
    let nodes = vec![empty, with_data(node(1, Some(Role::Replica), replica_of(0)), 100)];
    let p = plan(&shard(nodes, false));
    assert_eq!(p.primary.as_deref(), Some("c-0-1"));
    assert_eq!(p.steps, vec![Step::Promote { node: "c-0-1".into() }, label(1, Role::Primary), label(0, Role::Replica), demote(0, 1)]);
}

#[test]
fn a_returning_old_primary_is_demoted_and_an_empty_newcomer_only_re_pointed() {
    // After a failover to pod 1 (epoch 5), pod 0 returns acting as primary with its old data.
    let mut new_primary = with_data(node(1, Some(Role::Primary), primary(0)), 120);
    new_primary.epoch = Some(5);
    let old = with_data(node(0, Some(Role::Replica), primary(0)), 100);
    let fresh = node(2, None, primary(0));
    let p = plan(&shard(vec![old, new_primary, fresh], false));
    assert_eq!(p.primary.as_deref(), Some("c-0-1"));
    assert_eq!(p.steps, vec![demote(0, 1), follow(2, 1), label(2, Role::Replica)]);
}

#[test]
fn a_stale_primary_label_loses_to_the_newer_epoch_and_is_fenced() {
    let mut old = with_data(node(0, Some(Role::Primary), primary(0)), 100);
    old.epoch = Some(4);
    let mut new = with_data(node(1, Some(Role::Primary), primary(0)), 120);
    new.epoch = Some(5);
    let p = plan(&shard(vec![old, new], false));
    assert_eq!(p.primary.as_deref(), Some("c-0-1"));
    assert_eq!(p.steps, vec![demote(0, 1), label(0, Role::Replica)]);
}
