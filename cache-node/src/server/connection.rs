//! One client connection: read what the socket has, execute every complete request in
//! it, answer them all with one write (that is what makes pipelining fast), repeat.

use std::sync::Arc;
use std::time::Instant;
use std::sync::atomic::Ordering::Relaxed;

use bytes::{Buf, BytesMut};
use smallvec::SmallVec;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tracing::{Instrument, debug, info_span};

use super::clients::ClientInfo;
use super::session::{After, ReplyMode, Session};
use super::state::{Server, now_ms};
use super::stats::{ThreadStats, bump};
use crate::commands::{self, Ctx, flag};
use crate::protocol::{Reply, RespVersion, parse_request, request::Request};

const READ_CHUNK: usize = 16 * 1024;

pub async fn serve(srv: Arc<Server>, stream: TcpStream, info: Arc<ClientInfo>, stats: Arc<ThreadStats>) {
    let span = info_span!("conn", id = info.id, peer = %info.addr);
    let id = info.id;
    async {
        let reason = run(&srv, stream, info, &stats).await;
        debug!(reason, "connection closed");
    }
    .instrument(span)
    .await;
    srv.clients.unregister(id);
}

/// Returns why the connection ended (for the log).
async fn run(srv: &Server, mut stream: TcpStream, info: Arc<ClientInfo>, stats: &ThreadStats) -> &'static str {
    let authenticated = !srv.tun.has_password.load(Relaxed);
    let mut session = Session::new(info, authenticated);
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Reply::new(RespVersion::Resp2);
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(16);
    loop {
        if inbuf.capacity() - inbuf.len() < READ_CHUNK / 4 {
            inbuf.reserve(READ_CHUNK);
        }
        let n = match read_some(&mut stream, &mut inbuf).await {
            Ok(0) => return "eof",
            Ok(n) => n,
            Err(_) => return "read error",
        };
        bump(&stats.net_input_bytes, n as u64);
        let limits = srv.tun.limits();
        // One clock reading per batch: commands of a pipeline share it (as Redis caches
        // the time per event-loop iteration) and the per-command timer chains from it.
        let mut now = now_ms();
        let mut clock = Instant::now();
        session.info.last_interaction_ms.store(now, Relaxed);
        let mut pos = 0;
        let mut close = false;
        while pos < inbuf.len() {
            let req = match parse_request(&inbuf[pos..], &limits, &mut spans) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    out.error(&format!("ERR Protocol error: {e}"));
                    srv.stats.record_error("ERR");
                    close = true;
                    break;
                }
            };
            let consumed = req.consumed();
            let base = pos;
            let owned;
            let argv: SmallVec<[&[u8]; 8]> = match &req {
                Request::Multibulk { .. } => spans.iter().map(|&(s, e)| &inbuf[base + s..base + e]).collect(),
                Request::Inline { args, .. } => {
                    owned = args;
                    owned.iter().map(|a| a.as_slice()).collect()
                }
            };
            pos += consumed;
            if argv.is_empty() {
                continue;
            }
            if srv.pause.until_ms.load(Relaxed) > 0 {
                wait_while_paused(srv, &session.info, &argv).await;
                if session.info.killed.load(Relaxed) {
                    return "killed while paused";
                }
                now = now_ms();
                clock = Instant::now();
            }
            let mark = out.len();
            let mut ctx = Ctx { srv, session: &mut session, out: &mut out, now_ms: now };
            commands::dispatch(&mut ctx, &argv, stats, &mut clock);
            match session.reply_mode {
                ReplyMode::On => {}
                ReplyMode::Off => out.truncate(mark),
                ReplyMode::Skip => {
                    out.truncate(mark);
                    session.reply_mode = ReplyMode::On;
                }
                ReplyMode::SkipNext => session.reply_mode = ReplyMode::Skip,
            }
            match std::mem::take(&mut session.after) {
                After::Continue => {}
                After::Close => {
                    close = true;
                    break;
                }
                After::Sleep(d) => {
                    // Reply to what ran so far, then pause this connection only.
                    if write_out(&mut stream, &mut out, stats).await.is_err() {
                        return "write error";
                    }
                    tokio::time::sleep(d).await;
                    now = now_ms();
                    clock = Instant::now();
                }
            }
        }
        inbuf.advance(pos);
        if !close && inbuf.len() > srv.tun.query_buffer_limit.load(Relaxed) {
            tracing::warn!(len = inbuf.len(), "closing client that exceeded the query buffer limit");
            return "query buffer limit";
        }
        session.info.qbuf.store(inbuf.len() as u64, Relaxed);
        if write_out(&mut stream, &mut out, stats).await.is_err() {
            return "write error";
        }
        if close {
            let _ = stream.shutdown().await;
            return "closed by command or protocol error";
        }
    }
}

/// Reads what the socket has. After a short read the socket is drained, so its
/// readiness is cleared without the extra read that would only return EAGAIN: one read
/// system call per request batch, as in Redis's event loop. (Data arriving in between
/// raises a new edge that the reactor sees before this task runs again.)
async fn read_some(stream: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    loop {
        stream.readable().await?;
        let spare = buf.capacity() - buf.len();
        match stream.try_read_buf(buf) {
            Ok(n) => {
                if n > 0 && n < spare {
                    let _ = stream.try_io(Interest::READABLE, || Err::<(), _>(std::io::ErrorKind::WouldBlock.into()));
                }
                return Ok(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

async fn write_out(stream: &mut TcpStream, out: &mut Reply, stats: &ThreadStats) -> std::io::Result<()> {
    if out.buf.is_empty() {
        return Ok(());
    }
    stream.write_all(&out.buf).await?;
    bump(&stats.net_output_bytes, out.buf.len() as u64);
    out.buf.clear();
    // A huge reply (KEYS on a big database) must not pin its memory forever.
    if out.buf.capacity() > 1024 * 1024 {
        out.buf.shrink_to(64 * 1024);
    }
    Ok(())
}

/// CLIENT PAUSE: hold this client's command until the pause ends (WRITE pauses only
/// hold commands that may write).
async fn wait_while_paused(srv: &Server, info: &ClientInfo, argv: &[&[u8]]) {
    let spec = argv.first().and_then(|n| commands::lookup(n)).map(|(_, s)| s);
    let is_write = spec.is_some_and(|s| s.has(flag::WRITE) || s.has(flag::MAY_REPLICATE));
    let is_exempt = spec.is_some_and(|s| s.name == "client" || s.name == "ping" || s.name == "quit");
    loop {
        // Register for the UNPAUSE wake-up before reading the deadline, so an UNPAUSE
        // landing in between is not missed.
        let unpaused = srv.pause.unpaused.notified();
        tokio::pin!(unpaused);
        unpaused.as_mut().enable();
        let until = srv.pause.until_ms.load(Relaxed);
        let now = now_ms();
        if until <= now {
            // An expired pause is cleared so later commands skip this check entirely.
            let _ = srv.pause.until_ms.compare_exchange(until, 0, Relaxed, Relaxed);
            return;
        }
        if is_exempt || (srv.pause.write_only.load(Relaxed) && !is_write) {
            return;
        }
        // A client killed (or a server shut down) while held must not wait out the pause.
        if info.killed.load(Relaxed) || srv.is_shutting_down() {
            return;
        }
        let wait = std::time::Duration::from_millis(((until - now) as u64).min(100));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = unpaused => {}
        }
    }
}
