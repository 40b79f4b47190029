//! Per-connection state that commands read and change (selected database, protocol,
//! authentication, reply mode) and what a command asks the connection to do next.

use std::sync::Arc;

use super::clients::ClientInfo;

/// What the connection does after the current command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum After {
    #[default]
    Continue,
    /// Send what is buffered, then close (QUIT).
    Close,
    /// Sleep this long before reading more (DEBUG SLEEP).
    Sleep(std::time::Duration),
    /// The command blocked on keys (`Session::block` holds what on): wait for a write to
    /// one of them or the deadline, then run it again.
    Block,
    /// PSYNC/SYNC accepted: the connection becomes a replica link (replication/primary.rs).
    Replica(crate::replication::primary::PsyncRequest),
    /// WAIT: reply with the number of replicas that acknowledged `offset`, once
    /// `replicas` did or at `deadline_ms` (unix ms; None = no timeout).
    WaitReplicas { replicas: usize, offset: u64, deadline_ms: Option<i64> },
    /// EVAL and friends: run this on the script thread and reply with its outcome.
    Script(Box<crate::scripting::EvalRequest>),
    /// EXEC of a transaction holding scripts: lend the session to the script thread,
    /// which runs the transaction (commands/multi.rs).
    ScriptExec,
}

/// CLIENT REPLY modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Set by CLIENT REPLY SKIP itself: becomes `Skip` once that command is done, so
    /// the command after it is the one skipped.
    SkipNext,
}

#[derive(Debug)]
pub struct Session {
    pub info: Arc<ClientInfo>,
    pub db: usize,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    pub after: After,
    /// Set while a blocking command waits (BLPOP...).
    pub block: Option<super::blocking::BlockState>,
    /// AOF position this client's queued replies wait for (appendfsync always): a
    /// write is acknowledged only once it is on disk.
    pub durable_wait: u64,
    /// Replication offset just past this client's last write (WAIT waits for it).
    pub repl_offset: u64,
    /// The link to this node's primary: its writes are applied even on a read-only
    /// replica.
    pub is_master: bool,
    /// Channels and patterns this client listens to (None until it subscribes).
    pub pubsub: Option<Box<super::pubsub::ClientSubs>>,
    /// MULTI queue and WATCHed keys (commands/multi.rs).
    pub tx: crate::commands::multi::Tx,
    /// A client connection's session, which EXEC can lend to the script thread (not the
    /// AOF loader's or the replica link's).
    pub on_connection: bool,
}

impl Session {
    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Self {
        Session {
            info,
            db: 0,
            authenticated,
            reply_mode: ReplyMode::On,
            after: After::Continue,
            block: None,
            durable_wait: 0,
            repl_offset: 0,
            is_master: false,
            pubsub: None,
            tx: Default::default(),
            on_connection: false,
        }
    }

    pub fn id(&self) -> u64 {
        self.info.id
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, std::sync::atomic::Ordering::Relaxed);
    }
}
