//! Properties of the brain over arbitrary shards: whatever is observed, the plan's
//! outcome keeps the invariants a cache cluster's data depends on.

use proptest::prelude::*;

use super::*;

fn host(i: usize) -> String {
    format!("n{i}.shard")
}

prop_compose! {
    fn arb_node(count: usize)(
        labelled in prop_oneof![Just(None), Just(Some(Role::Primary)), Just(Some(Role::Replica))],
        reachable in proptest::bool::weighted(0.8),
        reports_primary in any::<bool>(),
        replicas in 0usize..4,
        follows in 0..count,
        in_sync in any::<bool>(),
        offset in prop_oneof![Just(0i64), 1i64..1000],
        loading in proptest::bool::weighted(0.2),
        sync_in_progress in proptest::bool::weighted(0.2),
        came_back_empty in proptest::bool::weighted(0.2),
        zone in 0u8..3,
        epoch in proptest::option::of(0u64..4),
        informed in proptest::bool::weighted(0.9),
    ) -> NodeView {
        let reported = reachable.then(|| if reports_primary {
            ReportedRole::Primary { replicas }
        } else {
            ReportedRole::Replica { primary_host: host(follows), primary_port: 6379, in_sync }
        });
        let keys = if came_back_empty { 0 } else { u64::try_from(offset).unwrap_or(0) };
        let offset = if came_back_empty { 0 } else { offset };
        NodeView {
            labelled,
            reported,
            replication: (reachable && informed).then_some(Replication { offset, link_up: in_sync, sync_in_progress, loading, keys }),
            zone: Some(format!("z{zone}")),
            came_back_empty,
            epoch,
            ..Default::default()
        }
    }
}

fn arb_shard() -> impl Strategy<Value = ShardView> {
    (1usize..6).prop_flat_map(|count| (proptest::collection::vec(arb_node(count), count), any::<bool>(), any::<bool>(), any::<bool>(), 0u64..5)).prop_map(
        |(mut nodes, primary_failed, failover_enabled, had_data, epoch)| {
            for (i, n) in nodes.iter_mut().enumerate() {
                n.name = format!("n{i}");
                n.ordinal = i as i32;
                n.host = host(i);
                n.port = 6379;
            }
            ShardView { nodes, epoch, primary_failed, failover_enabled, had_data }
        },
    )
}

/// The nodes as they will be once every step has run.
fn outcome(nodes: &[NodeView], plan: &ShardPlan) -> Vec<NodeView> {
    let mut out = nodes.to_vec();
    for step in &plan.steps {
        let Some(node) = out.iter_mut().find(|n| Some(n.name.as_str()) == step.node()) else { continue };
        match step {
            Step::Label { role, .. } => node.labelled = Some(*role),
            Step::Promote { .. } => node.reported = Some(ReportedRole::Primary { replicas: 0 }),
            Step::ReplicateFrom { primary_host, primary_port, .. } | Step::Demote { primary_host, primary_port, .. } => {
                node.reported = Some(ReportedRole::Replica { primary_host: primary_host.clone(), primary_port: *primary_port, in_sync: false })
            }
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn at_most_one_reachable_node_is_labelled_and_acting_primary(view in arb_shard()) {
        let plan = plan(&view);
        let after = outcome(&view.nodes, &plan);
        let writers = after.iter().filter(|n| n.labelled == Some(Role::Primary) && n.reports_primary()).count();
        prop_assert!(writers <= 1, "{writers} writers after {plan:?}");
    }

    #[test]
    fn every_reachable_node_follows_a_reachable_primary(view in arb_shard()) {
        let plan = plan(&view);
        let after = outcome(&view.nodes, &plan);
        let Some(primary) = plan.primary.as_ref().and_then(|p| after.iter().find(|n| n.name == *p)) else { return Ok(()) };
        if primary.reachable() {
            prop_assert!(primary.reports_primary());
            for n in after.iter().filter(|n| n.name != primary.name && n.reachable()) {
                prop_assert!(n.follows(primary), "{} does not follow {} after {plan:?}", n.name, primary.name);
            }
        }
    }

    #[test]
    fn a_node_holding_the_data_is_never_replaced_by_an_empty_one(view in arb_shard()) {
        let plan = plan(&view);
        let Some(decision) = &plan.failover else { return Ok(()) };
        prop_assert!(view.failover_enabled);
        prop_assert_eq!(plan.epoch, view.epoch + 1);
        let to = view.nodes.iter().find(|n| n.name == decision.to).ok_or_else(|| TestCaseError::fail("unknown node"))?;
        let from = view.nodes.iter().find(|n| n.name == decision.from).ok_or_else(|| TestCaseError::fail("unknown node"))?;
        prop_assert!(!to.came_back_empty);
        let repl = to.replication.clone().ok_or_else(|| TestCaseError::fail("promoted a node of unknown state"))?;
        prop_assert!(!repl.loading && !repl.sync_in_progress);
        if view.had_data {
            prop_assert!(repl.offset > 0 || repl.keys > 0, "promoted {} without data", to.name);
        }
        // No fit node holds more of the stream.
        for n in view.nodes.iter().filter(|n| unfit_for_promotion(n, from, view.had_data).is_none()) {
            prop_assert!(n.offset() <= to.offset());
        }
        prop_assert!(view.primary_failed || from.came_back_empty);
    }

    #[test]
    fn without_a_failure_the_primary_stays(view in arb_shard()) {
        let mut view = view;
        view.primary_failed = false;
        for n in &mut view.nodes {
            n.came_back_empty = false;
        }
        let plan = plan(&view);
        prop_assert!(plan.failover.is_none());
        prop_assert_eq!(plan.epoch, view.epoch);
        prop_assert_eq!(plan.primary.as_deref(), choose_primary(&view.nodes).map(|n| n.name.as_str()));
    }

    #[test]
    fn replicas_are_spread_over_distinct_zones_when_enough_exist(zones in 1usize..6, nodes in 1usize..6) {
        let zones: Vec<String> = (0..zones).map(|z| format!("z{z}")).collect();
        let mut placed: Vec<String> = Vec::new();
        for _ in 0..nodes {
            let existing: Vec<Option<&str>> = placed.iter().map(|z| Some(z.as_str())).collect();
            let z = zone_for_new_node(&existing, &zones).ok_or_else(|| TestCaseError::fail("no zone"))?;
            placed.push(z.to_string());
        }
        let distinct: std::collections::BTreeSet<&String> = placed.iter().collect();
        prop_assert_eq!(distinct.len(), nodes.min(zones.len()));
    }
}
