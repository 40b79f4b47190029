//! Background work on its own thread, `hz` times a second: active expiry and idle
//! client timeouts. It only takes one partition lock at a time, briefly.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::balance::{self, Hold, Load, Machine, Plan, Why};
use super::clients::NO_MOVE;
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
        if let Some(rest) = period.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
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

/// Measures worker utilisation each tick and applies `balance::plan`.
#[derive(Default)]
struct Balancer {
    last: Option<Instant>,
    last_busy: Vec<u64>,
    /// Machine-wide (idle, total) CPU ticks at the last tick, from /proc/stat.
    last_cpu: Option<(u64, u64, f64)>,
    /// Ticks to wait after a move, so connections can migrate before the next decision.
    cooldown: u32,
    /// Commands served and contended lock acquisitions at the last tick.
    last_commands: u64,
    last_contended: u64,
    /// Milliseconds of balancing so far: the clock of `hold`.
    clock_ms: u64,
    hold: Hold,
    /// Why connections last moved.
    last_why: Option<Why>,
}

/// Commands in one interval below which its contention is not judged (noise).
const MIN_COMMANDS: u64 = 1_000;

impl Balancer {
    fn tick(&mut self, srv: &Server) {
        // With one worker, or placement off, there is nothing to decide: skip the
        // measurements (and the /proc/stat read), and start afresh if it is enabled later.
        if srv.threads < 2 || !srv.tun.adaptive_threads.load(Relaxed) {
            self.last = None;
            self.last_cpu = None;
            return;
        }
        let threads = srv.stats.threads();
        let now = Instant::now();
        let busy: Vec<u64> = threads.iter().map(|t| t.busy_nanos.load(Relaxed)).collect();
        let Some(last) = self.last.replace(now) else {
            self.last_busy = busy;
            return;
        };
        let elapsed = now.duration_since(last).as_nanos().max(1) as f64;
        self.clock_ms += now.duration_since(last).as_millis() as u64;
        let loads: Vec<Load> = threads
            .iter()
            .zip(&busy)
            .zip(self.last_busy.iter().chain(std::iter::repeat(&0)))
            .map(|((t, b), lb)| Load { util: (b.saturating_sub(*lb) as f64 / elapsed).min(1.0), conns: t.conns.load(Relaxed) as usize })
            .collect();
        self.last_busy = busy;
        let cpu = machine_cpu_ticks();
        let idle_cores = match (self.last_cpu, cpu) {
            (Some((i0, t0, _)), Some((i1, t1, n))) if t1 > t0 => (i1.saturating_sub(i0)) as f64 / (t1 - t0) as f64 * n,
            _ => 0.0,
        };
        self.last_cpu = cpu;
        let commands: u64 = threads.iter().map(|t| t.commands.load(Relaxed)).sum();
        let contended = srv.keyspace.contended() + srv.scripting.gate.waited();
        let served = commands.saturating_sub(std::mem::replace(&mut self.last_commands, commands));
        let waited = contended.saturating_sub(std::mem::replace(&mut self.last_contended, contended));
        let contention = if served >= MIN_COMMANDS { waited as f64 / served as f64 } else { 0.0 };
        let held = self.hold.held(self.clock_ms);
        srv.home.store(balance::home(&loads, held), Relaxed);
        let machine = Machine { idle_cores, spread_idle: srv.tun.adaptive_idle_pct.load(Relaxed) as f64 / 100.0, contention, held };
        let plan = balance::plan(&loads, &machine);
        if self.cooldown > 0 {
            self.cooldown -= 1;
            // A spread that made the workers contend is undone at once: every tick of it
            // runs slower than one worker alone would.
            let undo = matches!(plan, Plan::Move { why: Why::Contended, .. }) && self.last_why == Some(Why::Saturated);
            if !undo {
                return;
            }
        }
        if let Plan::Move { from, to, count, why } = plan {
            self.last_why = Some(why);
            let mut marked = 0;
            if why == Why::Contended {
                self.hold.fold(self.clock_ms);
                srv.stats.contended_folds.fetch_add(1, Relaxed);
                // Every connection of `from`, and those still on their way to it.
                for c in srv.clients.snapshot() {
                    let on_from = c.worker.load(Relaxed) == from && c.move_to.load(Relaxed) == NO_MOVE;
                    if on_from || c.move_to.load(Relaxed) == from {
                        c.move_to.store(to, Relaxed);
                        marked += 1;
                    }
                }
            }
            for c in srv.clients.snapshot() {
                if marked >= count {
                    break;
                }
                if c.worker.load(Relaxed) == from && c.move_to.load(Relaxed) == NO_MOVE {
                    c.move_to.store(to, Relaxed);
                    marked += 1;
                }
            }
            tracing::debug!(from, to, marked, ?why, ?loads, contention, "moving connections between workers");
            self.cooldown = 3;
        }
    }
}

/// (idle, total, cpus) jiffies of the whole machine, from /proc/stat.
fn machine_cpu_ticks() -> Option<(u64, u64, f64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    let total = v.iter().take(8).sum();
    let cpus = text.lines().filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)).count();
    Some((idle, total, cpus.max(1) as f64))
}
