//! MEMORY: per-key usage, the server's memory breakdown, the allocator's report and the
//! memory doctor (see memory/ for the accounting itself).

use super::args;
use super::command::{reply_help, run_subcommand};
use super::spec::{CommandSpec, Handler, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::memory::report::{Breakdown, breakdown};

#[allow(clippy::too_many_arguments)] // one row of the table, named like `cmd`
const fn sub(
    name: &'static str,
    arity: i32,
    flags: u32,
    acl: u32,
    keys: (i32, i32, i32),
    summary: &'static str,
    since: &'static str,
    handler: Handler,
) -> CommandSpec {
    CommandSpec { group: "server", summary, since, ..cmd(name, arity, flags, acl, keys, handler) }
}

static SUBCOMMANDS: &[CommandSpec] = &[
    sub("doctor", 2, 0, acl::SLOW, (0, 0, 0), "Outputs memory problems report", "4.0.0", doctor),
    sub("help", 2, flag::LOADING | flag::STALE, acl::SLOW, (0, 0, 0), "Show helpful text about the different subcommands", "4.0.0", help),
    sub("malloc-stats", 2, 0, acl::SLOW, (0, 0, 0), "Show allocator internal stats", "4.0.0", malloc_stats),
    sub("purge", 2, 0, acl::SLOW, (0, 0, 0), "Ask the allocator to release memory", "4.0.0", purge),
    sub("stats", 2, 0, acl::SLOW, (0, 0, 0), "Show memory usage details", "4.0.0", stats),
    sub("usage", -3, flag::READONLY, acl::READ | acl::SLOW, (2, 2, 1), "Estimate the memory usage of a key", "4.0.0", usage),
];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    group: "server",
    summary: "A container for memory diagnostics commands",
    since: "4.0.0",
    subcommands: SUBCOMMANDS,
    ..cmd("memory", -2, 0, acl::SLOW, (0, 0, 0), memory)
}];

fn memory(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, argv, "memory", SUBCOMMANDS)
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

