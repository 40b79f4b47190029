//! Whether a replica asking `PSYNC replid offset` can continue from the backlog or needs
//! a full resync. Pure; the rules are Redis's (PSYNC2).

use super::state::Ids;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `+CONTINUE <replid>`: stream from `from`.
    Continue { from: u64 },
    /// `+FULLRESYNC <replid> <offset>`: send a snapshot first.
    Full,
}

/// `req_offset` is what PSYNC sends: the replica's offset + 1, Redis's 1-based number of
/// the first byte it lacks. `held` is the backlog's range as 0-based stream positions
/// (first byte held, end); `Continue.from` is a 0-based position too.
pub fn decide(ids: &Ids, req_replid: &str, req_offset: i64, backlog_active: bool, held: (u64, u64)) -> Decision {
    if req_offset < 1 || !backlog_active {
        return Decision::Full;
    }
    let from = (req_offset - 1) as u64;
    let same_history = req_replid == ids.replid || (req_replid == ids.replid2 && req_offset <= ids.second_offset);
    if !same_history || from < held.0 || from > held.1 {
        return Decision::Full;
    }
    Decision::Continue { from }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids {
        Ids { replid: "a".repeat(40), replid2: "b".repeat(40), second_offset: 101 }
    }

    #[test]
    fn table() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let c = "c".repeat(40);
        /// (replid, offset, backlog active, held range, decision)
        type Case<'a> = (&'a str, i64, bool, (u64, u64), Decision);
        let cases: &[Case<'_>] = &[
            ("?", -1, true, (0, 100), Decision::Full),
            (&a, 50, true, (10, 100), Decision::Continue { from: 49 }),
            // Fully caught up: 100 bytes held, the next one is the 101st.
            (&a, 101, true, (10, 100), Decision::Continue { from: 100 }),
            (&a, 102, true, (10, 100), Decision::Full),
            (&a, 10, true, (10, 100), Decision::Full),
            (&a, 11, true, (10, 100), Decision::Continue { from: 10 }),
            (&a, 50, false, (10, 100), Decision::Full),
            // The old history is valid up to its last byte (second_offset - 1).
            (&b, 101, true, (10, 200), Decision::Continue { from: 100 }),
            (&b, 102, true, (10, 200), Decision::Full),
            (&c, 50, true, (10, 100), Decision::Full),
        ];
        for (replid, off, active, held, want) in cases {
            assert_eq!(decide(&ids(), replid, *off, *active, *held), *want, "{replid} {off}");
        }
    }
}
