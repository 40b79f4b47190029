//! The link thread of a replica: connect, handshake, PSYNC, load the primary's snapshot
//! on a full resync, then apply its stream, acknowledging the offset every second; on any
//! failure, reconnect a second later with a PSYNC from where it stopped.
//!
//! Blocking sockets on a dedicated thread: applying a command (`commands::dispatch`) is
//! synchronous, and the stream must be applied strictly in order anyway.

use std::io::{self, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use smallvec::SmallVec;

use super::replica::Status;
use super::replica_applied::Applied;
use super::replica_conn::{Conn, command};
use crate::commands::{Ctx, dispatch, table};
use crate::protocol::request::{Limits, Progress, Request, parse_request_resume};
use crate::protocol::{Reply, RespVersion};
use crate::server::clients::ClientInfo;
use crate::server::session::Session;
use crate::server::state::{Server, now_ms};
use crate::server::stats::ThreadStats;
use crate::store::lookahead;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_ATTEMPT: Duration = Duration::from_millis(500);
const RETRY: Duration = Duration::from_secs(1);
const ACK_EVERY: Duration = Duration::from_secs(1);

/// Why one connection to the primary ended.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the primary replied {0:?} to {1}")]
    Refused(String, &'static str),
    #[error("loading the primary's snapshot: {0}")]
    Load(#[from] crate::persist::load::LoadError),
    #[error("protocol error in the primary's stream: {0}")]
    Protocol(#[from] crate::protocol::request::ParseError),
}

pub(super) fn run(srv: Arc<Server>, epoch: u64, host: String, port: u16) {
    let link = &srv.replication.link;
    let alive = |srv: &Server| link.current(epoch) && !srv.is_shutting_down();
    tracing::info!(%host, port, "connecting to the primary");
    while alive(&srv) {
        link.set_status(epoch, Status::Connecting);
        match connection(&srv, epoch, &host, port) {
            Ok(()) => {}
            Err(e) if alive(&srv) => tracing::warn!(%host, port, error = %e, "replication link to the primary lost; retrying"),
            Err(_) => {}
        }
        link.set_socket(epoch, None);
        link.set_status(epoch, Status::Connect);
        let until = Instant::now() + RETRY;
        while alive(&srv) && Instant::now() < until {
            std::thread::sleep(super::replica_conn::POLL);
        }
    }
}

/// One connection: handshake, resync, stream until it fails or the link is stopped.
fn connection(srv: &Arc<Server>, epoch: u64, host: &str, port: u16) -> Result<(), LinkError> {
    let link = &srv.replication.link;
    let addr = (host, port).to_socket_addrs()?.next().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("cannot resolve {host}")))?;
    let sock = connect(srv, epoch, &addr)?;
    if !link.set_socket(epoch, Some(sock.try_clone()?)) {
        return Ok(());
    }
    let timeout = Duration::from_secs(srv.config.read().int("repl-timeout").max(1) as u64);
    let weak = Arc::downgrade(srv);
    let alive = Box::new(move || weak.upgrade().is_some_and(|s| s.replication.link.current(epoch) && !s.is_shutting_down()));
    let mut conn = Conn::new(sock, timeout, alive)?;
    handshake(srv, &mut conn)?;
    let (replid, offset) = {
        let ids = srv.replication.ids.lock();
        (ids.replid.clone(), srv.replication.offset())
    };
    let next = (offset + 1).to_string();
    // During FAILOVER the old primary asks its target to take over (failover.rs).
    let reply = if srv.replication.failover.psync_failover.load(Relaxed) {
        conn.call(&[b"PSYNC", replid.as_bytes(), next.as_bytes(), b"FAILOVER"])?
    } else {
        conn.call(&[b"PSYNC", replid.as_bytes(), next.as_bytes()])?
    };
    let text = String::from_utf8_lossy(&reply).into_owned();
    let mut words = text.split(' ');
    match words.next() {
        Some("+FULLRESYNC") => {
            let id = words.next().unwrap_or_default().to_string();
            let off = words.next().and_then(|o| o.parse::<u64>().ok());
            let Some(off) = off.filter(|_| id.len() == 40) else { return Err(LinkError::Refused(text, "PSYNC")) };
            tracing::info!(replid = %id, offset = off, "full resync from the primary");
            link.set_status(epoch, Status::Sync);
            full_sync(srv, &mut conn, &id, off)?;
        }
        Some("+CONTINUE") => {
            if let Some(id) = words.next().filter(|id| id.len() == 40)
                && let mut ids = srv.replication.ids.lock()
                && ids.replid != id
            {
                // The primary's history has a new id (it was promoted): ours stays valid
                // under the old one up to here.
                ids.replid2 = std::mem::replace(&mut ids.replid, id.to_string());
                ids.second_offset = srv.replication.offset() as i64 + 1;
            }
            tracing::info!(offset, "partial resync from the primary");
        }
        _ => return Err(LinkError::Refused(text, "PSYNC")),
    }
    if !link.current(epoch) {
        return Ok(());
    }
    link.touch();
    link.set_status(epoch, Status::Connected);
    stream(srv, &mut conn)
}

/// Connects in short attempts, so that stopping the link (REPLICAOF NO ONE during a
/// failover, with the old primary unreachable) never waits for a long connect timeout.
fn connect(srv: &Server, epoch: u64, addr: &std::net::SocketAddr) -> io::Result<TcpStream> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match TcpStream::connect_timeout(addr, left.min(CONNECT_ATTEMPT)) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut && left > CONNECT_ATTEMPT && srv.replication.link.current(epoch) => {}
            other => return other,
        }
    }
}

