//! Where a script that may write is refused over `maxmemory` (filled in with eviction).

use crate::server::state::Server;

/// `Some(error)` when a script with these shebang flags must not start because memory
/// is over the limit. Always None until eviction tracks used memory.
pub fn refuse_script(_srv: &Server, _flags: u32) -> Option<&'static str> {
    None
}
