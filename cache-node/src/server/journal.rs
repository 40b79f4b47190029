//! The write journal: every change to the data set, as the commands that redo it, in
//! the order memory saw them. The AOF stores it; the replication backlog streams it to
//! replicas (on a primary; a replica's backlog holds its primary's stream verbatim).
//!
//! Ordering comes from the callers: a write command appends while it still holds its
//! partitions (commands/scope.rs), and keys deleted by expiry are appended before their
//! partition's lock is released (store/keyspace.rs). The journal's own mutex then makes
//! one sequence out of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::protocol::request::encode_command;
use crate::replication::backlog::Backlog;

/// Where journaled bytes go (the AOF today; the replication backlog later).
pub trait JournalSink: Send + Sync {
    /// Takes one or more whole commands; returns the position to wait for before a
    /// reply may claim them durable (see `Session::durable_wait`).
    fn write(&self, bytes: &[u8]) -> u64;
}

thread_local! {
    /// Where a writer encodes its commands before taking the journal's lock.
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[derive(Default)]
pub struct WriteJournal {
    /// Whether anything consumes the journal. Only changed at a snapshot cut (every
    /// partition locked), and read by writers under their partition locks, so a write
    /// is either in the snapshot or in the journal, never neither.
    active: AtomicBool,
    inner: Mutex<Inner>,
    /// Where `expired` keyspace events go (expiry reaches the journal from every path).
    expiry_events: std::sync::OnceLock<Arc<super::pubsub::Hub>>,
}

#[derive(Default)]
struct Inner {
    /// Bytes journaled since start.
    offset: u64,
    /// Database the last command ran in; None forces a SELECT before the next one.
    db: Option<usize>,
    aof: Option<Arc<dyn JournalSink>>,
    backlog: Option<Arc<Backlog>>,
    buf: Vec<u8>,
}

/// Where one append ended in each stream (0 when the stream is off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// AOF position a reply waits for.
    pub aof: u64,
    /// Replication offset WAIT waits for.
    pub repl: u64,
}