/// PING, AUTH, REPLCONF listening-port / ip-address / capa, as a Redis replica does.
fn handshake(srv: &Server, conn: &mut Conn) -> Result<(), LinkError> {
    let pong = conn.call(&[b"PING"])?;
    // A primary that wants a password answers PING with NOAUTH: AUTH follows.
    let auth_errors: [&[u8]; 3] = [b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted"];
    if pong.first() == Some(&b'-') && !auth_errors.iter().any(|p| pong.starts_with(p)) {
        return Err(LinkError::Refused(String::from_utf8_lossy(&pong).into_owned(), "PING"));
    }
    let (user, pass, announce_ip, announce_port) = {
        let c = srv.config.read();
        (c.str("masteruser").to_string(), c.str("masterauth").to_string(), c.str("replica-announce-ip").to_string(), c.int("replica-announce-port"))
    };
    if !pass.is_empty() {
        let reply = if user.is_empty() { conn.call(&[b"AUTH", pass.as_bytes()])? } else { conn.call(&[b"AUTH", user.as_bytes(), pass.as_bytes()])? };
        if reply.first() == Some(&b'-') {
            return Err(LinkError::Refused(String::from_utf8_lossy(&reply).into_owned(), "AUTH"));
        }
    }
    let port = if announce_port > 0 { announce_port } else { i64::from(srv.tcp_port.load(Relaxed)) };
    // Redis carries on when the primary does not understand these.
    let reply = conn.call(&[b"REPLCONF", b"listening-port", port.to_string().as_bytes()])?;
    log_refusal(&reply, "REPLCONF listening-port");
    if !announce_ip.is_empty() {
        let reply = conn.call(&[b"REPLCONF", b"ip-address", announce_ip.as_bytes()])?;
        log_refusal(&reply, "REPLCONF ip-address");
    }
    let reply = conn.call(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    log_refusal(&reply, "REPLCONF capa");
    Ok(())
}

fn log_refusal(reply: &[u8], what: &str) {
    if reply.first() == Some(&b'-') {
        tracing::warn!(reply = %String::from_utf8_lossy(reply), "the primary refused {what}; continuing");
    }
}

/// Counts the snapshot's bytes for INFO's sync progress.
struct Progressing<'a, R> {
    inner: R,
    srv: &'a Server,
    read: i64,
}

impl<R: Read> Read for Progressing<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        let before = self.read;
        self.read += n as i64;
        self.srv.replication.link.sync_progress(None, self.read);
        // The RDB reader asks for a few bytes at a time: the clock is read per 64 KiB.
        if before >> 16 != self.read >> 16 {
            self.srv.replication.link.touch();
        }
        Ok(n)
    }
}

