//! Command metadata. The table (`table.rs`) is built from the `COMMANDS` slice of each
//! family module; the dispatcher uses arity and flags for the generic checks that run
//! before any handler, COMMAND reports everything here, and per-command statistics are
//! indexed by table position.

use super::Ctx;
use super::error::CmdResult;

pub type Handler = fn(&mut Ctx<'_>, &[&[u8]]) -> CmdResult;

/// Command flags, as COMMAND INFO names them.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    pub const NO_AUTH: u32 = 1 << 11;
    pub const MAY_REPLICATE: u32 = 1 << 12;
    pub const NO_MULTI: u32 = 1 << 13;
    pub const ALLOW_BUSY: u32 = 1 << 14;
    pub const MOVABLE_KEYS: u32 = 1 << 15;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
        (MOVABLE_KEYS, "movablekeys"),
    ];
}

/// ACL categories (without the leading '@').
pub mod acl {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const BITMAP: u32 = 1 << 4;
    pub const FAST: u32 = 1 << 5;
    pub const SLOW: u32 = 1 << 6;
    pub const ADMIN: u32 = 1 << 7;
    pub const DANGEROUS: u32 = 1 << 8;
    pub const CONNECTION: u32 = 1 << 9;
    pub const SERVER: u32 = 1 << 10;
    pub const TRANSACTION: u32 = 1 << 11;
    pub const SCRIPTING: u32 = 1 << 12;
    pub const PUBSUB: u32 = 1 << 13;
    pub const LIST: u32 = 1 << 14;
    pub const HASH: u32 = 1 << 15;
    pub const SET: u32 = 1 << 16;
    pub const SORTEDSET: u32 = 1 << 17;
    pub const HYPERLOGLOG: u32 = 1 << 18;
    pub const GEO: u32 = 1 << 19;
    pub const BLOCKING: u32 = 1 << 20;

    pub const NAMES: &[(u32, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (ADMIN, "admin"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (SERVER, "server"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
        (PUBSUB, "pubsub"),
        (LIST, "list"),
        (HASH, "hash"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (BLOCKING, "blocking"),
    ];
}

/// One command (or one subcommand of a container command such as CONFIG).
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name (`get`; subcommands: `get` under parent `config`).
    pub name: &'static str,
    /// Redis convention: N = exactly N arguments including the name, -N = at least N.
    pub arity: i32,
    pub flags: u32,
    pub acl: u32,
    /// Legacy key specification: first key index, last (-1 = last argument), step.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// `string`, `generic`, `connection`, `server`, `bitmap`... for COMMAND DOCS.
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub handler: Handler,
    /// For container commands: their subcommands (COMMAND INFO lists them; the
    /// container's handler dispatches).
    pub subcommands: &'static [CommandSpec],
    /// Index of a `numkeys` argument that counts the keys right after it (LMPOP,
    /// ZUNIONSTORE...), for commands whose keys the legacy range cannot describe.
    pub numkeys_at: Option<usize>,
    /// What a write command holds for its whole run (see commands/scope.rs).
    pub scope: super::scope::ScopeKeys,
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        if a >= 0 { argc == a as usize } else { argc >= (-a) as usize }
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Positions of the key arguments in `argv`: the legacy range, plus the keys a
    /// `numkeys` argument counts. A count that is not a number, or runs past the
    /// arguments, gives none of those (the command itself refuses it).
    pub fn key_positions(&self, argv: &[&[u8]]) -> Vec<usize> {
        let argc = argv.len();
        let mut out: Vec<usize> = if self.first_key <= 0 || argc <= self.first_key as usize {
            Vec::new()
        } else {
            let last = if self.last_key < 0 { argc as i32 + self.last_key } else { self.last_key };
            let step = self.step.max(1) as usize;
            (self.first_key as usize..=(last.max(0) as usize).min(argc - 1)).step_by(step).collect()
        };
        if let Some(at) = self.numkeys_at {
            let n = argv.get(at).and_then(|a| std::str::from_utf8(a).ok()).and_then(|t| t.parse::<usize>().ok());
            if let Some(n) = n.filter(|n| *n > 0 && at + n < argc) {
                out.extend(at + 1..=at + n);
            }
        }
        out
    }
}

/// Builds a spec with the common fields; families override the rest with struct update.
pub const fn cmd(name: &'static str, arity: i32, flags: u32, acl: u32, keys: (i32, i32, i32), handler: Handler) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group: "generic",
        summary: "",
        since: "1.0.0",
        handler,
        subcommands: &[],
        numkeys_at: None,
        scope: super::scope::ScopeKeys::Keys,
    }
}
