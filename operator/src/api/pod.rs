//! Scheduling and metadata of cache-node pods, and their monitoring.

use k8s_openapi::api::core::v1::{Affinity, LocalObjectReference, Toleration};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Additions to every cache-node pod.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodOverrides {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Extra affinity rules, merged with the operator's own spreading rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Added to the pods' annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Added to the pods' labels (the operator's own labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Seconds a node gets to finish in-flight requests and hand over its role before
    /// it is killed.
    #[serde(default = "grace_default")]
    #[schemars(range(min = 5, max = 3600))]
    pub termination_grace_period_seconds: i64,
}

impl Default for PodOverrides {
    fn default() -> Self {
        PodOverrides {
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            affinity: None,
            priority_class_name: None,
            annotations: BTreeMap::new(),
            labels: BTreeMap::new(),
            image_pull_secrets: Vec::new(),
            termination_grace_period_seconds: grace_default(),
        }
    }
}

/// Prometheus scraping.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// A ServiceMonitor for the Prometheus Operator (created only when its CRD exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor: Option<ServiceMonitorSpec>,
}

/// A Prometheus Operator ServiceMonitor for the nodes' metrics port.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Scrape interval.
    #[serde(default = "interval_default")]
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h)$"))]
    pub interval: String,
    /// Labels the Prometheus instance selects ServiceMonitors by.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

pub fn grace_default() -> i64 {
    30
}
fn yes() -> bool {
    true
}
fn interval_default() -> String {
    "30s".into()
}
