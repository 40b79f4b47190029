//! One client connection: read what the socket has, execute every complete request in
//! it, queue the replies, repeat. Replies are written whenever the socket takes them,
//! and reading goes on while they wait, as in Redis: a client that writes a long
//! pipeline before it reads a single reply would otherwise deadlock with us once both
//! sides' socket buffers are full.

use std::io::ErrorKind::WouldBlock;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use bytes::{Buf, BufMut, BytesMut};
use smallvec::SmallVec;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tracing::{Instrument, debug, debug_span, warn};

use super::Handoff;
use super::clients::{ClientInfo, NO_MOVE};
use super::session::{After, ReplyMode, Session};
use super::state::{Server, now_ms};
use super::stats::{ThreadStats, bump};
use crate::commands::{self, Ctx, flag};
use crate::protocol::request::{Progress, Request, parse_request_resume};
use crate::protocol::{Reply, RespVersion};

/// Room made in the input buffer before a read.
const READ_CHUNK: usize = 16 * 1024;
/// Most bytes taken in one read, so that one pipelining client runs a bounded batch
/// before the other connections of its thread get a turn.
const READ_MAX: usize = 256 * 1024;
/// Queued output past which we try to write in the middle of a batch.
const FLUSH_AT: usize = 64 * 1024;
/// Output Redis keeps in a client's fixed buffer, outside output buffer limits.
const REPLY_STATIC: usize = 16 * 1024;
/// Idle buffers larger than this are given back (a big value passed through once).
const KEEP_CAPACITY: usize = 1024 * 1024;

/// Serves a newly accepted connection on the calling worker.
pub async fn serve(srv: Arc<Server>, stream: TcpStream, info: Arc<ClientInfo>, stats: Arc<ThreadStats>, worker: usize) {
    let authenticated = !srv.tun.has_password.load(Relaxed);
    let mut session = Session::new(info, authenticated);
    session.on_connection = true;
    let parked = Parked { stream: None, session, inbuf: BytesMut::with_capacity(READ_CHUNK), resp: RespVersion::Resp2 };
    drive(srv, stream, parked, stats, worker).await;
}

/// Continues serving a connection that another worker handed over.
pub async fn resume(srv: Arc<Server>, mut parked: Parked, stats: Arc<ThreadStats>, worker: usize) {
    let Some(std_stream) = parked.stream.take() else { return };
    let id = parked.session.id();
    match TcpStream::from_std(std_stream) {
        Ok(stream) => drive(srv, stream, parked, stats, worker).await,
        Err(e) => {
            warn!(error = %e, "cannot take over a moved connection");
            srv.clients.unregister(id);
        }
    }
}

async fn drive(srv: Arc<Server>, stream: TcpStream, parked: Parked, stats: Arc<ThreadStats>, worker: usize) {
    let info = parked.session.info.clone();
    // Debug level: entering an enabled span on every poll is measurable at 100k req/s.
    let span = debug_span!("conn", id = info.id, peer = %info.addr);
    info.worker.store(worker, Relaxed);
    bump(&stats.conns, 1);
    let exit = async {
        let mut conn = Conn::new(&srv, stream, parked, &stats, worker);
        let exit = conn.run().await;
        match exit {
            Exit::Ended(reason) => {
                debug!(reason, "connection closed");
                None
            }
            Exit::Moved(to) => conn.park().map(|p| (to, p)),
            Exit::Replica(req) => {
                let Conn { stream, session, inbuf, .. } = conn;
                crate::replication::primary::serve_replica(srv.clone(), stream, session, inbuf, req).await;
                None
            }
        }
    }
    .instrument(span)
    .await;
    stats.conns.store(stats.conns.load(Relaxed).saturating_sub(1), Relaxed);
    if let Some((to, parked)) = exit
        && let Some(w) = srv.workers.get().and_then(|w| w.get(to))
        && w.send(Handoff::Moved(Box::new(parked))).is_ok()
    {
        return;
    }
    srv.clients.unregister(info.id);
}

/// A connection between two workers: its socket and all state that outlives a batch.
pub struct Parked {
    stream: Option<std::net::TcpStream>,
    session: Session,
    inbuf: BytesMut,
    resp: RespVersion,
}

