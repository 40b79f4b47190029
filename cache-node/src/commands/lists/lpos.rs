//! LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]

use super::read_list;
use crate::commands::{CmdError, CmdResult, Ctx, args};

const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";

/// What LPOS looks for, once its options are parsed.
#[derive(Debug, PartialEq)]
struct Search {
    /// Skip the first `rank - 1` matches.
    rank: i64,
    from_tail: bool,
    /// None: reply with one index or nil; Some(0): every match; Some(n): up to n.
    count: Option<i64>,
    /// Compare at most this many elements (0: all).
    maxlen: i64,
}

fn parse(opts: &[&[u8]]) -> Result<Search, CmdError> {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut i = 0;
    while i < opts.len() {
        let (opt, value) = match opts.get(i + 1) {
            Some(v) => (opts[i], *v),
            None => return Err(CmdError::Syntax),
        };
        if args::is(opt, "rank") {
            rank = args::int(value)?;
            if rank == 0 {
                return Err(CmdError::other(RANK_ZERO));
            }
        } else if args::is(opt, "count") {
            count = Some(super::count_arg(value, 0, "ERR COUNT can't be negative")?);
        } else if args::is(opt, "maxlen") {
            maxlen = super::count_arg(value, 0, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    // Redis negates a negative rank to search from the tail, in wrapping 64-bit
    // arithmetic: i64::MIN stays negative, so every match counts and COUNT never
    // stops the search (checked against redis-server 7.0.15).
    let from_tail = rank < 0;
    Ok(Search { rank: if from_tail { rank.wrapping_neg() } else { rank }, from_tail, count, maxlen })
}

/// Indexes (from the head) of the matches the search selects, in search order. Bounded
/// by the list: Redis does the same walk.
fn find<'a>(elems: impl Iterator<Item = &'a [u8]>, len: usize, element: &[u8], s: &Search) -> Vec<i64> {
    let mut found = Vec::new();
    let mut matches = 0i64;
    let limit = if s.maxlen == 0 { usize::MAX } else { usize::try_from(s.maxlen).unwrap_or(usize::MAX) };
    for (seen, e) in elems.take(limit).enumerate() {
        if e != element {
            continue;
        }
        matches += 1;
        if matches < s.rank {
            continue;
        }
        found.push(if s.from_tail { (len - 1 - seen) as i64 } else { seen as i64 });
        match s.count {
            None => break,
            Some(0) => {}
            Some(n) if matches.wrapping_sub(s.rank).wrapping_add(1) >= n => break,
            Some(_) => {}
        }
    }
    found
}

pub(super) fn lpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let s = parse(&argv[3..])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let found = match read_list(&mut p, argv[1], ctx.now_ms)? {
        None => Vec::new(),
        Some(l) if s.from_tail => find(l.iter().rev(), l.len(), argv[2], &s),
        Some(l) => find(l.iter(), l.len(), argv[2], &s),
    };
    drop(p);
    match s.count {
        Some(_) => {
            ctx.out.array(found.len());
            found.iter().for_each(|&i| ctx.out.int(i));
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let s = |o: &str| parse(&o.split_whitespace().map(str::as_bytes).collect::<Vec<_>>());
        assert_eq!(s("").unwrap(), Search { rank: 1, from_tail: false, count: None, maxlen: 0 });
        assert_eq!(s("RANK -2 COUNT 0 MAXLEN 5 rank 3").unwrap(), Search { rank: 3, from_tail: false, count: Some(0), maxlen: 5 });
        assert_eq!(s("RANK -9223372036854775808").unwrap(), Search { rank: i64::MIN, from_tail: true, count: None, maxlen: 0 });
        assert_eq!(s("RANK 0"), Err(CmdError::other(RANK_ZERO)));
        assert_eq!(s("RANK x"), Err(CmdError::NotInteger));
        assert_eq!(s("COUNT x"), Err(CmdError::other("ERR COUNT can't be negative")));
        assert_eq!(s("MAXLEN -1"), Err(CmdError::other("ERR MAXLEN can't be negative")));
        assert_eq!(s("RANK"), Err(CmdError::Syntax));
        assert_eq!(s("FOO 1"), Err(CmdError::Syntax));
    }
}
