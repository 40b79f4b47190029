//! `client-output-buffer-limit`: per client class, a hard limit on pending output and a
//! soft limit that may be exceeded for at most `soft_seconds`. The parsing, the merge of
//! a partial CONFIG SET into the current value and the close decision are pure.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::config::params::parse_memory;

/// Client classes, in the order CONFIG GET lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Normal = 0,
    Replica = 1,
    PubSub = 2,
}

const NAMES: [&str; 3] = ["normal", "slave", "pubsub"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

impl Limit {
    pub fn is_off(&self) -> bool {
        self.hard == 0 && self.soft == 0
    }
}

const BAD_VALUE: &str = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";

/// C's `strtoll` on a whole word: leading digits after an optional sign, 0 when none.
fn strtoll(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    let n = digits[..end].parse::<i64>().unwrap_or(if end == 0 { 0 } else { i64::MAX });
    if neg { -n } else { n }
}

/// Parses `class hard soft seconds [class hard soft seconds ...]` with Redis's errors.
pub fn parse(value: &str) -> Result<Vec<(Class, Limit)>, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = Vec::with_capacity(words.len() / 4);
    for w in words.chunks(4) {
        let class = match w[0].to_ascii_lowercase().as_str() {
            "normal" => Class::Normal,
            "slave" | "replica" => Class::Replica,
            "pubsub" => Class::PubSub,
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let hard = parse_memory(w[1]).ok_or(BAD_VALUE)?;
        let soft = parse_memory(w[2]).ok_or(BAD_VALUE)?;
        let secs = strtoll(w[3]);
        if secs < 0 {
            return Err(BAD_VALUE.into());
        }
        out.push((class, Limit { hard, soft, soft_secs: secs as u64 }));
    }
    Ok(out)
}

/// The text CONFIG GET shows for all three classes.
pub fn format(all: &[Limit; 3]) -> String {
    NAMES.iter().zip(all).map(|(n, l)| format!("{n} {} {} {}", l.hard, l.soft, l.soft_secs)).collect::<Vec<_>>().join(" ")
}

/// Normalises a value for storage: only the classes it names, canonical.
pub fn normalise(value: &str) -> Result<String, String> {
    let parsed = parse(value)?;
    Ok(parsed.iter().map(|(c, l)| format!("{} {} {} {}", NAMES[*c as usize], l.hard, l.soft, l.soft_secs)).collect::<Vec<_>>().join(" "))
}

/// Applies the classes a (normalised) `update` names to the full `current` value, as
/// CONFIG SET changes only the classes it is given.
pub fn merge(current: &str, update: &str) -> String {
    let mut all = full(current);
    for (c, l) in parse(update).unwrap_or_default() {
        all[c as usize] = l;
    }
    format(&all)
}

/// All three classes of a stored value (classes it lacks are off).
fn full(value: &str) -> [Limit; 3] {
    let mut all = [Limit::default(); 3];
    for (c, l) in parse(value).unwrap_or_default() {
        all[c as usize] = l;
    }
    all
}

/// The limits in force, read by connections without a lock.
#[derive(Debug, Default)]
pub struct Limits {
    vals: [[AtomicU64; 3]; 3],
}

impl Limits {
    pub fn load(&self, value: &str) {
        for (slot, l) in self.vals.iter().zip(full(value)) {
            slot[0].store(l.hard, Relaxed);
            slot[1].store(l.soft, Relaxed);
            slot[2].store(l.soft_secs, Relaxed);
        }
    }

    pub fn get(&self, class: Class) -> Limit {
        let v = &self.vals[class as usize];
        Limit { hard: v[0].load(Relaxed), soft: v[1].load(Relaxed), soft_secs: v[2].load(Relaxed) }
    }
}

/// Whether a client with `used` bytes of pending output must be closed. `soft_since`
/// remembers when it first went over the soft limit (cleared once it is back under).
pub fn exceeded(limit: Limit, used: u64, soft_since: &mut Option<Instant>, now: Instant) -> bool {
    if limit.hard > 0 && used >= limit.hard {
        return true;
    }
    if limit.soft > 0 && used >= limit.soft {
        match soft_since {
            None => *soft_since = Some(now),
            Some(t) => return now.saturating_duration_since(*t) > Duration::from_secs(limit.soft_secs),
        }
    } else {
        *soft_since = None;
    }
    false
}

/// The replica class's check for a link `behind` bytes behind the stream; logs and
/// counts a closing.
pub fn replica_over_limit(srv: &crate::server::state::Server, behind: u64, soft_since: &mut Option<Instant>) -> bool {
    let limit = srv.pubsub.limits.get(Class::Replica);
    if (limit.hard == 0 || behind < limit.hard) && (limit.soft == 0 || behind < limit.soft) {
        *soft_since = None;
        return false;
    }
    if !exceeded(limit, behind, soft_since, Instant::now()) {
        return false;
    }
    tracing::warn!(behind, class = "replica", "client closed for overcoming of output buffer limits");
    srv.pubsub.obuf_disconnections.fetch_add(1, Relaxed);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

    #[test]
    fn partial_updates_merge_like_redis() {
        let v = normalise("pubsub 1mb 512kb 10").unwrap_or_default();
        assert_eq!(merge(DEFAULT, &v), "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10");
        let v = normalise("replica 1 1 1 normal 5 5 5").unwrap_or_default();
        assert_eq!(merge(DEFAULT, &v), "normal 5 5 5 slave 1 1 1 pubsub 33554432 8388608 60");
        assert_eq!(
            merge(DEFAULT, &normalise("normal 1k 2gb 1x").unwrap_or_default()),
            "normal 1000 2147483648 1 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!(merge(DEFAULT, ""), DEFAULT);
    }

    #[test]
    fn errors_are_redis_texts() {
        assert_eq!(parse("pubsub 1mb 512kb").unwrap_err(), "Wrong number of arguments in buffer limit configuration.");
        assert_eq!(parse("master 1 1 1").unwrap_err(), "Invalid client class specified in buffer limit configuration.");
        assert_eq!(parse("normal x 1 1").unwrap_err(), BAD_VALUE);
        assert_eq!(parse("normal -1 1 1").unwrap_err(), BAD_VALUE);
        assert_eq!(parse("normal 1 1 -1").unwrap_err(), BAD_VALUE);
        assert!(parse("normal 1 1 abc").is_ok());
    }

    #[test]
    fn hard_closes_at_once_soft_after_its_seconds() {
        let t0 = Instant::now();
        let l = Limit { hard: 100, soft: 10, soft_secs: 2 };
        let mut since = None;
        assert!(!exceeded(l, 5, &mut since, t0));
        assert!(exceeded(l, 100, &mut since, t0));
        assert!(!exceeded(l, 50, &mut since, t0));
        assert!(!exceeded(l, 50, &mut since, t0 + Duration::from_secs(2)));
        assert!(exceeded(l, 50, &mut since, t0 + Duration::from_millis(2100)));
        // Back under the soft limit: the clock starts over.
        assert!(!exceeded(l, 1, &mut since, t0 + Duration::from_secs(3)));
        assert!(!exceeded(l, 50, &mut since, t0 + Duration::from_secs(4)));
        assert!(!exceeded(Limit::default(), u64::MAX, &mut since, t0));
    }
}
