//! One replica link: the resync its PSYNC asked for (partial from the backlog, or a
//! snapshot), then the stream from the backlog, while reading its ACKs.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tracing::{info, warn};

use super::{LinkState, PsyncRequest, ReplicaInfo, rdb_feed, refresh};
use crate::protocol::request::{Request, parse_i64, parse_request};
use crate::replication::backlog::{Backlog, Hold};
use crate::replication::psync::{self, Decision};
use crate::server::clients::ClientInfo;
use crate::server::session::Session;
use crate::server::state::{Server, now_ms};

/// Most bytes of the stream written per system call.
const STREAM_CHUNK: usize = 256 * 1024;
/// A replica has no reason to send more than a few ACKs at a time.
const MAX_INPUT: usize = 1 << 20;

/// Serves one replica on its socket until it goes away: the full or partial resync
/// `req` asks for, then the stream.
pub async fn serve_replica(srv: Arc<Server>, stream: TcpStream, session: Session, leftover: BytesMut, req: PsyncRequest) {
    let id = session.id();
    let epoch = srv.replication.replicas.epoch();
    let capa = srv.replication.replicas.take_replconf(id);
    session.info.is_replica.store(true, Relaxed);
    let ip = capa.ip.clone().unwrap_or_else(|| session.info.addr.ip().to_string());
    let link = Arc::new(ReplicaInfo::new(id, ip, capa));
    srv.replication.replicas.register(link.clone());
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let reason = tokio::select! {
        r = read_acks(&srv, rd, leftover, &link, &session.info, req.legacy_sync) => r,
        r = sync_and_stream(&srv, wr, &req, &link) => r,
        () = srv.replication.replicas.kicked(epoch) => "disconnected: this node's role changed".to_string(),
    };
    srv.replication.replicas.unregister(id);
    refresh(&srv);
    info!(id, ip = %link.ip, port = link.port, reason = %reason, "replica link ended");
}

/// Writes the resync and then the stream; returns why it stopped.
async fn sync_and_stream(srv: &Arc<Server>, mut wr: OwnedWriteHalf, req: &PsyncRequest, link: &ReplicaInfo) -> String {
    let backlog = srv.replication.backlog.clone();
    let ids = srv.replication.ids.lock().clone();
    let active = srv.journal.feeds_backlog() || srv.replication.is_replica();
    let (first, held) = backlog.range();
    let decision = if req.legacy_sync { Decision::Full } else { psync::decide(&ids, &req.replid, req.offset, active, (first, first + held as u64)) };
    let counters = &srv.replication.replicas;
    sync_hold_limit(srv);
    // The replica's place in the stream is held before anything is sent, so the bytes it
    // still needs stay while it catches up.
    let continued = match decision {
        Decision::Continue { from } => backlog.hold_from(from).map(|hold| (from, hold)),
        Decision::Full => None,
    };
    let (start, hold) = match continued {
        Some((from, hold)) => {
            counters.sync_partial_ok.fetch_add(1, Relaxed);
            // Replicas before PSYNC2 do not expect the id.
            let line = if link.capa.capa_psync2 { format!("+CONTINUE {}\r\n", ids.replid) } else { "+CONTINUE\r\n".to_string() };
            if wr.write_all(line.as_bytes()).await.is_err() {
                return "write error".into();
            }
            info!(id = link.client_id, from, "partial resync accepted");
            go_online(srv, link);
            (from, hold)
        }
        None => {
            if !req.legacy_sync && req.replid != "?" {
                counters.sync_partial_err.fetch_add(1, Relaxed);
            }
            counters.sync_full.fetch_add(1, Relaxed);
            match full_sync(srv, &mut wr, req, link).await {
                Ok(started) => started,
                Err(reason) => return reason,
            }
        }
    };
    if link.capa.rdb_only {
        return "snapshot sent (rdb-only)".into();
    }
    stream_from(srv, &backlog, &mut wr, start, &hold).await
}

