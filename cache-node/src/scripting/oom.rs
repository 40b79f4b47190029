//! Where a script that may write is refused over `maxmemory`, as Redis 7 does: a script
//! declaring flags (a shebang) without `no-writes` or `allow-oom` does not start; a
//! legacy script starts, and each of its write commands meets the usual OOM check.

use super::shebang::{ALLOW_OOM, LEGACY, NO_WRITES};
use crate::server::state::{Server, now_ms};

/// `Some(error)` when a script with these shebang flags must not start because memory
/// is over the limit (after trying to evict).
pub fn refuse_script(srv: &Server, flags: u32) -> Option<&'static str> {
    if flags & (LEGACY | NO_WRITES | ALLOW_OOM) != 0 {
        return None;
    }
    crate::memory::evict::refuse(srv, now_ms()).then_some("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
}
