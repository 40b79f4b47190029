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
            return Err(io::Error::new(io::ErrorKind::Interrupted, "replication link stopped"));
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
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}
