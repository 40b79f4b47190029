//! The table of configuration parameters: names as in redis.conf, types, defaults and
//! whether CONFIG SET may change them at run time. Everything that reads or validates
//! configuration (command line, config file, CONFIG GET/SET/REWRITE) goes through it.

/// How a parameter's value is checked and normalised.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes, accepting Redis's unit suffixes (k, kb, m, mb, g, gb).
    Memory {
        min: u64,
        max: u64,
    },
    Bool,
    Enum(&'static [&'static str]),
    Str,
    /// One or more words (bind, save).
    Words,
}

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    /// Whether CONFIG SET may change it while the server runs.
    pub mutable: bool,
    pub help: &'static str,
}

const fn p(name: &'static str, kind: Kind, default: &'static str, mutable: bool, help: &'static str) -> Param {
    Param { name, aliases: &[], kind, default, mutable, help }
}

/// A non-negative C `int`, the range Redis gives its integer parameters (and names in
/// its CONFIG SET error).
const INT: Kind = Kind::Int { min: 0, max: i32::MAX as i64 };

/// In Redis's order, which its CONFIG SET error lists.
pub const POLICIES: &[&str] =
    &["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"];

pub static PARAMS: &[Param] = &[
    p("bind", Kind::Words, "* -::*", false, "addresses to listen on ('*' = all IPv4, '::*' = all IPv6, '-' prefix = optional)"),
    p("port", Kind::Int { min: 0, max: 65535 }, "6379", false, "RESP port (0 = do not listen on TCP)"),
    p("admin-port", Kind::Int { min: 0, max: 65535 }, "9121", false, "HTTP port for /healthz, /readyz and /metrics (0 = off)"),
    p("protected-mode", Kind::Bool, "yes", true, "refuse non-loopback clients while no password is set and bind is the default"),
    Param {
        name: "threads",
        aliases: &["io-threads"],
        kind: Kind::Int { min: 0, max: 256 },
        default: "0",
        mutable: false,
        help: "worker threads serving connections (0 = one per CPU)",
    },
    p("adaptive-threads", Kind::Bool, "yes", true, "pack connections onto as few worker threads as the load needs (no = deal them round-robin)"),
    p(
        "adaptive-threads-idle",
        Kind::Int { min: 0, max: 100_000 },
        "50",
        true,
        "idle CPU, in percent of one core, needed before load is spread over another worker",
    ),
    p(
        "idle-poll-us",
        Kind::Int { min: 0, max: 1_000_000 },
        "50",
        true,
        "microseconds a worker busy over half the time keeps polling after its last request before it sleeps (0 = never poll)",
    ),
    p("requirepass", Kind::Str, "", true, "password clients must AUTH with (empty = none)"),
    p("databases", Kind::Int { min: 1, max: 1024 }, "16", false, "number of logical databases"),
    p("maxclients", Kind::Int { min: 1, max: u32::MAX as i64 }, "10000", true, "most simultaneous client connections"),
    Param { aliases: &["lua-time-limit"], ..p("busy-reply-threshold", INT, "5000", true, "milliseconds a script runs before other clients are answered BUSY") },
    p("timeout", INT, "0", true, "close a client idle for this many seconds (0 = never)"),
    p("tcp-keepalive", INT, "300", true, "TCP keepalive period in seconds (0 = off)"),
    p("tcp-backlog", Kind::Int { min: 1, max: 65535 }, "511", false, "listen backlog"),
    p("loglevel", Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]), "notice", true, "log verbosity"),
    p("logfile", Kind::Str, "", false, "log file (empty = standard output)"),
    p("logformat", Kind::Enum(&["text", "json"]), "text", false, "log line format"),
    p("pidfile", Kind::Str, "", false, "file to write the process id to (empty = none)"),
    p("daemonize", Kind::Enum(&["no"]), "no", false, "always no: cache-node runs in the foreground"),
    p("maxmemory", Kind::Memory { min: 0, max: u64::MAX }, "0", true, "memory limit for data (0 = none)"),
    p("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", true, "what to do when maxmemory is reached"),
    p("notify-keyspace-events", Kind::Str, "", true, "keyspace notification classes, Redis's letters (K E g $ l s h z x e t m d n A)"),
    p(
        "client-output-buffer-limit",
        Kind::Words,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
        "per client class (normal, replica, pubsub): hard limit, soft limit, soft seconds of pending output before the client is closed",
    ),
    p("maxmemory-samples", Kind::Int { min: 1, max: 64 }, "5", true, "keys sampled per eviction"),
    p("maxmemory-eviction-tenacity", Kind::Int { min: 0, max: 100 }, "10", true, "how long a command may spend evicting (0..100, 100 = no limit)"),
    p("lfu-log-factor", INT, "10", true, "how slowly the LFU counter grows with accesses"),
    p("lfu-decay-time", INT, "1", true, "minutes after which an idle key's LFU counter is decremented (0 = never)"),
    p("dir", Kind::Str, ".", true, "working directory for snapshot files"),
    p("dbfilename", Kind::Str, "dump.rdb", true, "snapshot file name"),
    p("save", Kind::Words, "", true, "snapshot schedule: pairs of 'seconds changes' (empty = no automatic snapshots)"),
    p("rdbcompression", Kind::Bool, "yes", true, "compress strings in snapshots with LZF"),
    p("rdbchecksum", Kind::Bool, "yes", true, "write and check the CRC64 at the end of snapshots"),
    p("stop-writes-on-bgsave-error", Kind::Bool, "yes", true, "refuse writes while the last background save failed"),
    p("rdb-key-save-delay", Kind::Int { min: 0, max: i64::MAX }, "0", true, "microseconds to sleep per key while saving (testing only)"),
    p("appendonly", Kind::Bool, "no", true, "log every write to the append-only file"),
    p("appendfsync", Kind::Enum(&["always", "everysec", "no"]), "everysec", true, "when the append-only file is flushed to disk"),
    p("appendfilename", Kind::Str, "appendonly.aof", false, "base name of the append-only files"),
    p("appenddirname", Kind::Str, "appendonlydir", false, "directory of the append-only files, inside dir"),
    p("aof-load-truncated", Kind::Bool, "yes", true, "load an append-only file whose last command is cut short (dropping it)"),
    p("aof-use-rdb-preamble", Kind::Bool, "yes", true, "write the base of a rewritten append-only file as a snapshot"),
    p(
        "auto-aof-rewrite-percentage",
        Kind::Int { min: 0, max: i64::MAX },
        "100",
        true,
        "rewrite once the log grew by this percent over its last rewritten size (0 = never)",
    ),
    p("auto-aof-rewrite-min-size", Kind::Memory { min: 0, max: i64::MAX as u64 }, "67108864", true, "no automatic rewrite below this log size"),
    Param {
        name: "replicaof",
        aliases: &["slaveof"],
        kind: Kind::Words,
        default: "",
        mutable: false,
        help: "'host port' of the primary to replicate from at start (empty = be a primary; REPLICAOF changes it at run time)",
    },
    p("masterauth", Kind::Str, "", true, "password this node gives its primary"),
    p("masteruser", Kind::Str, "", true, "user name this node gives its primary (empty = the default user)"),
    p("repl-backlog-size", Kind::Memory { min: 1, max: i64::MAX as u64 }, "1048576", true, "bytes of the replication stream kept for replicas that reconnect"),
    p("repl-backlog-ttl", INT, "3600", true, "kept for compatibility: the backlog is kept for good"),
    Param {
        name: "replica-read-only",
        aliases: &["slave-read-only"],
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
        help: "a replica refuses writes from clients",
    },
    Param {
        name: "replica-serve-stale-data",
        aliases: &["slave-serve-stale-data"],
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
        help: "a replica whose link is down still answers reads",
    },
    Param {
        name: "repl-ping-replica-period",
        aliases: &["repl-ping-slave-period"],
        kind: Kind::Int { min: 1, max: i32::MAX as i64 },
        default: "10",
        mutable: true,
        help: "seconds between PINGs a primary sends its replicas",
    },
    p("repl-timeout", Kind::Int { min: 1, max: i32::MAX as i64 }, "60", true, "seconds of silence after which a replication link is dropped"),
    Param {
        name: "min-replicas-to-write",
        aliases: &["min-slaves-to-write"],
        kind: INT,
        default: "0",
        mutable: true,
        help: "refuse writes unless this many replicas are connected and lag at most min-replicas-max-lag (0 = off)",
    },
    Param {
        name: "min-replicas-max-lag",
        aliases: &["min-slaves-max-lag"],
        kind: INT,
        default: "10",
        mutable: true,
        help: "seconds since its last ACK for a replica to count as good",
    },
    Param {
        name: "replica-priority",
        aliases: &["slave-priority"],
        kind: INT,
        default: "100",
        mutable: true,
        help: "failover preference reported in INFO (lower is preferred; 0 = never promote)",
    },
    p("replica-announce-ip", Kind::Str, "", true, "address this replica reports to its primary (empty = the connection's)"),
    p("replica-announce-port", Kind::Int { min: 0, max: 65535 }, "0", true, "port this replica reports to its primary (0 = its own)"),
    p("repl-diskless-sync", Kind::Bool, "yes", true, "kept for compatibility: full syncs always stream the snapshot"),
    p("repl-diskless-sync-delay", INT, "0", true, "seconds to wait for more replicas before a full sync starts"),
    // At most 4 GiB - 1: an entry stores its key length in 32 bits.
    p(
        "proto-max-bulk-len",
        Kind::Memory { min: 1024 * 1024, max: u32::MAX as u64 },
        "536870912",
        true,
        "largest bulk string a client may send (at most 4gb - 1)",
    ),
    p("client-query-buffer-limit", Kind::Memory { min: 1024 * 1024, max: u64::MAX }, "1073741824", true, "largest unparsed input kept for one client"),
    Param {
        name: "hash-max-listpack-entries",
        aliases: &["hash-max-ziplist-entries"],
        kind: Kind::Int { min: 0, max: i64::MAX },
        default: "512",
        mutable: true,
        help: "most fields a hash keeps in its compact encoding",
    },
    Param {
        name: "hash-max-listpack-value",
        aliases: &["hash-max-ziplist-value"],
        kind: Kind::Memory { min: 0, max: i64::MAX as u64 },
        default: "64",
        mutable: true,
        help: "longest field or value a hash keeps in its compact encoding",
    },
    p("set-max-intset-entries", Kind::Int { min: 0, max: i64::MAX }, "512", true, "most members a set of integers keeps as an intset"),
    Param {
        name: "zset-max-listpack-entries",
        aliases: &["zset-max-ziplist-entries"],
        kind: Kind::Int { min: 0, max: i64::MAX },
        default: "128",
        mutable: true,
        help: "most members a sorted set keeps in its compact encoding",
    },
    Param {
        name: "zset-max-listpack-value",
        aliases: &["zset-max-ziplist-value"],
        kind: Kind::Memory { min: 0, max: i64::MAX as u64 },
        default: "64",
        mutable: true,
        help: "longest member a sorted set keeps in its compact encoding",
    },
    p(
        "slowlog-log-slower-than",
        Kind::Int { min: -1, max: i64::MAX },
        "10000",
        true,
        "log commands that take at least this many microseconds (-1 = off, 0 = all)",
    ),
    p("slowlog-max-len", INT, "128", true, "entries the slow log keeps"),
    p("latency-monitor-threshold", Kind::Int { min: 0, max: i64::MAX }, "0", true, "record latency spikes of at least this many milliseconds (0 = off)"),
    p("latency-tracking", Kind::Bool, "yes", true, "report per-command latency percentiles in INFO latencystats"),
    p("latency-tracking-info-percentiles", Kind::Words, "50 99 99.9", true, "percentiles INFO latencystats reports"),
    p("hz", Kind::Int { min: 1, max: 500 }, "10", true, "background task frequency (active expiry cycles per second)"),
    p("lazyfree-lazy-user-flush", Kind::Bool, "no", true, "FLUSHALL/FLUSHDB without a mode behave as ASYNC"),
];

pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
}

/// Parses `100`, `100b`, `1k` (1000), `1kb` (1024), `2m`, `2mb`, `4g`, `4gb`, as Redis does.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// Checks `value` against the parameter's kind and returns its normalised form (the
/// text CONFIG GET shows), or the reason it is invalid.
pub fn normalise(param: &Param, value: &str) -> Result<String, String> {
    match param.kind {
        Kind::Int { min, max } => match value.parse::<i64>() {
            Ok(n) if n >= min && n <= max => Ok(n.to_string()),
            Ok(_) => Err(format!("argument must be between {min} and {max} inclusive")),
            Err(_) => Err("argument couldn't be parsed into an integer".to_string()),
        },
        Kind::Memory { min, max } => match parse_memory(value) {
            Some(n) if n >= min && n <= max => Ok(n.to_string()),
            Some(_) if max == u64::MAX => Err(format!("argument must be at least {min}")),
            Some(_) => Err(format!("argument must be between {min} and {max} inclusive")),
            None => Err("argument must be a memory value".to_string()),
        },
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".to_string()),
        },
        Kind::Enum(options) => {
            let v = value.to_ascii_lowercase();
            if options.contains(&v.as_str()) { Ok(v) } else { Err(format!("argument(s) must be one of the following: {}", options.join(", "))) }
        }
        Kind::Str if param.name == "notify-keyspace-events" => {
            crate::server::pubsub::keyspace::parse_flags(value).map(crate::server::pubsub::keyspace::format_flags)
        }
        Kind::Str => Ok(value.to_string()),
        Kind::Words => {
            if param.name == "save" {
                return parse_save(value).map(|pairs| pairs.iter().map(|(s, c)| format!("{s} {c}")).collect::<Vec<_>>().join(" "));
            }
            if param.name == "client-output-buffer-limit" {
                return crate::server::pubsub::output_limits::normalise(value);
            }
            if param.name == "replicaof" {
                return parse_replicaof(value).map(|hp| hp.map(|(h, p)| format!("{h} {p}")).unwrap_or_default());
            }
            Ok(value.split_whitespace().collect::<Vec<_>>().join(" "))
        }
    }
}

