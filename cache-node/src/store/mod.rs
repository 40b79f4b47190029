//! The keyspace: databases, partitions, entries, values and expiry. Knows nothing about
//! any wire protocol.

pub mod access;
pub mod expire;
pub mod glob;
pub mod hash;
pub mod keyspace;
pub mod limits;
pub mod list;
pub mod lookahead;
mod node;
pub mod partition;
pub mod scope;
pub mod set;
pub mod snapshot;
mod table;
pub mod value;
pub mod watch;
pub mod zset;

#[cfg(test)]
mod tests_model;

pub use keyspace::{Journal, Keyspace, Locked, PARTITIONS, PartGuard};
pub use partition::{Partition, Ttl};
pub use value::{Value, ValueRef};
