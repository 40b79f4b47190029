//! Serving replicas: who is connected, what they acknowledged, WAIT, the good-replica
//! count behind min-replicas-to-write, and the once-a-second replication tick. The link
//! itself (full or partial resync, then the stream) is in `primary/link.rs`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::server::state::{Server, now_ms};

mod link;
mod rdb_feed;

pub use link::serve_replica;

/// A replica's PSYNC (or SYNC) request, handed with the socket to `serve_replica`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PsyncRequest {
    /// "?" for "no history" (and for SYNC).
    pub replid: String,
    /// Redis's 1-based offset of the first byte wanted; -1 for none.
    pub offset: i64,
    /// Sent as SYNC (old protocol: no +FULLRESYNC line, RDB then stream).
    pub legacy_sync: bool,
}

/// What a client said with REPLCONF before its PSYNC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replconf {
    /// `listening-port` (0 when not given).
    pub port: i64,
    /// `ip-address` (None: the connection's peer address).
    pub ip: Option<String>,
    /// `capa eof`: can read a snapshot streamed without its length.
    pub capa_eof: bool,
    /// `capa psync2`: understands `+CONTINUE <replid>`.
    pub capa_psync2: bool,
    /// `rdb-only 1`: wants the snapshot only, no stream (redis-cli --rdb).
    pub rdb_only: bool,
}

/// Replicas connected to this node.
#[derive(Default)]
pub struct Replicas {
    pub list: Mutex<Vec<Arc<ReplicaInfo>>>,
    /// REPLCONF settings by client id, until the client's PSYNC takes them.
    pending: Mutex<HashMap<u64, Replconf>>,
    /// Rung on every ACK (WAIT listens).
    pub acked: Notify,
    /// Replicas online whose last ACK is at most `min-replicas-max-lag` old.
    good: AtomicUsize,
    /// Copies of min-replicas-to-write / min-replicas-max-lag, read on every write.
    min_to_write: AtomicUsize,
    max_lag: AtomicI64,
    /// Backlog end when the last `REPLCONF GETACK` was sent (one per write burst).
    last_getack: AtomicU64,
    /// Unix seconds of the last PING sent to replicas.
    last_ping: AtomicI64,
    /// Bumped by `disconnect_all`: links started under an older epoch end.
    epoch: AtomicU64,
    kick: Notify,
    /// Redis's INFO stats counters.
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
}

/// Where a replica link is (INFO's `state=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Waiting for a snapshot to start (another one is running).
    WaitBgsave = 0,
    /// Receiving the snapshot.
    SendBulk = 1,
    /// Receiving the stream.
    Online = 2,
}

/// What INFO, ROLE and WAIT need to know about one connected replica.
#[derive(Debug)]
pub struct ReplicaInfo {
    pub client_id: u64,
    /// The address it gave (`REPLCONF ip-address`) or its connection's.
    pub ip: String,
    pub port: i64,
    pub capa: Replconf,
    state: AtomicU8,
    /// Last `REPLCONF ACK` offset.
    pub ack_offset: AtomicU64,
    /// Unix ms of the last ACK (or of the link going online).
    pub ack_time_ms: AtomicI64,
    /// Whether any ACK arrived (a diskless full sync goes online at the first).
    pub got_ack: AtomicBool,
}

impl ReplicaInfo {
    pub fn new(client_id: u64, ip: String, capa: Replconf) -> Self {
        ReplicaInfo {
            client_id,
            ip,
            port: capa.port,
            capa,
            state: AtomicU8::new(LinkState::WaitBgsave as u8),
            ack_offset: AtomicU64::new(0),
            ack_time_ms: AtomicI64::new(now_ms()),
            got_ack: AtomicBool::new(false),
        }
    }

    pub fn state(&self) -> LinkState {
        match self.state.load(Relaxed) {
            0 => LinkState::WaitBgsave,
            1 => LinkState::SendBulk,
            _ => LinkState::Online,
        }
    }

    pub fn set_state(&self, s: LinkState) {
        self.state.store(s as u8, Relaxed);
    }

    /// Records `REPLCONF ACK <offset>`.
    pub fn ack(&self, offset: u64) {
        self.ack_offset.fetch_max(offset, Relaxed);
        self.ack_time_ms.store(now_ms(), Relaxed);
        self.got_ack.store(true, Relaxed);
    }
}

impl Replicas {
    /// Keeps a client's REPLCONF settings for its PSYNC.
    pub fn replconf(&self, client_id: u64, change: impl FnOnce(&mut Replconf)) {
        let mut p = self.pending.lock();
        change(p.entry(client_id).or_default());
    }

    /// Takes (and forgets) a client's REPLCONF settings.
    pub fn take_replconf(&self, client_id: u64) -> Replconf {
        self.pending.lock().remove(&client_id).unwrap_or_default()
    }

    pub fn pending_len(&self) -> usize {
        self.pending.lock().len()
    }

    /// Forgets the REPLCONF settings of clients that left without a PSYNC.
    pub fn prune_pending(&self, alive: impl Fn(u64) -> bool) {
        self.pending.lock().retain(|id, _| alive(*id));
    }

    /// Ends every replica link (this node starts following another primary: its
    /// replicas must resync, partially when the histories allow).
    pub fn disconnect_all(&self) {
        self.epoch.fetch_add(1, Relaxed);
        self.kick.notify_waiters();
    }

    /// Resolves once `disconnect_all` is called after `epoch` was read.
    pub async fn kicked(&self, epoch: u64) {
        loop {
            let woken = self.kick.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.epoch.load(Relaxed) != epoch {
                return;
            }
            woken.await;
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Relaxed)
    }

