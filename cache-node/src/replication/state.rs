//! Replication state shared by the primary and replica sides.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::{Mutex, RwLock};

use super::backlog::Backlog;

/// Where this node's data comes from.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Primary,
    /// Following `host:port` (REPLICAOF).
    Replica { host: String, port: u16 },
}

/// The replication history this node's data belongs to (Redis's PSYNC2 ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ids {
    /// `master_replid`: 40 hex characters.
    pub replid: String,
    /// `master_replid2`: the id this node followed before its last promotion, so that
    /// the replicas of its old primary can continue partially from it.
    pub replid2: String,
    /// `second_repl_offset`: up to which offset `replid2` is valid (-1 when unset).
    pub second_offset: i64,
}

pub fn random_replid() -> String {
    (0..40).map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0')).collect()
}

impl Default for Ids {
    fn default() -> Self {
        Ids { replid: random_replid(), replid2: "0".repeat(40), second_offset: -1 }
    }
}

impl Ids {
    /// A promotion (REPLICAOF NO ONE, FAILOVER): the old history stays valid up to
    /// `offset` under `replid2`; a new one starts.
    pub fn shift(&mut self, offset: u64) {
        self.replid2 = std::mem::replace(&mut self.replid, random_replid());
        self.second_offset = offset as i64 + 1;
    }
}

pub struct Replication {
    pub role: RwLock<Role>,
    /// A copy of "role is Replica and replica-read-only is on", read on every write.
    pub read_only: AtomicBool,
    /// A copy of "role is Replica", read on every command.
    pub replica_mode: AtomicBool,
    pub ids: Mutex<Ids>,
    /// The stream's last bytes, by offset. Its end is `master_repl_offset`.
    pub backlog: Arc<Backlog>,
    /// Replicas connected to this node (see primary.rs).
    pub replicas: super::primary::Replicas,
    /// The link to this node's primary, when it is a replica (see replica.rs).
    pub link: super::replica::Link,
    pub failover: super::failover::Failover,
}

impl Replication {
    pub fn new(backlog_size: usize) -> Self {
        Replication {
            role: RwLock::new(Role::Primary),
            read_only: AtomicBool::new(false),
            replica_mode: AtomicBool::new(false),
            ids: Mutex::new(Ids::default()),
            backlog: Arc::new(Backlog::new(backlog_size, 0)),
            replicas: Default::default(),
            link: Default::default(),
            failover: Default::default(),
        }
    }

    pub fn is_replica(&self) -> bool {
        matches!(*self.role.read(), Role::Replica { .. })
    }

    /// Changes the role; `read_only` is `replica-read-only`. A read-only replica keeps
    /// expired keys until its primary deletes them (store/limits.rs).
    pub fn set_role(&self, role: Role, read_only: bool) {
        let replica = matches!(role, Role::Replica { .. });
        let ro = read_only && replica;
        *self.role.write() = role;
        self.replica_mode.store(replica, Relaxed);
        self.read_only.store(ro, Relaxed);
        crate::store::limits::set_keep_expired(ro);
    }

    /// Why a client's write is refused by replication, if it is.
    pub fn refuse_write(&self, from_master: bool) -> Option<&'static str> {
        if self.read_only.load(Relaxed) && !from_master {
            return Some("READONLY You can't write against a read only replica.");
        }
        if self.replicas.refuse_writes() {
            return Some("NOREPLICAS Not enough good replicas to write.");
        }
        None
    }

    /// `master_repl_offset`.
    pub fn offset(&self) -> u64 {
        self.backlog.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promotion_keeps_the_old_history_as_replid2() {
        let mut ids = Ids::default();
        let old = ids.replid.clone();
        assert_eq!((ids.replid.len(), ids.second_offset), (40, -1));
        ids.shift(1234);
        assert_eq!(ids.replid2, old);
        assert_eq!(ids.second_offset, 1235);
        assert_ne!(ids.replid, old);
    }
}
