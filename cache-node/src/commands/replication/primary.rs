//! REPLCONF, PSYNC, SYNC, WAIT, ROLE.

use crate::commands::{CmdError, CmdResult, Ctx};

pub fn replconf(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::other("ERR not implemented yet"))
}

pub fn psync(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::other("ERR not implemented yet"))
}

pub fn sync(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::other("ERR not implemented yet"))
}

pub fn wait(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CmdError::other("ERR not implemented yet"))
}

/// ROLE: a primary with no replicas and replication offset 0 (until primary.rs is done).
pub fn role(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(0);
    ctx.out.array(0);
    Ok(())
}
