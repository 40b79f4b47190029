//! LCS: the longest common subsequence of two strings, by the classic dynamic-programming
//! table, with Redis 7's reply shapes (the string, LEN, or IDX match ranges).

use crate::commands::args;
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::ValueRef;

/// One run of consecutive common bytes: inclusive ranges in `a` and in `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub a: (u32, u32),
    pub b: (u32, u32),
    pub len: u32,
}

/// The LCS table: `cell(i, j)` is the LCS length of `a[..i]` and `b[..j]`.
pub struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    /// Builds the table, or returns None when the allocation fails.
    pub fn build(a: &[u8], b: &[u8]) -> Option<Table> {
        let width = b.len() + 1;
        let size = (a.len() + 1).checked_mul(width)?;
        let mut cells = Vec::new();
        cells.try_reserve_exact(size).ok()?;
        cells.resize(size, 0u32);
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] =
                    if a[i - 1] == b[j - 1] { cells[(i - 1) * width + j - 1] + 1 } else { cells[(i - 1) * width + j].max(cells[i * width + j - 1]) };
            }
        }
        Some(Table { cells, width })
    }

    fn cell(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Length of the LCS of the whole strings.
    pub fn len(&self) -> u32 {
        self.cells.last().copied().unwrap_or(0)
    }

    /// Walks the table back from the end, returning the LCS text and the match runs from
    /// last to first, keeping runs of at least `min_len` bytes (as Redis emits them).
    pub fn backtrack(&self, a: &[u8], b: &[u8], min_len: u32) -> (Vec<u8>, Vec<Match>) {
        let mut text = vec![0u8; self.len() as usize];
        let mut idx = text.len();
        let mut runs = Vec::new();
        // The run being extended backwards: (a start, a end, b start, b end).
        let mut run: Option<(u32, u32, u32, u32)> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                idx -= 1;
                text[idx] = a[i - 1];
                let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
                run = match run {
                    None => Some((ai, ai, bj, bj)),
                    Some((a0, a1, b0, b1)) if a0 == ai + 1 && b0 == bj + 1 => Some((ai, a1, bj, b1)),
                    Some(r) => {
                        emit = true;
                        Some(r)
                    }
                };
                if let Some((a0, _, b0, _)) = run {
                    emit |= a0 == 0 || b0 == 0;
                }
                i -= 1;
                j -= 1;
            } else {
                if self.cell(i - 1, j) > self.cell(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = run.is_some();
            }
            if let Some((a0, a1, b0, b1)) = run.filter(|_| emit) {
                run = None;
                let len = a1 - a0 + 1;
                if len >= min_len {
                    runs.push(Match { a: (a0, a1), b: (b0, b1), len });
                }
            }
        }
        (text, runs)
    }
}

/// The reply options of LCS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Options {
    get_len: bool,
    get_idx: bool,
    with_len: bool,
    min_len: u32,
}

