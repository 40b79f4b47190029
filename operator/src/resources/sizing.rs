//! How big each node is: the container's requests and limits, the node's maxmemory and
//! its worker threads, from a nodeType preset or from explicit resources.

use std::collections::BTreeMap;

use cache_node::config::params::{self, Kind};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

use super::BuildError;
use super::quantity::Quantity;
use crate::api::{CacheClusterSpec, NodeType};

const MIB: u64 = 1 << 20;

/// Below this there is no room for a useful keyspace; such a spec is a mistake.
const MIN_MAXMEMORY: u64 = MIB;

/// What one node gets.
#[derive(Clone, Debug, PartialEq)]
pub struct Sizing {
    /// Requests and limits of the cache-node container.
    pub resources: ResourceRequirements,
    /// The container's memory limit in bytes.
    pub memory_limit_bytes: u64,
    /// The node's `maxmemory`: the limit less the reserved share.
    pub maxmemory_bytes: u64,
    /// The node's `threads`. Always set: cache-node's default is one per host CPU, which
    /// in a pod limited to a few cores means dozens of threads fighting over them.
    pub threads: u32,
}

/// Sizes a node from the spec's nodeType (or the default preset) or its resources.
pub fn sizing(spec: &CacheClusterSpec) -> Result<Sizing, BuildError> {
    match (spec.effective_node_type(), &spec.resources) {
        (Some(node_type), _) => Ok(from_preset(node_type, spec.reserved_memory_percent)),
        (None, Some(resources)) => from_resources(resources, spec.reserved_memory_percent),
        // effective_node_type gives a preset whenever resources are absent.
        (None, None) => Ok(from_preset(NodeType::default(), spec.reserved_memory_percent)),
    }
}

fn from_preset(node_type: NodeType, reserved_percent: i32) -> Sizing {
    let size = node_type.size();
    let memory = K8sQuantity(format!("{}Mi", size.memory_mib));
    // Memory request = limit: a cache evicted or OOM-killed under node pressure loses its
    // data, so it gets the Guaranteed share of memory. CPU is requested only: a CPU limit
    // throttles a cache in the middle of a burst.
    let resources = ResourceRequirements {
        limits: Some(BTreeMap::from([("memory".to_string(), memory.clone())])),
        requests: Some(BTreeMap::from([("memory".to_string(), memory), ("cpu".to_string(), cpu_quantity(size.cpu_millis))])),
        ..ResourceRequirements::default()
    };
    let limit = size.memory_mib * MIB;
    Sizing { resources, memory_limit_bytes: limit, maxmemory_bytes: maxmemory(limit, reserved_percent), threads: size.threads.clamp(1, max_threads()) }
}

fn from_resources(resources: &ResourceRequirements, reserved_percent: i32) -> Result<Sizing, BuildError> {
    let limit_text = resources.limits.as_ref().and_then(|l| l.get("memory")).ok_or(BuildError::MissingMemoryLimit)?;
    let limit = Quantity::parse(&limit_text.0).and_then(Quantity::ceil).ok_or_else(|| BuildError::BadMemory(limit_text.0.clone()))?;
    let maxmemory_bytes = maxmemory(limit, reserved_percent);
    if maxmemory_bytes < MIN_MAXMEMORY {
        return Err(BuildError::TooLittleMemory(limit_text.0.clone()));
    }
    // The request says what the node can count on; the limit what it may burst to.
    let cpu = resources.requests.as_ref().and_then(|r| r.get("cpu")).or_else(|| resources.limits.as_ref().and_then(|l| l.get("cpu")));
    let threads = match cpu {
        None => 1,
        Some(text) => {
            let millis = Quantity::parse(&text.0).and_then(Quantity::ceil_millis).ok_or_else(|| BuildError::BadCpu(text.0.clone()))?;
            u32::try_from(millis.div_ceil(1000)).unwrap_or(u32::MAX).clamp(1, max_threads())
        }
    };
    Ok(Sizing { resources: resources.clone(), memory_limit_bytes: limit, maxmemory_bytes, threads })
}

/// The limit less `reserved_percent` percent, rounded down. The schema keeps the percent
/// within 0..=90; anything outside is clamped rather than trusted.
fn maxmemory(limit: u64, reserved_percent: i32) -> u64 {
    let keep = 100 - u128::from(reserved_percent.clamp(0, 100).unsigned_abs());
    u64::try_from(u128::from(limit) * keep / 100).unwrap_or(u64::MAX)
}

/// Whole cores as `2`, fractions as `500m`.
fn cpu_quantity(millis: u32) -> K8sQuantity {
    match (millis / 1000, millis % 1000) {
        (cores, 0) => K8sQuantity(cores.to_string()),
        _ => K8sQuantity(format!("{millis}m")),
    }
}

