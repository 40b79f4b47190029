//! REPLCONF, PSYNC, SYNC, WAIT, ROLE.

use std::sync::atomic::Ordering::Relaxed;

use crate::commands::args::{self, is};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::replication::primary::{LinkState, PsyncRequest};
use crate::replication::state::Role;
use crate::server::session::After;
use crate::server::state::Server;

/// The replica side's link state ("connect", "connecting", "sync", "connected") and
/// processed offset (-1 before the first sync), for ROLE and for refusing PSYNC while
/// this replica's own link is down.
fn replica_state(srv: &Server) -> (&'static str, i64) {
    crate::replication::replica::role_state(srv)
}

/// Most pending REPLCONF entries kept before dropping those of gone clients.
const PENDING_PRUNE_AT: usize = 1024;

/// REPLCONF <option> <value> [<option> <value> ...]: what a replica says about itself
/// before PSYNC (and ACKs after it, which its link reads: here they get no reply).
pub fn replconf(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let id = ctx.session.id();
    let replicas = &ctx.srv.replication.replicas;
    if replicas.pending_len() > PENDING_PRUNE_AT {
        replicas.prune_pending(|id| ctx.srv.clients.get(id).is_some());
    }
    for pair in argv[1..].chunks(2) {
        let (opt, val) = (pair[0], pair[1]);
        if is(opt, "listening-port") {
            let port = args::int(val)?;
            replicas.replconf(id, |c| c.port = port);
        } else if is(opt, "ip-address") {
            // Redis's NET_HOST_STR_LEN.
            if val.len() >= 256 {
                return Err(CmdError::other(format!("ERR REPLCONF ip-address provided by replica instance is too long: {} bytes", val.len())));
            }
            let ip = args::text(val);
            replicas.replconf(id, |c| c.ip = Some(ip));
        } else if is(opt, "capa") {
            // Unknown capabilities are ignored: newer replicas announce more.
            let (eof, psync2) = (is(val, "eof"), is(val, "psync2"));
            replicas.replconf(id, |c| {
                c.capa_eof |= eof;
                c.capa_psync2 |= psync2;
            });
        } else if is(opt, "ack") || is(opt, "getack") {
            // From a client that is not a replica link (or for the replica side, which
            // answers GETACK from its primary itself): no reply, as Redis.
            return Ok(());
        } else if is(opt, "rdb-only") {
            let v = args::int(val)?;
            if !(0..=1).contains(&v) {
                return Err(CmdError::other("ERR value is out of range, value must between 0 and 1"));
            }
            replicas.replconf(id, |c| c.rdb_only = v == 1);
        } else {
            return Err(CmdError::other(format!("ERR Unrecognized REPLCONF option: {}", args::text(opt))));
        }
    }
    ctx.out.ok();
    Ok(())
}

/// A replica refuses to serve replicas of its own while its link to its primary is down.
fn check_can_serve(srv: &Server) -> CmdResult {
    if srv.replication.is_replica() && replica_state(srv).0 != "connected" {
        return Err(CmdError::other("NOMASTERLINK Can't SYNC while not connected with my master"));
    }
    Ok(())
}

/// PSYNC replid offset: the reply (+FULLRESYNC / +CONTINUE) comes from the replica link.
pub fn psync(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // PSYNC replid offset FAILOVER: our primary hands over to us (its FAILOVER command).
    if argv.get(3).is_some_and(|a| args::is(a, "failover")) {
        let mine = ctx.srv.replication.ids.lock().replid.clone();
        if argv[1] != mine.as_bytes() {
            return Err(CmdError::other("ERR PSYNC FAILOVER replid must match my replid."));
        }
        tracing::info!(replid = %mine, "failover request received: taking over as primary");
        crate::replication::replica::promote(ctx.srv);
    }
    check_can_serve(ctx.srv)?;
    let offset = args::int(argv[2])?;
    ctx.session.after = After::Replica(PsyncRequest { replid: args::text(argv[1]), offset, legacy_sync: false });
    Ok(())
}

/// SYNC: the old protocol (a full sync, no +FULLRESYNC line).
pub fn sync(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    check_can_serve(ctx.srv)?;
    ctx.session.after = After::Replica(PsyncRequest { replid: "?".into(), offset: -1, legacy_sync: true });
    Ok(())
}

/// WAIT numreplicas timeout: the connection replies once the replicas acknowledged this
/// client's last write (replication/primary.rs `wait_for_acks`).
pub fn wait(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.srv.replication.is_replica() {
        return Err(CmdError::other(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let n = args::int(argv[1])?;
    let timeout = crate::protocol::request::parse_i64(argv[2]).ok_or_else(|| CmdError::other("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::other("ERR timeout is negative"));
    }
    let deadline_ms = match timeout {
        0 => None,
        t => Some(ctx.now_ms.checked_add(t).ok_or_else(|| CmdError::other("ERR timeout is out of range"))?),
    };
    let replicas = usize::try_from(n).unwrap_or(0);
    ctx.session.after = After::WaitReplicas { replicas, offset: ctx.session.repl_offset, deadline_ms };
    Ok(())
}

/// ROLE: `[master, offset, [[ip, port, ack offset]...]]` (online replicas only) or
/// `[slave, host, port, state, offset]`.
pub fn role(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let role = ctx.srv.replication.role.read().clone();
    match role {
        Role::Primary => {
            let list = ctx.srv.replication.replicas.list.lock().clone();
            let online: Vec<_> = list.iter().filter(|r| r.state() == LinkState::Online).collect();
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(ctx.srv.replication.offset() as i64);
            ctx.out.array(online.len());
            for r in online {
                ctx.out.array(3);
                ctx.out.bulk(r.ip.as_bytes());
                ctx.out.bulk(r.port.to_string().as_bytes());
                ctx.out.bulk(r.ack_offset.load(Relaxed).to_string().as_bytes());
            }
        }
        Role::Replica { host, port } => {
            let (state, offset) = replica_state(ctx.srv);
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(host.as_bytes());
            ctx.out.int(i64::from(port));
            ctx.out.bulk(state.as_bytes());
            ctx.out.int(offset);
        }
    }
    Ok(())
}
