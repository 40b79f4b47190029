//! A connection's pipelined scripts: consecutive EVAL / EVALSHA requests of one read
//! wait here, then run in order, inline on the worker one by one while they may
//! (inline.rs), the rest handed to the script thread as one job (a round trip to that
//! thread costs more than a short script); their replies are put back where each
//! request's reply belongs.

use super::EvalRequest;
use super::inline::{self, Stop};
use crate::protocol::Reply;
use crate::server::session::Session;
use crate::server::state::Server;

/// At most this many scripts wait before they are sent (bounds one job's time).
pub const MAX_BATCH: usize = 64;

#[derive(Debug, Default)]
pub struct Pending {
    /// The worker (its gate slot) the connection is served on.
    worker: usize,
    reqs: Vec<EvalRequest>,
    /// Where in the output each reply goes, and whether it is sent at all (CLIENT REPLY).
    places: Vec<(usize, bool)>,
}

impl Pending {
    pub fn on_worker(worker: usize) -> Self {
        Pending { worker, ..Pending::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.reqs.len() >= MAX_BATCH
    }

    pub fn push(&mut self, req: EvalRequest, at: usize, reply_on: bool) {
        self.reqs.push(req);
        self.places.push((at, reply_on));
    }

    /// Runs the waiting scripts and puts their replies in place.
    pub async fn run(&mut self, srv: &Server, session: &mut Session, out: &mut Reply) {
        if self.reqs.is_empty() {
            return;
        }
        let mut reqs = std::mem::take(&mut self.reqs);
        let n = reqs.len();
        if n > 1 {
            prefetch_keys(srv, &reqs);
        }
        let mut replies: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut waits = |o: &super::Outcome| {
            session.durable_wait = session.durable_wait.max(o.durable_wait);
            session.repl_offset = session.repl_offset.max(o.repl_offset);
        };
        // Inline while they may (waiting for another worker's short inline run), the
        // rest to the script thread in one job.
        let mut inline = Vec::with_capacity(n);
        let mut busy = None;
        let mut waited = false;
        loop {
            match inline::run(srv, self.worker, &reqs[inline.len()..], &mut inline) {
                Stop::Done | Stop::Elsewhere => break,
                Stop::Moved(o) => {
                    waits(&o);
                    break;
                }
                Stop::Wait if super::busy(srv) => {
                    // As the commands waiting at the gate: BUSY for the rest.
                    let mut r = Reply::new(out.version);
                    r.error(super::BUSY);
                    for _ in inline.len()..n {
                        srv.stats.record_error("BUSY");
                    }
                    busy = Some(r.buf);
                    break;
                }
                Stop::Wait => {
                    let gate = &srv.scripting.gate;
                    if !std::mem::replace(&mut waited, true) {
                        gate.note_waited(n - inline.len());
                    }
                    if gate.is_closed() {
                        gate.wait_open(std::time::Duration::from_millis(5)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
            }
        }
        for o in inline {
            waits(&o);
            replies.push(o.reply);
        }
        if let Some(r) = busy {
            replies.resize(n, r);
        }
        if replies.len() < n {
            let rest = reqs.split_off(replies.len());
            drop(reqs);
            match super::run_evals(srv, rest).await {
                Some(outcomes) => {
                    for o in outcomes {
                        waits(&o);
                        replies.push(o.reply);
                    }
                }
                None => {
                    let mut r = Reply::new(out.version);
                    r.error("ERR the script engine is not available");
                    replies.resize(n, r.buf);
                }
            }
        }
        place(&mut out.buf, &self.places, &replies);
        self.places.clear();
    }
}

/// Hints the cache for the KEYS of a pipeline's scripts before they run
/// (`Keyspace::prefetch`), so their memory waits overlap instead of each script waiting
/// for its first key in turn.
fn prefetch_keys(srv: &Server, reqs: &[super::EvalRequest]) {
    let ks = &srv.keyspace;
    let hashes: smallvec::SmallVec<[(usize, u64); MAX_BATCH]> =
        reqs.iter().flat_map(|r| r.keys.iter().take(4).map(|k| (r.db, ks.key_hash(k)))).take(MAX_BATCH * 2).collect();
    ks.prefetch(&hashes);
}

/// Inserts `replies[i]` at `places[i].0` (ascending offsets into `buf` before any
/// insertion), skipping those whose reply is off; linear in the output.
pub fn place(buf: &mut Vec<u8>, places: &[(usize, bool)], replies: &[Vec<u8>]) {
    let Some(&(first, _)) = places.first() else { return };
    let first = first.min(buf.len());
    let tail = buf.split_off(first);
    let mut from = first;
    for (&(at, on), reply) in places.iter().zip(replies) {
        let at = at.clamp(from, first + tail.len());
        buf.extend_from_slice(&tail[from - first..at - first]);
        from = at;
        if on {
            buf.extend_from_slice(reply);
        }
    }
    buf.extend_from_slice(&tail[from - first..]);
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO: the commands whose run can wait in a batch.
#[inline]
pub fn is_script_call(name: &[u8]) -> bool {
    (4..=10).contains(&name.len())
        && (name[0] | 0x20) == b'e'
        && ["eval", "evalsha", "eval_ro", "evalsha_ro"].iter().any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_land_where_their_requests_were() {
        // Output "A" then script 1, "B" (an error written meanwhile), script 2, script 3 (off).
        let mut buf = b"AB".to_vec();
        place(&mut buf, &[(1, true), (2, true), (2, false)], &[b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(buf, b"A1B2");
        let mut buf = b"x".to_vec();
        place(&mut buf, &[(1, true), (1, true)], &[b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(buf, b"xab");
        let mut buf = Vec::new();
        place(&mut buf, &[], &[]);
        assert!(buf.is_empty());
    }

    #[test]
    fn only_the_eval_family_batches() {
        for n in ["eval", "EVALSHA", "Eval_Ro", "evalsha_ro"] {
            assert!(is_script_call(n.as_bytes()), "{n}");
        }
        for n in ["get", "evals", "script", "e", "evalsha_rox", "fcall"] {
            assert!(!is_script_call(n.as_bytes()), "{n}");
        }
    }
}