    pub fn register(&self, r: Arc<ReplicaInfo>) {
        self.list.lock().push(r);
    }

    pub fn unregister(&self, client_id: u64) {
        self.list.lock().retain(|r| r.client_id != client_id);
        self.acked.notify_waiters();
    }

    /// Why writes are refused by min-replicas-to-write, if they are (a cheap check: it
    /// runs on every write).
    pub fn refuse_writes(&self) -> bool {
        let min = self.min_to_write.load(Relaxed);
        min > 0 && self.max_lag.load(Relaxed) > 0 && self.good.load(Relaxed) < min
    }
}

/// Replicas online whose last ACK is at most `min-replicas-max-lag` seconds old.
pub fn good_replicas(srv: &Server) -> usize {
    srv.replication.replicas.good.load(Relaxed)
}

fn count_good(srv: &Server, max_lag: i64) -> usize {
    let now = now_ms();
    srv.replication.replicas.list.lock().iter().filter(|r| r.state() == LinkState::Online && (now - r.ack_time_ms.load(Relaxed)) / 1000 <= max_lag).count()
}

/// Re-reads min-replicas-to-write / min-replicas-max-lag and recounts good replicas.
/// Called on CONFIG SET, by the tick and when a link goes online or ends.
pub fn refresh(srv: &Server) {
    let (min, lag) = {
        let c = srv.config.read();
        (c.int("min-replicas-to-write"), c.int("min-replicas-max-lag"))
    };
    let r = &srv.replication.replicas;
    r.good.store(count_good(srv, lag), Relaxed);
    r.max_lag.store(lag, Relaxed);
    // A replica never refuses for lack of replicas (Redis checks only on a primary).
    let min = if srv.replication.is_replica() { 0 } else { usize::try_from(min).unwrap_or(0) };
    r.min_to_write.store(min, Relaxed);
}

/// Once a second (server cron): the good-replica count and the PING every
/// `repl-ping-replica-period` seconds that lets replicas see the link is alive.
pub fn tick(srv: &Server) {
    refresh(srv);
    let r = &srv.replication.replicas;
    let now = now_ms() / 1000;
    if r.list.lock().is_empty() || srv.replication.is_replica() || r.last_ping.load(Relaxed) == 0 {
        // The first PING comes a period after the first replica connects.
        r.last_ping.store(now, Relaxed);
        return;
    }
    let period = srv.config.read().int("repl-ping-replica-period").max(1);
    if now - r.last_ping.load(Relaxed) >= period {
        r.last_ping.store(now, Relaxed);
        srv.journal.append_replication_only(b"*1\r\n$4\r\nPING\r\n");
    }
}

/// INFO replication lines about connected replicas: `connected_slaves` and `slaveN`.
pub fn info_lines(srv: &Server, out: &mut String) {
    let list = srv.replication.replicas.list.lock().clone();
    let _ = write!(out, "connected_slaves:{}\r\n", list.len());
    let now = now_ms();
    for (i, r) in list.iter().enumerate() {
        let (state, lag) = match r.state() {
            LinkState::WaitBgsave => ("wait_bgsave", 0),
            LinkState::SendBulk => ("send_bulk", 0),
            LinkState::Online => ("online", (now - r.ack_time_ms.load(Relaxed)) / 1000),
        };
        let _ = write!(out, "slave{i}:ip={},port={},state={state},offset={},lag={lag}\r\n", r.ip, r.port, r.ack_offset.load(Relaxed));
    }
}

/// INFO stats lines `sync_full`, `sync_partial_ok`, `sync_partial_err` (for the lead to
/// place in INFO stats).
pub fn stats_lines(srv: &Server, out: &mut String) {
    let r = &srv.replication.replicas;
    let _ = write!(
        out,
        "sync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n",
        r.sync_full.load(Relaxed),
        r.sync_partial_ok.load(Relaxed),
        r.sync_partial_err.load(Relaxed)
    );
}

/// Online replicas whose acknowledged offset is at least `offset`.
pub fn acked_by(srv: &Server, offset: u64) -> usize {
    srv.replication.replicas.list.lock().iter().filter(|r| r.state() == LinkState::Online && r.ack_offset.load(Relaxed) >= offset).count()
}

/// Asks every replica for an ACK, once per burst of writes: a GETACK after another
/// with nothing in between would learn nothing new.
pub(crate) fn request_acks(srv: &Server) {
    let r = &srv.replication.replicas;
    let end = srv.replication.offset();
    if r.last_getack.load(Relaxed) != end {
        let at = srv.journal.append_replication_only(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
        r.last_getack.store(at, Relaxed);
    }
}

/// WAIT: resolves with how many replicas acknowledged `offset`, as soon as `replicas` did
/// or at `deadline_ms` (unix ms).
pub async fn wait_for_acks(srv: &Server, replicas: usize, offset: u64, deadline_ms: Option<i64>) -> usize {
    let n = acked_by(srv, offset);
    if n >= replicas {
        return n;
    }
    request_acks(srv);
    let notify = &srv.replication.replicas.acked;
    loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let n = acked_by(srv, offset);
        if n >= replicas {
            return n;
        }
        match deadline_ms {
            Some(d) => {
                let left = d - now_ms();
                if left <= 0 {
                    return n;
                }
                let _ = tokio::time::timeout(std::time::Duration::from_millis(left as u64), woken).await;
            }
            None => woken.await,
        }
    }
}
