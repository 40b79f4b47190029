//! State shared by every connection and background task.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use tokio::sync::Notify;

use super::clients::Clients;
use super::stats::Stats;
use crate::config::Config;
use crate::protocol::Limits;
use crate::store::Keyspace;

/// Current unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Copies of hot configuration values, read on every request without a lock.
#[derive(Debug, Default)]
pub struct Tunables {
    pub max_bulk_len: AtomicUsize,
    pub query_buffer_limit: AtomicUsize,
    pub maxclients: AtomicUsize,
    pub timeout_secs: AtomicU64,
    pub tcp_keepalive_secs: AtomicU64,
    pub hz: AtomicU64,
    pub protected_mode: AtomicBool,
    pub has_password: AtomicBool,
    pub lazy_user_flush: AtomicBool,
    pub adaptive_threads: AtomicBool,
    /// `adaptive-threads-idle`, in percent of one core.
    pub adaptive_idle_pct: AtomicU64,
    /// `idle-poll-us` (server/idle_poll.rs).
    pub idle_poll_us: AtomicU64,
}

impl Tunables {
    pub fn load(&self, c: &Config) {
        self.max_bulk_len.store(c.int("proto-max-bulk-len") as usize, Relaxed);
        self.query_buffer_limit.store(c.int("client-query-buffer-limit") as usize, Relaxed);
        self.maxclients.store(c.int("maxclients") as usize, Relaxed);
        self.timeout_secs.store(c.int("timeout") as u64, Relaxed);
        self.tcp_keepalive_secs.store(c.int("tcp-keepalive") as u64, Relaxed);
        self.hz.store(c.int("hz").max(1) as u64, Relaxed);
        self.protected_mode.store(c.bool("protected-mode"), Relaxed);
        self.has_password.store(!c.str("requirepass").is_empty(), Relaxed);
        self.lazy_user_flush.store(c.bool("lazyfree-lazy-user-flush"), Relaxed);
        self.adaptive_threads.store(c.bool("adaptive-threads"), Relaxed);
        self.adaptive_idle_pct.store(c.int("adaptive-threads-idle") as u64, Relaxed);
        self.idle_poll_us.store(c.int("idle-poll-us") as u64, Relaxed);
        let size = |name: &'static str| usize::try_from(c.int(name)).unwrap_or(usize::MAX);
        crate::store::limits::set(crate::store::limits::Limits {
            hash_entries: size("hash-max-listpack-entries"),
            hash_value: size("hash-max-listpack-value"),
            set_intset_entries: size("set-max-intset-entries"),
            zset_entries: size("zset-max-listpack-entries"),
            zset_value: size("zset-max-listpack-value"),
        });
    }

    pub fn limits(&self) -> Limits {
        Limits { max_bulk_len: self.max_bulk_len.load(Relaxed), ..Limits::default() }
    }
}

/// CLIENT PAUSE state.
#[derive(Debug, Default)]
pub struct Pause {
    /// Unix ms until which clients are paused (0 = not paused).
    pub until_ms: AtomicI64,
    /// true: only write commands wait (PAUSE ... WRITE); false: all commands wait.
    pub write_only: AtomicBool,
    pub unpaused: Notify,
}