/// `replicaof host port` (None when empty or `no one`).
pub fn parse_replicaof(value: &str) -> Result<Option<(String, u16)>, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words[..] {
        [] => Ok(None),
        [a, b] if a.eq_ignore_ascii_case("no") && b.eq_ignore_ascii_case("one") => Ok(None),
        [host, port] => port.parse::<u16>().ok().filter(|p| *p > 0).map(|p| Some((host.to_string(), p))).ok_or_else(|| "Invalid master port".to_string()),
        _ => Err("replicaof takes 'host port'".to_string()),
    }
}

/// The `save` schedule: pairs of (seconds, changes). Empty means no automatic snapshots.
pub fn parse_save(value: &str) -> Result<Vec<(u64, u64)>, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    // `save ""` is how redis.conf turns the schedule off.
    if words.len() == 1 && words[0] == "\"\"" {
        return Ok(Vec::new());
    }
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".to_string());
    }
    words
        .chunks(2)
        .map(|w| match (w[0].parse::<u64>(), w[1].parse::<u64>()) {
            (Ok(secs), Ok(changes)) => Ok((secs, changes)),
            _ => Err("Invalid save parameters".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_schedule() {
        assert_eq!(parse_save("3600 1 300 100"), Ok(vec![(3600, 1), (300, 100)]));
        assert_eq!(parse_save(""), Ok(vec![]));
        assert_eq!(parse_save("\"\""), Ok(vec![]));
        assert!(parse_save("3600").is_err());
        assert!(parse_save("x 1").is_err());
        assert!(parse_save("-1 1").is_err());
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1K"), Some(1000));
        assert_eq!(parse_memory("4gb"), Some(4 << 30));
        assert_eq!(parse_memory("1xb"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory(""), None);
    }

    #[test]
    fn every_default_is_valid() {
        for p in PARAMS {
            assert!(normalise(p, p.default).is_ok(), "{} default {:?}", p.name, p.default);
        }
    }

    #[test]
    fn validation_messages() {
        let port = find("PORT").unwrap();
        assert!(normalise(port, "70000").unwrap_err().contains("between 0 and 65535"));
        assert_eq!(normalise(find("maxmemory").unwrap(), "1mb").unwrap(), "1048576");
        // Keys longer than 32 bits of length cannot be stored, so no bulk may be either.
        assert!(normalise(find("proto-max-bulk-len").unwrap(), "4gb").unwrap_err().contains("between 1048576 and 4294967295"));
        assert!(normalise(find("proto-max-bulk-len").unwrap(), "2gb").is_ok());
        assert_eq!(find("io-threads").unwrap().name, "threads");
    }
}
