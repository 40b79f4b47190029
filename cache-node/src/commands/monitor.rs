//! SLOWLOG and LATENCY: what the server tells about its own slow commands and latency
//! spikes (server/slowlog.rs, server/latency.rs hold the data).

use super::args;
use super::command::{reply_help, run_subcommand};
use super::spec::{CommandSpec, Handler, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::server::latency;

const ADMIN: u32 = flag::ADMIN | flag::LOADING | flag::STALE;
const ADMIN_ACL: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

const fn sub(name: &'static str, arity: i32, flags: u32, summary: &'static str, since: &'static str, handler: Handler) -> CommandSpec {
    CommandSpec { group: "server", summary, since, ..cmd(name, arity, flags, if flags & flag::ADMIN != 0 { ADMIN_ACL } else { acl::SLOW }, (0, 0, 0), handler) }
}

static SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    sub("get", -2, ADMIN, "Get the slow log's entries", "2.2.12", slowlog_get),
    sub("help", 2, flag::LOADING | flag::STALE, "Show helpful text about the different subcommands", "6.2.0", slowlog_help),
    sub("len", 2, ADMIN, "Get the slow log's length", "2.2.12", slowlog_len),
    sub("reset", 2, ADMIN, "Clear all entries from the slow log", "2.2.12", slowlog_reset),
];

static LATENCY_SUBCOMMANDS: &[CommandSpec] = &[
    sub("doctor", 2, ADMIN, "Return a human readable latency analysis report.", "2.8.13", latency_doctor),
    sub("help", 2, flag::LOADING | flag::STALE, "Show helpful text about the different subcommands.", "2.8.13", latency_help),
    sub("histogram", -2, ADMIN, "Return the cumulative distribution of latencies of a subset of commands or all.", "7.0.0", latency_histogram),
    sub("history", 3, ADMIN, "Return timestamp-latency samples for the event.", "2.8.13", latency_history),
    sub("latest", 2, ADMIN, "Return the latest latency samples for all events.", "2.8.13", latency_latest),
    sub("reset", -2, ADMIN, "Reset latency data for one or more events.", "2.8.13", latency_reset),
];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        group: "server",
        summary: "A container for slow log commands",
        since: "2.2.12",
        subcommands: SLOWLOG_SUBCOMMANDS,
        ..cmd("slowlog", -2, 0, acl::SLOW, (0, 0, 0), slowlog)
    },
    CommandSpec {
        group: "server",
        summary: "A container for latency diagnostics commands",
        since: "2.8.13",
        subcommands: LATENCY_SUBCOMMANDS,
        ..cmd("latency", -2, 0, acl::SLOW, (0, 0, 0), latency_cmd)
    },
];

/// Records a command that reached `slowlog-log-slower-than` (EXEC is not logged: its
/// commands are, one by one).
pub fn slow(ctx: &Ctx<'_>, spec: &CommandSpec, argv: &[&[u8]], micros: u64) {
    if spec.name == "exec" {
        return;
    }
    let redacted = crate::server::slowlog::redact(argv);
    let owned: Vec<&[u8]> = match &redacted {
        Some(r) => r.iter().map(Vec::as_slice).collect(),
        None => argv.to_vec(),
    };
    let info = &ctx.session.info;
    ctx.srv.slowlog.record(&owned, micros, ctx.now_ms / 1000, info.addr.to_string(), info.name.lock().clone());
}

fn slowlog(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, argv, "slowlog", SLOWLOG_SUBCOMMANDS)
}

fn latency_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, argv, "latency", LATENCY_SUBCOMMANDS)
}

/// SLOWLOG GET [count]: newest first; -1 means all, the default is 10.
fn slowlog_get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::WrongArity("slowlog|get".into()));
    }
    let count = match argv.get(2) {
        None => Some(10),
        Some(a) => match args::int(a) {
            Ok(-1) => None,
            Ok(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(CmdError::other("ERR count should be greater than or equal to -1")),
        },
    };
    let entries = ctx.srv.slowlog.newest(count);
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.micros as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.srv.slowlog.len() as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

fn latency_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

fn latency_latest(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let latest = ctx.srv.latency.latest();
    ctx.out.array(latest.len());
    for l in latest {
        ctx.out.array(4);
        ctx.out.bulk(l.event.as_bytes());
        ctx.out.int(l.time);
        ctx.out.int(l.ms as i64);
        ctx.out.int(l.max as i64);
    }
    Ok(())
}

fn latency_history(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let samples = ctx.srv.latency.history(&args::text(argv[2])).unwrap_or_default();
    ctx.out.array(samples.len());
    for s in samples {
        ctx.out.array(2);
        ctx.out.int(s.time);
        ctx.out.int(s.ms as i64);
    }
    Ok(())
}

fn latency_reset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let names: Vec<String> = argv[2..].iter().map(|a| args::text(a)).collect();
    ctx.out.int(ctx.srv.latency.reset(&names) as i64);
    Ok(())
}

fn latency_doctor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.verbatim(ctx.srv.latency.doctor().as_bytes());
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]: per command, its calls and the cumulative count of
/// calls per power-of-two microsecond bucket (buckets with no new calls are left out).
fn latency_histogram(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let table = super::table::all();
    let totals = ctx.srv.stats.totals();
    let wanted: Vec<usize> = if argv.len() > 2 {
        let mut v: Vec<usize> = argv[2..].iter().filter_map(|n| super::lookup(n).map(|(i, _)| i)).collect();
        v.dedup();
        v
    } else {
        (0..table.len()).collect()
    };
    let rows: Vec<(usize, u64)> = wanted.into_iter().filter_map(|i| totals.per_command.get(i).map(|c| (i, c.0))).filter(|(_, calls)| *calls > 0).collect();
    ctx.out.map(rows.len());
    for (i, calls) in rows {
        let hist = ctx.srv.stats.histogram(i);
        ctx.out.bulk(table[i].name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(calls as i64);
        ctx.out.bulk(b"histogram_usec");
        let filled: Vec<(usize, u64)> = hist.iter().enumerate().filter(|(_, n)| **n > 0).map(|(b, n)| (b, *n)).collect();
        ctx.out.map(filled.len());
        let mut cumulative = 0;
        for (b, n) in filled {
            cumulative += n;
            ctx.out.int(latency::bucket_bound(b) as i64);
            ctx.out.int(cumulative as i64);
        }
    }
    Ok(())
}
