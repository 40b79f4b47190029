//! Random picks shared by SRANDMEMBER, SPOP and HRANDFIELD. Collections give O(1) access
//! by position (see `store/hash/dict.rs`), so picking is choosing positions.

use std::collections::HashSet;

use crate::commands::{CmdError, args};

/// The most elements a negative (repeating) count may ask for. Redis writes as many as
/// asked until the client's output limit closes it, which by default never happens for
/// normal clients: a count like -10^12 would exhaust memory. Past this bound we refuse.
pub const MAX_REPEATED: u64 = 10_000_000;

/// A count argument of SRANDMEMBER/HRANDFIELD: any i64 except i64::MIN, with Redis's
/// error for that one value.
pub fn count_arg(arg: &[u8]) -> Result<i64, CmdError> {
    match args::int(arg)? {
        i64::MIN => Err(CmdError::other("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")),
        n => Ok(n),
    }
}

/// Refuses a repeating count past `MAX_REPEATED` (see there).
pub fn check_repeats(count: u64) -> Result<(), CmdError> {
    if count > MAX_REPEATED { Err(CmdError::other("ERR value is out of range")) } else { Ok(()) }
}

/// `count` distinct positions of `0..size` (`count < size`) in random order, in
/// O(count) expected time, or O(size) when `count` is close to `size` (like Redis's
/// two strategies).
pub fn distinct(size: usize, count: usize) -> Vec<usize> {
    if count.saturating_mul(3) > size {
        // Most of the collection: a partial shuffle of every position.
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = fastrand::usize(i..size);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let i = fastrand::usize(..size);
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_positions_are_distinct_and_in_range() {
        for (size, count) in [(10, 9), (10, 1), (1000, 5), (1000, 400), (3, 0)] {
            let got = distinct(size, count);
            assert_eq!(got.len(), count);
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), count);
            assert!(got.iter().all(|&i| i < size));
        }
    }
}