/// How `Conn::run` ends.
enum Exit {
    Ended(&'static str),
    /// The balancer moved the connection to this worker.
    Moved(usize),
    /// The client is a replica: the socket goes to replication/primary.rs.
    Replica(crate::replication::primary::PsyncRequest),
}

/// What the connection does after a batch of requests.
enum Next {
    Continue,
    /// Send the queued replies, then close (QUIT, protocol error, end of input).
    Close(&'static str),
    /// Close at once.
    Abort(&'static str),
    /// Replies written; the connection becomes a replica link.
    Replica(crate::replication::primary::PsyncRequest),
}

struct Conn<'a> {
    srv: &'a Server,
    stats: &'a ThreadStats,
    worker: usize,
    stream: TcpStream,
    session: Session,
    inbuf: BytesMut,
    out: Reply,
    /// Bytes at the front of `out.buf` already written.
    sent: usize,
    spans: Vec<(usize, usize)>,
    progress: Progress,
    /// Cache hints for the keys of the pipeline's next commands (store/lookahead.rs).
    lookahead: crate::store::lookahead::Lookahead,
    /// When pending output first went over the soft output buffer limit.
    soft_since: Option<Instant>,
}

impl<'a> Conn<'a> {
    fn new(srv: &'a Server, stream: TcpStream, parked: Parked, stats: &'a ThreadStats, worker: usize) -> Self {
        let mut out = Reply::new(parked.resp);
        out.buf.clear();
        Conn {
            srv,
            stats,
            worker,
            stream,
            session: parked.session,
            inbuf: parked.inbuf,
            out,
            sent: 0,
            spans: Vec::with_capacity(16),
            progress: Progress::default(),
            lookahead: Default::default(),
            soft_since: None,
        }
    }

    /// Detaches the socket and state for another worker (only with no output pending).
    fn park(self) -> Option<Parked> {
        let stream = self.stream.into_std().ok()?;
        // The parser's progress is not carried: it refers to argument spans that stay
        // behind, so the new worker re-parses an unfinished request from its start (the
        // buffer's front).
        Some(Parked { stream: Some(stream), session: self.session, inbuf: self.inbuf, resp: self.out.version })
    }

    /// Serves until the connection ends or is moved to another worker.
    async fn run(&mut self) -> Exit {
        let mut closing = None;
        loop {
            let pending = self.out.buf.len() - self.sent;
            self.session.info.omem.store(pending as u64, Relaxed);
            if let Some(reason) = closing
                && pending == 0
            {
                let _ = self.stream.shutdown().await;
                return Exit::Ended(reason);
            }
            // Move between batches only, with every reply written.
            if closing.is_none() && pending == 0 {
                let to = self.session.info.move_to.swap(NO_MOVE, Relaxed);
                if to != NO_MOVE && to != self.worker {
                    return Exit::Moved(to);
                }
            }
            let interest = match (closing.is_none(), pending > 0) {
                (true, true) => Interest::READABLE | Interest::WRITABLE,
                (true, false) => Interest::READABLE,
                (false, _) => Interest::WRITABLE,
            };
            let ready = match self.session.pubsub.as_ref().map(|s| s.sub.clone()) {
                None => self.stream.ready(interest).await,
                // A subscriber also wakes for published messages.
                Some(sub) => tokio::select! {
                    r = self.stream.ready(interest) => r,
                    () = sub.notify.notified() => {
                        // Let the publishers that are ready run first, so that one write
                        // carries all they publish (as Redis writes once per event loop).
                        tokio::task::yield_now().await;
                        if let Some(exit) = self.on_messages() {
                            return exit;
                        }
                        continue;
                    }
                },
            };
            let Ok(ready) = ready else {
                return Exit::Ended("socket error");
            };
            let busy_since = Instant::now();
            super::idle_poll::note_event();
            let step = self.on_ready(ready, &mut closing).await;
            bump(&self.stats.busy_nanos, busy_since.elapsed().as_nanos() as u64);
            if let Some(exit) = step {
                return exit;
            }
        }
    }

