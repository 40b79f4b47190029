//! Following a primary: the link's state (what INFO and ROLE report), switching roles
//! (REPLICAOF host port / NO ONE, `replicaof` at start) and the check that refuses
//! commands while the link is down and `replica-serve-stale-data` is off. The link
//! itself runs on its own thread (replica_link.rs).

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::state::Role;
use crate::commands::{CommandSpec, flag};
use crate::server::state::{Server, now_ms};

/// Redis's replication states, as ROLE names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// Waiting to (re)connect.
    #[default]
    Connect,
    /// Connecting or in the handshake.
    Connecting,
    /// Receiving the snapshot of a full resync.
    Sync,
    /// Applying the stream.
    Connected,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Connect => "connect",
            Status::Connecting => "connecting",
            Status::Sync => "sync",
            Status::Connected => "connected",
        }
    }
}

/// The link to this node's primary.
#[derive(Default)]
pub struct Link {
    inner: Mutex<Inner>,
    /// Current link generation: a link thread whose generation is older stops.
    generation: AtomicU64,
    /// Connected and applying the stream (read on every command by `masterdown`).
    up: AtomicBool,
    /// Unix ms of the primary's last bytes.
    last_io_ms: AtomicI64,
    /// Snapshot bytes expected (-1: unknown, the EOF-marked format) and read so far.
    sync_total: AtomicI64,
    sync_read: AtomicI64,
    /// `slave_read_repl_offset`: processed offset plus bytes read but not yet applied.
    read_offset: AtomicU64,
    /// Database the primary's stream last selected (kept across partial resyncs).
    pub(super) db: AtomicUsize,
    /// Commands from the primary that failed here (unknown commands...).
    pub failed_commands: AtomicU64,
    /// Held through a role switch, so concurrent REPLICAOFs apply one after the other.
    switching: Mutex<()>,
}

#[derive(Default)]
struct Inner {
    status: Status,
    /// Unix ms when the link was lost (None: never was up).
    down_since_ms: Option<i64>,
    /// A clone of the link's socket, shut down to stop the thread promptly.
    sock: Option<std::net::TcpStream>,
    thread: Option<JoinHandle<()>>,
}

