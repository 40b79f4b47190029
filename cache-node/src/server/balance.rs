//! Adaptive placement of connections on worker threads (pure decisions).
//!
//! Each worker thread costs a sleep and a wake-up per `epoll_wait` it does. When the
//! load fits comfortably on one thread, spreading connections over every thread only
//! multiplies those wake-ups (and, on a small machine, competes with co-located clients
//! for cores); when one thread is saturated, the others must take over part of its
//! connections. So connections are packed onto as few workers as the load needs:
//! new connections go to the busiest worker that still has headroom, and every tick the
//! balancer either moves connections off a saturated worker onto an idle one, or, when
//! the total load would fit on fewer workers, folds the least busy worker into another.
//! The thresholds leave a wide band between the two moves, so placement never flaps.
//!
//! Spreading only helps when the workers can run in parallel. Clients that all write one
//! hot key serialise on its partition lock, and two workers then spend their time
//! handing that lock to each other (a futex sleep and wake-up per hand-over), doing less
//! than one worker alone. So when many commands find their partition held by another
//! thread, the workers are folded into one and spreading is held off for a while
//! (`Hold`), doubling each time spreading brings the contention back.

/// Above this utilisation a worker sheds connections to a less busy one.
pub const HIGH: f64 = 0.85;
/// Two workers whose summed utilisation is below this are merged into one.
pub const LOW: f64 = 0.6;
/// Default idle CPU (in cores, machine-wide) needed before a saturated worker sheds
/// load (`adaptive-threads-idle`): a second busy worker only helps when a core is free
/// to run it; otherwise it takes turns with the clients on the same cores and adds
/// latency without adding throughput.
pub const SPREAD_IDLE: f64 = 0.5;
/// Contended lock acquisitions per command above which spread workers are folded.
/// Keys spread over the 64 partitions collide on a small fraction of a percent of
/// commands; one hot key shared by two busy workers collides on a large share of them.
pub const CONTENDED: f64 = 0.1;
/// Commands in one interval below which its contention is not judged (noise).
pub const MIN_COMMANDS: u64 = 1_000;
/// First hold on spreading after a fold for contention, and its ceiling (milliseconds).
pub const HOLD_MIN_MS: u64 = 5_000;
pub const HOLD_MAX_MS: u64 = 80_000;
/// A fold this long after the previous one starts again from `HOLD_MIN_MS`: the
/// workload has changed since.
pub const HOLD_RESET_MS: u64 = 300_000;

/// What the balancer sees of one worker over the last interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Load {
    /// Fraction of the interval the worker spent serving requests (0..=1).
    pub util: f64,
    /// Connections it owns.
    pub conns: usize,
}

/// What the balancer sees of the whole machine over the last interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Machine {
    /// Idle CPU, in cores.
    pub idle_cores: f64,
    /// Idle CPU required before spreading (`adaptive-threads-idle`), in cores.
    pub spread_idle: f64,
    /// Contended partition-lock acquisitions per command served.
    pub contention: f64,
    /// Spreading is held off (`Hold::held`).
    pub held: bool,
}

/// Why connections move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A saturated worker sheds load onto an idle one.
    Saturated,
    /// The load fits on fewer workers.
    Light,
    /// The workers mostly wait on each other's partition locks.
    Contended,
}

/// One step of rebalancing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    Stay,
    /// Move `count` connections from worker `from` to worker `to`.
    Move {
        from: usize,
        to: usize,
        count: usize,
        why: Why,
    },
}

/// Contended acquisitions per command over an interval that served `served` commands,
/// 0 when too few to judge.
pub fn contention(served: u64, waited: u64) -> f64 {
    if served >= MIN_COMMANDS { waited as f64 / served as f64 } else { 0.0 }
}

/// Decides the next move from the current loads and the machine's state.
pub fn plan(loads: &[Load], m: &Machine) -> Plan {
    if loads.len() < 2 {
        return Plan::Stay;
    }
    let by_util = |a: &(usize, &Load), b: &(usize, &Load)| a.1.util.total_cmp(&b.1.util);
    let mut active: Vec<(usize, &Load)> = loads.iter().enumerate().filter(|(_, l)| l.conns > 0).collect();
    active.sort_by(by_util);
    if let [(from, f), .., (to, _)] = active[..]
        && m.contention >= CONTENDED
    {
        return Plan::Move { from, to, count: f.conns, why: Why::Contended };
    }
    let Some((hot, h)) = loads.iter().enumerate().max_by(by_util) else { return Plan::Stay };
    let Some((cold, c)) = loads.iter().enumerate().min_by(by_util) else { return Plan::Stay };
    if h.util > HIGH && h.conns > 1 && c.util < h.util - 0.3 && m.idle_cores >= m.spread_idle && !m.held && m.contention < CONTENDED {
        // Move the share of connections that evens the two out, assuming connections
        // of one worker carry similar load.
        let share = (h.util - c.util) / (2.0 * h.util);
        let count = ((h.conns as f64 * share).ceil() as usize).clamp(1, h.conns - 1);
        return Plan::Move { from: hot, to: cold, count, why: Why::Saturated };
    }
    if let [(from, f), .., (to, t)] = active[..]
        && f.util + t.util < LOW
    {
        return Plan::Move { from, to, count: f.conns, why: Why::Light };
    }
    Plan::Stay
}

