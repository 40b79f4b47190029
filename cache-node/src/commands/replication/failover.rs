//! FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds] (the switchover itself
//! is replication/failover.rs). Checks and errors in Redis 7.0's order.

use crate::commands::{CmdError, CmdResult, Ctx, args};
use crate::replication::failover::{self, Request};
use crate::replication::primary::LinkState;

pub fn failover(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (mut to, mut force, mut abort, mut timeout_ms) = (None, false, false, None);
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i];
        if args::is(a, "to") && i + 2 < argv.len() {
            to = Some((args::text(argv[i + 1]), args::int(argv[i + 2])?));
            i += 2;
        } else if args::is(a, "force") {
            force = true;
        } else if args::is(a, "abort") {
            abort = true;
        } else if args::is(a, "timeout") && i + 1 < argv.len() {
            let t = args::int(argv[i + 1])?;
            if t <= 0 {
                return Err(CmdError::other("ERR FAILOVER timeout must be greater than 0"));
            }
            timeout_ms = Some(t);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let r = &ctx.srv.replication;
    if abort {
        if argv.len() != 2 {
            return Err(CmdError::Syntax);
        }
        if !r.failover.in_progress() {
            return Err(CmdError::other("ERR No failover in progress."));
        }
        r.failover.request_abort();
        ctx.out.ok();
        return Ok(());
    }
    if r.is_replica() {
        return Err(CmdError::other("ERR FAILOVER is not valid when server is a replica."));
    }
    if r.replicas.list.lock().is_empty() {
        return Err(CmdError::other("ERR FAILOVER requires connected replicas."));
    }
    if force && (timeout_ms.is_none() || to.is_none()) {
        return Err(CmdError::other("ERR FAILOVER with force option requires both a timeout and target HOST and IP."));
    }
    if r.failover.in_progress() {
        return Err(CmdError::other("ERR FAILOVER already in progress."));
    }
    let target = match to {
        Some((host, port)) => {
            let list = r.replicas.list.lock();
            let Some(rep) = list.iter().find(|x| x.ip == host && x.port == port) else {
                return Err(CmdError::other("ERR FAILOVER target HOST and PORT is not a replica."));
            };
            if rep.state() != LinkState::Online {
                return Err(CmdError::other("ERR FAILOVER target replica is not online."));
            }
            (host, port)
        }
        None => failover::best_target(ctx.srv).ok_or_else(|| CmdError::other("ERR FAILOVER requires connected replicas."))?,
    };
    let Some(srv) = ctx.srv.arc() else { return Err(CmdError::other("ERR server is not running")) };
    let req = Request { target, timeout: timeout_ms.map(|t| std::time::Duration::from_millis(t as u64)), force };
    failover::start(srv, req).map_err(|e| CmdError::other(format!("ERR cannot start the failover: {e}")))?;
    ctx.out.ok();
    Ok(())
}
