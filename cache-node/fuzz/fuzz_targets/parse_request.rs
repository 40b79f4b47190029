//! Arbitrary bytes through the request parser, the way a connection feeds it: requests
//! are consumed from the front until one is incomplete or invalid, once with the whole
//! input at hand and once with it arriving in two pieces (exercising resumption).
//! Checks: no panic, `consumed` within bounds and > 0, spans inside the request, and
//! both feeding orders yield the same requests.
#![no_main]

use cache_node::protocol::request::{
    Limits, Progress, Request, parse_request, parse_request_resume,
};
use libfuzzer_sys::fuzz_target;

type Args = Vec<Vec<u8>>;

/// Parses every complete request at the front of `data`. Returns the requests and
/// whether parsing stopped on an error.
fn parse_all(data: &[u8], limits: &Limits) -> (Vec<Args>, bool) {
    let mut spans = Vec::new();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        match parse_request(rest, limits, &mut spans) {
            Ok(Some(req)) => {
                let n = req.consumed();
                assert!(n > 0 && n <= rest.len(), "consumed {n} of {}", rest.len());
                out.push(args(rest, &spans, req, n));
                pos += n;
            }
            Ok(None) => return (out, false),
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

fn args(buf: &[u8], spans: &[(usize, usize)], req: Request, n: usize) -> Args {
    match req {
        Request::Multibulk { .. } => spans
            .iter()
            .map(|&(s, e)| {
                assert!(s <= e && e <= n, "span {s}..{e} outside {n}");
                buf[s..e].to_vec()
            })
            .collect(),
        Request::Inline { args, .. } => args,
    }
}

/// Same input, delivered in two pieces with resumable parsing as the connection does.
fn parse_in_two(data: &[u8], cut: usize, limits: &Limits) -> (Vec<Args>, bool) {
    let mut buf = Vec::new();
    let mut spans = Vec::new();
    let mut progress = Progress::default();
    let mut out = Vec::new();
    for piece in [&data[..cut], &data[cut..]] {
        buf.extend_from_slice(piece);
        let mut pos = 0;
        loop {
            if pos >= buf.len() {
                break;
            }
            match parse_request_resume(&buf[pos..], limits, &mut spans, &mut progress) {
                Ok(Some(req)) => {
                    let n = req.consumed();
                    assert!(n > 0 && n <= buf.len() - pos);
                    out.push(args(&buf[pos..], &spans, req, n));
                    pos += n;
                }
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
        buf.drain(..pos);
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    // Small limits so that the fuzzer reaches every limit check with short inputs.
    let limits = Limits {
        max_bulk_len: 256,
        max_multibulk_len: 64,
        max_inline_len: 128,
        unauthenticated: data.len() % 3 == 0,
    };
    let whole = parse_all(data, &limits);
    let cut = data.len() / 2;
    let split = parse_in_two(data, cut, &limits);
    // An error can come earlier with all bytes at hand (a too-long line is only seen as
    // such once enough of it arrived), so compare the requests only when neither erred.
    if !whole.1 && !split.1 {
        assert_eq!(whole.0, split.0, "split at {cut} changed the requests");
    }
    let _ = parse_all(data, &Limits::default());
});
