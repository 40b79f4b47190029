//! RESP calls to local nodes: the probe (ROLE and INFO) and the role commands. One
//! short-lived connection per call, bounded by a timeout, so a hung node costs one probe
//! period, never the loop.

use redis::Value;
use std::time::Duration;

use crate::nodes::parse_role;
use crate::topology::{Replication, ReportedRole};

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("{addr}: {source}")]
    Redis {
        addr: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("{addr} answered ROLE with something unexpected")]
    BadRole { addr: String },
}

/// What one probe learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub role: ReportedRole,
    pub replication: Replication,
    /// Changes when the process restarts.
    pub run_id: String,
}

#[derive(Clone, Debug)]
pub struct Caller {
    pub timeout: Duration,
}

impl Caller {
    pub async fn call(&self, host: &str, port: u16, cmd: &redis::Cmd) -> Result<Value, CallError> {
        let addr = format!("{host}:{port}");
        let redis_err = |source| CallError::Redis { addr: addr.clone(), source };
        let work = async {
            let client = redis::Client::open(redis::ConnectionInfo {
                addr: redis::ConnectionAddr::Tcp(host.to_string(), port),
                redis: redis::RedisConnectionInfo { db: 0, username: None, password: None, protocol: redis::ProtocolVersion::RESP2 },
            })
            .map_err(redis_err)?;
            let mut conn = client.get_multiplexed_async_connection().await.map_err(redis_err)?;
            cmd.query_async::<Value>(&mut conn).await.map_err(redis_err)
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout { addr, timeout: self.timeout }),
        }
    }

    pub async fn probe(&self, host: &str, port: u16) -> Result<Probe, CallError> {
        let role = self.call(host, port, &redis::cmd("ROLE")).await?;
        let role = parse_role(&role).ok_or_else(|| CallError::BadRole { addr: format!("{host}:{port}") })?;
        let info = self.call(host, port, &redis::cmd("INFO")).await?;
        let text = match info {
            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            Value::VerbatimString { text, .. } => text,
            Value::SimpleString(s) => s,
            _ => String::new(),
        };
        let (replication, run_id) = parse_info(&text);
        Ok(Probe { role, replication, run_id })
    }

    pub async fn replicaof(&self, host: &str, port: u16, primary: Option<(&str, u16)>) -> Result<(), CallError> {
        let mut cmd = redis::cmd("REPLICAOF");
        match primary {
            Some((h, p)) => cmd.arg(h).arg(p),
            None => cmd.arg("NO").arg("ONE"),
        };
        self.call(host, port, &cmd).await.map(drop)
    }

    /// Closes every normal client connection (not replicas, not this one).
    pub async fn kill_clients(&self, host: &str, port: u16) -> Result<(), CallError> {
        self.call(host, port, redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal")).await.map(drop)
    }

    /// Planned switchover (FAILOVER TO): the primary pauses writes until the target has
    /// caught up, then hands over.
    pub async fn failover_to(&self, host: &str, port: u16, to: (&str, u16), timeout_ms: u64) -> Result<(), CallError> {
        self.call(host, port, redis::cmd("FAILOVER").arg("TO").arg(to.0).arg(to.1).arg("TIMEOUT").arg(timeout_ms)).await.map(drop)
    }

    pub async fn config_set(&self, host: &str, port: u16, name: &str, value: &str) -> Result<(), CallError> {
        self.call(host, port, redis::cmd("CONFIG").arg("SET").arg(name).arg(value)).await.map(drop)
    }

    /// SHUTDOWN (the node saves when its persistence says so). The connection dropping is
    /// the expected answer.
    pub async fn shutdown(&self, host: &str, port: u16) {
        let _ = self.call(host, port, &redis::cmd("SHUTDOWN")).await;
    }
}

/// Replication state and run id from an INFO reply.
pub fn parse_info(text: &str) -> (Replication, String) {
    let mut r = Replication::default();
    let mut run_id = String::new();
    let mut master_offset = None;
    let mut replica_offset = None;
    for line in text.lines() {
        let Some((key, value)) = line.trim_end().split_once(':') else { continue };
        match key {
            "run_id" => run_id = value.to_string(),
            "loading" => r.loading = value == "1",
            "master_sync_in_progress" => r.sync_in_progress = value == "1",
            "master_link_status" => r.link_up = value == "up",
            "master_repl_offset" => master_offset = value.parse().ok(),
            "slave_repl_offset" => replica_offset = value.parse().ok(),
            k if k.starts_with("db") && k[2..].bytes().all(|b| b.is_ascii_digit()) => {
                let keys = value.split(',').find_map(|kv| kv.strip_prefix("keys=")).and_then(|n| n.parse::<u64>().ok());
                r.keys += keys.unwrap_or(0);
            }
            _ => {}
        }
    }
    // A replica's own applied position is what it would bring to a promotion.
    r.offset = replica_offset.or(master_offset).unwrap_or(0);
    (r, run_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_gives_offsets_link_loading_and_keys() {
        let text = "# Server\r\nrun_id:abc\r\n# Persistence\r\nloading:0\r\n# Replication\r\nrole:slave\r\nmaster_link_status:down\r\n\
                    master_sync_in_progress:1\r\nslave_repl_offset:42\r\nmaster_repl_offset:50\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb2:keys=4,expires=1\r\n";
        let (r, id) = parse_info(text);
        assert_eq!(id, "abc");
        assert_eq!(r, Replication { offset: 42, link_up: false, sync_in_progress: true, loading: false, keys: 7 });
        let (p, _) = parse_info("loading:1\r\nmaster_repl_offset:9\r\n");
        assert_eq!((p.offset, p.loading), (9, true));
    }
}
