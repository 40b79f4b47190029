//! The eviction decision, as pure functions: what a policy may evict, how good a
//! candidate is, and the small pool of the best candidates seen so far (Redis's
//! approximated LRU/LFU: sample a few keys, keep the best in a pool, evict the best).

use crate::store::access::{lfu_decayed, minutes};

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    VolatileLru,
    AllKeysLfu,
    VolatileLfu,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    /// Only keys with a TTL may go.
    pub fn volatile(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }

    pub fn lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Random policies evict the first key they draw; the others rank samples.
    pub fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

/// What ranking a candidate needs to know about "now".
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now_ms: i64,
    pub lfu_decay_minutes: u32,
}

/// How good a candidate is for `policy`: higher evicts first. LRU ranks by idle
/// seconds, LFU by 255 minus the decayed counter, volatile-ttl by how soon the key
/// expires. `bits` are the entry's 24 access bits.
pub fn score(policy: Policy, bits: u32, expire_ms: Option<i64>, clock: Clock) -> u64 {
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => {
            let now = crate::store::partition::lru_clock(clock.now_ms);
            let lru = bits & 0x00FF_FFFF;
            u64::from(if now >= lru { now - lru } else { now + 0x0100_0000 - lru })
        }
        Policy::AllKeysLfu | Policy::VolatileLfu => 255 - u64::from(lfu_decayed(bits, minutes(clock.now_ms), clock.lfu_decay_minutes)),
        Policy::VolatileTtl => u64::MAX - expire_ms.map_or(u64::MAX, |at| at.max(0) as u64),
        // Random policies never rank; every draw is as good as another.
        Policy::NoEviction | Policy::AllKeysRandom | Policy::VolatileRandom => 0,
    }
}

/// Redis's EVPOOL_SIZE.
pub const POOL_SIZE: usize = 16;

/// One candidate: where the key lives and how good it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub score: u64,
    pub db: usize,
    pub key: Box<[u8]>,
}

/// The best candidates seen so far, kept across evictions so that each eviction
/// benefits from earlier samples (what makes a 5-key sample approach true LRU).
#[derive(Debug, Default)]
pub struct Pool {
    /// Ascending by score; the best candidate is last.
    entries: Vec<Candidate>,
}

impl Pool {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Offers a sampled key. A key already pooled has its score refreshed; a full pool
    /// takes a candidate only if it beats the worst one there.
    pub fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        if let Some(i) = self.entries.iter().position(|c| c.db == db && &*c.key == key) {
            self.entries.remove(i);
        } else if self.entries.len() == POOL_SIZE {
            if self.entries[0].score >= score {
                return;
            }
            self.entries.remove(0);
        }
        let at = self.entries.partition_point(|c| c.score <= score);
        self.entries.insert(at, Candidate { score, db, key: key.into() });
    }

    /// The score a sample must beat to enter: the worst pooled score once the pool is
    /// full, else none (samplers skip copying keys that would be turned away).
    pub fn floor(&self) -> Option<u64> {
        (self.entries.len() == POOL_SIZE).then(|| self.entries[0].score)
    }

    /// Takes the best candidate out of the pool.
    pub fn take_best(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// How long one command may spend evicting (`maxmemory-eviction-tenacity`, as Redis:
/// 0..=10 is linear up to 500 µs, above grows 15% a step, 100 is no limit).
pub fn time_limit_us(tenacity: u32) -> Option<u64> {
    match tenacity {
        0..=10 => Some(50 * u64::from(tenacity)),
        11..=99 => Some((500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::access::lfu_pack;

    const CLOCK: Clock = Clock { now_ms: 1_000_000_000, lfu_decay_minutes: 1 };

    #[test]
    fn policies_parse_and_classify() {
        for name in crate::config::params::POLICIES {
            let p = Policy::parse(name).unwrap_or(Policy::NoEviction);
            assert_eq!(p.volatile(), name.starts_with("volatile"), "{name}");
            assert_eq!(p.lfu(), name.ends_with("lfu"), "{name}");
            assert_eq!(p.random(), name.ends_with("random"), "{name}");
            assert!(Policy::parse(name).is_some());
        }
        assert_eq!(Policy::parse("allkeys-LRU"), None);
    }

    #[test]
    fn scores_rank_as_each_policy_wants() {
        let now = crate::store::partition::lru_clock(CLOCK.now_ms);
        // LRU: longer idle evicts first.
        assert!(score(Policy::AllKeysLru, now - 100, None, CLOCK) > score(Policy::AllKeysLru, now - 5, None, CLOCK));
        assert_eq!(score(Policy::VolatileLru, now, Some(1), CLOCK), 0);
        // The 24-bit clock wraps.
        let wrapped = Clock { now_ms: 3_000, ..CLOCK };
        assert_eq!(score(Policy::AllKeysLru, 0x00FF_FFFF, None, wrapped), 4);
        // LFU: lower (decayed) counter evicts first.
        let m = minutes(CLOCK.now_ms);
        let hot = lfu_pack(m, 200);
        let cold = lfu_pack(m, 3);
        assert!(score(Policy::AllKeysLfu, cold, None, CLOCK) > score(Policy::AllKeysLfu, hot, None, CLOCK));
        let stale_hot = lfu_pack(m.wrapping_sub(250), 200);
        assert_eq!(score(Policy::VolatileLfu, stale_hot, None, CLOCK), 255, "decayed to zero");
        // TTL: sooner expiry evicts first.
        assert!(score(Policy::VolatileTtl, 0, Some(10), CLOCK) > score(Policy::VolatileTtl, 0, Some(20), CLOCK));
    }

    #[test]
    fn tenacity_limits() {
        assert_eq!(time_limit_us(0), Some(0));
        assert_eq!(time_limit_us(10), Some(500));
        assert_eq!(time_limit_us(11), Some(575));
        assert_eq!(time_limit_us(100), None);
    }

    #[test]
    fn pool_refreshes_duplicates() {
        let mut p = Pool::default();
        p.offer(5, 0, b"a");
        p.offer(9, 0, b"a");
        p.offer(7, 1, b"a");
        assert_eq!(p.len(), 2);
        assert_eq!(p.take_best().map(|c| (c.score, c.db)), Some((9, 0)));
        assert_eq!(p.take_best().map(|c| (c.score, c.db)), Some((7, 1)));
        assert!(p.take_best().is_none());
    }

    proptest::proptest! {
        /// Whatever the order of offers, the pool holds the POOL_SIZE best distinct
        /// candidates and hands them out best first.
        #[test]
        fn pool_keeps_the_best(scores in proptest::collection::vec(0u64..1000, 0..100)) {
            let mut p = Pool::default();
            for (i, s) in scores.iter().enumerate() {
                p.offer(*s, 0, format!("k{i}").as_bytes());
            }
            let mut want = scores.clone();
            want.sort_unstable_by(|a, b| b.cmp(a));
            want.truncate(POOL_SIZE);
            let mut got = Vec::new();
            while let Some(c) = p.take_best() {
                got.push(c.score);
            }
            proptest::prop_assert_eq!(got, want);
        }
    }
}
