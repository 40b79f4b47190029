//! Active expiry: reclaims memory of keys whose TTL has passed even if nobody reads
//! them again.
//!
//! Every cycle (10 times a second at the default `hz` 10) each partition is visited
//! once: under its lock we sample `SAMPLES` keys from its TTL index and delete the
//! expired ones, repeating while more than a quarter of a sample was expired, but at
//! most `MAX_ROUNDS` times. So one lock hold checks at most SAMPLES * MAX_ROUNDS = 320
//! keys (a few microseconds), and a whole cycle stops early once it has used
//! `CYCLE_BUDGET` of time, resuming where it left off next time. This mirrors Redis's
//! slow expire cycle: bounded latency for clients, memory reclaimed proportionally to
//! how many keys are expiring.

use std::time::{Duration, Instant};

use super::keyspace::{Keyspace, PARTITIONS};

pub const SAMPLES: usize = 20;
pub const MAX_ROUNDS: usize = 16;
pub const CYCLE_BUDGET: Duration = Duration::from_millis(25);

/// Where the next cycle resumes.
#[derive(Default, Debug)]
pub struct Cursor {
    db: usize,
    part: usize,
}

/// Runs one active expiry cycle. Returns the number of keys deleted.
pub fn cycle(ks: &Keyspace, cursor: &mut Cursor, now_ms: i64) -> u64 {
    // A replica deletes only what its primary deletes.
    if super::limits::keep_expired() {
        return 0;
    }
    let start = Instant::now();
    let total = ks.databases() * PARTITIONS;
    let mut deleted = 0u64;
    for _ in 0..total {
        if cursor.db >= ks.databases() {
            cursor.db = 0;
        }
        {
            let mut p = ks.lock_part(cursor.db, cursor.part);
            for _ in 0..MAX_ROUNDS {
                if p.expires_len() == 0 {
                    break;
                }
                let (checked, expired) = p.expire_sample(SAMPLES, now_ms);
                deleted += expired as u64;
                if expired * 4 <= checked {
                    break;
                }
            }
        }
        cursor.part += 1;
        if cursor.part == PARTITIONS {
            cursor.part = 0;
            cursor.db += 1;
        }
        if start.elapsed() > CYCLE_BUDGET {
            break;
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::partition::Ttl;

    #[test]
    fn reclaims_expired_keys_without_reads() {
        let ks = Keyspace::new(2);
        for i in 0..5000 {
            let k = format!("k{i}");
            ks.lock(1, k.as_bytes()).set_str(k.as_bytes(), b"v", Ttl::At(if i % 2 == 0 { 10 } else { 1_000_000 }), 0);
        }
        let mut cur = Cursor::default();
        let mut deleted = 0;
        for _ in 0..100 {
            deleted += cycle(&ks, &mut cur, 100);
            if deleted == 2500 {
                break;
            }
        }
        assert_eq!(deleted, 2500);
        assert_eq!(ks.sum_db(1, |p| p.len()), 2500);
    }
}
