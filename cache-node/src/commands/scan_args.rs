//! Arguments of the scans (SCAN's cursor; HSCAN, SSCAN: the cursor and the MATCH/COUNT
//! options, with Redis's errors and its order of checks (cursor, then key, then options).

use crate::commands::{CmdError, args};
use crate::protocol::Reply;

/// The cursor as Redis reads it (strtoul): an optional sign, decimal digits, no spaces;
/// a negative number wraps around, and "" reads as 0.
pub fn cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::other("ERR invalid cursor");
    let (neg, digits) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() && !arg.is_empty() {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(invalid());
        }
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// MATCH and COUNT of a collection scan (TYPE is only for SCAN).
pub struct ScanOptions<'a> {
    /// None when absent or `*` (matches everything, so no matching is done).
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
}

pub fn options<'a>(opts: &[&'a [u8]]) -> Result<ScanOptions<'a>, CmdError> {
    let mut o = ScanOptions { pattern: None, count: 10 };
    let mut i = 0;
    while i < opts.len() {
        let Some(&value) = opts.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if args::is(opts[i], "count") {
            let n = args::int(value)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args::is(opts[i], "match") {
            o.pattern = if value == b"*" { None } else { Some(value) };
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

/// The reply to a scan of a missing key: cursor 0, no elements.
pub fn empty(out: &mut Reply) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}

/// Writes `[cursor, [items...]]`, the items already encoded in `body`.
pub fn reply(out: &mut Reply, next: u64, n: usize, body: &Reply) {
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(n);
    out.raw(&body.buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_follow_strtoul() {
        assert_eq!(cursor(b""), Ok(0));
        assert_eq!(cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(cursor(b"+3"), Ok(3));
        for bad in [&b"+"[..], b" 1", b"1 ", b"x", b"18446744073709551616"] {
            assert!(cursor(bad).is_err());
        }
    }

    #[test]
    fn options_parse() {
        let o = options(&[b"MATCH", b"a*", b"count", b"5"]).unwrap_or_else(|_| unreachable!());
        assert_eq!((o.pattern, o.count), (Some(&b"a*"[..]), 5));
        assert!(options(&[b"count"]).is_err());
        assert!(options(&[b"count", b"0"]).is_err());
        assert!(options(&[b"type", b"string"]).is_err());
        assert_eq!(options(&[b"match", b"*"]).map(|o| o.pattern), Ok(None));
    }
}
