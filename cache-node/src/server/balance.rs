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

/// Above this utilisation a worker sheds connections to a less busy one.
pub const HIGH: f64 = 0.85;
/// Two workers whose summed utilisation is below this are merged into one.
pub const LOW: f64 = 0.6;
/// Default idle CPU (in cores, machine-wide) needed before a saturated worker sheds
/// load (`adaptive-threads-idle`): a second busy worker only helps when a core is free
/// to run it; otherwise it takes turns with the clients on the same cores and adds
/// latency without adding throughput.
pub const SPREAD_IDLE: f64 = 0.5;

/// What the balancer sees of one worker over the last interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Load {
    /// Fraction of the interval the worker spent serving requests (0..=1).
    pub util: f64,
    /// Connections it owns.
    pub conns: usize,
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
    },
}

/// Decides the next move from the current loads, the machine's idle CPU and the idle
/// CPU required before spreading (both in cores).
pub fn plan(loads: &[Load], idle_cores: f64, spread_idle: f64) -> Plan {
    if loads.len() < 2 {
        return Plan::Stay;
    }
    let by_util = |a: &(usize, &Load), b: &(usize, &Load)| a.1.util.total_cmp(&b.1.util);
    let Some((hot, h)) = loads.iter().enumerate().max_by(by_util) else { return Plan::Stay };
    let Some((cold, c)) = loads.iter().enumerate().min_by(by_util) else { return Plan::Stay };
    if h.util > HIGH && h.conns > 1 && c.util < h.util - 0.3 && idle_cores >= spread_idle {
        // Move the share of connections that evens the two out, assuming connections
        // of one worker carry similar load.
        let share = (h.util - c.util) / (2.0 * h.util);
        let count = ((h.conns as f64 * share).ceil() as usize).clamp(1, h.conns - 1);
        return Plan::Move { from: hot, to: cold, count };
    }
    let mut active: Vec<(usize, &Load)> = loads.iter().enumerate().filter(|(_, l)| l.conns > 0).collect();
    if active.len() > 1 {
        active.sort_by(by_util);
        let (from, f) = active[0];
        let (to, t) = active[active.len() - 1];
        if f.util + t.util < LOW {
            return Plan::Move { from, to, count: f.conns };
        }
    }
    Plan::Stay
}

/// Where a new connection goes: the busiest worker that still has headroom (packing),
/// preferring the one with the most connections among idle ones; if every worker is
/// saturated, the least busy.
pub fn home(loads: &[Load]) -> usize {
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

    /// A machine with a whole idle core.
    fn plan_idle(loads: &[Load]) -> Plan {
        plan(loads, 1.0, SPREAD_IDLE)
    }

    #[test]
    fn the_config_default_is_the_documented_rule() {
        let p = crate::config::params::find("adaptive-threads-idle").unwrap();
        assert_eq!(p.default.parse::<f64>().unwrap() / 100.0, SPREAD_IDLE);
    }

    #[test]
    fn no_spreading_without_an_idle_core() {
        // Saturated worker, but the clients use the other core: stay packed.
        assert_eq!(plan(&[l(0.98, 50), l(0.0, 0)], 0.2, SPREAD_IDLE), Plan::Stay);
        assert_eq!(plan(&[l(0.98, 50), l(0.0, 0)], 0.6, SPREAD_IDLE), Plan::Move { from: 0, to: 1, count: 25 });
        // The requirement is configurable: 0 spreads whatever the machine does.
        assert_eq!(plan(&[l(0.98, 50), l(0.0, 0)], 0.0, 0.0), Plan::Move { from: 0, to: 1, count: 25 });
        // Merging needs no idle CPU.
        assert_eq!(plan(&[l(0.3, 25), l(0.25, 25)], 0.0, SPREAD_IDLE), Plan::Move { from: 1, to: 0, count: 25 });
    }

    #[test]
    fn light_load_is_packed_onto_one_worker() {
        // 50 client-bound connections split round-robin at 0.3 + 0.25: fold them.
        assert_eq!(plan_idle(&[l(0.3, 25), l(0.25, 25)]), Plan::Move { from: 1, to: 0, count: 25 });
        // Already packed: nothing to do.
        assert_eq!(plan_idle(&[l(0.55, 50), l(0.0, 0)]), Plan::Stay);
        // A single worker never moves anything.
        assert_eq!(plan_idle(&[l(0.99, 50)]), Plan::Stay);
    }

    #[test]
    fn a_saturated_worker_sheds_half_its_excess() {
        assert_eq!(plan_idle(&[l(0.98, 50), l(0.0, 0)]), Plan::Move { from: 0, to: 1, count: 25 });
        assert_eq!(plan_idle(&[l(0.1, 2), l(0.95, 40)]), Plan::Move { from: 1, to: 0, count: 18 });
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
                Plan::Move { from, to, count } => {
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
        assert_eq!(home(&[l(0.0, 0), l(0.0, 0)]), 0);
        assert_eq!(home(&[l(0.0, 0), l(0.2, 3)]), 1);
        assert_eq!(home(&[l(0.9, 30), l(0.2, 3)]), 1);
        assert_eq!(home(&[l(0.95, 30), l(0.9, 3)]), 1);
    }
}
