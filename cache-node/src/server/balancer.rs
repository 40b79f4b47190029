//! Applies `balance::plan` (the pure decisions) to the running server: measures worker
//! utilisation, machine idle CPU and lock contention each cron tick, and marks the
//! connections to move.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::balance::{self, Hold, Load, Machine, Plan, Why};
use super::clients::NO_MOVE;
use super::state::Server;
use super::stats::ThreadStats;

/// How often the cron thread probes contention after a spread, between its ticks: a
/// spread that makes workers contend runs slower than one worker, so it is undone
/// within a few tens of milliseconds rather than a whole tick (`hz`) later.
pub const PROBE_EVERY: Duration = Duration::from_millis(20);
/// A probe that saw too few commands this long after the spread gives up (the next
/// tick judges).
const PROBE_FOR: Duration = Duration::from_millis(200);

/// Counters taken when connections were spread, to judge the spread by.
struct Probe {
    at: Instant,
    commands: u64,
    contended: u64,
    /// The spread moved connections from `from` to `to`.
    from: usize,
    to: usize,
}

/// Measures worker utilisation each tick and applies `balance::plan`.
#[derive(Default)]
pub struct Balancer {
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
    probe: Option<Probe>,
}

/// Commands served by the workers (`threads`, from `srv.stats.threads()`), and commands
/// that waited on another thread.
fn counters(srv: &Server, threads: &[Arc<ThreadStats>]) -> (u64, u64) {
    let commands = threads.iter().map(|t| t.commands.load(Relaxed)).sum();
    (commands, srv.keyspace.contended() + srv.scripting.gate.waited())
}

impl Balancer {
    pub fn tick(&mut self, srv: &Server) {
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
        let (commands, contended) = counters(srv, &threads);
        let served = commands.saturating_sub(std::mem::replace(&mut self.last_commands, commands));
        let waited = contended.saturating_sub(std::mem::replace(&mut self.last_contended, contended));
        let contention = balance::contention(served, waited);
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
            self.probe = None;
            if why == Why::Contended {
                self.fold(srv, from, to);
            } else {
                let mut marked = 0;
                for c in srv.clients.snapshot() {
                    if marked >= count {
                        break;
                    }
                    if c.worker.load(Relaxed) == from && c.move_to.load(Relaxed) == NO_MOVE {
                        c.move_to.store(to, Relaxed);
                        marked += 1;
                    }
                }
                if why == Why::Saturated {
                    self.probe = Some(Probe { at: Instant::now(), commands, contended, from, to });
                }
            }
            tracing::debug!(from, to, ?why, ?loads, contention, "moving connections between workers");
            self.cooldown = 3;
        }
    }

    /// A spread waits to be judged by `probe`.
    pub fn probing(&self) -> bool {
        self.probe.is_some()
    }

    /// Judges the last spread by the contention since: undoes it if the workers
    /// mostly wait on each other.
    pub fn probe(&mut self, srv: &Server) {
        let Some(p) = &self.probe else { return };
        let (commands, contended) = counters(srv, &srv.stats.threads());
        let served = commands.saturating_sub(p.commands);
        let contention = balance::contention(served, contended.saturating_sub(p.contended));
        if contention >= balance::CONTENDED {
            let (from, to) = (p.to, p.from);
            self.probe = None;
            self.last_why = Some(Why::Contended);
            self.fold(srv, from, to);
            tracing::debug!(from, to, contention, "spread undone: the workers contend");
        } else if served >= balance::MIN_COMMANDS || p.at.elapsed() >= PROBE_FOR {
            self.probe = None;
        }
    }

    /// Moves every connection of worker `from`, and those on their way to it, to `to`,
    /// and holds off spreading.
    fn fold(&mut self, srv: &Server, from: usize, to: usize) {
        self.hold.fold(self.clock_ms);
        srv.stats.contended_folds.fetch_add(1, Relaxed);
        for c in srv.clients.snapshot() {
            let on_from = c.worker.load(Relaxed) == from && c.move_to.load(Relaxed) == NO_MOVE;
            if on_from || c.move_to.load(Relaxed) == from {
                c.move_to.store(to, Relaxed);
            }
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