/// Replaces the data with the primary's snapshot, streamed from the socket
/// (`$<len>` or the disk-less `$EOF:<mark>` format), and adopts its history.
fn full_sync(srv: &Server, conn: &mut Conn, replid: &str, offset: u64) -> Result<(), LinkError> {
    let head = conn.line()?;
    let bad_head = || LinkError::Refused(String::from_utf8_lossy(&head).into_owned(), "PSYNC (snapshot header)");
    let mark = match head.strip_prefix(b"$EOF:") {
        Some(m) if m.len() == 40 => Some(m.to_vec()),
        Some(_) => return Err(bad_head()),
        None => None,
    };
    let len = match &mark {
        Some(_) => None,
        None => Some(head.strip_prefix(b"$").and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok()).ok_or_else(bad_head)?),
    };
    let link = &srv.replication.link;
    link.sync_progress(Some(len.map_or(-1, |l| l as i64)), 0);
    // From here the data is no longer the old history's: should the transfer fail, the
    // next PSYNC must not claim it (a fresh id forces another full resync).
    *srv.replication.ids.lock() = super::state::Ids::default();
    // Freed after the locks are released: readers never wait for the old data to go.
    let old = srv.keyspace.lock_all().take_parts();
    let discarded: usize = old.iter().map(|p| p.len()).sum();
    if discarded > 0 {
        // A demoted primary's writes that its successor never saw end here: say so.
        tracing::warn!(keys = discarded, "full resync: discarding this node's data set for the primary's");
    }
    drop(old);
    // Keys already expired by this node's clock are kept: the primary's DELs remove them.
    let path = Path::new("<primary>");
    match (len, mark) {
        (Some(len), _) => {
            let mut body = Progressing { inner: (&mut *conn).take(len), srv, read: 0 };
            crate::persist::load::load_rdb_from(&srv.keyspace, &mut body, path, i64::MIN)?;
            // Whatever the reader did not need (nothing, normally) is not the stream.
            io::copy(&mut body, &mut io::sink())?;
        }
        (None, Some(mark)) => {
            let mut body = Progressing { inner: &mut *conn, srv, read: 0 };
            crate::persist::load::load_rdb_from(&srv.keyspace, &mut body, path, i64::MIN)?;
            let mut tail = [0u8; 40];
            conn.read_exact(&mut tail)?;
            if tail[..] != mark[..] {
                return Err(LinkError::Refused("a snapshot not followed by its EOF mark".into(), "PSYNC"));
            }
        }
        (None, None) => return Err(bad_head()),
    }
    {
        let mut ids = srv.replication.ids.lock();
        ids.replid = replid.to_string();
        ids.replid2 = "0".repeat(40);
        ids.second_offset = -1;
    }
    srv.replication.backlog.reset(offset);
    link.db.store(0, Relaxed);
    // The AOF saw neither the emptying nor the load: it starts again from the new data.
    if srv.aof().is_some()
        && let Some(arc) = srv.arc()
    {
        match arc.bgrewriteaof() {
            // A rewrite that started before the sync holds old data: another follows it.
            Err(crate::server::persistence::JobRefused::RewriteInProgress) => srv.persistence.rewrite_scheduled.store(true, Relaxed),
            Err(e) => tracing::warn!(error = %e, "cannot rewrite the AOF after a full resync"),
            Ok(()) => {}
        }
    }
    Ok(())
}

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