    /// Handles one readiness event: writes queued replies, reads and runs requests.
    async fn on_ready(&mut self, ready: tokio::io::Ready, closing: &mut Option<&'static str>) -> Option<Exit> {
        let pending = self.out.buf.len() - self.sent;
        if pending > 0 && ready.is_writable() && try_flush(&self.stream, &mut self.out, &mut self.sent, self.stats).is_err() {
            return Some(Exit::Ended("write error"));
        }
        if closing.is_some() || !ready.is_readable() {
            return None;
        }
        if self.inbuf.capacity() - self.inbuf.len() < READ_CHUNK / 4 {
            self.inbuf.reserve(READ_CHUNK);
        }
        let room = (self.inbuf.capacity() - self.inbuf.len()).min(READ_MAX);
        match self.stream.try_read_buf(&mut (&mut self.inbuf).limit(READ_MAX)) {
            Ok(0) => *closing = Some("end of input"),
            Ok(n) => {
                if n < room {
                    // A short read drained the socket: clear its readiness now rather
                    // than learn it from one more read that would only return EAGAIN,
                    // so a batch costs one read system call, as in Redis's event loop.
                    // (Data arriving in between raises a new edge that the reactor
                    // sees before this task runs again.)
                    let _ = self.stream.try_io(Interest::READABLE, || Err::<(), _>(WouldBlock.into()));
                }
                bump(&self.stats.net_input_bytes, n as u64);
                let next = self.run_batch().await;
                if self.over_output_limit() {
                    return Some(Exit::Ended("output buffer limit"));
                }
                match next {
                    Next::Continue => {}
                    Next::Close(reason) => *closing = Some(reason),
                    Next::Abort(reason) => return Some(Exit::Ended(reason)),
                    Next::Replica(req) => {
                        if flush_all(&self.stream, &mut self.out, &mut self.sent, self.stats).await.is_err() {
                            return Some(Exit::Ended("write error"));
                        }
                        return Some(Exit::Replica(req));
                    }
                }
                // Let the other connections that are ready run their requests first, then
                // write: like Redis writing all replies after an event-loop pass, this
                // sends the replies of many clients in a burst, so a client process serving
                // many connections finds them ready together instead of waking per reply.
                if self.out.buf.len() > self.sent {
                    tokio::task::yield_now().await;
                }
                if self.out.buf.len() > self.sent && try_flush(&self.stream, &mut self.out, &mut self.sent, self.stats).is_err() {
                    return Some(Exit::Ended("write error"));
                }
            }
            Err(e) if e.kind() == WouldBlock => {}
            Err(_) => return Some(Exit::Ended("read error")),
        }
        None
    }

