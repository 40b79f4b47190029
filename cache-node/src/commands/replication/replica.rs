//! REPLICAOF / SLAVEOF.

use crate::commands::{CmdError, CmdResult, Ctx, args};
use crate::replication::replica;
use crate::replication::state::Role;

pub fn replicaof(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let srv = ctx.srv;
    if args::is(argv[1], "no") && args::is(argv[2], "one") {
        if replica::promote(srv) {
            tracing::info!("MASTER MODE enabled (REPLICAOF NO ONE)");
        }
        ctx.out.ok();
        return Ok(());
    }
    if ctx.session.is_master {
        return Err(CmdError::other("ERR Command is not valid when client is a replica."));
    }
    let port = args::int(argv[2]).ok().and_then(|p| u16::try_from(p).ok()).ok_or_else(|| CmdError::other("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(argv[1]).into_owned();
    if let Role::Replica { host: h, port: p } = &*srv.replication.role.read()
        && h.eq_ignore_ascii_case(&host)
        && *p == port
    {
        ctx.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    tracing::info!(%host, port, "REPLICAOF: following a new primary");
    replica::follow(srv, host, port);
    ctx.out.ok();
    Ok(())
}
