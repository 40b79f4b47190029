//! Incremental RESP request parser: multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! `parse_request` looks at the front of the connection's read buffer and either finds
//! one complete command (returning how many bytes it used) or reports that more bytes are
//! needed. It never copies multibulk arguments: it returns their spans in the buffer.

use thiserror::Error;

use super::inline;

/// Limits that protect the server from hostile or broken clients.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest bulk argument accepted (`proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Most arguments in one multibulk command (Redis: 1024*1024).
    pub max_multibulk_len: usize,
    /// Longest inline command or header line before a newline must appear.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, max_multibulk_len: 1024 * 1024, max_inline_len: 64 * 1024 }
    }
}

/// A protocol violation. The text is what Redis sends after `-ERR Protocol error: `.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("invalid bulk length")]
    InvalidBulkLength,
    #[error("expected '$', got '{0}'")]
    ExpectedDollar(char),
    #[error("too big mbulk count string")]
    TooBigMbulkCount,
    #[error("too big bulk count string")]
    TooBigBulkCount,
    #[error("too big inline request")]
    TooBigInline,
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
}

/// One complete command found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Arguments are `buf[start..end]` spans, stored in the caller's span vector.
    Multibulk { consumed: usize },
    /// Inline arguments need unquoting, so they are owned.
    Inline { consumed: usize, args: Vec<Vec<u8>> },
}

impl Request {
    pub fn consumed(&self) -> usize {
        match self {
            Request::Multibulk { consumed } | Request::Inline { consumed, .. } => *consumed,
        }
    }
}

/// Parses one request from the front of `buf`.
///
/// Returns `Ok(None)` when the buffer holds only part of a request. Empty requests
/// (`*0\r\n`, `*-1\r\n`, blank inline lines) come back as a request with no arguments so
/// that the caller consumes them.
pub fn parse_request(buf: &[u8], limits: &Limits, spans: &mut Vec<(usize, usize)>) -> Result<Option<Request>, ParseError> {
    spans.clear();
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf, limits, spans),
        Some(_) => parse_inline(buf, limits),
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    // The header lines of a multibulk request must end in \r\n; a lone \n makes the
    // number unparseable below, exactly as in Redis.
    Some(from + nl)
}

/// Parses the decimal in `buf[start..nl]`, which must end with `\r`.
fn parse_len(buf: &[u8], start: usize, nl: usize) -> Option<i64> {
    if nl == 0 || nl <= start || buf[nl - 1] != b'\r' {
        return None;
    }
    let digits = &buf[start..nl - 1];
    parse_i64(digits)
}

/// Strict decimal i64 parse as Redis's `string2ll`: optional '-', no '+', no spaces,
/// no leading zeros (except "0").
pub fn parse_i64(digits: &[u8]) -> Option<i64> {
    let (neg, body) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if body.is_empty() || body.len() > 19 || (body.len() > 1 && body[0] == b'0') || (neg && body == b"0") {
        return None;
    }
    let mut v: u64 = 0;
    for &c in body {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg { if v > i64::MAX as u64 + 1 { None } else { Some((v as i128).wrapping_neg() as i64) } } else { i64::try_from(v).ok() }
}

fn parse_multibulk(buf: &[u8], limits: &Limits, spans: &mut Vec<(usize, usize)>) -> Result<Option<Request>, ParseError> {
    let Some(nl) = find_crlf(buf, 1) else {
        if buf.len() > limits.max_inline_len {
            return Err(ParseError::TooBigMbulkCount);
        }
        return Ok(None);
    };
    if nl > limits.max_inline_len {
        return Err(ParseError::TooBigMbulkCount);
    }
    let count = parse_len(buf, 1, nl).ok_or(ParseError::InvalidMultibulkLength)?;
    if count > limits.max_multibulk_len as i64 {
        return Err(ParseError::InvalidMultibulkLength);
    }
    let mut pos = nl + 1;
    if count <= 0 {
        return Ok(Some(Request::Multibulk { consumed: pos }));
    }
    for _ in 0..count {
        let Some(&first) = buf.get(pos) else {
            return Ok(None);
        };
        if first != b'$' {
            return Err(ParseError::ExpectedDollar(first as char));
        }
        let Some(nl) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > limits.max_inline_len {
                return Err(ParseError::TooBigBulkCount);
            }
            return Ok(None);
        };
        if nl - pos > limits.max_inline_len {
            return Err(ParseError::TooBigBulkCount);
        }
        let len = parse_len(buf, pos + 1, nl).ok_or(ParseError::InvalidBulkLength)?;
        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
            return Err(ParseError::InvalidBulkLength);
        }
        let start = nl + 1;
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        // Redis does not check the trailing CRLF bytes; it skips them. We do the same so
        // that clients that Redis accepts are accepted here.
        spans.push((start, end));
        pos = end + 2;
    }
    Ok(Some(Request::Multibulk { consumed: pos }))
}

fn parse_inline(buf: &[u8], limits: &Limits) -> Result<Option<Request>, ParseError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline_len {
            return Err(ParseError::TooBigInline);
        }
        return Ok(None);
    };
    if nl > limits.max_inline_len {
        return Err(ParseError::TooBigInline);
    }
    let mut line = &buf[..nl];
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    let args = inline::split_args(line).ok_or(ParseError::UnbalancedQuotes)?;
    Ok(Some(Request::Inline { consumed: nl + 1, args }))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Option<(usize, Vec<Vec<u8>>)>;

    fn parse_all(buf: &[u8]) -> Result<Parsed, ParseError> {
        let mut spans = Vec::new();
        Ok(parse_request(buf, &Limits::default(), &mut spans)?.map(|r| match r {
            Request::Multibulk { consumed } => (consumed, spans.iter().map(|&(s, e)| buf[s..e].to_vec()).collect()),
            Request::Inline { consumed, args } => (consumed, args),
        }))
    }

    #[test]
    fn multibulk_complete_and_partial() {
        let req = b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
        let (n, args) = parse_all(req).unwrap().unwrap();
        assert_eq!(n, req.len());
        assert_eq!(args, vec![b"GET".to_vec(), b"foo".to_vec()]);
        for cut in 0..req.len() {
            assert_eq!(parse_all(&req[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(parse_all(b"*abc\r\n"), Err(ParseError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*2000000\r\n"), Err(ParseError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\n+foo\r\n"), Err(ParseError::ExpectedDollar('+')));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(ParseError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$999999999999\r\n"), Err(ParseError::InvalidBulkLength));
        assert_eq!(parse_all(b"set \"a\r\n"), Err(ParseError::UnbalancedQuotes));
        assert_eq!(parse_all(&vec![b'a'; 70_000]), Err(ParseError::TooBigInline));
    }

    #[test]
    fn empty_requests_are_consumed() {
        assert_eq!(parse_all(b"*0\r\n").unwrap(), Some((4, vec![])));
        assert_eq!(parse_all(b"*-1\r\n").unwrap(), Some((5, vec![])));
        assert_eq!(parse_all(b"\r\n").unwrap(), Some((2, vec![])));
    }

    #[test]
    fn inline_commands() {
        let (n, args) = parse_all(b"SET k \"a b\"\r\nGET").unwrap().unwrap();
        assert_eq!(n, 13);
        assert_eq!(args, vec![b"SET".to_vec(), b"k".to_vec(), b"a b".to_vec()]);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b""), None);
    }
}
