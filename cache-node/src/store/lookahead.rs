//! Looking ahead in a buffer of commands: a replica applying its primary's stream, and a
//! connection running a client's pipeline, know the next commands before they run them,
//! so they can have their keys' hash-table entries loaded into the cache for a whole
//! window at once. Running a command on a big keyspace is otherwise dominated by two
//! memory waits per key (the bucket, then the node), one command after the other.

use std::ops::Range;

use crate::protocol::request::{Limits, Request, parse_request};
use crate::store::keyspace::Keyspace;

/// Commands a replica looks ahead at a time: their entries stay in cache until applied.
pub const WINDOW: usize = 64;

/// Bytes looked at per window: a command still arriving is parsed again at every read,
/// and one with a million arguments must not cost a million steps per read.
const MAX_BYTES: usize = 64 * 1024;

/// The (database, key) of each of the next `max` complete commands of `buf`, the key
/// being a command's first argument: a guess (for the writes a stream carries it is the
/// key) that costs only a wasted hint when wrong. `db` is the database selected before
/// `buf`; SELECTs in `buf` are followed. Stops at an incomplete or malformed command
/// (the apply loop reports those), or past `MAX_BYTES`. Returns the bytes of the
/// commands it went through.
fn keys_ahead(buf: &[u8], mut db: usize, max: usize, spans: &mut Vec<(usize, usize)>, out: &mut Vec<(usize, Range<usize>)>) -> usize {
    out.clear();
    let buf = &buf[..buf.len().min(MAX_BYTES)];
    let limits = Limits::default();
    let mut at = 0;
    let mut commands = 0;
    while commands < max {
        let Ok(Some(req)) = parse_request(&buf[at..], &limits, spans) else { return at };
        commands += 1;
        if let Request::Multibulk { .. } = req
            && let [(ns, ne), (ks, ke), ..] = spans[..]
        {
            let (name, arg) = (&buf[at + ns..at + ne], at + ks..at + ke);
            if name.eq_ignore_ascii_case(b"SELECT") {
                if let Some(n) = std::str::from_utf8(&buf[arg]).ok().and_then(|s| s.parse().ok()) {
                    db = n;
                }
            } else {
                out.push((db, arg));
            }
        }
        at += req.consumed();
    }
    at
}

/// A look-ahead over a buffer of commands (a replica's stream, a connection's pipeline),
/// with its scratch space.
#[derive(Default)]
pub struct Lookahead {
    spans: Vec<(usize, usize)>,
    keys: Vec<(usize, Range<usize>)>,
    hashes: Vec<(usize, u64)>,
    /// Commands to run before looking ahead again: a pipeline on one hot key (LPUSH to
    /// one queue) gains nothing from hints, and would pay a second parse and hash of
    /// every command for them.
    idle: usize,
}

/// Commands a connection looks ahead at a time (a client pipeline is rarely deeper).
pub const CLIENT_WINDOW: usize = 32;

/// Commands a connection runs without looking ahead after a window on a single key.
const IDLE_AFTER_ONE_KEY: usize = 4 * CLIENT_WINDOW;

impl Lookahead {
    /// Hints the cache for the keys of the next `window` commands of `buf` (database
    /// `db` selected before it), whatever they are (a replica: its stream rarely stays
    /// on one key). Returns the bytes looked through.
    pub fn hint_window(&mut self, ks: &Keyspace, buf: &[u8], db: usize, window: usize) -> usize {
        let n = keys_ahead(buf, db, window, &mut self.spans, &mut self.keys);
        self.hash_keys(ks, buf);
        ks.prefetch(&self.hashes);
        n
    }

    /// Hints the cache for the keys of the next commands of `buf` (database `db`
    /// selected before it), when they name at least two keys: a lone command is about
    /// to run anyway. Returns the bytes looked through, to look again past them (0 while
    /// idle: ask again at the next command).
    pub fn hint(&mut self, ks: &Keyspace, buf: &[u8], db: usize) -> usize {
        if self.idle > 0 {
            self.idle -= 1;
            return 0;
        }
        let n = keys_ahead(buf, db, CLIENT_WINDOW, &mut self.spans, &mut self.keys);
        if self.keys.len() < 2 {
            return n;
        }
        self.hash_keys(ks, buf);
        self.hashes.dedup();
        if self.hashes.len() > 1 {
            ks.prefetch(&self.hashes);
        } else {
            self.idle = IDLE_AFTER_ONE_KEY;
        }
        n
    }

