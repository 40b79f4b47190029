//! REPLICAOF / SLAVEOF.

use crate::commands::{CmdError, CmdResult, Ctx};

pub fn replicaof(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::other("ERR not implemented yet"))
}
