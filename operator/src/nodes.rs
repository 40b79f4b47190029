//! How the operator talks to cache nodes: RESP over TCP with the `redis` crate, behind a
//! small trait so reconcile tests use a scripted fake and the local runner can reuse it.

use futures::future::BoxFuture;
use redis::Value;
use std::time::Duration;

use crate::local::probe::parse_info;
use crate::topology::{Replication, ReportedRole};

/// A node's address and the password to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddr {
    pub host: String,
    pub port: u16,
    pub password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{host}:{port} did not answer within {timeout:?}")]
    Timeout { host: String, port: u16, timeout: Duration },
    #[error("{host}:{port}: {source}")]
    Redis {
        host: String,
        port: u16,
        #[source]
        source: redis::RedisError,
    },
    #[error("{host}:{port} answered ROLE with something unexpected: {reply}")]
    BadRole { host: String, port: u16, reply: String },
    #[error("{host}:{port} answered INFO with something unexpected: {reply}")]
    BadInfo { host: String, port: u16, reply: String },
    #[error("{host}:{port}: this node client cannot send {command}")]
    Unsupported { host: String, port: u16, command: &'static str },
}

/// What `INFO` tells about a node beyond its role: how much of the shard's data it holds
/// (to rank failover candidates) and its run id (a new one means the process restarted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub replication: Replication,
    pub run_id: String,
}

/// What the controller asks of a node.
pub trait NodeClient: Send + Sync {
    /// The node's role (RESP `ROLE`).
    fn role<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<ReportedRole, NodeError>>;
    /// Replication state, keys and run id (RESP `INFO`).
    fn info<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<NodeInfo, NodeError>>;
    /// `REPLICAOF host port`, or `REPLICAOF NO ONE` when `primary` is None.
    fn replicate_from<'a>(&'a self, node: &'a NodeAddr, primary: Option<(&'a str, u16)>) -> BoxFuture<'a, Result<(), NodeError>>;
    /// `CLIENT KILL TYPE normal`: closes the node's client connections (not its replicas'),
    /// so clients of a demoted primary reconnect through the writer Service.
    fn kill_clients<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<(), NodeError>>;
    /// Planned switchover, sent to the primary: `FAILOVER TO host port TIMEOUT ms`. The
    /// primary pauses writes until the target has its whole stream, then hands it the
    /// role, so no acknowledged write is lost; it answers at once and the handover
    /// completes when the target reports primary.
    fn failover_to<'a>(&'a self, node: &'a NodeAddr, target: (&'a str, u16), timeout: Duration) -> BoxFuture<'a, Result<(), NodeError>>;
    /// `CONFIG SET name value [name value ...]`: every pair at once (the node checks them
    /// all before applying any).
    fn config_set<'a>(&'a self, node: &'a NodeAddr, settings: &'a [(String, String)]) -> BoxFuture<'a, Result<(), NodeError>> {
        let _ = settings;
        Box::pin(async move { Err(NodeError::Unsupported { host: node.host.clone(), port: node.port, command: "CONFIG SET" }) })
    }
}

/// The real client: one short-lived connection per call, each bounded by a timeout, so a
/// hung node costs a reconcile pass a few seconds, never forever.
#[derive(Clone, Debug)]
pub struct RespNodeClient {
    pub timeout: Duration,
}

impl Default for RespNodeClient {
    fn default() -> Self {
        RespNodeClient { timeout: Duration::from_secs(3) }
    }
}

impl RespNodeClient {
    async fn call(&self, node: &NodeAddr, cmd: redis::Cmd) -> Result<Value, NodeError> {
        let redis_err = |source| NodeError::Redis { host: node.host.clone(), port: node.port, source };
        let info = redis::ConnectionInfo {
            addr: redis::ConnectionAddr::Tcp(node.host.clone(), node.port),
            redis: redis::RedisConnectionInfo { db: 0, username: None, password: node.password.clone(), protocol: redis::ProtocolVersion::RESP2 },
        };
        let work = async {
            let client = redis::Client::open(info).map_err(redis_err)?;
            let mut conn = client.get_multiplexed_async_connection().await.map_err(redis_err)?;
            cmd.query_async::<Value>(&mut conn).await.map_err(redis_err)
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(NodeError::Timeout { host: node.host.clone(), port: node.port, timeout: self.timeout }),
        }
    }
}

