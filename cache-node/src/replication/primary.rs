//! Serving replicas (filled in by the primary-side work).

use parking_lot::Mutex;

/// A replica's PSYNC (or SYNC) request, handed with the socket to `serve_replica`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PsyncRequest {
    /// "?" for "no history" (and for SYNC).
    pub replid: String,
    /// Redis's 1-based offset of the first byte wanted; -1 for none.
    pub offset: i64,
    /// Sent as SYNC (old protocol: no +FULLRESYNC line, RDB then stream).
    pub legacy_sync: bool,
}

/// Replicas connected to this node.
#[derive(Default)]
pub struct Replicas {
    pub list: Mutex<Vec<std::sync::Arc<ReplicaInfo>>>,
}

/// What INFO, ROLE and WAIT need to know about one connected replica.
#[derive(Debug, Default)]
pub struct ReplicaInfo {}

/// Serves one replica on its socket until it goes away: the full or partial resync
/// `req` asks for, then the stream.
pub async fn serve_replica(
    srv: std::sync::Arc<crate::server::state::Server>,
    stream: tokio::net::TcpStream,
    session: crate::server::session::Session,
    leftover: bytes::BytesMut,
    req: PsyncRequest,
) {
    let _ = (srv, stream, session, leftover, req);
}

/// INFO replication lines about connected replicas: `connected_slaves` and `slaveN`.
pub fn info_lines(srv: &crate::server::state::Server, out: &mut String) {
    let n = srv.replication.replicas.list.lock().len();
    out.push_str(&format!("connected_slaves:{n}\r\n"));
}

/// WAIT: resolves with how many replicas acknowledged `offset`, as soon as `replicas` did
/// or at `deadline_ms` (unix ms).
pub async fn wait_for_acks(srv: &crate::server::state::Server, replicas: usize, offset: u64, deadline_ms: Option<i64>) -> usize {
    let _ = (srv, replicas, offset, deadline_ms);
    0
}
