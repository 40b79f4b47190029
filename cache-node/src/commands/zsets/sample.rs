//! ZRANDMEMBER and ZSCAN.

use std::collections::HashSet;

use super::super::args;
use super::{as_zset, reply_element, reply_range_header, score};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::glob;

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
        match as_zset(p.get(argv[1], ctx.now_ms))? {
            Some(z) if !z.is_empty() => match z.get(fastrand::usize(..z.len())) {
                Some((m, _)) => ctx.out.bulk(m),
                None => ctx.out.null(),
            },
            _ => ctx.out.null(),
        }
        return Ok(());
    }
    let count = match args::int(argv[2]) {
        Ok(i64::MIN) => return Err(CmdError::other("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")),
        Ok(n) => n,
        Err(e) => return Err(e),
    };
    if argv.len() > 4 || (argv.len() == 4 && !args::is(argv[3], "withscores")) {
        return Err(CmdError::Syntax);
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::other("ERR value is out of range"));
    }
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let Some(z) = as_zset(p.get(argv[1], ctx.now_ms))? else {
        ctx.out.array(0);
        return Ok(());
    };
    let len = z.len();
    let out = &mut *ctx.out;
    if count == 0 || len == 0 {
        out.array(0);
        return Ok(());
    }
    if count < 0 {
        // Repetitions allowed: independent picks.
        let n = count.unsigned_abs() as usize;
        reply_range_header(out, n, withscores);
        for _ in 0..n {
            if let Some((m, s)) = z.get(fastrand::usize(..len)) {
                reply_element(out, m, s, withscores);
            }
        }
        return Ok(());
    }
    let n = count as usize;
    if n >= len {
        // Redis replies with the whole set, highest first.
        reply_range_header(out, len, withscores);
        z.for_each(0, len, true, &mut |m, s| reply_element(out, m, s, withscores));
        return Ok(());
    }
    // Distinct picks: drop random ranks from the whole set when most of it is wanted,
    // otherwise draw ranks until enough distinct ones came up.
    let ranks: Vec<usize> = if n * 3 > len {
        let mut all: Vec<usize> = (0..len).collect();
        fastrand::shuffle(&mut all);
        all.truncate(n);
        all
    } else {
        let mut seen = HashSet::with_capacity(n);
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let r = fastrand::usize(..len);
            if seen.insert(r) {
                v.push(r);
            }
        }
        v
    };
    reply_range_header(out, n, withscores);
    for r in ranks {
        if let Some((m, s)) = z.get(r) {
            reply_element(out, m, s, withscores);
        }
    }
    Ok(())
}

/// A SCAN cursor as Redis reads it (`strtoul`: a sign is allowed, `-1` wraps).
fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::other("ERR invalid cursor");
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if !digits.iter().all(u8::is_ascii_digit) || (digits.is_empty() && !arg.is_empty()) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. The whole set is returned in one
/// reply with cursor 0 (as Redis does for its compact encoding), which keeps SCAN's
/// guarantees without a resumable order over the member index.
pub fn zscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    parse_cursor(argv[2])?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let Some(z) = as_zset(p.get(argv[1], ctx.now_ms))? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - i >= 2;
        if more && args::is(argv[i], "count") {
            if args::int(argv[i + 1])? < 1 {
                return Err(CmdError::Syntax);
            }
        } else if more && args::is(argv[i], "match") {
            pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let packed = z.encoding() == "listpack";
    let mut found = Vec::new();
    z.for_each(0, z.len(), false, &mut |m, s| {
        if pattern.is_none_or(|pat| glob::matches(pat, m, false)) {
            found.push((m.to_vec(), s));
        }
    });
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(b"0");
    out.array(2 * found.len());
    for (m, s) in found {
        out.bulk(&m);
        let text = if packed { score::format_packed(s) } else { score::format(s) };
        out.bulk(text.as_bytes());
    }
    Ok(())
}
