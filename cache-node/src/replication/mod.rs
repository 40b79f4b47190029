//! Replication with Redis's own protocol (PSYNC), so a redis-server can replicate from
//! cache-node and cache-node from a redis-server.
//!
//! - `state`: role, replication ids and offsets, shared by both sides.
//! - `backlog`: the last `repl-backlog-size` bytes of the stream, by offset.
//! - `psync`: the pure decision between a partial and a full resync.
//! - `primary`: serving replicas: full sync from a snapshot, then the stream; ACKs.
//! - `replica`: following a primary: handshake, loading its RDB, applying its stream.

pub mod backlog;
pub mod failover;
pub mod info;
pub mod primary;
pub mod psync;
pub mod replica;
mod replica_applied;
pub(crate) mod replica_conn;
mod replica_link;
pub mod state;

/// `master_failover_state` (FAILOVER in progress or not).
pub fn failover_state(srv: &crate::server::state::Server) -> &'static str {
    srv.replication.failover.state_name()
}
