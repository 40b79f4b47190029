//! The INFO sections. Fields keep Redis 7.0's names and order; features this server
//! does not have (persistence, replication, pub/sub, defragmentation...) report the
//! values an idle Redis without them reports, so dashboards and exporters keep working.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::process::{self, human};
use crate::commands::table;
use crate::server::state::Server;

/// Appends `name:value\r\n`.
macro_rules! field {
    ($out:expr, $name:expr, $($val:tt)+) => {{
        let _ = write!($out, "{}:", $name);
        let _ = write!($out, $($val)+);
        $out.push_str("\r\n");
    }};
}

pub fn write(srv: &Server, name: &str, now_ms: i64, out: &mut String) {
    match name {
        "server" => server(srv, now_ms, out),
        "clients" => clients(srv, out),
        "memory" => memory(srv, out),
        "persistence" => persistence(srv, out),
        "stats" => stats(srv, out),
        "replication" => crate::replication::info::section(srv, out),
        "cpu" => cpu(out),
        "modules" => out.push_str("# Modules\r\n"),
        "commandstats" => commandstats(srv, out),
        "errorstats" => errorstats(srv, out),
        "latencystats" => latencystats(srv, out),
        "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "keyspace" => keyspace(srv, out),
        _ => {}
    }
}

fn server(srv: &Server, now_ms: i64, out: &mut String) {
    let cfg = srv.config.read();
    let uptime = srv.started.elapsed().as_secs();
    let hz = srv.tun.hz.load(Relaxed);
    let config_file = cfg.file.as_ref().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string()).unwrap_or_default();
    let configured_hz = cfg.int("hz");
    drop(cfg);
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    out.push_str("# Server\r\n");
    field!(out, "redis_version", "{}", crate::REDIS_VERSION);
    field!(out, "redis_git_sha1", "00000000");
    field!(out, "redis_git_dirty", "0");
    field!(out, "redis_build_id", "0");
    field!(out, "redis_mode", "standalone");
    field!(out, "os", "{}", process::os_line());
    field!(out, "arch_bits", "{}", usize::BITS);
    field!(out, "monotonic_clock", "POSIX clock_gettime");
    field!(out, "multiplexing_api", "epoll");
    field!(out, "process_id", "{}", std::process::id());
    field!(out, "process_supervised", "no");
    field!(out, "run_id", "{}", srv.run_id);
    field!(out, "tcp_port", "{}", srv.tcp_port.load(Relaxed));
    field!(out, "server_time_usec", "{}", now_usec(now_ms));
    field!(out, "uptime_in_seconds", "{uptime}");
    field!(out, "uptime_in_days", "{}", uptime / 86_400);
    field!(out, "hz", "{hz}");
    field!(out, "configured_hz", "{configured_hz}");
    field!(out, "lru_clock", "{}", crate::store::partition::lru_clock(now_ms));
    field!(out, "executable", "{exe}");
    field!(out, "config_file", "{config_file}");
    field!(out, "io_threads_active", "{}", u8::from(srv.threads > 1));
    field!(out, "cache_node_version", "{}", env!("CARGO_PKG_VERSION"));
    field!(out, "threads", "{}", srv.threads);
}

/// Microseconds since the epoch, from the clock when available (more precise than the
/// millisecond command time).
fn now_usec(now_ms: i64) -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i128).unwrap_or(i128::from(now_ms) * 1000)
}

