//! FAILOVER: a coordinated switchover from this primary to one of its replicas, with no
//! acknowledged write lost.
//!
//! 1. *waiting-for-sync*: writes are paused (clients wait, as with CLIENT PAUSE WRITE);
//!    once every write in flight has been journaled, the target is asked for an ACK
//!    until it holds the whole stream (or the timeout passes: abort, or go on with FORCE).
//! 2. *failover-in-progress*: this node stops taking writes (it is a read-only replica
//!    from here), and follows the target with `PSYNC <replid> <offset> FAILOVER`: the
//!    target promotes itself (the old history stays valid as its replid2) and answers
//!    +CONTINUE, so no data moves.
//! 3. Writes are unpaused; clients that waited get READONLY and move to the new primary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::primary::LinkState;
use crate::server::state::{Server, now_ms};

const NONE: u8 = 0;
const WAITING: u8 = 1;
const IN_PROGRESS: u8 = 2;

#[derive(Default)]
pub struct Failover {
    state: AtomicU8,
    /// FAILOVER ABORT asked for.
    abort: AtomicBool,
    /// The replica link sends FAILOVER with its PSYNC (step 2).
    pub psync_failover: AtomicBool,
}

impl Failover {
    pub fn state_name(&self) -> &'static str {
        match self.state.load(Relaxed) {
            WAITING => "waiting-for-sync",
            IN_PROGRESS => "failover-in-progress",
            _ => "no-failover",
        }
    }

    pub fn in_progress(&self) -> bool {
        self.state.load(Relaxed) != NONE
    }

    pub fn request_abort(&self) {
        self.abort.store(true, Relaxed);
    }
}

/// What FAILOVER was asked to do, once validated.
pub struct Request {
    /// The replica to promote: (ip, port) as it registered.
    pub target: (String, i64),
    pub timeout: Option<Duration>,
    pub force: bool,
}

/// The replica to promote when FAILOVER names none: the online one holding the most.
pub fn best_target(srv: &Server) -> Option<(String, i64)> {
    let list = srv.replication.replicas.list.lock();
    list.iter().filter(|r| r.state() == LinkState::Online).max_by_key(|r| r.ack_offset.load(Relaxed)).map(|r| (r.ip.clone(), r.port))
}

/// Starts the switchover on a thread of its own (the caller replied +OK).
pub fn start(srv: Arc<Server>, req: Request) -> std::io::Result<()> {
    let me = srv.clone();
    let f = &me.replication.failover;
    f.abort.store(false, Relaxed);
    f.state.store(WAITING, Relaxed);
    let spawned = std::thread::Builder::new().name("failover".into()).spawn(move || run(&srv, req));
    if spawned.is_err() {
        // Nothing was paused yet.
        f.state.store(NONE, Relaxed);
    }
    spawned.map(|_| ())
}

fn ack_of(srv: &Server, target: &(String, i64)) -> Option<u64> {
    let list = srv.replication.replicas.list.lock();
    list.iter().find(|r| r.ip == target.0 && r.port == target.1 && r.state() == LinkState::Online).map(|r| r.ack_offset.load(Relaxed))
}

fn pause_writes(srv: &Server, on: bool) {
    let p = &srv.pause;
    if on {
        p.write_only.store(true, Relaxed);
        p.until_ms.store(i64::MAX, Relaxed);
    } else {
        p.until_ms.store(0, Relaxed);
        p.unpaused.notify_waiters();
    }
}

fn run(srv: &Server, req: Request) {
    let f = &srv.replication.failover;
    let started = Instant::now();
    info!(target = %format!("{}:{}", req.target.0, req.target.1), "FAILOVER: pausing writes and waiting for the target to catch up");
    pause_writes(srv, true);
    // Every write that passed the pause before it began holds its partitions until it
    // is journaled: once every lock was free, the stream holds all of them.
    drop(srv.keyspace.lock_all());
    let deadline = req.timeout.map(|t| started + t);
    let caught_up = loop {
        if f.abort.load(Relaxed) {
            return finish(srv, "aborted by FAILOVER ABORT");
        }
        let end = srv.replication.offset();
        if ack_of(srv, &req.target).is_some_and(|a| a >= end) {
            break true;
        }
        if ack_of(srv, &req.target).is_none() {
            return finish(srv, "the target replica went away");
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break false;
        }
        // A GETACK whenever the stream grew since the last one (WAIT's rule).
        super::primary::request_acks(srv);
        std::thread::sleep(Duration::from_millis(2));
    };
    if !caught_up && !req.force {
        return finish(srv, "the target replica did not catch up before the timeout");
    }
    f.state.store(IN_PROGRESS, Relaxed);
    info!(caught_up, "FAILOVER: handing over to the target");
    f.psync_failover.store(true, Relaxed);
    let Ok(port) = u16::try_from(req.target.1) else {
        f.psync_failover.store(false, Relaxed);
        return finish(srv, "the target's port is out of range");
    };
    super::replica::follow(srv, req.target.0.clone(), port);
    // Done when the link to the new primary is up (the PSYNC FAILOVER was accepted).
    let limit = Instant::now() + Duration::from_secs(10);
    while !srv.replication.link.is_up() && Instant::now() < limit && !f.abort.load(Relaxed) {
        std::thread::sleep(Duration::from_millis(2));
    }
    f.psync_failover.store(false, Relaxed);
    if srv.replication.link.is_up() {
        f.state.store(NONE, Relaxed);
        pause_writes(srv, false);
        info!(ms = started.elapsed().as_millis() as u64, at = now_ms(), "FAILOVER: done; this node is a replica of the new primary");
    } else {
        // The target did not take over: become the primary again, with a new history
        // (the target may or may not have promoted itself).
        warn!("FAILOVER: the target did not accept the handover; this node stays the primary");
        super::replica::promote(srv);
        finish(srv, "the target did not accept the handover");
    }
}

fn finish(srv: &Server, why: &str) {
    let f = &srv.replication.failover;
    f.state.store(NONE, Relaxed);
    f.abort.store(false, Relaxed);
    pause_writes(srv, false);
    warn!("FAILOVER aborted: {why}");
}
