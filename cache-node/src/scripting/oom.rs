//! Where a script that may write is refused over `maxmemory`, as Redis 7 does: a script
//! declaring flags (a shebang) without `no-writes` or `allow-oom` does not start; a
//! legacy script starts, and each of its write commands meets the usual OOM check.

use super::shebang::{ALLOW_OOM, LEGACY, NO_WRITES};
use crate::server::state::{Server, now_ms};

/// `Some(error)` when a script with these shebang flags must not start because memory
/// is over the limit (after trying to evict). Inside EXEC, which holds every partition,
/// nothing is evicted: the limit is only compared, as Redis uses the state it had
/// before the transaction.
pub fn refuse_script(srv: &Server, flags: u32, in_exec: bool) -> Option<&'static str> {
    if flags & (LEGACY | NO_WRITES | ALLOW_OOM) != 0 {
        return None;
    }
    let limit = srv.eviction.maxmemory();
    let over = if in_exec { limit > 0 && crate::memory::evict::used_for_eviction() > limit } else { crate::memory::evict::refuse(srv, now_ms()) };
    over.then_some("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
}