/// The most threads cache-node accepts, from its own parameter table.
fn max_threads() -> u32 {
    match params::find("threads").map(|p| p.kind) {
        Some(Kind::Int { max, .. }) => u32::try_from(max).unwrap_or(1).max(1),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(node_type: Option<NodeType>, resources: Option<ResourceRequirements>, reserved: i32) -> CacheClusterSpec {
        let mut spec: CacheClusterSpec = serde_json::from_str("{}").unwrap();
        spec.node_type = node_type;
        spec.resources = resources;
        spec.reserved_memory_percent = reserved;
        spec
    }

    fn resources(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> ResourceRequirements {
        let map = |pairs: &[(&str, &str)]| (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| (k.to_string(), K8sQuantity(v.to_string()))).collect());
        ResourceRequirements { limits: map(limits), requests: map(requests), ..ResourceRequirements::default() }
    }

    /// Resource name to quantity, as written in a spec.
    type Pairs = &'static [(&'static str, &'static str)];

    fn q(text: &str) -> K8sQuantity {
        K8sQuantity(text.to_string())
    }

    #[test]
    fn presets_give_guaranteed_memory_a_cpu_request_no_cpu_limit_and_their_threads() {
        // (preset, memory limit, cpu request, maxmemory at 25% reserved, threads)
        let cases = [
            (NodeType::T4gMicro, "512Mi", "250m", 384 * MIB, 2),
            (NodeType::T4gSmall, "1403Mi", "500m", 1403 * MIB * 3 / 4, 2),
            (NodeType::R7gLarge, "13384Mi", "2", 13384 * MIB * 3 / 4, 2),
            (NodeType::M7gXlarge, "13240Mi", "4", 13240 * MIB * 3 / 4, 4),
            (NodeType::R7g4xlarge, "108349Mi", "16", 108349 * MIB * 3 / 4, 16),
        ];
        for (node_type, memory, cpu, maxmemory, threads) in cases {
            let s = sizing(&spec(Some(node_type), None, 25)).unwrap();
            let limits = s.resources.limits.as_ref().unwrap();
            let requests = s.resources.requests.as_ref().unwrap();
            assert_eq!(limits.get("memory"), Some(&q(memory)), "{node_type:?}");
            assert_eq!(limits.get("cpu"), None, "{node_type:?} must have no CPU limit");
            assert_eq!(requests.get("memory"), Some(&q(memory)), "{node_type:?}");
            assert_eq!(requests.get("cpu"), Some(&q(cpu)), "{node_type:?}");
            assert_eq!(s.maxmemory_bytes, maxmemory, "{node_type:?}");
            assert_eq!(s.threads, threads, "{node_type:?}");
        }
    }

    #[test]
    fn no_node_type_and_no_resources_is_the_default_preset() {
        let s = sizing(&spec(None, None, 25)).unwrap();
        assert_eq!(s.memory_limit_bytes, NodeType::default().size().memory_mib * MIB);
    }

    #[test]
    fn reserved_percent_sets_maxmemory() {
        for (reserved, want) in [(0, 512 * MIB), (25, 384 * MIB), (50, 256 * MIB), (90, 512 * MIB / 10)] {
            assert_eq!(sizing(&spec(Some(NodeType::T4gMicro), None, reserved)).unwrap().maxmemory_bytes, want, "{reserved}");
        }
    }

    #[test]
    fn explicit_resources() {
        // (limits, requests, memory limit bytes, maxmemory at 25%, threads)
        let cases: &[(Pairs, Pairs, u64, u64, u32)] = &[
            (&[("memory", "4Gi")], &[], 4 << 30, 3 << 30, 1),
            (&[("memory", "1.5Gi")], &[("cpu", "1500m")], 3 << 29, (3 << 29) * 3 / 4, 2),
            (&[("memory", "4e9")], &[("cpu", "250m")], 4_000_000_000, 3_000_000_000, 1),
            (&[("memory", "2G"), ("cpu", "3")], &[], 2_000_000_000, 1_500_000_000, 3),
            // The request wins over the limit: it is what the node can count on.
            (&[("memory", "2Gi"), ("cpu", "8")], &[("cpu", "2")], 2 << 30, (2 << 30) * 3 / 4, 2),
            (&[("memory", "2Gi")], &[("cpu", "0.1")], 2 << 30, (2 << 30) * 3 / 4, 1),
            (&[("memory", "2Gi")], &[("cpu", "1000")], 2 << 30, (2 << 30) * 3 / 4, 256),
            (&[("memory", "2097152Ki")], &[], 2 << 30, (2 << 30) * 3 / 4, 1),
            (&[("memory", "1500000000000m")], &[], 1_500_000_000, 1_125_000_000, 1),
        ];
        for (limits, requests, limit, maxmemory, threads) in cases {
            let r = resources(limits, requests);
            let s = sizing(&spec(None, Some(r.clone()), 25)).unwrap();
            assert_eq!((s.memory_limit_bytes, s.maxmemory_bytes, s.threads), (*limit, *maxmemory, *threads), "{limits:?} {requests:?}");
            assert_eq!(s.resources, r, "explicit resources pass through unchanged");
        }
    }

    #[test]
    fn explicit_resources_errors() {
        let cases: &[(Pairs, Pairs, BuildError)] = &[
            (&[], &[("memory", "1Gi")], BuildError::MissingMemoryLimit),
            (&[("cpu", "1")], &[], BuildError::MissingMemoryLimit),
            (&[("memory", "lots")], &[], BuildError::BadMemory("lots".into())),
            (&[("memory", "1GB")], &[], BuildError::BadMemory("1GB".into())),
            (&[("memory", "-1Gi")], &[], BuildError::BadMemory("-1Gi".into())),
            (&[("memory", "0")], &[], BuildError::TooLittleMemory("0".into())),
            (&[("memory", "1Mi")], &[], BuildError::TooLittleMemory("1Mi".into())),
            (&[("memory", "1Gi")], &[("cpu", "two")], BuildError::BadCpu("two".into())),
        ];
        for (limits, requests, want) in cases {
            assert_eq!(sizing(&spec(None, Some(resources(limits, requests)), 25)), Err(want.clone()), "{limits:?} {requests:?}");
        }
        // 2 MiB leaves 1.5 MiB at 25% but too little at 90%.
        assert!(sizing(&spec(None, Some(resources(&[("memory", "2Mi")], &[])), 25)).is_ok());
        assert_eq!(sizing(&spec(None, Some(resources(&[("memory", "2Mi")], &[])), 90)), Err(BuildError::TooLittleMemory("2Mi".into())));
    }
}
