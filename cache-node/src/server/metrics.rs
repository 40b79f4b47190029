//! `/metrics` on the admin port, in Prometheus text format with redis_exporter's metric
//! names and labels, so its dashboards and alerts work unchanged. Values are read from
//! the server's own counters at scrape time (docs/metrics.md lists them).

use std::sync::atomic::Ordering::Relaxed;

use prometheus::{CounterVec, Encoder, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use super::state::{Server, now_ms};
use crate::replication::state::Role;

/// One scrape's metrics, registered as they are set.
struct Scrape {
    reg: Registry,
}

impl Scrape {
    fn gauge(&self, name: &str, help: &str, labels: &[&str], values: impl IntoIterator<Item = (Vec<String>, f64)>) {
        let Ok(g) = GaugeVec::new(Opts::new(name, help), labels) else { return };
        for (l, v) in values {
            let l: Vec<&str> = l.iter().map(String::as_str).collect();
            if let Ok(m) = g.get_metric_with_label_values(&l) {
                m.set(v);
            }
        }
        let _ = self.reg.register(Box::new(g));
    }

    fn int(&self, name: &str, help: &str, value: i64) {
        let Ok(g) = IntGaugeVec::new(Opts::new(name, help), &[]) else { return };
        if let Ok(m) = g.get_metric_with_label_values::<&str>(&[]) {
            m.set(value);
        }
        let _ = self.reg.register(Box::new(g));
    }

    fn counter(&self, name: &str, help: &str, labels: &[&str], values: impl IntoIterator<Item = (Vec<String>, u64)>) {
        let Ok(c) = IntCounterVec::new(Opts::new(name, help), labels) else { return };
        for (l, v) in values {
            let l: Vec<&str> = l.iter().map(String::as_str).collect();
            if let Ok(m) = c.get_metric_with_label_values(&l) {
                m.inc_by(v);
            }
        }
        let _ = self.reg.register(Box::new(c));
    }

    /// A counter of fractional values (seconds).
    fn fcounter(&self, name: &str, help: &str, labels: &[&str], values: impl IntoIterator<Item = (Vec<String>, f64)>) {
        let Ok(c) = CounterVec::new(Opts::new(name, help), labels) else { return };
        for (l, v) in values {
            let l: Vec<&str> = l.iter().map(String::as_str).collect();
            if let Ok(m) = c.get_metric_with_label_values(&l) {
                m.inc_by(v.max(0.0));
            }
        }
        let _ = self.reg.register(Box::new(c));
    }

    fn total(&self, name: &str, help: &str, value: u64) {
        self.counter(name, help, &[], [(Vec::new(), value)]);
    }

    fn ftotal(&self, name: &str, help: &str, value: f64) {
        self.fcounter(name, help, &[], [(Vec::new(), value)]);
    }
}

/// The text of one scrape.
pub fn render(srv: &Server) -> String {
    let s = Scrape { reg: Registry::new() };
    let now = now_ms();
    s.int("redis_up", "Whether the node answers (always 1 when this page is served).", 1);
    s.int("redis_uptime_in_seconds", "Seconds since the node started.", (now - srv.start_unix_ms) / 1000);
    s.int("redis_connected_clients", "Client connections.", srv.clients.len() as i64);
    s.int("redis_blocked_clients", "Clients waiting in a blocking command.", srv.stats.blocked_clients.load(Relaxed) as i64);
    let mem = crate::commands::info::process::memory();
    s.int("redis_memory_used_bytes", "Bytes allocated for data and the server (INFO used_memory).", mem.allocated as i64);
    s.int("redis_memory_used_rss_bytes", "Resident set size of the process.", mem.rss as i64);
    s.int("redis_memory_used_peak_bytes", "Highest used_memory seen.", mem.peak as i64);
    s.int("redis_memory_max_bytes", "The maxmemory setting (0 = none).", srv.config.read().int("maxmemory"));

    let (user, sys) = crate::commands::info::process::cpu_seconds();
    s.ftotal("redis_cpu_user_seconds_total", "CPU seconds in user mode (INFO used_cpu_user).", user);
    s.ftotal("redis_cpu_sys_seconds_total", "CPU seconds in kernel mode (INFO used_cpu_sys).", sys);
    s.ftotal(
        "cachefleet_worker_idle_poll_seconds_total",
        "CPU seconds busy workers spent polling for requests instead of sleeping, included in the CPU counters (INFO worker_idle_poll_ms).",
        srv.stats.idle_poll_us.load(Relaxed) as f64 / 1e6,
    );
    s.total(
        "cachefleet_worker_idle_poll_pauses_total",
        "Times a worker stopped polling because another thread wanted its core.",
        srv.stats.idle_poll_pauses.load(Relaxed),
    );

    let t = srv.stats.totals();
    let ks = srv.keyspace.stats();
    s.total("redis_commands_processed_total", "Commands run.", t.commands);
    s.total("redis_keyspace_hits_total", "Key lookups that found the key.", ks.hits);
    s.total("redis_keyspace_misses_total", "Key lookups that did not.", ks.misses);
    s.total("redis_expired_keys_total", "Keys deleted because their TTL passed.", ks.expired + srv.stats.expired_keys_active.load(Relaxed));
    s.total("redis_evicted_keys_total", "Keys evicted under maxmemory.", srv.eviction.evicted.load(Relaxed));
    s.total("redis_net_input_bytes_total", "Bytes read from clients.", t.net_input_bytes);
    s.total("redis_net_output_bytes_total", "Bytes written to clients.", t.net_output_bytes);
    s.total("redis_connections_received_total", "Connections accepted.", srv.stats.connections_received.load(Relaxed));
    s.total("redis_rejected_connections_total", "Connections refused (maxclients).", srv.stats.rejected_connections.load(Relaxed));
    s.total(
        "redis_client_output_buffer_limit_disconnections_total",
        "Clients closed for passing client-output-buffer-limit.",
        srv.pubsub.obuf_disconnections.load(Relaxed),
    );
    let (channels, patterns, shard) = srv.pubsub.counts();
    s.int("redis_pubsub_channels", "Channels with at least one subscriber.", channels as i64);
    s.int("redis_pubsub_patterns", "Patterns with at least one subscriber.", patterns as i64);
    s.int("redis_pubsub_shard_channels", "Shard channels with at least one subscriber.", shard as i64);

    let table = crate::commands::table::all();
    let used: Vec<_> =
        t.per_command.iter().enumerate().filter(|(_, c)| c.0 + c.2 + c.3 > 0).filter_map(|(i, c)| table.get(i).map(|spec| (spec.name, *c))).collect();
    s.counter("redis_commands_total", "Calls per command.", &["cmd"], used.iter().map(|(n, c)| (vec![n.to_string()], c.0)));
    s.fcounter(
        "redis_commands_duration_seconds_total",
        "Seconds spent per command.",
        &["cmd"],
        used.iter().map(|(n, c)| (vec![n.to_string()], c.1 as f64 / 1e6)),
    );
    s.counter(
        "redis_commands_rejected_calls_total",
        "Calls refused before running (arity, auth...).",
        &["cmd"],
        used.iter().map(|(n, c)| (vec![n.to_string()], c.2)),
    );
    s.counter("redis_commands_failed_calls_total", "Calls that answered an error.", &["cmd"], used.iter().map(|(n, c)| (vec![n.to_string()], c.3)));

    let mut keys = Vec::new();
    let mut expiring = Vec::new();
    for db in 0..srv.keyspace.databases() {
        let (k, x) = srv.keyspace.db_sizes(db);
        if k > 0 {
            keys.push((vec![format!("db{db}")], k as f64));
            expiring.push((vec![format!("db{db}")], x as f64));
        }
    }
    s.gauge("redis_db_keys", "Keys per database.", &["db"], keys);
    s.gauge("redis_db_keys_expiring", "Keys with a TTL per database.", &["db"], expiring);

    persistence(srv, &s);
    replication(srv, &s, now);
    diagnostics(srv, &s);

    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&s.reg.gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}

fn diagnostics(srv: &Server, s: &Scrape) {
    let newest = srv.slowlog.newest(Some(1));
    s.int("redis_slowlog_length", "Entries in the slow log.", srv.slowlog.len() as i64);
    s.int("redis_slowlog_last_id", "Id of the newest slow log entry.", newest.first().map_or(0, |e| e.id as i64));
    s.gauge(
        "redis_last_slow_execution_duration_seconds",
        "Duration of the newest slow log entry.",
        &[],
        [(Vec::new(), newest.first().map_or(0.0, |e| e.micros as f64 / 1e6))],
    );
    let latest = srv.latency.latest();
    s.gauge(
        "redis_latency_spike_last",
        "Unix time of each event's latest latency spike.",
        &["event_name"],
        latest.iter().map(|l| (vec![l.event.clone()], l.time as f64)),
    );
    s.gauge(
        "redis_latency_spike_duration_seconds",
        "Duration of each event's latest latency spike.",
        &["event_name"],
        latest.iter().map(|l| (vec![l.event.clone()], l.ms as f64 / 1000.0)),
    );
}

fn persistence(srv: &Server, s: &Scrape) {
    let p = &srv.persistence;
    s.int("redis_rdb_changes_since_last_save", "Writes since the last snapshot.", srv.dirty.load(Relaxed).saturating_sub(p.dirty_at_save.load(Relaxed)) as i64);
    s.int("redis_rdb_last_save_timestamp_seconds", "Unix time of the last snapshot.", p.lastsave_unix.load(Relaxed));
    s.int("redis_rdb_bgsave_in_progress", "1 while a background save runs.", i64::from(p.bgsave_running.load(Relaxed)));
    s.int("redis_rdb_last_bgsave_status", "1 when the last save succeeded.", i64::from(!p.last_bgsave_failed.load(Relaxed)));
    s.int("redis_rdb_last_bgsave_duration_sec", "Seconds the last save took.", p.last_bgsave_secs.load(Relaxed));
    let aof = srv.aof();
    s.int("redis_aof_enabled", "1 when the append-only file is on.", i64::from(aof.is_some()));
    s.int("redis_aof_rewrite_in_progress", "1 while an AOF rewrite runs.", i64::from(p.rewrite_running.load(Relaxed)));
    s.int("redis_aof_last_bgrewrite_status", "1 when the last AOF rewrite succeeded.", i64::from(!p.last_rewrite_failed.load(Relaxed)));
    s.int("redis_aof_last_write_status", "1 when the AOF can be written.", i64::from(!p.aof_failing.load(Relaxed)));
    if let Some(a) = aof {
        let st = a.stats();
        s.int("redis_aof_current_size_bytes", "Size of the AOF files.", st.current_size as i64);
        s.int("redis_aof_base_size_bytes", "Size of the AOF after its last rewrite.", st.base_size as i64);
    }
}

fn replication(srv: &Server, s: &Scrape, now: i64) {
    let r = &srv.replication;
    let replicas = r.replicas.list.lock().clone();
    s.int("redis_connected_slaves", "Replicas connected to this node.", replicas.len() as i64);
    s.int("redis_master_repl_offset", "Bytes of the replication stream so far.", r.offset() as i64);
    let (_, histlen) = r.backlog.range();
    s.int("redis_replication_backlog_bytes", "Size of the replication backlog (repl-backlog-size).", r.backlog.capacity() as i64);
    s.int("redis_repl_backlog_history_bytes", "Bytes of stream the backlog holds.", histlen as i64);
    let label = |x: &crate::replication::primary::ReplicaInfo| vec![x.ip.clone(), x.port.to_string(), format!("{:?}", x.state()).to_lowercase()];
    s.gauge(
        "redis_connected_slave_offset_bytes",
        "Offset each replica acknowledged.",
        &["slave_ip", "slave_port", "slave_state"],
        replicas.iter().map(|x| (label(x), x.ack_offset.load(Relaxed) as f64)),
    );
    s.gauge(
        "redis_connected_slave_lag_seconds",
        "Seconds since each replica's last acknowledgement.",
        &["slave_ip", "slave_port", "slave_state"],
        replicas.iter().map(|x| (label(x), ((now - x.ack_time_ms.load(Relaxed)).max(0) as f64) / 1000.0)),
    );
    if let Role::Replica { host, port } = r.role.read().clone() {
        s.gauge(
            "redis_master_link_up",
            "1 while the link to the primary is up.",
            &["master_host", "master_port"],
            [(vec![host, port.to_string()], if r.link.is_up() { 1.0 } else { 0.0 })],
        );
        let (_, off) = crate::replication::replica::role_state(srv);
        s.int("redis_slave_repl_offset", "Offset of the primary's stream applied here.", off);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_node_renders_the_core_metrics() {
        let srv = Server::new(crate::config::Config::default());
        let text = render(&srv);
        for want in
            ["redis_up 1", "redis_connected_slaves 0", "redis_master_repl_offset 0", "redis_aof_enabled 0", "# TYPE redis_commands_processed_total counter"]
        {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }
}