/// How long spreading stays off after a fold for contention (times in milliseconds on
/// any monotonic clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hold {
    until: u64,
    last_fold: Option<u64>,
    len: u64,
}

impl Hold {
    pub fn held(&self, now: u64) -> bool {
        now < self.until
    }

    /// Records a fold for contention at `now`: each fold soon after the previous one
    /// (spreading brought the contention back) holds twice as long, up to the ceiling.
    pub fn fold(&mut self, now: u64) {
        let recent = self.last_fold.is_some_and(|t| now.saturating_sub(t) < HOLD_RESET_MS);
        self.len = if recent { (self.len * 2).clamp(HOLD_MIN_MS, HOLD_MAX_MS) } else { HOLD_MIN_MS };
        self.last_fold = Some(now);
        self.until = now + self.len;
    }
}

/// Where a new connection goes: the busiest worker that still has headroom (packing),
/// preferring the one with the most connections among idle ones; if every worker is
/// saturated, the least busy. While spreading is held, always the worker with the most
/// connections, so new clients join the folded ones instead of spreading them again.
pub fn home(loads: &[Load], held: bool) -> usize {
    if held {
        return loads.iter().enumerate().max_by_key(|(i, l)| (l.conns, std::cmp::Reverse(*i))).map(|(i, _)| i).unwrap_or(0);
    }
    let key = |l: &Load| (l.util, l.conns);
    let roomy = loads
        .iter()
        .enumerate()
        .filter(|(_, l)| l.util < HIGH)
        .max_by(|a, b| key(a.1).partial_cmp(&key(b.1)).unwrap_or(std::cmp::Ordering::Equal).then(b.0.cmp(&a.0)));
    match roomy {
        Some((i, _)) => i,
        None => loads.iter().enumerate().min_by(|a, b| a.1.util.total_cmp(&b.1.util)).map(|(i, _)| i).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(util: f64, conns: usize) -> Load {
        Load { util, conns }
    }

    fn machine(idle_cores: f64, spread_idle: f64) -> Machine {
        Machine { idle_cores, spread_idle, contention: 0.0, held: false }
    }

    /// A machine with a whole idle core.
    fn plan_idle(loads: &[Load]) -> Plan {
        plan(loads, &machine(1.0, SPREAD_IDLE))
    }

    fn mv(from: usize, to: usize, count: usize, why: Why) -> Plan {
        Plan::Move { from, to, count, why }
    }

    #[test]
    fn the_config_default_is_the_documented_rule() {
        let p = crate::config::params::find("adaptive-threads-idle").unwrap();
        assert_eq!(p.default.parse::<f64>().unwrap() / 100.0, SPREAD_IDLE);
    }

    #[test]
    fn no_spreading_without_an_idle_core() {
        // Saturated worker, but the clients use the other core: stay packed.
        assert_eq!(plan(&[l(0.98, 50), l(0.0, 0)], &machine(0.2, SPREAD_IDLE)), Plan::Stay);
        assert_eq!(plan(&[l(0.98, 50), l(0.0, 0)], &machine(0.6, SPREAD_IDLE)), mv(0, 1, 25, Why::Saturated));
        // The requirement is configurable: 0 spreads whatever the machine does.
        assert_eq!(plan(&[l(0.98, 50), l(0.0, 0)], &machine(0.0, 0.0)), mv(0, 1, 25, Why::Saturated));
        // Merging needs no idle CPU.
        assert_eq!(plan(&[l(0.3, 25), l(0.25, 25)], &machine(0.0, SPREAD_IDLE)), mv(1, 0, 25, Why::Light));
    }

    #[test]
    fn light_load_is_packed_onto_one_worker() {
        // 50 client-bound connections split round-robin at 0.3 + 0.25: fold them.
        assert_eq!(plan_idle(&[l(0.3, 25), l(0.25, 25)]), mv(1, 0, 25, Why::Light));
        // Already packed: nothing to do.
        assert_eq!(plan_idle(&[l(0.55, 50), l(0.0, 0)]), Plan::Stay);
        // A single worker never moves anything.
        assert_eq!(plan_idle(&[l(0.99, 50)]), Plan::Stay);
    }

    #[test]
    fn a_saturated_worker_sheds_half_its_excess() {
        assert_eq!(plan_idle(&[l(0.98, 50), l(0.0, 0)]), mv(0, 1, 25, Why::Saturated));
        assert_eq!(plan_idle(&[l(0.1, 2), l(0.95, 40)]), mv(1, 0, 18, Why::Saturated));
        // One connection cannot be split.
        assert_eq!(plan_idle(&[l(0.99, 1), l(0.0, 0)]), Plan::Stay);
    }

    #[test]
    fn no_flapping_between_the_thresholds() {
        // After a spread, two workers at 0.45 each stay spread (0.9 > LOW) ...
        assert_eq!(plan_idle(&[l(0.45, 25), l(0.45, 25)]), Plan::Stay);
        // ... and a packed worker at 0.8 stays packed (below HIGH).
        assert_eq!(plan_idle(&[l(0.8, 50), l(0.0, 0)]), Plan::Stay);
        // Every move either lowers a saturated worker or merges workers that fit in one:
        // replaying the plan on its own outcome (load follows connections) converges.
        let mut loads = vec![l(0.99, 40), l(0.0, 0)];
        for _ in 0..10 {
            match plan_idle(&loads) {
                Plan::Stay => break,
                Plan::Move { from, to, count, .. } => {
                    let per = loads[from].util / loads[from].conns as f64;
                    loads[from].conns -= count;
                    loads[to].conns += count;
                    loads[from].util -= per * count as f64;
                    loads[to].util += per * count as f64;
                }
            }
        }
        assert_eq!(plan_idle(&loads), Plan::Stay);
        assert!(loads.iter().all(|x| x.util <= HIGH), "{loads:?}");
    }

    #[test]
    fn new_connections_pack_until_saturation() {
        assert_eq!(home(&[l(0.0, 0), l(0.0, 0)], false), 0);
        assert_eq!(home(&[l(0.0, 0), l(0.2, 3)], false), 1);
        assert_eq!(home(&[l(0.9, 30), l(0.2, 3)], false), 1);
        assert_eq!(home(&[l(0.95, 30), l(0.9, 3)], false), 1);
        // Held after a fold: join the folded connections even on a saturated worker.
        assert_eq!(home(&[l(0.1, 0), l(0.99, 50)], true), 1);
        assert_eq!(home(&[l(0.0, 0), l(0.0, 0)], true), 0);
    }

    fn contended(loads: &[Load], contention: f64, held: bool) -> Plan {
        plan(loads, &Machine { idle_cores: 1.0, spread_idle: SPREAD_IDLE, contention, held })
    }

    #[test]
    fn workers_contending_on_a_hot_key_are_folded_into_one() {
        // Two busy workers where a third of the commands wait for a lock: the least busy
        // hands every connection to the busiest, though together they exceed one core.
        assert_eq!(contended(&[l(0.95, 25), l(0.9, 25)], 0.3, false), mv(1, 0, 25, Why::Contended));
        assert_eq!(contended(&[l(0.7, 20), l(0.0, 0), l(0.9, 30)], CONTENDED, false), mv(0, 2, 20, Why::Contended));
        // Keys spread over partitions collide rarely: the workers stay spread.
        assert_eq!(contended(&[l(0.95, 25), l(0.9, 25)], 0.004, false), Plan::Stay);
        // Contention with one active worker (against the script or cron thread) moves
        // nothing: there is nothing to fold, and a second worker would contend too.
        assert_eq!(contended(&[l(0.99, 50), l(0.0, 0)], 0.5, false), Plan::Stay);
    }

    #[test]
    fn a_held_saturated_worker_does_not_spread() {
        assert_eq!(contended(&[l(0.99, 50), l(0.0, 0)], 0.0, true), Plan::Stay);
        assert_eq!(contended(&[l(0.99, 50), l(0.0, 0)], 0.0, false), mv(0, 1, 25, Why::Saturated));
        // Folding light load needs no permission.
        assert_eq!(contended(&[l(0.3, 25), l(0.25, 25)], 0.0, true), mv(1, 0, 25, Why::Light));
    }

    #[test]
    fn the_hold_doubles_while_contention_returns_and_resets_later() {
        let mut h = Hold::default();
        assert!(!h.held(0));
        h.fold(1_000);
        assert!(h.held(1_000 + HOLD_MIN_MS - 1) && !h.held(1_000 + HOLD_MIN_MS));
        // Spread again at the end of the hold, contended again: twice as long.
        let t = 1_000 + HOLD_MIN_MS + 500;
        h.fold(t);
        assert!(h.held(t + 2 * HOLD_MIN_MS - 1) && !h.held(t + 2 * HOLD_MIN_MS));
        // Up to the ceiling.
        let mut t = t;
        for _ in 0..10 {
            t += HOLD_MAX_MS;
            h.fold(t);
        }
        assert!(h.held(t + HOLD_MAX_MS - 1) && !h.held(t + HOLD_MAX_MS));
        // A fold long after the last one is a new workload: back to the first hold.
        let t = t + HOLD_RESET_MS;
        h.fold(t);
        assert!(!h.held(t + HOLD_MIN_MS));
    }
}