impl NodeClient for RespNodeClient {
    fn role<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<ReportedRole, NodeError>> {
        Box::pin(async move {
            let reply = self.call(node, redis::cmd("ROLE")).await?;
            parse_role(&reply).ok_or_else(|| NodeError::BadRole { host: node.host.clone(), port: node.port, reply: format!("{reply:?}") })
        })
    }

    fn info<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<NodeInfo, NodeError>> {
        Box::pin(async move {
            let reply = self.call(node, redis::cmd("INFO")).await?;
            let text = match reply {
                Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                Value::VerbatimString { text, .. } => text,
                Value::SimpleString(s) => s,
                other => return Err(NodeError::BadInfo { host: node.host.clone(), port: node.port, reply: format!("{other:?}") }),
            };
            let (replication, run_id) = parse_info(&text);
            Ok(NodeInfo { replication, run_id })
        })
    }

    fn kill_clients<'a>(&'a self, node: &'a NodeAddr) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move { self.call(node, redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal").clone()).await.map(drop) })
    }

    fn failover_to<'a>(&'a self, node: &'a NodeAddr, target: (&'a str, u16), timeout: Duration) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move {
            let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
            self.call(node, redis::cmd("FAILOVER").arg("TO").arg(target.0).arg(target.1).arg("TIMEOUT").arg(ms).clone()).await.map(drop)
        })
    }

    fn config_set<'a>(&'a self, node: &'a NodeAddr, settings: &'a [(String, String)]) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("CONFIG");
            cmd.arg("SET");
            for (name, value) in settings {
                cmd.arg(name).arg(value);
            }
            self.call(node, cmd).await.map(drop)
        })
    }

    fn replicate_from<'a>(&'a self, node: &'a NodeAddr, primary: Option<(&'a str, u16)>) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("REPLICAOF");
            match primary {
                Some((host, port)) => cmd.arg(host).arg(port),
                None => cmd.arg("NO").arg("ONE"),
            };
            self.call(node, cmd).await.map(drop)
        })
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Parses a ROLE reply: `["master", offset, [[host, port, offset]...]]` or
/// `["slave", host, port, state, offset]`. The state is `connected` once in sync.
pub fn parse_role(reply: &Value) -> Option<ReportedRole> {
    let Value::Array(items) = reply else { return None };
    match text(items.first()?)?.as_str() {
        "master" => {
            let replicas = match items.get(2) {
                Some(Value::Array(r)) => r.len(),
                _ => 0,
            };
            Some(ReportedRole::Primary { replicas })
        }
        "slave" | "replica" => {
            let primary_host = text(items.get(1)?)?;
            let primary_port = match items.get(2)? {
                Value::Int(p) => u16::try_from(*p).ok()?,
                other => text(other)?.parse().ok()?,
            };
            let in_sync = text(items.get(3)?)? == "connected";
            Some(ReportedRole::Replica { primary_host, primary_port, in_sync })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_both_roles_and_refuses_the_rest() {
        let primary = Value::Array(vec![bulk("master"), Value::Int(10), Value::Array(vec![Value::Array(vec![bulk("h"), bulk("6379"), bulk("10")])])]);
        assert_eq!(parse_role(&primary), Some(ReportedRole::Primary { replicas: 1 }));
        let replica = Value::Array(vec![bulk("slave"), bulk("c-0-0.c-0"), Value::Int(6379), bulk("connected"), Value::Int(10)]);
        assert_eq!(parse_role(&replica), Some(ReportedRole::Replica { primary_host: "c-0-0.c-0".into(), primary_port: 6379, in_sync: true }));
        let syncing = Value::Array(vec![bulk("slave"), bulk("h"), Value::Int(6379), bulk("sync"), Value::Int(-1)]);
        assert!(matches!(parse_role(&syncing), Some(ReportedRole::Replica { in_sync: false, .. })));
        for bad in [Value::Nil, Value::Array(vec![]), Value::Array(vec![bulk("sentinel")]), Value::Array(vec![bulk("slave"), bulk("h"), Value::Int(70000)])] {
            assert_eq!(parse_role(&bad), None, "{bad:?}");
        }
    }
}
