//! Background work on its own thread, `hz` times a second: active expiry and idle
//! client timeouts. It only takes one partition lock at a time, briefly.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::balancer::Balancer;
use super::state::{Server, now_ms};
use crate::store::expire;

pub fn spawn(srv: Arc<Server>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("cron".into()).spawn(move || run(&srv))
}

fn run(srv: &Arc<Server>) {
    let mut cursor = expire::Cursor::default();
    let mut last_idle_check = Instant::now();
    let mut balancer = Balancer::default();
    while !srv.is_shutting_down() {
        let hz = srv.tun.hz.load(Relaxed).clamp(1, 500);
        let started = Instant::now();
        // Deletions wait while a script runs (this tick is skipped): see Gate::cron_slot.
        let gate = &srv.scripting.gate;
        if gate.enter(gate.cron_slot()) {
            let deleted = expire::cycle(&srv.keyspace, &mut cursor, now_ms());
            srv.stats.expired_keys_active.fetch_add(deleted, Relaxed);
            // A limit lowered by CONFIG SET is reached without waiting for writes.
            crate::memory::evict::cron(srv, now_ms(), 25_000);
            gate.leave(gate.cron_slot());
        }
        balancer.tick(srv);
        if last_idle_check.elapsed() >= Duration::from_secs(1) {
            last_idle_check = Instant::now();
            close_idle_clients(srv);
            srv.persistence_tick();
            crate::replication::primary::tick(srv);
            // Samples allocator usage so used_memory_peak sees spikes between INFO calls.
            crate::commands::info::process::memory();
        }
        let period = Duration::from_millis(1000 / hz);
        // Right after spreading connections, the balancer looks again sooner than a tick.
        while let Some(rest) = period.checked_sub(started.elapsed()) {
            if !balancer.probing() {
                std::thread::sleep(rest);
                break;
            }
            std::thread::sleep(rest.min(super::balancer::PROBE_EVERY));
            balancer.probe(srv);
        }
    }
}

fn close_idle_clients(srv: &Server) {
    let timeout = srv.tun.timeout_secs.load(Relaxed);
    if timeout == 0 {
        return;
    }
    let limit = now_ms() - (timeout as i64) * 1000;
    let n = srv.clients.kill(|c| c.last_interaction_ms.load(Relaxed) < limit);
    if n > 0 {
        tracing::debug!(closed = n, "closed idle clients");
    }
}
