//! The operator's own Prometheus metrics (docs/metrics.md). Error labels are the small
//! fixed set of `Error::category()`, so cardinality stays bounded.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: IntCounter,
    pub reconcile_errors: IntCounterVec,
    pub reconcile_duration: Histogram,
    pub managed_clusters: IntGauge,
    pub failovers: IntCounter,
    pub failover_duration: Histogram,
    pub role_changes: IntCounter,
    pub leader: IntGauge,
    pub prober_triggers: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let reconciles = IntCounter::new("cachefleet_operator_reconciles_total", "Reconcile passes run")?;
        let reconcile_errors =
            IntCounterVec::new(Opts::new("cachefleet_operator_reconcile_errors_total", "Reconcile passes that failed, by error category"), &["category"])?;
        let reconcile_duration = Histogram::with_opts(
            HistogramOpts::new("cachefleet_operator_reconcile_duration_seconds", "Time a reconcile pass took")
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let managed_clusters = IntGauge::new("cachefleet_operator_managed_clusters", "CacheClusters this operator manages")?;
        let failovers = IntCounter::new("cachefleet_operator_failovers_total", "Replicas promoted because a primary failed")?;
        let failover_duration = Histogram::with_opts(
            HistogramOpts::new("cachefleet_failover_duration_seconds", "Time from a primary's first failed probe to the end of its failover")
                .buckets(vec![1.0, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0]),
        )?;
        let role_changes = IntCounter::new("cachefleet_operator_role_changes_total", "Role commands (REPLICAOF) and role labels applied to nodes")?;
        let leader = IntGauge::new("cachefleet_operator_leader", "1 while this replica holds the leader lease")?;
        let prober_triggers = IntCounter::new(
            "cachefleet_operator_prober_triggers_total",
            "Reconcile passes asked for by a cluster's prober (a failed or restarted primary, or a role that disagrees with its label)",
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(reconcile_errors.clone()))?;
        registry.register(Box::new(reconcile_duration.clone()))?;
        registry.register(Box::new(managed_clusters.clone()))?;
        registry.register(Box::new(failovers.clone()))?;
        registry.register(Box::new(failover_duration.clone()))?;
        registry.register(Box::new(role_changes.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        registry.register(Box::new(prober_triggers.clone()))?;
        Ok(Metrics {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            managed_clusters,
            failovers,
            failover_duration,
            role_changes,
            leader,
            prober_triggers,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new().unwrap();
        m.reconciles.inc();
        m.reconcile_errors.with_label_values(&["kube"]).inc();
        m.reconcile_duration.observe(0.2);
        let text = m.render();
        for name in [
            "cachefleet_operator_reconciles_total 1",
            "cachefleet_operator_reconcile_errors_total{category=\"kube\"} 1",
            "cachefleet_operator_reconcile_duration_seconds_bucket",
            "cachefleet_operator_managed_clusters 0",
            "cachefleet_operator_failovers_total 0",
            "cachefleet_failover_duration_seconds_count 0",
            "cachefleet_operator_leader 0",
            "cachefleet_operator_prober_triggers_total 0",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