/// MEMORY USAGE key [SAMPLES count]: options are checked before the key is looked up.
fn usage(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut samples = 5usize;
    let mut i = 3;
    while i < argv.len() {
        if args::is(argv[i], "samples") && i + 1 < argv.len() {
            let n = args::int(argv[i + 1])?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            // 0 means every element.
            samples = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    match crate::memory::usage::key_usage(ctx.srv, ctx.db(), argv[2], samples, ctx.now_ms) {
        Some(bytes) => ctx.out.int(i64::try_from(bytes).unwrap_or(i64::MAX)),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Redis stores these ratios as C floats; rounding through f32 gives its digits.
fn float(x: f64) -> f64 {
    f64::from(x as f32)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// MEMORY STATS: Redis 7.0's map, field for field.
fn stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let b = breakdown(ctx.srv);
    let m = b.mem;
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let out = &mut *ctx.out;
    out.map(27 + b.dbs.len());
    let pair_int = |out: &mut crate::protocol::Reply, name: &str, v: i64| {
        out.bulk(name.as_bytes());
        out.int(v);
    };
    pair_int(out, "peak.allocated", int(m.peak));
    pair_int(out, "total.allocated", int(m.allocated));
    pair_int(out, "startup.allocated", int(b.startup));
    pair_int(out, "replication.backlog", int(b.replication_backlog));
    pair_int(out, "clients.slaves", int(b.clients_slaves));
    pair_int(out, "clients.normal", int(b.clients_normal));
    pair_int(out, "cluster.links", 0);
    pair_int(out, "aof.buffer", 0);
    pair_int(out, "lua.caches", 0);
    pair_int(out, "functions.caches", 0);
    for d in &b.dbs {
        out.bulk(format!("db.{}", d.db).as_bytes());
        out.map(3);
        pair_int(out, "overhead.hashtable.main", int(d.main));
        pair_int(out, "overhead.hashtable.expires", int(d.expires));
        pair_int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    pair_int(out, "overhead.total", int(b.overhead));
    pair_int(out, "keys.count", int(b.keys));
    pair_int(out, "keys.bytes-per-key", int(b.bytes_per_key()));
    pair_int(out, "dataset.bytes", int(b.dataset));
    let pair_float = |out: &mut crate::protocol::Reply, name: &str, v: f64| {
        out.bulk(name.as_bytes());
        out.double(float(v));
    };
    pair_float(out, "dataset.percentage", b.dataset_perc());
    pair_float(out, "peak.percentage", b.peak_perc());
    pair_int(out, "allocator.allocated", int(m.allocator_allocated));
    pair_int(out, "allocator.active", int(m.active));
    pair_int(out, "allocator.resident", int(m.resident));
    pair_float(out, "allocator-fragmentation.ratio", ratio(m.active, m.allocator_allocated));
    pair_int(out, "allocator-fragmentation.bytes", int(m.active.saturating_sub(m.allocator_allocated)));
    pair_float(out, "allocator-rss.ratio", ratio(m.resident, m.active));
    pair_int(out, "allocator-rss.bytes", int(m.resident.saturating_sub(m.active)));
    pair_float(out, "rss-overhead.ratio", ratio(m.rss, m.resident));
    pair_int(out, "rss-overhead.bytes", m.rss as i64 - m.resident as i64);
    pair_float(out, "fragmentation", ratio(m.rss, m.allocated));
    pair_int(out, "fragmentation.bytes", m.rss as i64 - m.allocated as i64);
    Ok(())
}

fn doctor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let b = breakdown(ctx.srv);
    let clients = ctx.srv.clients.snapshot();
    let replicas = clients.iter().filter(|c| c.is_replica.load(std::sync::atomic::Ordering::Relaxed)).count() as u64;
    let normal = (clients.len() as u64).saturating_sub(replicas);
    let text = doctor_report(&b, normal, replicas);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

const MB10: u64 = 10 << 20;

/// Redis's memory doctor, on our figures (no scripts, so no script cache report).
fn doctor_report(b: &Breakdown, clients: u64, replicas: u64) -> String {
    let m = &b.mem;
    if m.allocated < 5 << 20 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string();
    }
    let big_peak = m.peak as f64 / m.allocated as f64 > 1.5;
    let high_frag = ratio(m.rss, m.allocated) > 1.4 && m.rss.saturating_sub(m.allocated) > MB10;
    let high_alloc_frag = ratio(m.active, m.allocator_allocated) > 1.1 && m.active.saturating_sub(m.allocator_allocated) > MB10;
    let high_alloc_rss = ratio(m.resident, m.active) > 1.1 && m.resident.saturating_sub(m.active) > MB10;
    let high_proc_rss = ratio(m.rss, m.resident) > 1.1 && m.rss.saturating_sub(m.resident) > MB10;
    let big_client_buf = clients > 0 && b.clients_normal / clients > 200 * 1024;
    let big_slave_buf = replicas > 0 && b.clients_slaves > MB10;
    let reports = [
        (big_peak, " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n".to_string()),
        (high_frag, format!(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"{}\".\n\n", crate::commands::info::process::ALLOCATOR)),
        (high_alloc_frag, " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n".to_string()),
        (high_alloc_rss, " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n".to_string()),
        (high_proc_rss, " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n".to_string()),
        (big_slave_buf, " * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n".to_string()),
        (big_client_buf, " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n".to_string()),
    ];
    if reports.iter().all(|(hit, _)| !hit) {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string();
    }
    let mut s = "Sam, I detected a few issues in this Redis instance memory implants:\n\n".to_string();
    for (_, text) in reports.iter().filter(|(hit, _)| *hit) {
        s.push_str(text);
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

/// MEMORY MALLOC-STATS: jemalloc's own statistics report.
fn malloc_stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.verbatim(&allocator_report());
    Ok(())
}

#[cfg(not(target_env = "msvc"))]
fn allocator_report() -> Vec<u8> {
    use std::ffi::{CStr, c_char, c_void};
    /// Appends each piece jemalloc writes to the Vec behind `opaque`.
    unsafe extern "C" fn append(opaque: *mut c_void, s: *const c_char) {
        // SAFETY: `opaque` is the `&mut Vec<u8>` passed below, alive for the call;
        // jemalloc hands a NUL-terminated string.
        unsafe {
            let out = &mut *opaque.cast::<Vec<u8>>();
            out.extend_from_slice(CStr::from_ptr(s).to_bytes());
        }
    }
    let mut text: Vec<u8> = Vec::new();
    // SAFETY: the callback only touches `text`, which outlives the call; null options
    // mean the default report.
    unsafe { tikv_jemalloc_sys::malloc_stats_print(Some(append), (&mut text as *mut Vec<u8>).cast(), std::ptr::null()) };
    text
}

#[cfg(target_env = "msvc")]
fn allocator_report() -> Vec<u8> {
    b"Stats not supported for the current allocator".to_vec()
}

/// MEMORY PURGE: returns the allocator's dirty pages to the system.
fn purge(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if crate::memory::accounting::purge() {
        ctx.out.ok();
        Ok(())
    } else {
        Err(CmdError::other("ERR Error purging dirty pages"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::info::process::Memory;

    fn with(allocated: u64, peak: u64, rss: u64) -> Breakdown {
        let mem = Memory { allocated, allocator_allocated: allocated, active: allocated, resident: allocated, rss, peak };
        Breakdown { mem, ..Default::default() }
    }

    #[test]
    fn doctor_reports_like_redis() {
        assert!(doctor_report(&with(1 << 20, 1 << 20, 1 << 20), 1, 0).starts_with("Hi Sam, this instance is empty"));
        assert!(doctor_report(&with(100 << 20, 100 << 20, 100 << 20), 1, 0).starts_with("Hi Sam, I can't find any memory issue"));
        let r = doctor_report(&with(100 << 20, 200 << 20, 100 << 20), 1, 0);
        assert!(r.starts_with("Sam, I detected a few issues") && r.contains(" * Peak memory:") && !r.contains("High total RSS"));
        assert!(r.ends_with("I'm here to keep you safe, Sam. I want to help you.\n"));
        let r = doctor_report(&with(100 << 20, 100 << 20, 200 << 20), 1, 0);
        assert!(r.contains(" * High total RSS") && r.contains("\"jemalloc-5.3.0\"") || cfg!(target_env = "msvc"));
    }
}