    /// Runs every complete request in the input buffer and queues the replies.
    async fn run_batch(&mut self) -> Next {
        let mut limits = self.srv.tun.limits();
        // One clock reading per batch: commands of a pipeline share it (as Redis caches
        // the time per event-loop iteration) and the per-command timer chains from it.
        let mut now = now_ms();
        let mut clock = Instant::now();
        self.session.info.last_interaction_ms.store(now, Relaxed);
        let mut pos = 0;
        let mut next = Next::Continue;
        // Consecutive scripts go to the script thread together (scripting/batch.rs).
        let mut scripts = crate::scripting::batch::Pending::on_worker(self.worker);
        // End of the commands whose keys were last hinted to the cache.
        let mut hinted = 0;
        while pos < self.inbuf.len() {
            if pos >= hinted {
                hinted = pos + self.lookahead.hint(&self.srv.keyspace, &self.inbuf[pos..], self.session.db);
            }
            limits.unauthenticated = !self.session.authenticated;
            let req = match parse_request_resume(&self.inbuf[pos..], &limits, &mut self.spans, &mut self.progress) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    debug!(error = %e, "protocol error");
                    scripts.run(self.srv, &mut self.session, &mut self.out).await;
                    self.out.error_bytes(&e.reply_text());
                    self.srv.stats.record_error("ERR");
                    return Next::Close("protocol error");
                }
            };
            let base = pos;
            pos += req.consumed();
            let argv: SmallVec<[&[u8]; 8]> = match &req {
                Request::Multibulk { .. } => self.spans.iter().map(|&(s, e)| &self.inbuf[base + s..base + e]).collect(),
                Request::Inline { args, .. } => args.iter().map(|a| a.as_slice()).collect(),
            };
            if argv.is_empty() {
                continue;
            }
            if !scripts.is_empty() && !crate::scripting::batch::is_script_call(argv[0]) {
                scripts.run(self.srv, &mut self.session, &mut self.out).await;
                now = now_ms();
                clock = Instant::now();
            }
            if self.srv.pause.until_ms.load(Relaxed) > 0 {
                scripts.run(self.srv, &mut self.session, &mut self.out).await;
                // Replies to what ran before the pause should not wait for it.
                wait_durable(self.srv, &mut self.session).await;
                if try_flush(&self.stream, &mut self.out, &mut self.sent, self.stats).is_err() {
                    return Next::Abort("write error");
                }
                wait_while_paused(self.srv, &self.session.info, &argv).await;
                if self.session.info.killed.load(Relaxed) {
                    return Next::Abort("killed while paused");
                }
                now = now_ms();
                clock = Instant::now();
            }
            let mark = self.out.buf.len();
            // While a script runs, no command does (scripting/gate.rs).
            if !crate::scripting::enter_command(self.srv, self.worker, argv[0]) {
                if let crate::scripting::Admit::Busy = crate::scripting::admit(self.srv, self.worker, &argv).await {
                    self.srv.stats.record_error("BUSY");
                    self.out.error(crate::scripting::BUSY);
                    continue;
                }
                now = now_ms();
                clock = Instant::now();
            }
            let mut ctx = Ctx::new(self.srv, &mut self.session, &mut self.out, now);
            commands::dispatch(&mut ctx, &argv, self.stats, &mut clock);
            self.srv.scripting.gate.leave(self.worker);
            let reply_on = self.session.reply_mode == ReplyMode::On;
            match self.session.reply_mode {
                ReplyMode::On => {}
                ReplyMode::Off => self.out.buf.truncate(mark),
                ReplyMode::Skip => {
                    self.out.buf.truncate(mark);
                    self.session.reply_mode = ReplyMode::On;
                }
                ReplyMode::SkipNext => self.session.reply_mode = ReplyMode::Skip,
            }
            // Messages published meanwhile (by this very command, too) go before its
            // reply, where Redis would have appended them.
            if let Some(subs) = self.session.pubsub.as_mut()
                && subs.sub.has_queued()
            {
                let mut msgs = Reply { buf: Vec::new(), version: self.out.version };
                subs.drain_into(&mut msgs);
                self.out.buf.splice(mark..mark, msgs.buf);
            }
            match std::mem::take(&mut self.session.after) {
                After::Continue => {}
                After::Close => {
                    next = Next::Close("closed by command");
                    break;
                }
                After::Replica(req) => {
                    // What follows PSYNC (REPLCONF ACK...) belongs to the replica link.
                    next = Next::Replica(req);
                    break;
                }
                After::WaitReplicas { replicas, offset, deadline_ms } => {
                    // Replies before WAIT go out first; WAIT's own reply comes when the
                    // replicas have acknowledged (or the deadline passes).
                    let n = crate::replication::primary::wait_for_acks(self.srv, replicas, offset, deadline_ms).await;
                    self.out.int(n as i64);
                    now = now_ms();
                    clock = Instant::now();
                }
                After::Block => {
                    // Owned copy: while blocked, input keeps being read into `inbuf` to
                    // notice a client that goes away.
                    let owned: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
                    drop(argv);
                    drop(req);
                    wait_durable(self.srv, &mut self.session).await;
                    if flush_all(&self.stream, &mut self.out, &mut self.sent, self.stats).await.is_err() {
                        return Next::Abort("write error");
                    }
                    if let Err(reason) = self.wait_blocked(&owned, &mut clock).await {
                        return Next::Abort(reason);
                    }
                    now = now_ms();
                    clock = Instant::now();
                }
                After::Script(req) => {
                    // Runs before the next command that is not a script, in order.
                    scripts.push(*req, self.out.buf.len(), reply_on);
                    if scripts.is_full() {
                        scripts.run(self.srv, &mut self.session, &mut self.out).await;
                        now = now_ms();
                        clock = Instant::now();
                    }
                }
                After::ScriptExec => {
                    scripts.run(self.srv, &mut self.session, &mut self.out).await;
                    let reply = crate::scripting::run_exec(self.srv, &mut self.session, &mut self.out).await;
                    if reply_on {
                        self.out.buf.extend_from_slice(&reply);
                    }
                    // A queued QUIT or CLIENT KILL of itself closes after EXEC's reply.
                    if std::mem::take(&mut self.session.after) == After::Close {
                        next = Next::Close("closed by command");
                        break;
                    }
                    now = now_ms();
                    clock = Instant::now();
                }
                After::Sleep(d) => {
                    // Reply to what ran so far, then pause this connection only.
                    wait_durable(self.srv, &mut self.session).await;
                    if flush_all(&self.stream, &mut self.out, &mut self.sent, self.stats).await.is_err() {
                        return Next::Abort("write error");
                    }
                    tokio::time::sleep(d).await;
                    now = now_ms();
                    clock = Instant::now();
                }
            }
            if self.out.buf.len() - self.sent >= FLUSH_AT {
                scripts.run(self.srv, &mut self.session, &mut self.out).await;
                wait_durable(self.srv, &mut self.session).await;
                if try_flush(&self.stream, &mut self.out, &mut self.sent, self.stats).is_err() {
                    return Next::Abort("write error");
                }
            }
        }
        scripts.run(self.srv, &mut self.session, &mut self.out).await;
        wait_durable(self.srv, &mut self.session).await;
        self.inbuf.advance(pos);
        if self.inbuf.is_empty() && self.inbuf.capacity() > KEEP_CAPACITY {
            self.inbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        if matches!(next, Next::Continue) && self.inbuf.len() > self.srv.tun.query_buffer_limit.load(Relaxed) {
            tracing::warn!(id = self.session.id(), len = self.inbuf.len(), "closing client that exceeded the query buffer limit");
            return Next::Abort("query buffer limit");
        }
        self.session.info.qbuf.store(self.inbuf.len() as u64, Relaxed);
        next
    }
}

impl Conn<'_> {
    /// Queues the messages published to this subscriber and sends what the socket takes.
    fn on_messages(&mut self) -> Option<Exit> {
        let subs = self.session.pubsub.as_mut()?;
        subs.drain_into(&mut self.out);
        if subs.total() == 0 {
            self.session.pubsub = None;
        }
        if self.over_output_limit() {
            return Some(Exit::Ended("output buffer limit"));
        }
        if try_flush(&self.stream, &mut self.out, &mut self.sent, self.stats).is_err() {
            return Some(Exit::Ended("write error"));
        }
        None
    }

