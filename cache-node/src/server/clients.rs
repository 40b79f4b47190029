//! The registry of connected clients: what CLIENT LIST/INFO show and how CLIENT KILL
//! and idle timeouts reach another connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::Mutex;

/// `ClientInfo::move_to` when no move is requested.
pub const NO_MOVE: usize = usize::MAX;

/// Shared, thread-safe view of one connection.
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: RawFd,
    pub created: Instant,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    /// Unix ms of the last command.
    pub last_interaction_ms: AtomicI64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    /// Index of the last command in the table (usize::MAX = none yet).
    pub last_cmd: AtomicUsize,
    /// When the last command was a container (CLIENT, CONFIG...): the index of its
    /// subcommand in the container's `subcommands` (usize::MAX = none).
    pub last_sub: AtomicUsize,
    pub no_evict: AtomicBool,
    /// Bytes waiting in the query buffer and output buffer (for CLIENT LIST qbuf/omem).
    pub qbuf: AtomicU64,
    pub omem: AtomicU64,
    pub killed: AtomicBool,
    /// The connection is a replica's link (CLIENT LIST/KILL TYPE replica).
    pub is_replica: AtomicBool,
    /// Worker thread that owns the connection.
    pub worker: AtomicUsize,
    /// Worker the balancer asked it to move to (`NO_MOVE`: stay).
    pub move_to: AtomicUsize,
    pub cmds: AtomicU64,
    /// Channel, pattern and shard-channel subscriptions (CLIENT LIST sub/psub/ssub).
    pub subscriptions: [AtomicUsize; 3],
    /// Commands queued since MULTI (-1: not in MULTI) and their bytes (CLIENT LIST
    /// multi, multi-mem).
    pub multi: AtomicI64,
    pub multi_mem: AtomicU64,
    /// A key the client WATCHes has changed: its EXEC will fail (flag `d`).
    pub dirty_cas: Arc<AtomicBool>,
}

impl ClientInfo {
    /// Subscribed to anything (flag `P`, client type pubsub).
    pub fn is_subscriber(&self) -> bool {
        self.subscriptions.iter().any(|n| n.load(Relaxed) > 0)
    }

    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: RawFd, now_ms: i64) -> Self {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            last_interaction_ms: AtomicI64::new(now_ms),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_cmd: AtomicUsize::new(usize::MAX),
            last_sub: AtomicUsize::new(usize::MAX),
            no_evict: AtomicBool::new(false),
            qbuf: AtomicU64::new(0),
            omem: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            is_replica: AtomicBool::new(false),
            worker: AtomicUsize::new(0),
            move_to: AtomicUsize::new(NO_MOVE),
            cmds: AtomicU64::new(0),
            subscriptions: Default::default(),
            multi: AtomicI64::new(-1),
            multi_mem: AtomicU64::new(0),
            dirty_cas: Arc::new(AtomicBool::new(false)),
        }
    }
}

#[derive(Default, Debug)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl Clients {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed) + 1
    }

    pub fn register(&self, c: Arc<ClientInfo>) {
        self.map.lock().insert(c.id, c);
    }

    /// Removes the client; must happen before its socket is closed so that `kill`
    /// never shuts down a file descriptor that was reused by another connection.
    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.map.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.map.lock().get(&id).cloned()
    }

    /// Closes the connections of every client `pred` selects; returns how many.
    /// The socket is shut down in place, so the owning task sees end-of-stream at once
    /// and cleans up on its own thread.
    pub fn kill(&self, mut pred: impl FnMut(&ClientInfo) -> bool) -> usize {
        let map = self.map.lock();
        let mut n = 0;
        for c in map.values() {
            if !c.killed.load(Relaxed) && pred(c) {
                c.killed.store(true, Relaxed);
                shutdown_fd(c.fd);
                n += 1;
            }
        }
        n
    }
}

fn shutdown_fd(fd: RawFd) {
    // SAFETY: the fd belongs to a registered client; clients unregister (under the same
    // lock we hold) before their socket is closed, so it cannot have been reused.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let _ = socket2::SockRef::from(&borrowed).shutdown(std::net::Shutdown::Both);
}