impl WriteJournal {
    /// Publishes keyspace `expired` events for the keys expiry deletes.
    pub fn notify_expired_to(&self, hub: Arc<super::pubsub::Hub>) {
        let _ = self.expiry_events.set(hub);
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Appends the commands that redo one change made in database `db`. They are
    /// encoded before the journal's lock is taken, in a buffer of this thread's, so the
    /// lock that orders every writer of every worker covers only the copies.
    pub fn append<'a>(&self, db: usize, commands: impl IntoIterator<Item = &'a [&'a [u8]]>) -> Appended {
        ENCODED.with(|cell| {
            let mut buf = cell.borrow_mut();
            buf.clear();
            for c in commands {
                encode_command(c, &mut buf);
            }
            let at = self.append_encoded(db, &buf);
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            at
        })
    }

    /// Appends commands already encoded, after a SELECT when the database changes.
    fn append_encoded(&self, db: usize, bytes: &[u8]) -> Appended {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if inner.db != Some(db) {
            // Rare: one more write to each sink, still under the lock, so nothing lands
            // between the SELECT and the command.
            inner.buf.clear();
            encode_command(&[b"SELECT", db.to_string().as_bytes()], &mut inner.buf);
            inner.db = Some(db);
            inner.offset += inner.buf.len() as u64;
            if let Some(a) = &inner.aof {
                a.write(&inner.buf);
            }
            if let Some(b) = &inner.backlog {
                b.append(&inner.buf);
            }
        }
        inner.offset += bytes.len() as u64;
        let aof = inner.aof.as_ref().map_or(0, |a| a.write(bytes));
        let repl = inner.backlog.as_ref().map_or(0, |b| b.append(bytes));
        Appended { aof, repl }
    }

    /// Appends the writes of one atomic run (EXEC, a script) as one block, MULTI ...
    /// EXEC, with SELECTs where the database changes: nothing another thread journals
    /// can land inside it.
    pub fn append_run(&self, writes: &[(usize, Vec<Vec<u8>>)]) -> Appended {
        let Some((first, _)) = writes.first() else { return Appended::default() };
        let mut g = self.inner.lock();
        let inner = &mut *g;
        inner.buf.clear();
        let select = |db: usize, inner: &mut Inner| {
            if inner.db != Some(db) {
                encode_command(&[b"SELECT", db.to_string().as_bytes()], &mut inner.buf);
                inner.db = Some(db);
            }
        };
        select(*first, inner);
        encode_command(&[b"MULTI"], &mut inner.buf);
        for (db, cmd) in writes {
            select(*db, inner);
            let args: smallvec::SmallVec<[&[u8]; 8]> = cmd.iter().map(Vec::as_slice).collect();
            encode_command(&args, &mut inner.buf);
        }
        encode_command(&[b"EXEC"], &mut inner.buf);
        inner.offset += inner.buf.len() as u64;
        let aof = inner.aof.as_ref().map_or(0, |a| a.write(&inner.buf));
        let repl = inner.backlog.as_ref().map_or(0, |b| b.append(&inner.buf));
        if inner.buf.capacity() > 64 * 1024 {
            inner.buf = Vec::new();
        }
        Appended { aof, repl }
    }

    /// Bytes for replicas only (the periodic PING): they count in the replication
    /// offset but mean nothing to the AOF.
    pub fn append_replication_only(&self, bytes: &[u8]) -> u64 {
        let g = self.inner.lock();
        g.backlog.as_ref().map_or(0, |b| b.append(bytes))
    }

    /// Feeds (or stops feeding) the replication backlog. Call at a snapshot cut; the next
    /// command starts with a SELECT, as a replica that just loaded a snapshot expects.
    pub fn set_backlog(&self, backlog: Option<Arc<Backlog>>) {
        let mut g = self.inner.lock();
        g.backlog = backlog;
        self.active.store(g.aof.is_some() || g.backlog.is_some(), Ordering::Release);
        g.db = None;
    }

    /// The database the stream last selected (None: the next command starts with a
    /// SELECT).
    pub fn current_db(&self) -> Option<usize> {
        self.inner.lock().db
    }

    pub fn feeds_backlog(&self) -> bool {
        self.inner.lock().backlog.is_some()
    }

    /// Connects or disconnects the AOF. Call at a snapshot cut; the next command starts
    /// with a SELECT, as a new file must.
    pub fn set_aof(&self, aof: Option<Arc<dyn JournalSink>>) {
        let mut g = self.inner.lock();
        g.aof = aof;
        self.active.store(g.aof.is_some() || g.backlog.is_some(), Ordering::Release);
        g.db = None;
    }

    /// The next command starts with a SELECT (a new AOF file begins at a cut).
    pub fn restart_db(&self) {
        self.inner.lock().db = None;
    }

    pub fn offset(&self) -> u64 {
        self.inner.lock().offset
    }
}

impl crate::store::Journal for WriteJournal {
    fn expired(&self, db: usize, keys: &[Box<[u8]>]) {
        if let Some(hub) = self.expiry_events.get()
            && super::pubsub::keyspace::enabled(hub, super::pubsub::keyspace::class::EXPIRED)
        {
            for k in keys {
                super::pubsub::keyspace::notify(hub, super::pubsub::keyspace::class::EXPIRED, "expired", db, k);
            }
        }
        if self.is_active() {
            let cmds: Vec<[&[u8]; 2]> = keys.iter().map(|k| [&b"DEL"[..], &k[..]]).collect();
            self.append(db, cmds.iter().map(|c| &c[..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Capture(Mutex<Vec<u8>>);
    impl JournalSink for Capture {
        fn write(&self, bytes: &[u8]) -> u64 {
            let mut g = self.0.lock();
            g.extend_from_slice(bytes);
            g.len() as u64
        }
    }

    #[test]
    fn an_atomic_run_is_one_multi_exec_block_with_its_selects() {
        let j = WriteJournal::default();
        let cap = Arc::new(Capture::default());
        j.set_aof(Some(cap.clone()));
        assert_eq!(j.append_run(&[]), Appended::default());
        assert!(cap.0.lock().is_empty(), "a run that wrote nothing journals nothing");
        let cmd = |a: &[&str]| a.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        let end = j.append_run(&[(2, cmd(&["SET", "a", "1"])), (2, cmd(&["DEL", "b"])), (0, cmd(&["INCR", "c"]))]).aof;
        let want = "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n\
                    *2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n*1\r\n$4\r\nEXEC\r\n";
        assert_eq!(String::from_utf8_lossy(&cap.0.lock()), want);
        assert_eq!(end, want.len() as u64);
        assert_eq!(j.current_db(), Some(0));
    }

    #[test]
    fn commands_are_resp_with_a_select_on_database_change() {
        let j = WriteJournal::default();
        assert!(!j.is_active());
        assert_eq!(j.append(0, [&[&b"SET"[..], b"k", b"v"][..]]), Appended::default(), "no sink: nothing to wait for");
        let cap = Arc::new(Capture::default());
        j.set_aof(Some(cap.clone()));
        assert!(j.is_active());
        j.append(0, [&[&b"SET"[..], b"k", b"v"][..]]);
        j.append(0, [&[&b"DEL"[..], b"k"][..]]);
        let end = j.append(3, [&[&b"INCR"[..], b""][..]]).aof;
        let want = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n\
                    *2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$4\r\nINCR\r\n$0\r\n\r\n";
        assert_eq!(String::from_utf8_lossy(&cap.0.lock()), want);
        assert_eq!(end, want.len() as u64);
        use crate::store::Journal;
        j.expired(3, &[b"gone".to_vec().into_boxed_slice()]);
        assert!(String::from_utf8_lossy(&cap.0.lock()).ends_with("INCR\r\n$0\r\n\r\n*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n"));
        // The backlog gets the same bytes from its attachment on, starting with a SELECT.
        let b = Arc::new(Backlog::new(1 << 10, 0));
        j.set_backlog(Some(b.clone()));
        let a = j.append(3, [&[&b"DEL"[..], b"x"][..]]);
        assert_eq!(a.repl, b.end());
        assert_eq!(j.append_replication_only(b"*1\r\n$4\r\nPING\r\n"), b.end());
        let mut out = Vec::new();
        b.read(0, 1 << 10, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL\r\n$1\r\nx\r\n*1\r\n$4\r\nPING\r\n");
        j.set_aof(None);
        assert!(j.is_active(), "the backlog alone keeps the journal on");
        j.set_backlog(None);
        assert!(!j.is_active());
    }
}
