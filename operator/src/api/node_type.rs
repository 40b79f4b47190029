//! Node size presets named like ElastiCache's node types, so a user who knows those
//! knows what each gives: the memory of the node and its vCPUs.

use serde::{Deserialize, Serialize};

/// A node size preset. The memory is the node's memory limit; maxmemory is that minus
/// reservedMemoryPercent. CPU is requested, not limited: a CPU limit throttles a cache in
/// the middle of a burst, which shows as latency spikes. Memory and vCPUs (burstable t4g
/// types request a fraction of them): cache.t4g.micro 0.5 GiB/2, cache.t4g.small
/// 1.37 GiB/2, cache.t4g.medium 3.09 GiB/2, cache.m7g.large 6.38 GiB/2, cache.m7g.xlarge
/// 12.93 GiB/4, cache.m7g.2xlarge 26.04 GiB/8, cache.r7g.large 13.07 GiB/2,
/// cache.r7g.xlarge 26.32 GiB/4, cache.r7g.2xlarge 52.82 GiB/8, cache.r7g.4xlarge
/// 105.81 GiB/16.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum NodeType {
    /// 0.5 GiB, 2 burstable vCPUs (0.25 requested).
    #[serde(rename = "cache.t4g.micro")]
    T4gMicro,
    /// 1.37 GiB, 2 burstable vCPUs (0.5 requested).
    #[default]
    #[serde(rename = "cache.t4g.small")]
    T4gSmall,
    /// 3.09 GiB, 2 burstable vCPUs (1 requested).
    #[serde(rename = "cache.t4g.medium")]
    T4gMedium,
    /// 6.38 GiB, 2 vCPUs.
    #[serde(rename = "cache.m7g.large")]
    M7gLarge,
    /// 12.93 GiB, 4 vCPUs.
    #[serde(rename = "cache.m7g.xlarge")]
    M7gXlarge,
    /// 26.04 GiB, 8 vCPUs.
    #[serde(rename = "cache.m7g.2xlarge")]
    M7g2xlarge,
    /// 13.07 GiB, 2 vCPUs.
    #[serde(rename = "cache.r7g.large")]
    R7gLarge,
    /// 26.32 GiB, 4 vCPUs.
    #[serde(rename = "cache.r7g.xlarge")]
    R7gXlarge,
    /// 52.82 GiB, 8 vCPUs.
    #[serde(rename = "cache.r7g.2xlarge")]
    R7g2xlarge,
    /// 105.81 GiB, 16 vCPUs.
    #[serde(rename = "cache.r7g.4xlarge")]
    R7g4xlarge,
}

/// What a preset gives a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSize {
    /// Memory limit (and request) in MiB.
    pub memory_mib: u64,
    /// CPU request in millicores.
    pub cpu_millis: u32,
    /// Worker threads the node runs: its vCPUs.
    pub threads: u32,
}

impl NodeType {
    pub const ALL: [NodeType; 10] = [
        NodeType::T4gMicro,
        NodeType::T4gSmall,
        NodeType::T4gMedium,
        NodeType::M7gLarge,
        NodeType::M7gXlarge,
        NodeType::M7g2xlarge,
        NodeType::R7gLarge,
        NodeType::R7gXlarge,
        NodeType::R7g2xlarge,
        NodeType::R7g4xlarge,
    ];

    pub fn size(self) -> NodeSize {
        // ElastiCache's published memory per node type, in MiB (GiB × 1024, rounded).
        let (memory_mib, cpu_millis, threads) = match self {
            NodeType::T4gMicro => (512, 250, 2),
            NodeType::T4gSmall => (1403, 500, 2),
            NodeType::T4gMedium => (3164, 1000, 2),
            NodeType::M7gLarge => (6533, 2000, 2),
            NodeType::M7gXlarge => (13240, 4000, 4),
            NodeType::M7g2xlarge => (26665, 8000, 8),
            NodeType::R7gLarge => (13384, 2000, 2),
            NodeType::R7gXlarge => (26952, 4000, 4),
            NodeType::R7g2xlarge => (54088, 8000, 8),
            NodeType::R7g4xlarge => (108349, 16000, 16),
        };
        NodeSize { memory_mib, cpu_millis, threads }
    }

    /// The preset's name, as written in a spec.
    pub fn name(self) -> &'static str {
        match self {
            NodeType::T4gMicro => "cache.t4g.micro",
            NodeType::T4gSmall => "cache.t4g.small",
            NodeType::T4gMedium => "cache.t4g.medium",
            NodeType::M7gLarge => "cache.m7g.large",
            NodeType::M7gXlarge => "cache.m7g.xlarge",
            NodeType::M7g2xlarge => "cache.m7g.2xlarge",
            NodeType::R7gLarge => "cache.r7g.large",
            NodeType::R7gXlarge => "cache.r7g.xlarge",
            NodeType::R7g2xlarge => "cache.r7g.2xlarge",
            NodeType::R7g4xlarge => "cache.r7g.4xlarge",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_and_sizes_grow_within_a_family() {
        for t in NodeType::ALL {
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json.as_str(), Some(t.name()));
            let back: NodeType = serde_json::from_value(json).unwrap();
            assert_eq!(back, t);
        }
        for family in [&NodeType::ALL[0..3], &NodeType::ALL[3..6], &NodeType::ALL[6..10]] {
            for w in family.windows(2) {
                assert!(w[0].size().memory_mib < w[1].size().memory_mib, "{:?} < {:?}", w[0], w[1]);
            }
        }
    }
}