    /// `client-output-buffer-limit`: whether pending output passed its class's hard
    /// limit, or stayed over the soft one too long (then it is logged and counted).
    fn over_output_limit(&mut self) -> bool {
        use super::pubsub::output_limits::{Class, exceeded};
        // As Redis counts only reply blocks past its 16 KiB per-client buffer, small
        // replies never count against a limit.
        let pending = (self.out.buf.len() - self.sent).saturating_sub(REPLY_STATIC) as u64;
        let class = if self.session.pubsub.as_ref().is_some_and(|s| s.total() > 0) { Class::PubSub } else { Class::Normal };
        let limit = self.srv.pubsub.limits.get(class);
        let under = |l: u64| l == 0 || pending < l;
        if under(limit.hard) && under(limit.soft) {
            self.soft_since = None;
            return false;
        }
        if !exceeded(limit, pending, &mut self.soft_since, Instant::now()) {
            return false;
        }
        let class = if class == Class::PubSub { "pubsub" } else { "normal" };
        warn!(id = self.session.id(), addr = %self.session.info.addr, class, pending, "client closed for overcoming of output buffer limits");
        self.srv.pubsub.obuf_disconnections.fetch_add(1, Relaxed);
        true
    }

    /// Waits while the command in `argv` is blocked (`session.block`), running it again
    /// each time one of its keys is written, and once more when its deadline passes (it
    /// then replies its timeout answer). Input that arrives meanwhile is kept for later;
    /// a client that goes away ends the wait.
    async fn wait_blocked(&mut self, argv: &[Vec<u8>], clock: &mut Instant) -> Result<(), &'static str> {
        let srv = self.srv;
        // Dropped with this future too (connection killed, server stopping): a dead
        // waiter must never stay first in line for a key.
        let _leave = self.session.block.as_ref().map(|b| Unregister { srv, db: b.db, keys: b.keys.clone(), waiter: b.waiter.clone() });
        self.srv.stats.blocked_clients.fetch_add(1, Relaxed);
        let _count = DecrementOnDrop(&self.srv.stats.blocked_clients);
        loop {
            let Some(state) = self.session.block.as_ref() else { return Ok(()) };
            let waiter = state.waiter.clone();
            let deadline = state.deadline;
            let woken = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, waiter.notify.notified()).await.is_ok(),
                    None => {
                        waiter.notify.notified().await;
                        true
                    }
                }
            };
            // A RESP3 subscriber keeps receiving messages while it is blocked.
            let sub = self.session.pubsub.as_ref().map(|s| s.sub.clone());
            let messages = async {
                match &sub {
                    Some(s) => s.notify.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = messages => {
                    if let Some(Exit::Ended(reason)) = self.on_messages() {
                        return Err(reason);
                    }
                    continue;
                }
                woke = woken => {
                    if !woke && let Some(b) = self.session.block.as_mut() {
                        b.timed_out = true;
                    }
                }
                readable = self.stream.readable() => {
                    readable.map_err(|_| "read error")?;
                    match self.stream.try_read_buf(&mut self.inbuf) {
                        Ok(0) => return Err("closed while blocked"),
                        Ok(n) => bump(&self.stats.net_input_bytes, n as u64),
                        Err(e) if e.kind() == WouldBlock => {}
                        Err(_) => return Err("read error"),
                    }
                    if self.inbuf.len() > self.srv.tun.query_buffer_limit.load(Relaxed) {
                        return Err("query buffer limit");
                    }
                    continue;
                }
            }
            if self.session.info.killed.load(Relaxed) {
                return Err("killed while blocked");
            }
            let refs: SmallVec<[&[u8]; 8]> = argv.iter().map(|a| a.as_slice()).collect();
            crate::scripting::enter(self.srv, self.worker).await;
            let mut ctx = Ctx::new(self.srv, &mut self.session, &mut self.out, now_ms());
            commands::dispatch(&mut ctx, &refs, self.stats, clock);
            self.srv.scripting.gate.leave(self.worker);
            match std::mem::take(&mut self.session.after) {
                After::Block => {}
                other => {
                    self.session.after = other;
                    self.session.block = None;
                    return Ok(());
                }
            }
        }
    }
}

