//! Incremental RESP request parser: multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! `parse_request` looks at the front of the connection's read buffer and either finds
//! one complete command (returning how many bytes it used) or reports that more bytes are
//! needed. It never copies multibulk arguments: it returns their spans in the buffer.
//!
//! The framing rules are Redis 7.0's, quirks included, so that every client Redis accepts
//! is accepted and every error comes at the same point with the same text: header lines
//! end at the first `\r` (the byte after it is skipped unchecked), a NUL byte before the
//! end of a line hides the line (Redis searches with `strchr`), the trailing CRLF of a
//! bulk is skipped unchecked, and multibulk counts go up to `i32::MAX`.

use thiserror::Error;

use super::inline;

/// Limits that protect the server from hostile or broken clients.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest bulk argument accepted (`proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Most arguments in one multibulk command (Redis 7.0: `INT_MAX`).
    pub max_multibulk_len: usize,
    /// Longest inline command or header line before a newline must appear.
    pub max_inline_len: usize,
    /// The client still has to authenticate: Redis then refuses multibulk counts above
    /// 10 and bulks above 16 KiB, so an anonymous client cannot make it buffer much.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, max_multibulk_len: i32::MAX as usize, max_inline_len: 64 * 1024, unauthenticated: false }
    }
}

/// Redis's caps for clients that have not authenticated yet.
const UNAUTH_MAX_MULTIBULK: i64 = 10;
const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// A protocol violation. The text is what Redis sends after `-ERR Protocol error: `.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("invalid bulk length")]
    InvalidBulkLength,
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    /// Holds the offending byte; Redis echoes it raw (see `reply_text`).
    #[error("expected '$', got '{}'", char::from(*.0).escape_default())]
    ExpectedDollar(u8),
    #[error("too big mbulk count string")]
    TooBigMbulkCount,
    #[error("too big bulk count string")]
    TooBigBulkCount,
    #[error("too big inline request")]
    TooBigInline,
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
}

impl ParseError {
    /// The error reply's text (without `-` and CRLF) byte for byte as Redis sends it:
    /// the unexpected byte of `ExpectedDollar` is sent as is, not as UTF-8.
    pub fn reply_text(&self) -> Vec<u8> {
        let mut out = b"ERR Protocol error: ".to_vec();
        match self {
            ParseError::ExpectedDollar(b) => {
                out.extend_from_slice(b"expected '$', got '");
                out.push(*b);
                out.push(b'\'');
            }
            other => out.extend_from_slice(other.to_string().as_bytes()),
        }
        out
    }
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

/// How far an incomplete multibulk request has been parsed. Kept by the connection
/// between reads so that a request arriving in many pieces (a big MSET, say) is scanned
/// once, not once per read: without it a client could make the server do quadratic work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Arguments still expected; 0 when no multibulk request is under way.
    remaining: usize,
    /// Offset of the first byte not yet parsed.
    pos: usize,
}

impl Progress {
    /// True while a multibulk request has been started but not finished.
    pub fn in_request(&self) -> bool {
        self.remaining > 0
    }
}

/// Parses one request from the front of `buf`.
///
/// Returns `Ok(None)` when the buffer holds only part of a request. Empty requests
/// (`*0\r\n`, `*-1\r\n`, blank inline lines) come back as a request with no arguments so
/// that the caller consumes them.
pub fn parse_request(buf: &[u8], limits: &Limits, spans: &mut Vec<(usize, usize)>) -> Result<Option<Request>, ParseError> {
    parse_request_resume(buf, limits, spans, &mut Progress::default())
}

/// `parse_request` that continues where the previous call stopped. Between calls the
/// caller may only append to `buf` (its front must stay where it was) and must pass the
/// same `spans` and `progress` back unchanged; `progress` is reset when a request is
/// complete or an error is found.
pub fn parse_request_resume(buf: &[u8], limits: &Limits, spans: &mut Vec<(usize, usize)>, progress: &mut Progress) -> Result<Option<Request>, ParseError> {
    if !progress.in_request() {
        spans.clear();
        progress.pos = 0;
    }
    let result = match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf, limits, spans, progress),
        Some(_) if progress.in_request() => parse_multibulk(buf, limits, spans, progress),
        Some(_) => parse_inline(buf, limits),
    };
    if !matches!(result, Ok(None)) {
        *progress = Progress::default();
    }
    result
}