fn clients(srv: &Server, out: &mut String) {
    let all = srv.clients.snapshot();
    let max_in = all.iter().map(|c| c.qbuf.load(Relaxed)).max().unwrap_or(0);
    let max_out = all.iter().map(|c| c.omem.load(Relaxed)).max().unwrap_or(0);
    out.push_str("# Clients\r\n");
    field!(out, "connected_clients", "{}", all.len());
    field!(out, "cluster_connections", "0");
    field!(out, "maxclients", "{}", srv.tun.maxclients.load(Relaxed));
    field!(out, "client_recent_max_input_buffer", "{max_in}");
    field!(out, "client_recent_max_output_buffer", "{max_out}");
    field!(out, "blocked_clients", "{}", srv.stats.blocked_clients.load(Relaxed));
    field!(out, "tracking_clients", "0");
    field!(out, "clients_in_timeout_table", "0");
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn memory(srv: &Server, out: &mut String) {
    let b = crate::memory::report::breakdown(srv);
    let m = b.mem;
    let (maxmemory, policy) = {
        let cfg = srv.config.read();
        (cfg.int("maxmemory").max(0) as u64, cfg.str("maxmemory-policy").to_string())
    };
    let total = process::total_system_memory();
    out.push_str("# Memory\r\n");
    field!(out, "used_memory", "{}", m.allocated);
    field!(out, "used_memory_human", "{}", human(m.allocated));
    field!(out, "used_memory_rss", "{}", m.rss);
    field!(out, "used_memory_rss_human", "{}", human(m.rss));
    field!(out, "used_memory_peak", "{}", m.peak);
    field!(out, "used_memory_peak_human", "{}", human(m.peak));
    field!(out, "used_memory_peak_perc", "{:.2}%", b.peak_perc());
    field!(out, "used_memory_overhead", "{}", b.overhead);
    field!(out, "used_memory_startup", "{}", b.startup);
    field!(out, "used_memory_dataset", "{}", b.dataset);
    field!(out, "used_memory_dataset_perc", "{:.2}%", b.dataset_perc());
    field!(out, "allocator_allocated", "{}", m.allocator_allocated);
    field!(out, "allocator_active", "{}", m.active);
    field!(out, "allocator_resident", "{}", m.resident);
    field!(out, "total_system_memory", "{total}");
    field!(out, "total_system_memory_human", "{}", human(total));
    // Scripts (EVAL) use the Lua VM; there are no functions (FUNCTION LOAD).
    let lua = srv.scripting.lua_memory();
    field!(out, "used_memory_lua", "{lua}");
    field!(out, "used_memory_vm_eval", "{lua}");
    field!(out, "used_memory_lua_human", "{}", human(lua));
    field!(out, "used_memory_scripts_eval", "0");
    field!(out, "number_of_cached_scripts", "{}", srv.scripting.cached_scripts());
    for name in ["number_of_functions", "number_of_libraries", "used_memory_vm_functions"] {
        field!(out, name, "0");
    }
    field!(out, "used_memory_vm_total", "{lua}");
    field!(out, "used_memory_vm_total_human", "{}", human(lua));
    field!(out, "used_memory_functions", "0");
    field!(out, "used_memory_scripts", "0");
    field!(out, "used_memory_scripts_human", "0B");
    field!(out, "maxmemory", "{maxmemory}");
    field!(out, "maxmemory_human", "{}", human(maxmemory));
    field!(out, "maxmemory_policy", "{policy}");
    field!(out, "allocator_frag_ratio", "{:.2}", ratio(m.active, m.allocator_allocated));
    field!(out, "allocator_frag_bytes", "{}", m.active.saturating_sub(m.allocator_allocated));
    field!(out, "allocator_rss_ratio", "{:.2}", ratio(m.resident, m.active));
    field!(out, "allocator_rss_bytes", "{}", m.resident.saturating_sub(m.active));
    field!(out, "rss_overhead_ratio", "{:.2}", ratio(m.rss, m.resident));
    field!(out, "rss_overhead_bytes", "{}", m.rss as i128 - m.resident as i128);
    field!(out, "mem_fragmentation_ratio", "{:.2}", ratio(m.rss, m.allocated));
    field!(out, "mem_fragmentation_bytes", "{}", m.rss as i128 - m.allocated as i128);
    field!(out, "mem_not_counted_for_evict", "{}", crate::replication::backlog::retained_for_replicas());
    field!(out, "mem_replication_backlog", "{}", b.replication_backlog);
    field!(out, "mem_total_replication_buffers", "{}", b.replication_backlog);
    field!(out, "mem_clients_slaves", "{}", b.clients_slaves);
    field!(out, "mem_clients_normal", "{}", b.clients_normal);
    field!(out, "mem_cluster_links", "0");
    field!(out, "mem_aof_buffer", "0");
    field!(out, "mem_allocator", "{}", process::ALLOCATOR);
    field!(out, "active_defrag_running", "0");
    field!(out, "lazyfree_pending_objects", "0");
    field!(out, "lazyfreed_objects", "0");
}

fn persistence(srv: &Server, out: &mut String) {
    let p = &srv.persistence;
    let now = crate::server::state::now_ms();
    let bgsave = p.bgsave_running.load(Relaxed);
    let rewriting = p.rewrite_running.load(Relaxed);
    let load = *p.last_load.lock();
    let aof = srv.aof();
    let aof_stats = aof.as_ref().map(|a| a.stats());
    out.push_str("# Persistence\r\n");
    for (name, value) in [("loading", "0"), ("async_loading", "0"), ("current_cow_peak", "0"), ("current_cow_size", "0"), ("current_cow_size_age", "0")] {
        field!(out, name, "{value}");
    }
    field!(out, "current_fork_perc", "0.00");
    let (done, total) = if bgsave { (p.save_keys_done.load(Relaxed), p.save_keys_total.load(Relaxed)) } else { (0, 0) };
    field!(out, "current_save_keys_processed", "{done}");
    field!(out, "current_save_keys_total", "{total}");
    field!(out, "rdb_changes_since_last_save", "{}", srv.dirty.load(Relaxed).saturating_sub(p.dirty_at_save.load(Relaxed)));
    field!(out, "rdb_bgsave_in_progress", "{}", u8::from(bgsave));
    field!(out, "rdb_last_save_time", "{}", p.lastsave_unix.load(Relaxed));
    field!(out, "rdb_last_bgsave_status", "{}", if p.last_bgsave_failed.load(Relaxed) { "err" } else { "ok" });
    let last_secs = if p.saves.load(Relaxed) == 0 && !p.last_bgsave_failed.load(Relaxed) { -1 } else { p.last_bgsave_secs.load(Relaxed) };
    field!(out, "rdb_last_bgsave_time_sec", "{last_secs}");
    field!(out, "rdb_current_bgsave_time_sec", "{}", if bgsave { (now - p.bgsave_started_ms.load(Relaxed)) / 1000 } else { -1 });
    field!(out, "rdb_saves", "{}", p.saves.load(Relaxed));
    field!(out, "rdb_last_cow_size", "0");
    field!(out, "rdb_last_load_keys_expired", "{}", load.expired);
    field!(out, "rdb_last_load_keys_loaded", "{}", load.keys);
    field!(out, "aof_enabled", "{}", u8::from(aof.is_some()));
    field!(out, "aof_rewrite_in_progress", "{}", u8::from(rewriting));
    field!(out, "aof_rewrite_scheduled", "{}", u8::from(p.rewrite_scheduled.load(Relaxed)));
    let rewrites = p.rewrites.load(Relaxed);
    field!(out, "aof_last_rewrite_time_sec", "{}", if rewrites == 0 { -1 } else { p.last_rewrite_secs.load(Relaxed) });
    field!(out, "aof_current_rewrite_time_sec", "{}", if rewriting { (now - p.rewrite_started_ms.load(Relaxed)) / 1000 } else { -1 });
    field!(out, "aof_last_bgrewrite_status", "{}", if p.last_rewrite_failed.load(Relaxed) { "err" } else { "ok" });
    field!(out, "aof_rewrites", "{rewrites}");
    field!(out, "aof_rewrites_consecutive_failures", "{}", p.rewrite_failures_in_row.load(Relaxed));
    let write_ok = aof_stats.as_ref().is_none_or(|s| s.last_write_error.is_none());
    field!(out, "aof_last_write_status", "{}", if write_ok { "ok" } else { "err" });
    field!(out, "aof_last_cow_size", "0");
    field!(out, "module_fork_in_progress", "0");
    field!(out, "module_fork_last_cow_size", "0");
    if let Some(s) = aof_stats {
        field!(out, "aof_current_size", "{}", s.current_size);
        field!(out, "aof_base_size", "{}", s.base_size);
        field!(out, "aof_pending_rewrite", "{}", u8::from(p.rewrite_scheduled.load(Relaxed)));
        field!(out, "aof_buffer_length", "{}", s.buffer_length);
        field!(out, "aof_pending_bio_fsync", "{}", u8::from(s.pending_fsync));
        field!(out, "aof_delayed_fsync", "{}", s.delayed_fsync);
    }
}

fn stats(srv: &Server, out: &mut String) {
    let t = srv.stats.totals();
    let ks = srv.keyspace.stats();
    let [ops, input, output] = process::RATES.sample(Instant::now(), [t.commands, t.net_input_bytes, t.net_output_bytes]);
    let s = &srv.stats;
    out.push_str("# Stats\r\n");
    field!(out, "total_connections_received", "{}", s.connections_received.load(Relaxed));
    field!(out, "total_commands_processed", "{}", t.commands);
    field!(out, "instantaneous_ops_per_sec", "{}", ops.round() as u64);
    field!(out, "total_net_input_bytes", "{}", t.net_input_bytes);
    field!(out, "total_net_output_bytes", "{}", t.net_output_bytes);
    field!(out, "total_net_repl_input_bytes", "0");
    field!(out, "total_net_repl_output_bytes", "0");
    field!(out, "instantaneous_input_kbps", "{:.2}", input / 1024.0);
    field!(out, "instantaneous_output_kbps", "{:.2}", output / 1024.0);
    field!(out, "instantaneous_input_repl_kbps", "0.00");
    field!(out, "instantaneous_output_repl_kbps", "0.00");
    field!(out, "rejected_connections", "{}", s.rejected_connections.load(Relaxed));
    crate::replication::primary::stats_lines(srv, out);
    field!(out, "expired_keys", "{}", ks.expired);
    field!(out, "expired_stale_perc", "0.00");
    field!(out, "expired_time_cap_reached_count", "0");
    field!(out, "expire_cycle_cpu_milliseconds", "0");
    field!(out, "evicted_keys", "{}", srv.eviction.evicted.load(Relaxed));
    field!(out, "evicted_clients", "0");
    field!(out, "total_eviction_exceeded_time", "0");
    field!(out, "current_eviction_exceeded_time", "0");
    field!(out, "keyspace_hits", "{}", ks.hits);
    field!(out, "keyspace_misses", "{}", ks.misses);
    let (channels, patterns, shard) = srv.pubsub.counts();
    field!(out, "pubsub_channels", "{channels}");
    field!(out, "pubsub_patterns", "{patterns}");
    field!(out, "pubsubshard_channels", "{shard}");
    for name in [
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
        "tracking_total_keys",
        "tracking_total_items",
        "tracking_total_prefixes",
        "unexpected_error_replies",
    ] {
        field!(out, name, "0");
    }
    field!(out, "total_error_replies", "{}", s.total_error_replies.load(Relaxed));
    field!(out, "dump_payload_sanitizations", "0");
    field!(out, "io_threaded_reads_processed", "0");
    field!(out, "io_threaded_writes_processed", "0");
    // Ours: scripts run on the worker that received them, and inline runs that passed
    // their budget and ran again on the script thread (scripting/inline.rs).
    let (inline, moved) = srv.scripting.inline_counts();
    field!(out, "eval_inline_runs", "{inline}");
    field!(out, "eval_inline_moved", "{moved}");
    // Ours: lock acquisitions and commands that waited for another thread's partition
    // lock or script, and the times the connection balancer folded workers because of
    // them (server/balance.rs).
    field!(out, "keyspace_lock_contended", "{}", srv.keyspace.contended());
    field!(out, "script_gate_contended", "{}", srv.scripting.gate.waited());
    field!(out, "worker_contended_folds", "{}", s.contended_folds.load(Relaxed));
    // Ours: CPU time busy workers spent polling between requests instead of sleeping,
    // and the pauses of that polling when another thread wanted the core
    // (server/idle_poll.rs).
    field!(out, "worker_idle_poll_ms", "{}", s.idle_poll_us.load(Relaxed) / 1000);
    field!(out, "worker_idle_poll_pauses", "{}", s.idle_poll_pauses.load(Relaxed));
}

/// A replication ID for this process: 40 random hex digits, fixed for its lifetime.
fn cpu(out: &mut String) {
    let (user, sys) = process::cpu_seconds();
    out.push_str("# CPU\r\n");
    field!(out, "used_cpu_sys", "{sys:.6}");
    field!(out, "used_cpu_user", "{user:.6}");
    field!(out, "used_cpu_sys_children", "0.000000");
    field!(out, "used_cpu_user_children", "0.000000");
}

/// `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..`
/// for every command used since the last reset.
fn commandstats(srv: &Server, out: &mut String) {
    let t = srv.stats.totals();
    out.push_str("# Commandstats\r\n");
    for (spec, &(calls, usec, rejected, failed)) in table::all().iter().zip(t.per_command.iter()) {
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let per_call = if calls == 0 { 0.0 } else { usec as f64 / calls as f64 };
        let _ = write!(out, "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n", spec.name);
    }
}

/// Per-command latency percentiles (`latency-tracking`), from the power-of-two
/// histograms: each percentile is reported as its bucket's upper bound.
fn latencystats(srv: &Server, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    let (on, pcts) = {
        let cfg = srv.config.read();
        let pcts: Vec<(String, f64)> =
            cfg.str("latency-tracking-info-percentiles").split_whitespace().filter_map(|p| p.parse::<f64>().ok().map(|v| (p.to_string(), v))).collect();
        (cfg.bool("latency-tracking"), pcts)
    };
    if !on {
        return;
    }
    let t = srv.stats.totals();
    for (i, (spec, c)) in table::all().iter().zip(t.per_command.iter()).enumerate() {
        if c.0 == 0 {
            continue;
        }
        let hist = srv.stats.histogram(i);
        let parts: Vec<String> = pcts.iter().map(|(name, p)| format!("p{name}={:.3}", crate::server::latency::percentile(&hist, *p))).collect();
        let _ = write!(out, "latency_percentiles_usec_{}:{}\r\n", spec.name, parts.join(","));
    }
}

fn errorstats(srv: &Server, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (code, count) in srv.stats.errors.lock().iter() {
        let _ = write!(out, "errorstat_{code}:count={count}\r\n");
    }
}

fn keyspace(srv: &Server, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for db in 0..srv.keyspace.databases() {
        let (keys, expires) = srv.keyspace.db_sizes(db);
        if keys > 0 {
            let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
}
