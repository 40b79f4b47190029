//! FAILOVER.

use crate::commands::{CmdError, CmdResult, Ctx};

pub fn failover(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::other("ERR not implemented yet"))
}
