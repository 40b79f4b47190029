//! The topology brain: from an observed view of one shard's nodes to the steps that give
//! it exactly one primary with every other node replicating from it. Pure and free of
//! Kubernetes types, so the same decisions drive pods or local processes, and are tested
//! as plain code. Its driver carries out the steps.
//!
//! - `view`: what is observed of each node.
//! - `detector`: when a primary counts as failed.
//! - `choice`: the current primary, and the replica to promote in its place.
//! - `plan`: the steps for one shard, failover included.
//! - `change`: planned changes (scaling replicas, rolling a config) one safe step at a time.
//! - `placement`: which zone a new replica goes to.

pub mod change;
pub mod choice;
pub mod detector;
pub mod placement;
pub mod plan;
pub mod view;

pub use change::{next_roll_step, next_scale_step};
pub use choice::{choose_primary, failover_candidate, unfit_for_promotion};
pub use detector::FailureDetector;
pub use placement::zone_for_new_node;
pub use plan::{FailoverDecision, ShardPlan, ShardView, Step, plan, plan_shard};
pub use view::{NodeView, Replication, ReportedRole, Role};

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod properties;