/// Removes a blocked client's registrations when its wait ends, however it ends.
struct Unregister<'a> {
    srv: &'a Server,
    db: usize,
    keys: Vec<Vec<u8>>,
    waiter: std::sync::Arc<super::blocking::Waiter>,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.srv.blocking.unregister(self.db, &self.keys, &self.waiter);
    }
}

struct DecrementOnDrop<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for DecrementOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Holds queued replies until the writes they acknowledge are in the AOF: written to
/// the file (and fsynced under `appendfsync always`), as Redis writes its AOF buffer
/// before it sends replies. Once per batch, so pipelines and concurrent clients share
/// one write (and one fsync).
async fn wait_durable(srv: &Server, session: &mut Session) {
    let wait = std::mem::take(&mut session.durable_wait);
    if wait == 0 {
        return;
    }
    let Some(log) = srv.aof() else { return };
    // Under everysec/no, this thread writes what is queued itself (no hand-off).
    if log.write_through(wait) {
        return;
    }
    // A position past the log's end came from an earlier log (appendonly turned off
    // and on again in between): there is nothing to wait for in this one.
    if wait <= log.appended() {
        log.wait_durable(wait).await;
    }
}

/// Writes as much queued output as the socket takes now, without waiting.
fn try_flush(stream: &TcpStream, out: &mut Reply, sent: &mut usize, stats: &ThreadStats) -> std::io::Result<()> {
    while *sent < out.buf.len() {
        match stream.try_write(&out.buf[*sent..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                *sent += n;
                bump(&stats.net_output_bytes, n as u64);
            }
            Err(e) if e.kind() == WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    out.buf.clear();
    *sent = 0;
    // A huge reply (KEYS on a big database) must not pin its memory forever.
    if out.buf.capacity() > KEEP_CAPACITY {
        out.buf.shrink_to(64 * 1024);
    }
    Ok(())
}

/// Writes all queued output, waiting for the socket as needed.
async fn flush_all(stream: &TcpStream, out: &mut Reply, sent: &mut usize, stats: &ThreadStats) -> std::io::Result<()> {
    loop {
        try_flush(stream, out, sent, stats)?;
        if out.buf.is_empty() {
            return Ok(());
        }
        stream.writable().await?;
    }
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
