//! What blocking commands (BLPOP, BLMOVE, BZPOPMIN...) share: their timeout argument and
//! the decision to block or give the timeout answer. The waiting itself is the
//! connection's (`server::connection`), the line of waiters `server::blocking`'s.

use std::time::Duration;

use super::{CmdError, Ctx};
use crate::server::blocking::BlockState;
use crate::server::session::After;

/// A blocking timeout in seconds, as Redis reads it: a float, 0 = forever. Redis turns
/// it into milliseconds in a 64-bit integer: a value too large for that comes out
/// negative there, and one whose deadline (now + timeout) overflows is out of range.
pub fn timeout_secs(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = super::args::float(arg).map_err(|_| CmdError::other("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if ms.is_nan() || ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CmdError::other("ERR timeout is negative"));
    }
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    if (ms as i64).checked_add(now_ms).is_none() {
        return Err(CmdError::other("ERR timeout is out of range"));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// What a blocking command that found nothing does.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    /// Blocked: reply nothing now; the command runs again when a key is written.
    Blocked,
    /// The deadline passed: reply the timeout answer (a null).
    TimedOut,
}

/// Called by a blocking command that found nothing to serve, while it still holds the
/// locks of `keys` (so a write after its check always finds it registered).
pub fn block(ctx: &mut Ctx<'_>, keys: &[&[u8]], timeout: Option<Duration>) -> Wait {
    // Inside MULTI or a script nothing may wait: the command times out at once.
    if ctx.in_atomic() {
        return Wait::TimedOut;
    }
    let db = ctx.db();
    if let Some(state) = ctx.session.block.as_ref()
        && state.timed_out
    {
        ctx.srv.blocking.unregister(state.db, &state.keys, &state.waiter);
        ctx.session.block = None;
        return Wait::TimedOut;
    }
    let state = ctx.session.block.get_or_insert_with(|| BlockState {
        waiter: ctx.srv.blocking.new_waiter(),
        db,
        keys: keys.iter().map(|k| k.to_vec()).collect(),
        // A deadline too far to represent is as good as none.
        deadline: timeout.and_then(|t| tokio::time::Instant::now().checked_add(t)),
        timed_out: false,
    });
    ctx.srv.blocking.register(state.db, &state.keys, &state.waiter);
    ctx.session.after = After::Block;
    Wait::Blocked
}

/// The end every blocking command shares, called with the locks of its keys still held:
/// with something `found`, release the locks, reply it and leave the line; with nothing,
/// join the line (before the locks drop) or, past the deadline, reply `on_timeout`.
pub fn serve_or_block<T>(
    ctx: &mut Ctx<'_>,
    locked: crate::store::Locked<'_>,
    found: Option<T>,
    keys: &[&[u8]],
    timeout: Option<Duration>,
    on_found: impl FnOnce(&mut Ctx<'_>, T),
    on_timeout: impl FnOnce(&mut crate::protocol::Reply),
) {
    match found {
        Some(v) => {
            drop(locked);
            on_found(ctx, v);
            served(ctx);
        }
        None => {
            if block(ctx, keys, timeout) == Wait::TimedOut {
                on_timeout(ctx.out);
            }
            drop(locked);
        }
    }
}

/// Called by a blocking command once served: leaves the line for good. The next waiter
/// of its keys is woken by the dispatcher, which signals the keys of every write.
fn served(ctx: &mut Ctx<'_>) {
    if let Some(state) = ctx.session.block.take() {
        ctx.srv.blocking.unregister(state.db, &state.keys, &state.waiter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis_reads_them() {
        assert_eq!(timeout_secs(b"0").unwrap(), None);
        assert_eq!(timeout_secs(b"0.1").unwrap(), Some(Duration::from_millis(100)));
        assert_eq!(timeout_secs(b"0.0001").unwrap(), Some(Duration::from_millis(1)));
        assert_eq!(timeout_secs(b"2").unwrap(), Some(Duration::from_secs(2)));
        assert_eq!(timeout_secs(b"-1").unwrap_err().to_string(), "ERR timeout is negative");
        assert_eq!(timeout_secs(b"abc").unwrap_err().to_string(), "ERR timeout is not a float or out of range");
        assert_eq!(timeout_secs(b"inf").unwrap_err().to_string(), "ERR timeout is negative");
        assert_eq!(timeout_secs(b"1e16").unwrap_err().to_string(), "ERR timeout is negative");
        assert!(timeout_secs(b"9e15").unwrap().is_some());
    }
}
