//! The Prometheus Operator ServiceMonitor of a cluster. Its CRD may not be installed, so
//! it is a dynamic object, built only when the API server serves the kind.

use std::collections::BTreeMap;

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use super::build::Context;
use super::names;

/// monitoring.coreos.com/v1 ServiceMonitor, with its plural (not guessed).
pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"), "servicemonitors")
}

pub(super) fn service_monitor(ctx: &Context<'_>, supported: bool) -> Option<DynamicObject> {
    let spec = ctx.spec.monitoring.as_ref().and_then(|m| m.service_monitor.as_ref()).filter(|s| s.enabled)?;
    if !supported {
        return None;
    }
    let cluster = ctx.meta.name.as_str();
    // The spec's labels are what a Prometheus selects ServiceMonitors by; the operator's
    // own labels win over them, as everywhere.
    let mut labels = spec.labels.clone();
    labels.extend(ctx.meta.labels.clone());
    let mut selector: BTreeMap<String, String> = names::cluster_selector(cluster);
    selector.insert(names::LABEL_METRICS.to_string(), "true".to_string());
    let mut object = DynamicObject::new(&names::service_monitor(cluster), &api_resource()).data(json!({
        "spec": {
            "selector": { "matchLabels": selector },
            "endpoints": [{
                "port": names::PORT_NAME_METRICS,
                "path": "/metrics",
                "interval": spec.interval,
            }],
        }
    }));
    object.metadata = ctx.meta.object(names::service_monitor(cluster));
    object.metadata.labels = Some(labels);
    Some(object)
}
