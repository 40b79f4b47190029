//! The replica's socket to its primary: a blocking stream with its own read buffer, so
//! the handshake lines, the RDB and the command stream can be read from one place
//! without losing the bytes that arrive together with the previous part.
//!
//! Reads wake up every `POLL` to see whether the link was stopped (REPLICAOF, shutdown)
//! and whether the primary has been silent for longer than `repl-timeout`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How often a blocked read checks whether it should give up.
pub const POLL: Duration = Duration::from_millis(100);

const CHUNK: usize = 64 * 1024;

pub struct Conn {
    pub sock: TcpStream,
    /// Bytes read and not consumed yet are `buf[pos..]`.
    pub buf: Vec<u8>,
    pub pos: usize,
    /// When the primary last sent something.
    pub last_io: Instant,
    /// `repl-timeout`.
    pub timeout: Duration,
    /// False once the link is to stop.
    pub alive: Box<dyn Fn() -> bool + Send>,
}

impl Conn {
    pub fn new(sock: TcpStream, timeout: Duration, alive: Box<dyn Fn() -> bool + Send>) -> io::Result<Conn> {
        sock.set_read_timeout(Some(POLL))?;
        sock.set_nodelay(true)?;
        Ok(Conn { sock, buf: Vec::with_capacity(CHUNK), pos: 0, last_io: Instant::now(), timeout, alive })
    }

    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Drops the consumed front of the buffer.
    pub fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// Reads once more from the socket. Ok(false): nothing within `POLL` (the caller may
    /// do its periodic work). Errors: EOF, timeout, stopped, or the socket's error.
    pub fn fill(&mut self) -> io::Result<bool> {
        if !(self.alive)() {
            // Not `Interrupted`: `read_exact` (the snapshot loader's reads) retries that
            // kind, and would spin here for ever instead of giving up.
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "replication link stopped"));
        }
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; CHUNK];
        match self.sock.read(&mut chunk) {
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by the primary")),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                self.last_io = Instant::now();
                Ok(true)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {
                if self.last_io.elapsed() > self.timeout {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "timeout: no data from the primary"));
                }
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// One reply line without its CRLF. Empty lines (the keep-alive newlines a primary
    /// sends while it prepares a snapshot) are skipped.
    pub fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(nl) = self.buffered().iter().position(|&b| b == b'\n') {
                let raw = &self.buf[self.pos..self.pos + nl];
                let line = raw.strip_suffix(b"\r").unwrap_or(raw).to_vec();
                self.pos += nl + 1;
                if line.is_empty() {
                    continue;
                }
                return Ok(line);
            }
            if self.buffered().len() > 64 * 1024 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "reply line too long"));
            }
            self.fill()?;
        }
    }

    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        (&self.sock).write_all(bytes)
    }

    /// Sends a command and returns its reply line.
    pub fn call(&mut self, args: &[&[u8]]) -> io::Result<Vec<u8>> {
        self.send(&command(args))?;
        self.line()
    }
}

impl Read for Conn {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.pos == self.buf.len() {
            self.fill()?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A command as RESP.
pub fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    crate::protocol::request::encode_command(args, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A connected pair: (our Conn, the primary's end), with a switch that stops the link.
    fn pair(timeout: Duration) -> (Conn, TcpStream, Arc<AtomicBool>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (theirs, _) = l.accept().unwrap();
        let alive = Arc::new(AtomicBool::new(true));
        let a = alive.clone();
        (Conn::new(ours, timeout, Box::new(move || a.load(Ordering::Relaxed))).unwrap(), theirs, alive)
    }

    #[test]
    fn lines_skip_keepalives_and_leave_the_rest_buffered() {
        let (mut c, mut p, _) = pair(Duration::from_secs(5));
        p.write_all(b"\n\n+FULLRESYNC abc 10\r\n$EOF:xyz\r\nREDIS").unwrap();
        assert_eq!(c.line().unwrap(), b"+FULLRESYNC abc 10");
        assert_eq!(c.line().unwrap(), b"$EOF:xyz");
        p.write_all(b"0011tail").unwrap();
        let mut body = [0u8; 9];
        c.read_exact(&mut body).unwrap();
        assert_eq!(&body, b"REDIS0011");
        let mut rest = [0u8; 4];
        c.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"tail");
        assert_eq!(c.buffered(), b"");
    }

    #[test]
    fn silence_times_out_and_a_stopped_link_gives_up() {
        let (mut c, _p, alive) = pair(Duration::from_millis(300));
        let start = Instant::now();
        let e = c.line().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(3));
        let (mut c, _p, alive2) = pair(Duration::from_secs(60));
        alive2.store(false, Ordering::Relaxed);
        assert_eq!(c.line().unwrap_err().kind(), io::ErrorKind::ConnectionAborted);
        drop(alive);
    }

    /// The snapshot loader reads with `read_exact`, which retries some errors: a link
    /// stopped in the middle of a snapshot must still end the read.
    #[test]
    fn a_stopped_link_ends_a_read_exact_in_progress() {
        let (mut c, mut p, alive) = pair(Duration::from_secs(60));
        p.write_all(b"REDIS").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // On its own thread: with the bug this read never returns.
        std::thread::spawn(move || {
            let mut body = [0u8; 9];
            let _ = tx.send(c.read_exact(&mut body).map_err(|e| e.kind()));
        });
        // The read has the 5 bytes and waits for the rest when the link stops.
        std::thread::sleep(POLL);
        alive.store(false, Ordering::Relaxed);
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("read_exact still running 5 s after the link stopped");
        assert_eq!(got, Err(io::ErrorKind::ConnectionAborted));
    }

    #[test]
    fn the_primary_closing_is_an_error() {
        let (mut c, p, _) = pair(Duration::from_secs(5));
        drop(p);
        let mut b = [0u8; 1];
        assert_eq!(c.read(&mut b).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn commands_are_resp() {
        assert_eq!(command(&[b"REPLCONF", b"ACK", b"10"]), b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n10\r\n");
    }
}