/// Applies the primary's stream until the connection fails or the link is stopped.
fn stream(srv: &Arc<Server>, conn: &mut Conn) -> Result<(), LinkError> {
    let link = &srv.replication.link;
    let local = conn.sock.local_addr()?;
    let peer = conn.sock.peer_addr()?;
    let info = Arc::new(ClientInfo::new(srv.clients.next_id(), peer, local, -1, now_ms()));
    let mut session = Session::new(info, true);
    session.is_master = true;
    session.select(link.db.load(Relaxed));
    let mut out = Reply::new(RespVersion::Resp2);
    let stats = ThreadStats::new(table::all().len());
    let mut clock = Instant::now();
    let limits = Limits::default();
    let mut spans = Vec::new();
    let mut progress = Progress::default();
    let mut last_ack = Instant::now();
    let mut applied = Applied::default();
    // Commands of the buffer left before the next look-ahead (0: look at the next window).
    let mut ahead = 0;
    let mut lookahead = lookahead::Lookahead::default();
    // The clock commands see, read once per window: applying a window takes
    // microseconds, and the stream's expiry times are absolute.
    let mut now = now_ms();
    send_ack(srv, conn)?;
    loop {
        let mut append = |bytes: &[u8]| {
            srv.replication.backlog.append(bytes);
        };
        let batch = (|| -> Result<(), LinkError> {
            loop {
                let buf = &conn.buf[conn.pos..];
                if ahead == 0 {
                    lookahead.hint_window(&srv.keyspace, buf, session.db, lookahead::WINDOW);
                    ahead = lookahead::WINDOW;
                    now = now_ms();
                }
                ahead -= 1;
                let req = match parse_request_resume(buf, &limits, &mut spans, &mut progress)? {
                    Some(r) => r,
                    None => return Ok(()),
                };
                let consumed = req.consumed();
                let inline_args;
                let args: SmallVec<[&[u8]; 8]> = match req {
                    Request::Multibulk { .. } => spans.iter().map(|&(s, e)| &buf[s..e]).collect(),
                    Request::Inline { args: a, .. } => {
                        inline_args = a;
                        inline_args.iter().map(Vec::as_slice).collect()
                    }
                };
                let ack_now = apply(srv, &args, &mut session, &mut out, &stats, &mut clock, now)?;
                applied.applied(&conn.buf, conn.pos..conn.pos + consumed, session.tx.queue.is_some(), &mut append);
                conn.pos += consumed;
                if ack_now {
                    // After counting the GETACK itself: a primary waiting for this replica
                    // to hold its whole stream (FAILOVER) sees it at once, not at the next
                    // periodic ACK.
                    applied.flush(&conn.buf, &mut append);
                    send_ack(srv, conn)?;
                }
            }
        })();
        // Also when the link fails mid-read: what was applied is counted, so the next
        // PSYNC continues after it, in the database it selected.
        applied.flush(&conn.buf, &mut append);
        link.db.store(session.db, Relaxed);
        batch?;
        // The primary's writes reach this node's AOF file batch by batch, as a client's
        // do before its reply (an `always` fsync stays on the AOF thread).
        let wait = std::mem::take(&mut session.durable_wait);
        if wait > 0
            && let Some(log) = srv.aof()
        {
            log.write_through(wait);
        }
        link.set_read_offset(srv.replication.offset() + (applied.held_back() + conn.buffered().len()) as u64);
        if last_ack.elapsed() >= ACK_EVERY {
            send_ack(srv, conn)?;
            last_ack = Instant::now();
        }
        // The parser resumes from the buffer's front: dropping the consumed part moves
        // it, so a partly received command is scanned again (once per read at most).
        if conn.pos > 0 {
            conn.compact();
            progress = Progress::default();
        }
        if conn.fill()? {
            ahead = 0;
            link.touch();
        }
    }
}

/// Applies one command of the stream.
#[allow(clippy::too_many_arguments)]
/// Returns whether an ACK is due once the command is counted (REPLCONF GETACK).
fn apply(srv: &Server, args: &[&[u8]], session: &mut Session, out: &mut Reply, stats: &ThreadStats, clock: &mut Instant, now: i64) -> Result<bool, LinkError> {
    let Some(name) = args.first() else { return Ok(false) };
    if is(name, "PING") {
        // PINGs only keep the link alive. (MULTI/EXEC go through the dispatcher: the
        // transaction is applied atomically, as on the primary.)
        return Ok(false);
    }
    if is(name, "REPLCONF") {
        return Ok(args.get(1).is_some_and(|a| is(a, "GETACK")));
    }
    out.truncate(0);
    // Not while a script runs (scripting/gate.rs).
    let gate = &srv.scripting.gate;
    gate.enter_blocking(gate.link_slot());
    crate::store::limits::applying_primary_stream(|| {
        let mut ctx = Ctx::new(srv, session, out, now);
        dispatch(&mut ctx, args, stats, clock);
    });
    gate.leave(gate.link_slot());
    let reply: &[u8] = &out.buf;
    if reply.first() == Some(&b'-') {
        let n = srv.replication.link.failed_commands.fetch_add(1, Relaxed) + 1;
        let end = reply.iter().position(|&b| b == b'\r').unwrap_or(reply.len());
        tracing::warn!(
            command = %String::from_utf8_lossy(&name[..name.len().min(64)]),
            error = %String::from_utf8_lossy(&reply[1..end]),
            failed_so_far = n,
            "a command from the primary failed here; carrying on"
        );
    }
    Ok(false)
}

/// `REPLCONF ACK <offset>`: what this replica has applied.
fn send_ack(srv: &Server, conn: &Conn) -> io::Result<()> {
    let off = srv.replication.offset().to_string();
    conn.send(&command(&[b"REPLCONF", b"ACK", off.as_bytes()]))
}
