//! What the brain is told about a shard's nodes: one observation per node, taken by
//! whoever drives them (the Kubernetes controller or the local driver).

/// A node's role as it reports it (RESP `ROLE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportedRole {
    Primary {
        /// Replicas currently connected to it.
        replicas: usize,
    },
    Replica {
        /// The host and port it replicates from.
        primary_host: String,
        primary_port: u16,
        /// Whether its link to that primary is up and in sync.
        in_sync: bool,
    },
}

/// The role the operator has assigned a node (a pod label, or the local driver's record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica,
}

/// Replication state from `INFO replication` (and the keyspace), when the observer asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replication {
    /// `master_repl_offset` of a primary, `slave_repl_offset` of a replica: how much of
    /// the shard's write stream the node holds.
    pub offset: i64,
    /// `master_link_status:up` (replicas only).
    pub link_up: bool,
    /// `master_sync_in_progress:1`: a full copy is arriving and the data set is partial.
    pub sync_in_progress: bool,
    /// `loading:1`: the node is still reading its files.
    pub loading: bool,
    /// Keys it holds (all databases).
    pub keys: u64,
}

/// One node of a shard as observed in this pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeView {
    /// Stable name (the pod name).
    pub name: String,
    /// Position in the shard (the StatefulSet ordinal).
    pub ordinal: i32,
    /// Stable address others use to reach it (`host`, port).
    pub host: String,
    pub port: u16,
    /// The role the operator assigned it.
    pub labelled: Option<Role>,
    /// What it answered to ROLE; None when it could not be reached.
    pub reported: Option<ReportedRole>,
    /// INFO replication; None when not asked or not reachable. Without it a node is never
    /// a failover candidate: the brain will not promote what it cannot rank.
    pub replication: Option<Replication>,
    /// Failure zone (topology.kubernetes.io/zone), when known.
    pub zone: Option<String>,
    /// Ready for traffic as its driver sees it (pod Ready, or the local probe).
    pub ready: bool,
    /// Evidence that the node restarted and lost its data (a new run id with no keys and
    /// no replication offset). Such a node must never be a source of data.
    pub came_back_empty: bool,
    /// The epoch at which the operator last made this node primary, when it did.
    pub epoch: Option<u64>,
}

impl NodeView {
    pub fn reachable(&self) -> bool {
        self.reported.is_some()
    }

    pub fn reports_primary(&self) -> bool {
        matches!(self.reported, Some(ReportedRole::Primary { .. }))
    }

    /// Whether it replicates from `primary` (whatever the link's state).
    pub fn follows(&self, primary: &NodeView) -> bool {
        matches!(&self.reported, Some(ReportedRole::Replica { primary_host, primary_port, .. })
            if *primary_host == primary.host && *primary_port == primary.port)
    }

    /// Whether it replicates from `primary` with the link up and no sync under way: a
    /// replica that counts (for readiness, scaling and switchovers).
    pub fn in_sync_with(&self, primary: &NodeView) -> bool {
        let link = matches!(&self.reported, Some(ReportedRole::Replica { in_sync: true, .. }));
        let settled = self.replication.as_ref().is_none_or(|r| !r.loading && !r.sync_in_progress);
        self.follows(primary) && link && settled
    }

    pub fn offset(&self) -> Option<i64> {
        self.replication.as_ref().map(|r| r.offset)
    }
}
