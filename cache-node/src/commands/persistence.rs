//! SAVE, BGSAVE, BGREWRITEAOF (LASTSAVE is with the other server commands). The jobs
//! themselves are in server/persistence.rs.

use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::server::persistence::JobRefused;

const ADMIN: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;
const FLAGS: u32 = flag::ADMIN | flag::NOSCRIPT;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { group: "server", summary: "Synchronously save the dataset to disk", ..cmd("save", 1, FLAGS | flag::NO_MULTI, ADMIN, (0, 0, 0), save) },
    CommandSpec { group: "server", summary: "Asynchronously save the dataset to disk", ..cmd("bgsave", -1, FLAGS, ADMIN, (0, 0, 0), bgsave) },
    CommandSpec { group: "server", summary: "Asynchronously rewrite the append-only file", ..cmd("bgrewriteaof", 1, FLAGS, ADMIN, (0, 0, 0), bgrewriteaof) },
];

fn refused(e: JobRefused) -> CmdError {
    CmdError::other(e.to_string())
}

/// SAVE: the snapshot is written before the reply. Unlike Redis, other clients are
/// served meanwhile (the point-in-time cut does not need the server stopped).
fn save(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    match ctx.srv.save_sync() {
        Ok(_) => ctx.out.ok(),
        Err(JobRefused::Failed(why)) => {
            tracing::warn!("SAVE failed: {why}");
            // Redis answers a bare "-ERR" here; the log says why.
            return Err(CmdError::other("ERR"));
        }
        Err(e) => return Err(refused(e)),
    }
    Ok(())
}

/// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if argv.len() == 2 && args::is(a, "schedule") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let Some(srv) = ctx.srv.arc() else { return Err(CmdError::other("ERR server is not running")) };
    match srv.bgsave() {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(JobRefused::RewriteInProgress) if schedule => {
            srv.persistence.bgsave_scheduled.store(true, std::sync::atomic::Ordering::Relaxed);
            ctx.out.simple("Background saving scheduled");
        }
        Err(JobRefused::RewriteInProgress) => {
            return Err(CmdError::other(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ));
        }
        Err(e) => return Err(refused(e)),
    }
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let Some(srv) = ctx.srv.arc() else { return Err(CmdError::other("ERR server is not running")) };
    let bgsave_running = srv.persistence.bgsave_running.load(std::sync::atomic::Ordering::Relaxed);
    srv.bgrewriteaof().map_err(refused)?;
    if bgsave_running {
        ctx.out.simple("Background append only file rewriting scheduled");
    } else {
        ctx.out.simple("Background append only file rewriting started");
    }
    Ok(())
}
