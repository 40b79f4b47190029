//! Commands: one file per family, one table carrying each command's metadata, and the
//! dispatcher that runs the generic checks (existence, arity, authentication) before a
//! handler and records per-command statistics after it.

pub mod args;
pub mod bitmaps;
pub mod blocking;
pub mod client;
pub mod command;
pub mod connection;
pub mod db;
pub mod dump;
pub mod error;
pub mod expire;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod info;
pub mod keys;
pub mod lists;
pub mod scan_args;
pub mod server_cmds;
pub mod sets;
pub mod spec;
pub mod strings;
pub mod table;
pub mod zsets;

use std::time::Instant;

pub use error::{CmdError, CmdResult};
pub use spec::{CommandSpec, acl, flag};

use crate::protocol::Reply;
use crate::server::session::{After, Session};
use crate::server::state::Server;
use crate::server::stats::{ThreadStats, bump};

/// Everything a handler may use: the server, the calling connection's session, the
/// reply buffer and the time the command started.
pub struct Ctx<'a> {
    pub srv: &'a Server,
    pub session: &'a mut Session,
    pub out: &'a mut Reply,
    pub now_ms: i64,
}

impl Ctx<'_> {
    /// The database the client has selected.
    pub fn db(&self) -> usize {
        self.session.db
    }

    /// Counts a write for `rdb_changes_since_last_save`.
    pub fn dirty(&self, n: u64) {
        if n > 0 {
            self.srv.dirty.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// The bytes of `a` up to its first NUL: Redis formats these errors from C strings.
fn c_str(a: &[u8]) -> &[u8] {
    a.iter().position(|&b| b == 0).map_or(a, |nul| &a[..nul])
}

/// Formats the argument preview of Redis's unknown-command error: arguments are quoted
/// one after another until the preview reaches 128 bytes, the last one cut to fit.
fn args_preview(args: &[&[u8]]) -> String {
    let mut s = Vec::new();
    for a in args {
        if s.len() >= 128 {
            break;
        }
        let a = c_str(a);
        let room = 128 - s.len();
        s.push(b'\'');
        s.extend_from_slice(&a[..a.len().min(room)]);
        s.extend_from_slice(b"' ");
    }
    String::from_utf8_lossy(&s).into_owned()
}

/// Looks a command up by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    table::lookup(name)
}

/// Runs one command and writes its reply (or error) to `ctx.out`. `clock` is when the
/// previous command of the batch finished (or the batch started); it is advanced to
/// this command's end, so timing a pipelined batch costs one clock read per command.
pub fn dispatch(ctx: &mut Ctx<'_>, argv: &[&[u8]], stats: &ThreadStats, clock: &mut Instant) {
    let Some(name) = argv.first() else { return };
    let Some((idx, spec)) = lookup(name) else {
        let name = c_str(name);
        let err = CmdError::UnknownCommand { name: String::from_utf8_lossy(&name[..name.len().min(128)]).into_owned(), args: args_preview(&argv[1..]) };
        reply_error(ctx, &err);
        return;
    };
    let cs = &stats.per_command[idx];
    if !spec.arity_ok(argv.len()) {
        bump(&cs.rejected, 1);
        reply_error(ctx, &CmdError::WrongArity(spec.name.to_string()));
        return;
    }
    if !ctx.session.authenticated && !spec.has(flag::NO_AUTH) {
        bump(&cs.rejected, 1);
        reply_error(ctx, &CmdError::NoAuth);
        return;
    }
    ctx.session.info.last_cmd.store(idx, std::sync::atomic::Ordering::Relaxed);
    let result = (spec.handler)(ctx, argv);
    let end = Instant::now();
    let nanos = end.saturating_duration_since(*clock).as_nanos() as u64;
    *clock = end;
    bump(&cs.calls, 1);
    bump(&cs.nanos, nanos);
    bump(&stats.commands, 1);
    match result {
        Err(e) => {
            bump(&cs.failed, 1);
            reply_error(ctx, &e);
        }
        // A write may have given blocked clients what they wait for. A command that
        // has just blocked wrote nothing, and signalling would wake itself.
        Ok(()) if spec.has(flag::WRITE) && ctx.srv.blocking.registrations() > 0 && ctx.session.after != After::Block => {
            for i in spec.key_positions(argv) {
                ctx.srv.blocking.signal(ctx.db(), argv[i]);
            }
        }
        Ok(()) => {}
    }
}

fn reply_error(ctx: &mut Ctx<'_>, e: &CmdError) {
    ctx.srv.stats.record_error(&e.code());
    ctx.out.error(&e.to_string());
}

#[cfg(test)]
mod tests {
    use super::args_preview;

    #[test]
    fn unknown_command_preview_is_cut_like_redis() {
        let many: Vec<&[u8]> = vec![b"a"; 26];
        assert_eq!(args_preview(&many).len(), 26 * 4);
        let a120 = [b'a'; 120];
        let preview = args_preview(&[&a120, b"bbbbbbbbbbbbbbbbbbbb", b"c"]);
        assert_eq!(preview, format!("'{}' 'bbbbb' ", "a".repeat(120)));
        assert_eq!(args_preview(&[b"x\0y", b"z"]), "'x' 'z' ");
        assert_eq!(args_preview(&[]), "");
    }
}