    /// `(database, key_hash)` of the keys `keys_ahead` found in `buf`.
    fn hash_keys(&mut self, ks: &Keyspace, buf: &[u8]) {
        self.hashes.clear();
        self.hashes.extend(self.keys.iter().map(|(db, key)| (*db, ks.key_hash(&buf[key.clone()]))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::encode_command;

    fn stream(cmds: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
            encode_command(&args, &mut out);
        }
        out
    }

    fn keys(buf: &[u8], db: usize, max: usize) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        keys_ahead(buf, db, max, &mut Vec::new(), &mut out);
        out.into_iter().map(|(d, r)| (d, String::from_utf8_lossy(&buf[r]).into_owned())).collect()
    }

    #[test]
    fn first_arguments_in_their_databases() {
        let buf =
            stream(&[&["SET", "a", "1"], &["select", "3"], &["DEL", "b", "c"], &["MULTI"], &["INCR", "d"], &["SELECT", "x"], &["PING"], &["SET", "e", "2"]]);
        assert_eq!(keys(&buf, 1, 10), [(1, "a".into()), (3, "b".into()), (3, "d".into()), (3, "e".into())]);
        assert_eq!(keys(&buf, 0, 3), [(0, "a".into()), (3, "b".into())], "max counts commands, SELECT too");
        assert_eq!(keys(&buf, 0, 2), [(0, "a".into())]);
        assert!(keys(&buf, 0, 0).is_empty());
    }

    #[test]
    fn returns_the_bytes_of_the_commands_it_went_through() {
        let one = stream(&[&["SET", "a", "1"]]);
        let mut buf = stream(&[&["SET", "a", "1"], &["SET", "b", "2"], &["GET", "c"]]);
        let (mut spans, mut out) = (Vec::new(), Vec::new());
        assert_eq!(keys_ahead(&buf, 0, 1, &mut spans, &mut out), one.len());
        assert_eq!(keys_ahead(&buf, 0, 10, &mut spans, &mut out), buf.len());
        buf.truncate(buf.len() - 1);
        let two = stream(&[&["SET", "a", "1"], &["SET", "b", "2"]]);
        assert_eq!(keys_ahead(&buf, 0, 10, &mut spans, &mut out), two.len(), "not into an incomplete command");
        // A connection hints a window and then looks again past it.
        let ks = Keyspace::new(1);
        let mut la = Lookahead::default();
        assert_eq!(la.hint(&ks, &buf, 0), two.len());
        assert_eq!(la.idle, 0);
        assert_eq!(la.hint(&ks, &buf[two.len()..], 0), 0);
    }

    #[test]
    fn a_pipeline_on_one_key_stops_looking_for_a_while() {
        let ks = Keyspace::new(1);
        let mut la = Lookahead::default();
        let hot = stream(&[&["LPUSH", "q", "1"], &["LPUSH", "q", "2"], &["LPUSH", "q", "3"]]);
        assert_eq!(la.hint(&ks, &hot, 0), hot.len());
        assert_eq!(la.idle, IDLE_AFTER_ONE_KEY);
        for _ in 0..IDLE_AFTER_ONE_KEY {
            assert_eq!(la.hint(&ks, &hot, 0), 0, "idle: nothing looked at");
        }
        let spread = stream(&[&["SET", "a", "1"], &["SET", "b", "2"]]);
        assert_eq!(la.hint(&ks, &spread, 0), spread.len());
        assert_eq!(la.idle, 0, "two keys: hinted, keeps looking");
    }

    #[test]
    fn stops_at_an_incomplete_or_bad_command() {
        let mut buf = stream(&[&["SET", "a", "1"], &["SET", "b", "2"]]);
        buf.truncate(buf.len() - 3);
        assert_eq!(keys(&buf, 0, 10), [(0, "a".into())]);
        let mut bad = stream(&[&["SET", "a", "1"]]);
        bad.extend_from_slice(b"*2\r\n$x\r\n");
        bad.extend_from_slice(&stream(&[&["SET", "b", "2"]]));
        assert_eq!(keys(&bad, 0, 10), [(0, "a".into())]);
        assert!(keys(b"", 0, 10).is_empty());
    }

    #[test]
    fn looks_no_further_than_its_byte_bound() {
        let big = "v".repeat(MAX_BYTES);
        let buf = stream(&[&["SET", "a", "1"], &["SET", "b", &big], &["SET", "c", "1"]]);
        assert_eq!(keys(&buf, 0, 10), [(0, "a".into())], "b ends past the bound, c starts past it");
        let buf = stream(&[&["SET", "a", "1"], &["SET", "b", "2"]]);
        assert_eq!(keys(&buf, 0, 10).len(), 2);
    }

    #[test]
    fn hints_for_keys_anywhere_are_harmless() {
        let ks = Keyspace::new(2);
        for k in ["a", "c"] {
            ks.lock(0, k.as_bytes()).set_str(k.as_bytes(), b"v", crate::store::partition::Ttl::Clear, 0);
        }
        // Present and absent keys, a held partition, a database that does not exist.
        let buf = stream(&[&["SET", "a", "1"], &["GET", "b"], &["SET", "c", "1"], &["SELECT", "9"], &["SET", "b", "1"]]);
        let mut la = Lookahead::default();
        let held = ks.lock(0, b"c");
        assert_eq!(la.hint_window(&ks, &buf, 0, WINDOW), buf.len());
        assert_eq!(la.hashes.len(), 4);
        drop(held);
        la.hint_window(&ks, &buf, 0, WINDOW);
        assert!(ks.lock(0, b"a").get(b"a", 0).is_some());
    }
}
