//! Where memory goes, for INFO memory and MEMORY STATS: the allocator's figures, what
//! the server needs for itself (overhead) and what is left for data (dataset).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::commands::info::process;
use crate::server::state::Server;
use crate::store::PARTITIONS;

/// `used_memory` right after start-up (set once, when the server is built).
static STARTUP: AtomicU64 = AtomicU64::new(0);

/// Records `used_memory_startup` (the first call wins).
pub fn mark_startup() {
    let _ = STARTUP.compare_exchange(0, super::accounting::used().max(1), Relaxed, Relaxed);
}

/// Hash table overhead of one database that holds keys.
#[derive(Clone, Copy, Debug, Default)]
pub struct DbOverhead {
    pub db: usize,
    pub keys: u64,
    /// Bucket arrays of the key tables.
    pub main: u64,
    /// The TTL indexes.
    pub expires: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    pub mem: process::Memory,
    pub startup: u64,
    pub replication_backlog: u64,
    pub clients_slaves: u64,
    pub clients_normal: u64,
    pub dbs: Vec<DbOverhead>,
    pub overhead: u64,
    pub keys: u64,
    pub dataset: u64,
}

impl Breakdown {
    /// Percent of the memory used since start-up that holds data.
    pub fn dataset_perc(&self) -> f64 {
        let net = self.mem.allocated.saturating_sub(self.startup);
        if net == 0 { 0.0 } else { self.dataset as f64 * 100.0 / net as f64 }
    }

    pub fn peak_perc(&self) -> f64 {
        if self.mem.peak == 0 { 0.0 } else { self.mem.allocated as f64 * 100.0 / self.mem.peak as f64 }
    }

    pub fn bytes_per_key(&self) -> u64 {
        self.mem.allocated.saturating_sub(self.startup).checked_div(self.keys).unwrap_or(0)
    }
}

/// Measures everything (one partition lock at a time).
pub fn breakdown(srv: &Server) -> Breakdown {
    let mem = process::memory();
    let startup = STARTUP.load(Relaxed);
    let replication_backlog = srv.replication.backlog.range().1 as u64;
    let (mut clients_slaves, mut clients_normal) = (0, 0);
    for c in srv.clients.snapshot() {
        let bytes = c.qbuf.load(Relaxed) + c.omem.load(Relaxed);
        if c.is_replica.load(Relaxed) {
            clients_slaves += bytes;
        } else {
            clients_normal += bytes;
        }
    }
    let mut dbs = Vec::new();
    for db in 0..srv.keyspace.databases() {
        let mut o = DbOverhead { db, ..Default::default() };
        for part in 0..PARTITIONS {
            let p = srv.keyspace.lock_part(db, part);
            o.keys += p.len() as u64;
            o.main += p.table_bytes() as u64;
            o.expires += p.expires_index_bytes() as u64;
        }
        if o.keys > 0 {
            dbs.push(o);
        }
    }
    let tables: u64 = dbs.iter().map(|d| d.main + d.expires).sum();
    let overhead = startup + replication_backlog + clients_slaves + clients_normal + tables;
    let keys = dbs.iter().map(|d| d.keys).sum();
    let dataset = mem.allocated.saturating_sub(overhead);
    Breakdown { mem, startup, replication_backlog, clients_slaves, clients_normal, dbs, overhead, keys, dataset }
}