/// Finds `needle` at or after `from`, as C's `strchr` would: a NUL byte ends the search.
/// `argv` as a RESP multibulk request: the form clients send, and the form the AOF and
/// the replication stream carry.
pub fn encode_command(argv: &[&[u8]], out: &mut Vec<u8>) {
    // Every write is encoded for the journal: itoa, not the formatting machinery.
    let mut n = itoa::Buffer::new();
    out.reserve(16 + argv.iter().map(|a| a.len() + 16).sum::<usize>());
    out.push(b'*');
    out.extend_from_slice(n.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        out.push(b'$');
        out.extend_from_slice(n.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn find_c(buf: &[u8], from: usize, needle: u8) -> Option<usize> {
    let rest = buf.get(from..)?;
    let at = rest.iter().position(|&b| b == needle || b == 0)?;
    if rest[at] == needle { Some(from + at) } else { None }
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

/// Finds the header line starting at `pos` (`*N` or `$N`): returns the offset of its
/// `\r`, `Ok(None)` while it is incomplete, or `too_big` once more than an inline
/// request's worth of bytes came without one. Like Redis, the byte after `\r` must have
/// arrived but is not checked.
fn header_line(buf: &[u8], pos: usize, limits: &Limits, too_big: ParseError) -> Result<Option<usize>, ParseError> {
    let Some(cr) = find_c(buf, pos, b'\r') else {
        if buf.len() - pos > limits.max_inline_len {
            return Err(too_big);
        }
        return Ok(None);
    };
    // Redis reads 16 KiB at a time, so it never sees a longer header line whole.
    if cr - pos > limits.max_inline_len {
        return Err(too_big);
    }
    if cr + 2 > buf.len() {
        return Ok(None);
    }
    Ok(Some(cr))
}

fn parse_multibulk(buf: &[u8], limits: &Limits, spans: &mut Vec<(usize, usize)>, progress: &mut Progress) -> Result<Option<Request>, ParseError> {
    if !progress.in_request() {
        let Some(cr) = header_line(buf, 0, limits, ParseError::TooBigMbulkCount)? else {
            return Ok(None);
        };
        let count = parse_i64(&buf[1..cr]).ok_or(ParseError::InvalidMultibulkLength)?;
        if count > limits.max_multibulk_len as i64 {
            return Err(ParseError::InvalidMultibulkLength);
        }
        if limits.unauthenticated && count > UNAUTH_MAX_MULTIBULK {
            return Err(ParseError::UnauthenticatedMultibulkLength);
        }
        if count <= 0 {
            return Ok(Some(Request::Multibulk { consumed: cr + 2 }));
        }
        // `count` fits: it is at most max_multibulk_len, a usize.
        *progress = Progress { remaining: count as usize, pos: cr + 2 };
    }
    while progress.remaining > 0 {
        let pos = progress.pos;
        let Some(cr) = header_line(buf, pos, limits, ParseError::TooBigBulkCount)? else {
            return Ok(None);
        };
        if buf[pos] != b'$' {
            return Err(ParseError::ExpectedDollar(buf[pos]));
        }
        let len = parse_i64(&buf[pos + 1..cr]).ok_or(ParseError::InvalidBulkLength)?;
        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
            return Err(ParseError::InvalidBulkLength);
        }
        if limits.unauthenticated && len > UNAUTH_MAX_BULK {
            return Err(ParseError::UnauthenticatedBulkLength);
        }
        let start = cr + 2;
        // len <= max_bulk_len (a usize); only the +2 could overflow, on a 32-bit target.
        let Some(next) = start.checked_add(len as usize).and_then(|end| end.checked_add(2)) else {
            return Err(ParseError::InvalidBulkLength);
        };
        if buf.len() < next {
            // The header is re-read next time; that is cheap, the bulk is not scanned.
            return Ok(None);
        }
        // Redis skips the two bytes after the bulk without checking them; so do we.
        spans.push((start, next - 2));
        progress.pos = next;
        progress.remaining -= 1;
    }
    Ok(Some(Request::Multibulk { consumed: progress.pos }))
}

fn parse_inline(buf: &[u8], limits: &Limits) -> Result<Option<Request>, ParseError> {
    let Some(nl) = find_c(buf, 0, b'\n') else {
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
    use proptest::prelude::*;

    type Parsed = Option<(usize, Vec<Vec<u8>>)>;

    fn parse_with(buf: &[u8], limits: &Limits) -> Result<Parsed, ParseError> {
        let mut spans = Vec::new();
        Ok(parse_request(buf, limits, &mut spans)?.map(|r| match r {
            Request::Multibulk { consumed } => (consumed, spans.iter().map(|&(s, e)| buf[s..e].to_vec()).collect()),
            Request::Inline { consumed, args } => (consumed, args),
        }))
    }

    fn parse_all(buf: &[u8]) -> Result<Parsed, ParseError> {
        parse_with(buf, &Limits::default())
    }

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    fn encode(argv: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", argv.len()).into_bytes();
        for a in argv {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn multibulk_complete_and_partial() {
        let req = b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
        let (n, got) = parse_all(req).unwrap().unwrap();
        assert_eq!(n, req.len());
        assert_eq!(got, args(&["GET", "foo"]));
        for cut in 0..req.len() {
            assert_eq!(parse_all(&req[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(parse_all(b"*abc\r\n"), Err(ParseError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*2147483648\r\n"), Err(ParseError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\n+foo\r\n"), Err(ParseError::ExpectedDollar(b'+')));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(ParseError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$+1\r\nx\r\n"), Err(ParseError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$999999999999\r\n"), Err(ParseError::InvalidBulkLength));
        assert_eq!(parse_all(b"set \"a\r\n"), Err(ParseError::UnbalancedQuotes));
        assert_eq!(parse_all(&[b'a'; 70_000]), Err(ParseError::TooBigInline));
        let mut long = b"*".to_vec();
        long.extend_from_slice(&[b'1'; 70_000]);
        assert_eq!(parse_all(&long), Err(ParseError::TooBigMbulkCount));
        let mut long = b"*1\r\n$".to_vec();
        long.extend_from_slice(&[b'1'; 70_000]);
        assert_eq!(parse_all(&long), Err(ParseError::TooBigBulkCount));
        // Redis looks for the header line before it looks at the '$'.
        let mut plus = b"*1\r\n".to_vec();
        plus.extend_from_slice(&[b'+'; 70_000]);
        assert_eq!(parse_all(&plus), Err(ParseError::TooBigBulkCount));
        assert_eq!(parse_all(b"*1\r\n+x"), Ok(None));
    }

    #[test]
    fn limits_at_their_edges() {
        let limits = Limits { max_bulk_len: 10, ..Limits::default() };
        assert!(parse_with(b"*1\r\n$10\r\n0123456789\r\n", &limits).unwrap().is_some());
        assert_eq!(parse_with(b"*1\r\n$11\r\n", &limits), Err(ParseError::InvalidBulkLength));
        // Redis 7.0 accepts counts up to INT_MAX and waits for the arguments.
        assert_eq!(parse_all(b"*2147483647\r\n"), Ok(None));
        assert_eq!(parse_all(&[b'a'; 65_536]), Ok(None));
        assert_eq!(parse_all(&[b'a'; 65_537]), Err(ParseError::TooBigInline));
    }

    #[test]
    fn unauthenticated_clients_get_small_limits() {
        let anon = Limits { unauthenticated: true, ..Limits::default() };
        assert_eq!(parse_with(b"*11\r\n", &anon), Err(ParseError::UnauthenticatedMultibulkLength));
        assert_eq!(parse_with(b"*10\r\n", &anon), Ok(None));
        assert_eq!(parse_with(b"*1\r\n$16385\r\n", &anon), Err(ParseError::UnauthenticatedBulkLength));
        assert_eq!(parse_with(b"*1\r\n$16384\r\n", &anon), Ok(None));
    }

    #[test]
    fn redis_framing_quirks() {
        // Header lines end at '\r'; the next byte is skipped unchecked.
        assert_eq!(parse_all(b"*1\rX$4\r\nPING\r\n").unwrap(), Some((14, args(&["PING"]))));
        assert_eq!(parse_all(b"*1\r\n$4\rXPING\r\n").unwrap(), Some((14, args(&["PING"]))));
        // The two bytes after a bulk are skipped unchecked.
        assert_eq!(parse_all(b"*1\r\n$4\r\nPINGxx").unwrap(), Some((14, args(&["PING"]))));
        // A lone '\n' leaves the count unparseable.
        assert_eq!(parse_all(b"*1\n$4\r\nPING\r\n"), Err(ParseError::InvalidMultibulkLength));
        // A NUL before the line end hides the line (strchr): Redis waits for more.
        assert_eq!(parse_all(b"*1\0\r\n$4\r\nPING\r\n"), Ok(None));
        assert_eq!(parse_all(b"*1\r\n$4\0\r\nPING\r\n"), Ok(None));
        assert_eq!(parse_all(b"PING\0\r\n"), Ok(None));
        let mut nul = b"PING\0".to_vec();
        nul.resize(70_000, b'x');
        assert_eq!(parse_all(&nul), Err(ParseError::TooBigInline));
        // ... but a NUL inside a bulk is just data.
        assert_eq!(parse_all(b"*1\r\n$3\r\na\0b\r\n").unwrap(), Some((13, vec![b"a\0b".to_vec()])));
    }

    #[test]
    fn expected_dollar_echoes_the_raw_byte() {
        assert_eq!(ParseError::ExpectedDollar(0xff).reply_text(), b"ERR Protocol error: expected '$', got '\xff'".to_vec());
        assert_eq!(ParseError::ExpectedDollar(b'+').reply_text(), b"ERR Protocol error: expected '$', got '+'".to_vec());
        assert_eq!(ParseError::TooBigInline.reply_text(), b"ERR Protocol error: too big inline request".to_vec());
    }

    #[test]
    fn empty_requests_are_consumed() {
        assert_eq!(parse_all(b"*0\r\n").unwrap(), Some((4, vec![])));
        assert_eq!(parse_all(b"*-1\r\n").unwrap(), Some((5, vec![])));
        assert_eq!(parse_all(b"\r\n").unwrap(), Some((2, vec![])));
        assert_eq!(parse_all(b"\n").unwrap(), Some((1, vec![])));
    }

    #[test]
    fn inline_commands() {
        let (n, got) = parse_all(b"SET k \"a b\"\r\nGET").unwrap().unwrap();
        assert_eq!(n, 13);
        assert_eq!(got, args(&["SET", "k", "a b"]));
        assert_eq!(parse_all(b"PING\nPING\n").unwrap(), Some((5, args(&["PING"]))));
        assert_eq!(parse_all(b"PING\r\r\n").unwrap(), Some((7, args(&["PING"]))));
    }

    #[test]
    fn resume_scans_each_argument_once() {
        let req = encode(&args(&["MSET", "a", "1", "b", "2"]));
        let limits = Limits::default();
        let mut spans = Vec::new();
        let mut progress = Progress::default();
        for cut in 1..req.len() {
            assert_eq!(parse_request_resume(&req[..cut], &limits, &mut spans, &mut progress), Ok(None), "cut {cut}");
        }
        assert!(progress.in_request());
        let done = parse_request_resume(&req, &limits, &mut spans, &mut progress).unwrap();
        assert_eq!(done, Some(Request::Multibulk { consumed: req.len() }));
        assert_eq!(spans.len(), 5);
        assert_eq!(progress, Progress::default());
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

    /// Feeds `stream` in the given pieces the way the connection does (append, parse all
    /// complete requests, drop them from the front) and returns every request's args.
    fn feed(stream: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let limits = Limits::default();
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        let mut progress = Progress::default();
        let mut out = Vec::new();
        let mut from = 0;
        let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(stream.len())).collect();
        bounds.sort_unstable();
        bounds.push(stream.len());
        for to in bounds {
            buf.extend_from_slice(&stream[from..to.max(from)]);
            from = to.max(from);
            let mut pos = 0;
            while let Some(req) = parse_request_resume(&buf[pos..], &limits, &mut spans, &mut progress)? {
                let base = pos;
                pos += req.consumed();
                out.push(match req {
                    Request::Multibulk { .. } => spans.iter().map(|&(s, e)| buf[base + s..base + e].to_vec()).collect(),
                    Request::Inline { args, .. } => args,
                });
            }
            buf.drain(..pos);
        }
        assert!(buf.is_empty(), "bytes left over: {buf:?}");
        Ok(out)
    }

    proptest! {
        #[test]
        fn split_encodings_parse_to_the_same_args(
            cmds in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..5),
            cuts in prop::collection::vec(0usize..2000, 0..12),
        ) {
            let stream: Vec<u8> = cmds.iter().flat_map(|c| encode(c)).collect();
            let got = feed(&stream, &cuts).unwrap();
            prop_assert_eq!(got, cmds);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_consume_within_bounds(data in prop::collection::vec(any::<u8>(), 0..300)) {
            let limits = Limits { max_inline_len: 64, max_bulk_len: 64, ..Limits::default() };
            let mut spans = Vec::new();
            let mut pos = 0;
            while pos < data.len() {
                match parse_request(&data[pos..], &limits, &mut spans) {
                    Ok(Some(req)) => {
                        let n = req.consumed();
                        prop_assert!(n > 0 && n <= data.len() - pos);
                        for &(s, e) in &spans {
                            prop_assert!(s <= e && e <= n);
                        }
                        pos += n;
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