/// Bytes kept for one lagging replica follow its output-buffer hard limit.
fn sync_hold_limit(srv: &Server) {
    let limit = srv.pubsub.limits.get(crate::server::pubsub::output_limits::Class::Replica);
    srv.replication.backlog.set_hold_limit(limit.hard);
}

fn go_online(srv: &Server, link: &ReplicaInfo) {
    link.ack_time_ms.store(now_ms(), Relaxed);
    link.set_state(LinkState::Online);
    refresh(srv);
    srv.replication.replicas.acked.notify_waiters();
}

/// Sends `+FULLRESYNC` and a snapshot; returns the offset the stream continues from, held.
async fn full_sync(srv: &Arc<Server>, wr: &mut OwnedWriteHalf, req: &PsyncRequest, link: &ReplicaInfo) -> Result<(u64, Hold), String> {
    let eof = link.capa.capa_eof;
    // One snapshot at a time (a BGSAVE or another replica's): wait for it to end.
    let mut feed = loop {
        if let Some(f) = rdb_feed::start(srv.clone(), !eof).await {
            break f;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let replid = srv.replication.ids.lock().replid.clone();
    info!(id = link.client_id, offset = feed.offset, diskless = eof, "full resync");
    let werr = |_| "write error".to_string();
    if !req.legacy_sync {
        wr.write_all(format!("+FULLRESYNC {replid} {}\r\n", feed.offset).as_bytes()).await.map_err(werr)?;
    }
    link.set_state(LinkState::SendBulk);
    if eof {
        // The replica reads until it sees this mark again at the end.
        let mark: String = (0..40).map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0')).collect();
        wr.write_all(format!("$EOF:{mark}\r\n").as_bytes()).await.map_err(werr)?;
        while let Some(chunk) = feed.chunks.recv().await {
            let chunk = chunk.map_err(|e| format!("snapshot failed: {e}"))?;
            wr.write_all(&chunk).await.map_err(werr)?;
        }
        wr.write_all(mark.as_bytes()).await.map_err(werr)?;
        // Stream bytes must not follow in the same read as the mark (the replica would
        // miss it): as Redis, go online at the replica's first ACK, sent once it loaded.
        wait_first_ack(srv, link).await?;
    } else {
        let rdb = match feed.chunks.recv().await {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(format!("snapshot failed: {e}")),
            None => return Err("snapshot failed".into()),
        };
        wr.write_all(format!("${}\r\n", rdb.len()).as_bytes()).await.map_err(werr)?;
        wr.write_all(&rdb).await.map_err(werr)?;
    }
    go_online(srv, link);
    Ok((feed.offset, feed.hold))
}

async fn wait_first_ack(srv: &Server, link: &ReplicaInfo) -> Result<(), String> {
    let timeout = Duration::from_secs(u64::try_from(srv.config.read().int("repl-timeout")).unwrap_or(60));
    let notify = &srv.replication.replicas.acked;
    let waited = tokio::time::timeout(timeout, async {
        loop {
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if link.got_ack.load(Relaxed) {
                return;
            }
            woken.await;
        }
    });
    waited.await.map_err(|_| "no ACK after the snapshot (repl-timeout)".to_string())
}

/// Below this many new bytes, a link waits a moment for more before writing.
const COALESCE_BYTES: usize = 16 * 1024;

/// Writes the stream from `pos` as the backlog grows.
async fn stream_from(srv: &Server, backlog: &Backlog, wr: &mut OwnedWriteHalf, mut pos: u64, hold: &Hold) -> String {
    let mut buf = Vec::with_capacity(STREAM_CHUNK);
    let mut soft_since = None;
    loop {
        // What the replica has yet to receive is its output buffer (client-output-buffer-limit
        // replica class).
        let behind = backlog.end().saturating_sub(pos);
        if crate::server::pubsub::output_limits::replica_over_limit(srv, behind, &mut soft_since) {
            return "output buffer limit".into();
        }
        buf.clear();
        match backlog.read(pos, STREAM_CHUNK, &mut buf) {
            None => {
                warn!(pos, "replica fell out of the replication backlog: dropping its link (it will resync)");
                return "fell out of the backlog".into();
            }
            Some(0) => {
                // Rechecks the end after registering: an append after the read wakes us.
                backlog.moved_from(pos).await;
                // Let a burst of writes land before sending: one write of many commands
                // instead of a system call (and a replica wake-up) per command, as Redis
                // flushes replica buffers once per event-loop pass. Costs at most a
                // millisecond of lag.
                if backlog.end().saturating_sub(pos) < COALESCE_BYTES as u64 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            Some(n) => {
                // A replica that stops reading blocks this write: check its limit meanwhile.
                let write = wr.write_all(&buf);
                tokio::pin!(write);
                loop {
                    tokio::select! {
                        r = &mut write => {
                            if r.is_err() {
                                return "write error".into();
                            }
                            break;
                        }
                        () = tokio::time::sleep(Duration::from_millis(250)) => {
                            let behind = backlog.end().saturating_sub(pos);
                            if crate::server::pubsub::output_limits::replica_over_limit(srv, behind, &mut soft_since) {
                                return "output buffer limit".into();
                            }
                        }
                    }
                }
                pos += n as u64;
                hold.advance(pos);
                sync_hold_limit(srv);
            }
        }
    }
}

/// Reads what the replica sends: `REPLCONF ACK <offset> [FACK <offset>]` is recorded,
/// anything else ignored (as Redis does). Ends the link when the replica goes away, is
/// killed, or an online replica stays silent for `repl-timeout` seconds.
async fn read_acks(srv: &Server, mut rd: OwnedReadHalf, mut buf: BytesMut, link: &ReplicaInfo, client: &ClientInfo, legacy: bool) -> String {
    let limits = srv.tun.limits();
    let mut spans = Vec::new();
    loop {
        loop {
            let req = match parse_request(&buf, &limits, &mut spans) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => return "protocol error from the replica".into(),
            };
            let ack = match &req {
                Request::Multibulk { .. } => ack_offset(&spans.iter().map(|&(s, e)| &buf[s..e]).collect::<Vec<_>>()),
                Request::Inline { args, .. } => ack_offset(&args.iter().map(|a| a.as_slice()).collect::<Vec<_>>()),
            };
            if let Some(offset) = ack {
                link.ack(offset);
                srv.replication.replicas.acked.notify_waiters();
            }
            buf.advance(req.consumed());
        }
        if buf.len() > MAX_INPUT {
            return "too much input from the replica".into();
        }
        match tokio::time::timeout(Duration::from_secs(1), rd.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return "closed by the replica".into(),
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(_)) => return "read error".into(),
        }
        if client.killed.load(Relaxed) {
            return "killed".into();
        }
        let timeout_ms = srv.config.read().int("repl-timeout").saturating_mul(1000);
        // Replicas of the SYNC era never ACK.
        if !legacy && link.state() == LinkState::Online && now_ms() - link.ack_time_ms.load(Relaxed) > timeout_ms {
            return "timeout (no ACK for repl-timeout)".into();
        }
    }
}

/// The offset of a `REPLCONF ACK <offset> ...` command.
fn ack_offset(argv: &[&[u8]]) -> Option<u64> {
    match argv {
        [cmd, sub, off, ..] if cmd.eq_ignore_ascii_case(b"replconf") && sub.eq_ignore_ascii_case(b"ack") => parse_i64(off).and_then(|o| u64::try_from(o).ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::ack_offset;

    #[test]
    fn acks_are_recognized() {
        assert_eq!(ack_offset(&[b"REPLCONF", b"ACK", b"123"]), Some(123));
        assert_eq!(ack_offset(&[b"replconf", b"ack", b"5", b"FACK", b"4"]), Some(5));
        assert_eq!(ack_offset(&[b"replconf", b"ack", b"x"]), None);
        assert_eq!(ack_offset(&[b"replconf", b"ack", b"-1"]), None);
        assert_eq!(ack_offset(&[b"ping"]), None);
        assert_eq!(ack_offset(&[b"replconf", b"getack", b"*"]), None);
    }
}
