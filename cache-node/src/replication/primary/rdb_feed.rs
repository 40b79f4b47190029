//! The snapshot of a full resync, serialized on its own thread so the worker that owns
//! the replica's socket keeps serving its other clients.

use std::io::{self, Write};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::persist::save::write_rdb;
use crate::replication::backlog::Hold;
use crate::server::state::{Server, now_ms};

/// A snapshot under way: the stream offset it matches and its RDB bytes.
pub struct Feed {
    /// Replication offset at the cut: the replica's stream starts here.
    pub offset: u64,
    /// Keeps the stream from the cut while the snapshot is sent.
    pub hold: Hold,
    /// RDB bytes in order (all in one chunk when asked `whole`); an error ends it.
    pub chunks: mpsc::Receiver<io::Result<Vec<u8>>>,
}

const CHUNK: usize = 64 * 1024;

/// Sends what the RDB writer produces to the link, a chunk at a time; the bounded
/// channel makes a slow replica slow the serializer rather than grow memory.
struct ChanWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<io::Result<Vec<u8>>>,
}

impl Write for ChanWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "replica link gone"))
    }
}

/// Takes a snapshot and starts serializing it. `whole`: one chunk holding the whole RDB
/// (its length is sent first). None when another snapshot is in progress.
pub async fn start(srv: Arc<Server>, whole: bool) -> Option<Feed> {
    let (cut_tx, cut_rx) = oneshot::channel::<Option<(u64, Hold)>>();
    let (tx, chunks) = mpsc::channel(8);
    let spawned = std::thread::Builder::new().name("repl-snapshot".into()).spawn(move || {
        let backlog = srv.replication.backlog.clone();
        let mut held = None;
        let mut cut = 0;
        let run = srv.keyspace.begin_snapshot(|| {
            cut = now_ms();
            // Attaching the backlog here, at the cut, is what makes snapshot + stream
            // exact: every write is in one or the other. A replica's backlog holds its
            // primary's stream instead.
            if !srv.replication.is_replica() && !srv.journal.feeds_backlog() {
                srv.journal.set_backlog(Some(backlog.clone()));
            }
            // The replica's stream client starts in database 0: the stream after the cut
            // must begin with a SELECT.
            srv.journal.restart_db();
            held = Some(backlog.hold_end());
        });
        let (Some(run), Some((hold, offset))) = (run, held) else {
            let _ = cut_tx.send(None);
            return;
        };
        let _ = cut_tx.send(Some((offset, hold)));
        let mut params = srv.save_params(cut, false);
        params.progress = None;
        let result = if whole {
            write_rdb(run, Vec::new(), &params).and_then(|(v, _)| tx.blocking_send(Ok(v)).map_err(|_| io::Error::other("replica link gone")))
        } else {
            write_rdb(run, ChanWriter { buf: Vec::with_capacity(CHUNK), tx: tx.clone() }, &params).and_then(|(mut w, _)| w.flush())
        };
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    if spawned.is_err() {
        return None;
    }
    let (offset, hold) = cut_rx.await.ok().flatten()?;
    Some(Feed { offset, hold, chunks })
}