pub struct Server {
    pub keyspace: Keyspace,
    pub config: RwLock<Config>,
    pub tun: Tunables,
    pub clients: Clients,
    pub stats: Stats,
    pub pause: Pause,
    pub started: Instant,
    pub start_unix_ms: i64,
    pub run_id: String,
    pub threads: usize,
    /// Port actually bound (differs from the config when it was 0).
    pub tcp_port: AtomicU16,
    pub shutting_down: AtomicBool,
    pub shutdown: Notify,
    /// Writes since start (INFO persistence rdb_changes_since_last_save).
    pub dirty: AtomicU64,
    /// Applies a new log level at run time (set by main when logging is initialised).
    pub log_level_hook: RwLock<Option<crate::logging::LevelHook>>,
    /// Hand-off channels of the worker threads, in worker order.
    pub workers: std::sync::OnceLock<Vec<super::HandoffTx>>,
    /// Worker that new connections go to (chosen by the balancer).
    pub home: AtomicUsize,
    /// Clients blocked on keys (BLPOP...), woken by writes to those keys.
    pub blocking: super::blocking::Blocking,
    /// Every change to the data, in order, for the AOF (and replicas).
    pub journal: std::sync::Arc<super::journal::WriteJournal>,
    pub persistence: super::persistence::Persistence,
    pub replication: crate::replication::state::Replication,
    /// SLOWLOG and the latency monitor.
    pub slowlog: super::slowlog::SlowLog,
    pub latency: super::latency::LatencyMonitor,
    /// Pub/sub registry, keyspace notification flags, output buffer limits.
    pub pubsub: std::sync::Arc<super::pubsub::Hub>,
    /// maxmemory enforcement (memory/evict.rs).
    pub eviction: crate::memory::evict::Eviction,
    /// The server itself, for jobs that outlive a command (BGSAVE...).
    pub me: std::sync::OnceLock<std::sync::Weak<Server>>,
    /// Lua scripts: their thread, cache and the gate that runs them alone.
    pub scripting: crate::scripting::Scripting,
}

impl Server {
    pub fn new(config: Config) -> Self {
        let tun = Tunables::default();
        tun.load(&config);
        let slowlog = super::slowlog::SlowLog::default();
        slowlog.load(&config);
        let latency = super::latency::LatencyMonitor::default();
        latency.load(&config);
        let threads = config.threads();
        let databases = config.int("databases").max(1) as usize;
        let repl_backlog = config.int("repl-backlog-size");
        let keyspace = Keyspace::new(databases);
        let journal: std::sync::Arc<super::journal::WriteJournal> = Default::default();
        keyspace.set_journal(journal.clone());
        let pubsub: std::sync::Arc<super::pubsub::Hub> = Default::default();
        pubsub.load_config(&config);
        journal.notify_expired_to(pubsub.clone());
        let eviction = crate::memory::evict::Eviction::default();
        eviction.configure(&config);
        Server {
            keyspace,
            config: RwLock::new(config),
            tun,
            clients: Clients::default(),
            stats: Stats::default(),
            pause: Pause::default(),
            started: Instant::now(),
            start_unix_ms: now_ms(),
            run_id: (0..40).map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0')).collect(),
            threads,
            tcp_port: AtomicU16::new(0),
            shutting_down: AtomicBool::new(false),
            shutdown: Notify::new(),
            dirty: AtomicU64::new(0),
            log_level_hook: RwLock::new(None),
            workers: std::sync::OnceLock::new(),
            home: AtomicUsize::new(0),
            blocking: Default::default(),
            journal,
            persistence: Default::default(),
            replication: crate::replication::state::Replication::new(usize::try_from(repl_backlog).unwrap_or(1 << 20)),
            slowlog,
            latency,
            pubsub,
            eviction,
            me: std::sync::OnceLock::new(),
            scripting: crate::scripting::Scripting::new(threads),
        }
    }

    /// Asks every task to stop: listeners close, connections are shut down, and the
    /// process exits once they are gone.
    pub fn begin_shutdown(&self) {
        if !self.shutting_down.swap(true, Relaxed) {
            self.shutdown.notify_waiters();
            self.clients.kill(|_| true);
        }
    }

    /// A shared handle to the server (None only before `run` set it up, or in tests that
    /// build a bare `Server`).
    pub fn arc(&self) -> Option<std::sync::Arc<Server>> {
        self.me.get().and_then(std::sync::Weak::upgrade)
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Relaxed)
    }

    /// Re-reads the hot copies after CONFIG SET and applies side effects.
    pub fn config_changed(&self, names: &[&str]) {
        let cfg = self.config.read();
        self.tun.load(&cfg);
        self.slowlog.load(&cfg);
        self.latency.load(&cfg);
        self.pubsub.load_config(&cfg);
        self.eviction.configure(&cfg);
        if names.contains(&"loglevel")
            && let Some(hook) = self.log_level_hook.read().as_ref()
        {
            hook(cfg.str("loglevel"));
        }
        drop(cfg);
        if names.iter().any(|n| n.starts_with("min-replicas")) {
            crate::replication::primary::refresh(self);
        }
    }
}
