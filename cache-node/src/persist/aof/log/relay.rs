//! Waiting for the durable offset, one cross-thread wake-up per worker thread. The writer
//! thread's publish wakes tasks that live on the connection threads, and each such
//! wake-up costs a system call (the runtime's eventfd): with 50 connections of a worker
//! waiting for one fsync, that is 50 calls per batch. So the waiters of one thread elect
//! one of them to wait on the watch channel; it wakes the others each time the offset
//! moves, which is a local wake-up, without a system call.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

use super::Shared;

struct Relay {
    /// Address of the log state the leader waits on; 0 while nobody leads.
    leader: AtomicUsize,
    /// Woken whenever the durable offset moves or the leader leaves.
    moved: Notify,
}

thread_local! {
    // An Arc, not an Rc, so the waiting future stays Send: one that moves to another
    // thread (a multi-threaded runtime) still waits correctly, only less cheaply.
    static RELAY: Arc<Relay> = Arc::new(Relay { leader: AtomicUsize::new(0), moved: Notify::new() });
}

/// Resolves once the durable offset of `shared` reaches `offset`.
pub(super) async fn wait(shared: &Shared, offset: u64) {
    let relay = RELAY.with(Arc::clone);
    let me = shared as *const Shared as usize;
    loop {
        // Registered before checking, so a move or a resignation in between is not missed.
        let moved = relay.moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        if shared.durable() >= offset {
            return;
        }
        match relay.leader.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return lead(shared, &relay, offset).await,
            Err(leader) if leader == me => moved.await,
            // Another log (appendonly turned off and on) still has a leader here: rare.
            Err(_) => return wait_alone(shared, offset).await,
        }
    }
}

/// Waits on the watch channel for the whole thread until `offset` is durable.
async fn lead(shared: &Shared, relay: &Relay, offset: u64) {
    /// Steps down however the wait ends (also when the connection is dropped), waking
    /// the others so that one of them leads next.
    struct Resign<'a>(&'a Relay);
    impl Drop for Resign<'_> {
        fn drop(&mut self) {
            self.0.leader.store(0, Ordering::Release);
            self.0.moved.notify_waiters();
        }
    }
    let _resign = Resign(relay);
    // Subscribed before checking: publish raises the atomic before the channel.
    let mut rx = shared.durable_tx.subscribe();
    while shared.durable() < offset {
        if rx.changed().await.is_err() {
            return;
        }
        relay.moved.notify_waiters();
    }
}

async fn wait_alone(shared: &Shared, offset: u64) {
    let mut rx = shared.durable_tx.subscribe();
    // The sender lives as long as `shared`, so this only ends when the offset is reached.
    let _ = rx.wait_for(|&d| d >= offset).await;
}