impl Link {
    pub fn status(&self) -> Status {
        self.inner.lock().status
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// Whether a link thread of generation `epoch` should keep going.
    pub(super) fn current(&self, epoch: u64) -> bool {
        self.generation.load(Relaxed) == epoch
    }

    /// Records the link thread's state; ignored from a stopped thread.
    pub(super) fn set_status(&self, epoch: u64, status: Status) {
        let mut g = self.inner.lock();
        if !self.current(epoch) {
            return;
        }
        let was_up = g.status == Status::Connected;
        if was_up && status != Status::Connected {
            g.down_since_ms = Some(now_ms());
        }
        g.status = status;
        self.up.store(status == Status::Connected, Relaxed);
        if status == Status::Sync {
            self.sync_total.store(-1, Relaxed);
            self.sync_read.store(0, Relaxed);
        }
    }

    /// Registers the socket of the current connection (false: the link was stopped).
    pub(super) fn set_socket(&self, epoch: u64, sock: Option<std::net::TcpStream>) -> bool {
        let mut g = self.inner.lock();
        if !self.current(epoch) {
            return false;
        }
        g.sock = sock;
        true
    }

    pub(super) fn touch(&self) {
        self.last_io_ms.store(now_ms(), Relaxed);
    }

    pub(super) fn sync_progress(&self, total: Option<i64>, read: i64) {
        if let Some(t) = total {
            self.sync_total.store(t, Relaxed);
        }
        self.sync_read.store(read, Relaxed);
    }

    pub(super) fn set_read_offset(&self, off: u64) {
        self.read_offset.store(off, Relaxed);
    }

    /// Stops the link thread (if any) and waits for it: when this returns, nothing more
    /// from the old primary is applied.
    pub fn stop(&self) {
        let thread = {
            let mut g = self.inner.lock();
            self.generation.fetch_add(1, Relaxed);
            if let Some(s) = g.sock.take() {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            if g.status == Status::Connected {
                g.down_since_ms = Some(now_ms());
            }
            g.status = Status::Connect;
            self.up.store(false, Relaxed);
            g.thread.take()
        };
        // The link thread itself never waits for itself (a primary sending REPLICAOF).
        if let Some(t) = thread
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }

    /// Starts following `host:port` on a new thread.
    fn start(&self, srv: Arc<Server>, host: String, port: u16) {
        let mut g = self.inner.lock();
        let epoch = self.generation.fetch_add(1, Relaxed) + 1;
        g.status = Status::Connect;
        g.down_since_ms = None;
        self.up.store(false, Relaxed);
        self.read_offset.store(srv.replication.offset(), Relaxed);
        let spawned = std::thread::Builder::new().name("replica-link".into()).spawn(move || super::replica_link::run(srv, epoch, host, port));
        match spawned {
            Ok(t) => g.thread = Some(t),
            Err(e) => tracing::error!(error = %e, "cannot start the replication link thread"),
        }
    }
}

/// Makes this node a replica of `host:port`: writes stop at a cut (every partition
/// locked), the journal stops feeding the backlog (the primary's stream will), and a new
/// link starts from this node's history (so a partial resync is possible).
pub fn follow(srv: &Server, host: String, port: u16) {
    let link = &srv.replication.link;
    let _one_at_a_time = link.switching.lock();
    link.stop();
    // This node's own replicas resync from the new history (as Redis drops them).
    srv.replication.replicas.disconnect_all();
    let read_only = srv.config.read().bool("replica-read-only");
    {
        let _all = srv.keyspace.lock_all();
        srv.replication.set_role(Role::Replica { host: host.clone(), port }, read_only);
        srv.journal.set_backlog(None);
    }
    match srv.arc() {
        Some(arc) => link.start(arc, host, port),
        None => tracing::warn!("no server handle: the replication link is not started"),
    }
}

/// REPLICAOF NO ONE: stops following and becomes a primary whose history continues the
/// old one (the old id becomes `replid2`), so the other replicas of the old primary can
/// continue partially from here. False when this node was not a replica.
pub fn promote(srv: &Server) -> bool {
    let _one_at_a_time = srv.replication.link.switching.lock();
    if !srv.replication.is_replica() {
        return false;
    }
    srv.replication.replicas.disconnect_all();
    srv.replication.link.stop();
    let read_only = srv.config.read().bool("replica-read-only");
    let _all = srv.keyspace.lock_all();
    let offset = srv.replication.offset();
    srv.replication.ids.lock().shift(offset);
    srv.replication.set_role(Role::Primary, read_only);
    srv.journal.set_backlog(Some(srv.replication.backlog.clone()));
    true
}

/// `replicaof host port` from the configuration: called once the data is loaded.
pub fn start_from_config(srv: &Server) {
    let value = srv.config.read().str("replicaof").to_string();
    match crate::config::params::parse_replicaof(&value) {
        Ok(Some((host, port))) => {
            tracing::info!(%host, port, "following the primary from the configuration");
            follow(srv, host, port);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "ignoring replicaof"),
    }
}

/// The error for a command refused because the link is down and
/// `replica-serve-stale-data` is off (the dispatcher calls this before running a
/// command without the STALE flag).
pub fn masterdown(srv: &Server, spec: &CommandSpec) -> Option<&'static str> {
    let link = &srv.replication.link;
    if link.is_up() || spec.has(flag::STALE) || !srv.replication.is_replica() {
        return None;
    }
    if srv.config.read().bool("replica-serve-stale-data") {
        return None;
    }
    Some("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
}

/// ROLE's state of the link and its offset (-1 unless connected).
pub fn role_state(srv: &Server) -> (&'static str, i64) {
    let link = &srv.replication.link;
    let status = link.status();
    let offset = if status == Status::Connected { srv.replication.offset() as i64 } else { -1 };
    (status.name(), offset)
}

/// INFO replication lines of a replica, from `master_host` to `replica_announced`.
pub fn info_lines(srv: &Server, out: &mut String) {
    let Role::Replica { host, port } = srv.replication.role.read().clone() else { return };
    let link = &srv.replication.link;
    let (status, down_since) = {
        let g = link.inner.lock();
        (g.status, g.down_since_ms)
    };
    let now = now_ms();
    let secs = |ms: i64| (now - ms) / 1000;
    let offset = srv.replication.offset();
    let read_offset = if status == Status::Connected { link.read_offset.load(Relaxed).max(offset) } else { offset };
    let _ = write!(
        out,
        "master_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\n\
         slave_read_repl_offset:{read_offset}\r\nslave_repl_offset:{offset}\r\n",
        if status == Status::Connected { "up" } else { "down" },
        if status == Status::Connected { secs(link.last_io_ms.load(Relaxed)) } else { -1 },
        u8::from(status == Status::Sync),
    );
    if status == Status::Sync {
        let total = link.sync_total.load(Relaxed);
        let read = link.sync_read.load(Relaxed);
        let perc = if total > 0 { read as f64 / total as f64 * 100.0 } else { 0.0 };
        let _ = write!(
            out,
            "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\n\
             master_sync_last_io_seconds_ago:{}\r\n",
            total - read,
            secs(link.last_io_ms.load(Relaxed)),
        );
    }
    if status != Status::Connected {
        let _ = write!(out, "master_link_down_since_seconds:{}\r\n", down_since.map_or(-1, secs));
    }
    let cfg = srv.config.read();
    let _ = write!(
        out,
        "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
        cfg.int("replica-priority"),
        u8::from(cfg.bool("replica-read-only")),
    );
}

/// The database the primary's stream had selected (for an RDB's `repl-stream-db`).
pub fn stream_db(srv: &Server) -> usize {
    srv.replication.link.db.load(Relaxed)
}

/// Restores it from an RDB at start-up, before the link starts.
pub fn set_stream_db(srv: &Server, db: usize) {
    srv.replication.link.db.store(db, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::table;

    /// A bare server marked as a replica without `set_role` (which would switch the
    /// process-wide keep-expired flag under the other unit tests).
    fn replica() -> Server {
        let srv = Server::new(crate::config::Config::default());
        *srv.replication.role.write() = Role::Replica { host: "10.0.0.1".into(), port: 6380 };
        srv
    }

    fn spec(name: &str) -> &'static CommandSpec {
        table::lookup(name.as_bytes()).map(|(_, s)| s).unwrap_or_else(|| unreachable!("{name} is a command"))
    }

    #[test]
    fn stale_reads_are_refused_only_when_configured() {
        let srv = replica();
        assert_eq!(masterdown(&srv, spec("get")), None, "replica-serve-stale-data yes");
        let _ = srv.config.write().set_runtime(&[("replica-serve-stale-data".into(), "no".into())]);
        let msg = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
        assert_eq!(masterdown(&srv, spec("get")), Some(msg));
        assert_eq!(masterdown(&srv, spec("set")), Some(msg));
        assert_eq!(masterdown(&srv, spec("info")), None, "STALE commands always run");
        srv.replication.link.up.store(true, Relaxed);
        assert_eq!(masterdown(&srv, spec("get")), None, "link up");
        *srv.replication.role.write() = Role::Primary;
        srv.replication.link.up.store(false, Relaxed);
        assert_eq!(masterdown(&srv, spec("get")), None, "a primary");
    }

    #[test]
    fn a_link_that_never_came_up() {
        let srv = replica();
        assert_eq!(role_state(&srv), ("connect", -1));
        let mut out = String::new();
        info_lines(&srv, &mut out);
        assert_eq!(
            out,
            "master_host:10.0.0.1\r\nmaster_port:6380\r\nmaster_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:0\r\n\
             slave_read_repl_offset:0\r\nslave_repl_offset:0\r\nmaster_link_down_since_seconds:-1\r\nslave_priority:100\r\nslave_read_only:1\r\n\
             replica_announced:1\r\n"
        );
    }

    #[test]
    fn status_changes_from_a_stopped_link_are_ignored() {
        let srv = replica();
        let link = &srv.replication.link;
        let epoch = link.generation.load(Relaxed);
        link.set_status(epoch, Status::Connected);
        assert!(link.is_up());
        assert_eq!(role_state(&srv), ("connected", 0));
        link.stop();
        assert!(!link.is_up());
        link.set_status(epoch, Status::Connected);
        assert!(!link.is_up(), "an old link thread cannot bring the link up");
        assert_eq!(link.status(), Status::Connect);
        let mut out = String::new();
        info_lines(&srv, &mut out);
        assert!(out.contains("master_link_down_since_seconds:0\r\n"), "{out}");
    }
}
