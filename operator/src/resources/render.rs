//! Desired objects as one multi-document YAML stream (`cachefleet-operator render`), in
//! the order an installer would create them: configuration and Services before the
//! workloads that use them.

use serde::Serialize;

use super::Desired;

/// Every object of `desired` as `---`-separated YAML documents, each with its apiVersion
/// and kind.
pub fn to_yaml_stream(desired: &Desired) -> Result<String, serde_saphyr::ser::Error> {
    let mut out = String::new();
    push(&mut out, &desired.config_map)?;
    if let Some(claim) = &desired.snapshots_claim {
        push(&mut out, claim)?;
    }
    for service in &desired.services {
        push(&mut out, service)?;
    }
    for shard in &desired.shards {
        push(&mut out, &shard.headless_service)?;
    }
    for shard in &desired.shards {
        push(&mut out, &shard.pdb)?;
    }
    for shard in &desired.shards {
        push(&mut out, &shard.stateful_set)?;
    }
    if let Some(policy) = &desired.network_policy {
        push(&mut out, policy)?;
    }
    if let Some(monitor) = &desired.service_monitor {
        push(&mut out, monitor)?;
    }
    if let Some(cron_job) = &desired.snapshots_cron_job {
        push(&mut out, cron_job)?;
    }
    Ok(out)
}

fn push(out: &mut String, object: &impl Serialize) -> Result<(), serde_saphyr::ser::Error> {
    out.push_str("---\n");
    out.push_str(&serde_saphyr::to_string(object)?);
    Ok(())
}