impl Options {
    fn parse(opts: &[&[u8]]) -> Result<Options, CmdError> {
        let mut o = Options::default();
        let mut i = 0;
        while i < opts.len() {
            let opt = opts[i];
            if args::is(opt, "idx") {
                o.get_idx = true;
            } else if args::is(opt, "len") {
                o.get_len = true;
            } else if args::is(opt, "withmatchlen") {
                o.with_len = true;
            } else if args::is(opt, "minmatchlen") && i + 1 < opts.len() {
                // negative means no minimum
                let n = args::int(opts[i + 1])?.max(0);
                o.min_len = u32::try_from(n).unwrap_or(u32::MAX);
                i += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 1;
        }
        if o.get_idx && o.get_len {
            return Err(CmdError::other("ERR If you want both the length and indexes, please just use IDX."));
        }
        Ok(o)
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (ka, kb) = (argv[1], argv[2]);
    let (now, db) = (ctx.now_ms, ctx.db());
    let limit = super::max_string_len(ctx);
    // Validate and copy both values under one lock, then compute without holding it.
    let (a, b, opts) = {
        let mut locked = ctx.srv.keyspace.lock_keys(db, [ka, kb]);
        let mut len_of = |key: &[u8]| match locked.part(db, key).get(key, now) {
            None => Ok(0),
            Some(ValueRef::Str(s)) => Ok(s.len()),
            Some(_) => Err(CmdError::other("ERR The specified keys must contain string values")),
        };
        let (alen, blen) = (len_of(ka), len_of(kb));
        let (alen, blen) = (alen?, blen?);
        let opts = Options::parse(&argv[3..])?;
        if alen >= u32::MAX as usize - 1 || blen >= u32::MAX as usize - 1 {
            return Err(CmdError::other("ERR String too long for LCS"));
        }
        // The table is transient but can be huge: Redis caps it at proto-max-bulk-len.
        let cells = (alen as u64 + 1) * (blen as u64 + 1);
        if cells.saturating_mul(4) > limit {
            return Err(CmdError::other("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
        }
        let mut copy = |key: &[u8]| match locked.part(db, key).peek(key, now) {
            Some(ValueRef::Str(s)) => s.to_vec(),
            _ => Vec::new(),
        };
        (copy(ka), copy(kb), opts)
    };
    let Options { get_len, get_idx, with_len, min_len } = opts;
    let table = Table::build(&a, &b).ok_or_else(|| CmdError::other("ERR Insufficient memory, failed allocating transient memory for LCS"))?;
    if get_len {
        ctx.out.int(i64::from(table.len()));
        return Ok(());
    }
    let (text, runs) = table.backtrack(&a, &b, min_len);
    if !get_idx {
        ctx.out.bulk(&text);
        return Ok(());
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(runs.len());
    for m in &runs {
        ctx.out.array(if with_len { 3 } else { 2 });
        for (start, end) in [m.a, m.b] {
            ctx.out.array(2);
            ctx.out.int(i64::from(start));
            ctx.out.int(i64::from(end));
        }
        if with_len {
            ctx.out.int(i64::from(m.len));
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(i64::from(table.len()));
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(a: &str, b: &str, min: u32) -> (String, Vec<Match>, u32) {
        let t = Table::build(a.as_bytes(), b.as_bytes()).unwrap();
        let (text, runs) = t.backtrack(a.as_bytes(), b.as_bytes(), min);
        (String::from_utf8(text).unwrap(), runs, t.len())
    }

    #[test]
    fn redis_documentation_example() {
        let (text, runs, len) = run("ohmytext", "mynewtext", 0);
        assert_eq!((text.as_str(), len), ("mytext", 6));
        assert_eq!(runs, vec![Match { a: (4, 7), b: (5, 8), len: 4 }, Match { a: (2, 3), b: (0, 1), len: 2 }]);
        let (_, runs, _) = run("ohmytext", "mynewtext", 4);
        assert_eq!(runs, vec![Match { a: (4, 7), b: (5, 8), len: 4 }]);
    }

    #[test]
    fn options() {
        let parse = |s: &str| Options::parse(&s.split_whitespace().map(str::as_bytes).collect::<Vec<_>>());
        assert_eq!(parse("").unwrap(), Options::default());
        let o = parse("IDX minmatchlen 4 WITHMATCHLEN").unwrap();
        assert!(o.get_idx && o.with_len && !o.get_len && o.min_len == 4);
        assert_eq!(parse("minmatchlen -5").unwrap().min_len, 0);
        assert_eq!(parse("minmatchlen 9223372036854775807").unwrap().min_len, u32::MAX);
        assert_eq!(parse("foo"), Err(CmdError::Syntax));
        assert_eq!(parse("minmatchlen"), Err(CmdError::Syntax));
        assert_eq!(parse("minmatchlen x"), Err(CmdError::NotInteger));
        assert!(parse("idx len").is_err());
    }

    #[test]
    fn empty_and_disjoint() {
        assert_eq!(run("", "", 0), (String::new(), vec![], 0));
        assert_eq!(run("abc", "", 0), (String::new(), vec![], 0));
        assert_eq!(run("abc", "xyz", 0), (String::new(), vec![], 0));
        let (text, runs, _) = run("abc", "abc", 0);
        assert_eq!(text, "abc");
        assert_eq!(runs, vec![Match { a: (0, 2), b: (0, 2), len: 3 }]);
    }

    proptest::proptest! {
        #[test]
        fn lcs_is_a_common_subsequence(a in "[ab]{0,12}", b in "[ab]{0,12}") {
            let (text, runs, len) = run(&a, &b, 0);
            proptest::prop_assert_eq!(text.len() as u32, len);
            let is_subseq = |s: &str| { let mut it = s.chars(); text.chars().all(|c| it.any(|x| x == c)) };
            proptest::prop_assert!(is_subseq(&a) && is_subseq(&b));
            proptest::prop_assert_eq!(runs.iter().map(|m| m.len).sum::<u32>(), len);
            for m in runs {
                proptest::prop_assert_eq!(&a[m.a.0 as usize..=m.a.1 as usize], &b[m.b.0 as usize..=m.b.1 as usize]);
            }
        }
    }
}
