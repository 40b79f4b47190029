//! Pulls a snapshot from a running node (cache-node, redis-server, Valkey) over the
//! replica protocol: PING, AUTH, REPLCONF capa, `PSYNC ? -1`, then the RDB in either
//! framing (`$<len>` or disk-less `$EOF:<mark>`). Every byte is checked by the RDB
//! reader as it is written out, so a snapshot that ends early or is corrupt is an error
//! here, not at restore time. The connection is closed right after the RDB: the source
//! drops us as a replica and never streams its writes.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::BackupError;
use crate::persist::snapshot_cli::{Summary, scan_reader};
use crate::replication::replica_conn::Conn;

/// How to reach and log in to the source node.
#[derive(Clone, Debug, Default)]
pub struct Source {
    pub addr: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Longest silence from the source (it may take a while to start a snapshot).
    pub timeout: Duration,
}

/// What the source told us besides the snapshot.
#[derive(Debug)]
pub struct Pulled {
    pub summary: Summary,
    /// `replica` or `primary` (from ROLE), `unknown` when ROLE is not answered.
    pub role: String,
    /// `cache-node` or `redis` / `valkey`, and its version (from INFO server).
    pub engine: String,
    pub engine_version: String,
    pub repl_id: String,
    pub repl_offset: u64,
}

/// Connects to `src` and writes its snapshot to `out`.
pub fn pull(src: &Source, out: &mut dyn Write) -> Result<Pulled, BackupError> {
    let addr = src.addr.to_socket_addrs()?.next().ok_or_else(|| BackupError::Usage(format!("cannot resolve {}", src.addr)))?;
    let mut conn = login(src, addr)?;
    let role = role(&mut conn)?;
    let (engine, engine_version) = engine(&mut conn)?;
    let reply = conn.call(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    if reply.first() == Some(&b'-') {
        tracing::warn!(reply = %String::from_utf8_lossy(&reply), "the source refused REPLCONF capa; continuing");
    }
    let reply = conn.call(&[b"PSYNC", b"?", b"-1"])?;
    let text = String::from_utf8_lossy(&reply).into_owned();
    let mut words = text.split(' ');
    let (repl_id, repl_offset) = match (words.next(), words.next(), words.next().and_then(|o| o.parse::<u64>().ok())) {
        (Some("+FULLRESYNC"), Some(id), Some(off)) if id.len() == 40 => (id.to_string(), off),
        _ => return Err(refused("PSYNC", &reply)),
    };
    let summary = receive(&mut conn, out)?;
    let _ = conn.sock.shutdown(std::net::Shutdown::Both);
    Ok(Pulled { summary, role, engine, engine_version, repl_id, repl_offset })
}

/// Connects and logs in (PING, then AUTH when a password is given or asked for).
fn login(src: &Source, addr: SocketAddr) -> Result<Conn, BackupError> {
    let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    let mut conn = Conn::new(sock, src.timeout.max(Duration::from_secs(1)), Box::new(|| true))?;
    let pong = conn.call(&[b"PING"])?;
    let needs_auth = pong.starts_with(b"-NOAUTH") || pong.starts_with(b"-NOPERM");
    if pong.first() == Some(&b'-') && !needs_auth {
        return Err(refused("PING", &pong));
    }
    if let Some(pass) = &src.password {
        let reply = match &src.user {
            Some(u) => conn.call(&[b"AUTH", u.as_bytes(), pass.as_bytes()])?,
            None => conn.call(&[b"AUTH", pass.as_bytes()])?,
        };
        if reply.first() == Some(&b'-') {
            return Err(refused("AUTH", &reply));
        }
    } else if needs_auth {
        return Err(refused("PING", &pong));
    }
    Ok(conn)
}

/// Nodes asked for their role: (address, the role it reported, or None if it did not answer).
pub type Candidates = Vec<(String, Option<String>)>;

/// Which role to copy from when `--from` names several nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Prefer {
    /// A replica, so the primary never pays for the backup; the primary if no replica answers.
    Replica,
    /// The primary (the freshest data); a replica if the primary does not answer.
    Primary,
    /// The first node that answers.
    Any,
}

/// The candidate to copy from: the first of the preferred role, else the first that
/// answered at all. Candidates are (address, role as ROLE reported, or None if it did
/// not answer).
pub fn choose(candidates: &[(String, Option<String>)], prefer: Prefer) -> Option<&str> {
    let want = match prefer {
        Prefer::Replica => Some("replica"),
        Prefer::Primary => Some("primary"),
        Prefer::Any => None,
    };
    let answered = || candidates.iter().filter(|(_, r)| r.is_some());
    want.and_then(|w| answered().find(|(_, r)| r.as_deref() == Some(w))).or_else(|| answered().next()).map(|(a, _)| a.as_str())
}

/// Expands `--from` (comma-separated HOST:PORT, each host possibly resolving to several
/// nodes, as a headless Service does), asks each node its role, and picks one.
pub fn pick_source(src: &Source, from: &str, prefer: Prefer) -> Result<(String, Candidates), BackupError> {
    let mut candidates = Vec::new();
    let mut errors = Vec::new();
    for item in from.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let addrs: Vec<SocketAddr> = match item.to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                tracing::warn!(source = item, error = %e, "cannot resolve a snapshot source");
                errors.push(format!("{item}: {e}"));
                continue;
            }
        };
        for addr in addrs {
            let role = login(src, addr).and_then(|mut c| role(&mut c).map_err(Into::into));
            match role {
                Ok(r) => candidates.push((addr.to_string(), Some(r))),
                Err(e) => {
                    tracing::warn!(source = %addr, error = %e, "snapshot source does not answer");
                    errors.push(format!("{addr}: {e}"));
                    candidates.push((addr.to_string(), None));
                }
            }
        }
    }
    let chosen = choose(&candidates, prefer).map(str::to_string);
    match chosen {
        Some(c) => Ok((c, candidates)),
        None => Err(BackupError::Usage(format!("no node of {from} answered ({})", errors.join("; ")))),
    }
}

fn refused(command: &'static str, reply: &[u8]) -> BackupError {
    BackupError::Refused { command, reply: String::from_utf8_lossy(reply).into_owned() }
}

/// Reads a bulk reply whose `$len` line was already read.
fn bulk_body(conn: &mut Conn, head: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let Some(len) = head.strip_prefix(b"$").and_then(|n| std::str::from_utf8(n).ok()?.parse::<i64>().ok()) else { return Ok(None) };
    if len < 0 {
        return Ok(None);
    }
    let mut body = vec![0u8; len as usize + 2];
    conn.read_exact(&mut body)?;
    body.truncate(len as usize);
    Ok(Some(body))
}

/// ROLE's first element; `unknown` if the source does not answer it.
fn role(conn: &mut Conn) -> io::Result<String> {
    let head = conn.call(&[b"ROLE"])?;
    let Some(n) = head.strip_prefix(b"*").and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok()) else { return Ok("unknown".into()) };
    let mut first = None;
    // Skip the whole reply (nested arrays of bulks and integers) after its first element.
    let mut pending = n;
    while pending > 0 {
        pending -= 1;
        let line = conn.line()?;
        match line.first() {
            Some(b'$') => {
                let body = bulk_body(conn, &line)?;
                if first.is_none() {
                    first = body;
                }
            }
            Some(b'*') => pending += std::str::from_utf8(&line[1..]).ok().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0),
            _ => {}
        }
    }
    Ok(match first.as_deref() {
        Some(b"master") => "primary".into(),
        Some(b"slave") => "replica".into(),
        _ => "unknown".into(),
    })
}

/// The engine and its version, from INFO server.
fn engine(conn: &mut Conn) -> io::Result<(String, String)> {
    let head = conn.call(&[b"INFO", b"server"])?;
    let text = bulk_body(conn, &head)?.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(|v| v.trim().to_string());
    if let Some(v) = field("cache_node_version") {
        return Ok(("cache-node".into(), v));
    }
    if let Some(v) = field("valkey_version") {
        return Ok(("valkey".into(), v));
    }
    Ok(("redis".into(), field("redis_version").unwrap_or_default()))
}

/// Passes what the RDB reader consumes on to `out`, byte for byte.
struct Tee<'a, R> {
    inner: R,
    out: &'a mut dyn Write,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Receives the RDB after +FULLRESYNC in either framing.
fn receive(conn: &mut Conn, out: &mut dyn Write) -> Result<Summary, BackupError> {
    let head = conn.line()?;
    let bad = || refused("PSYNC (snapshot header)", &head);
    if let Some(mark) = head.strip_prefix(b"$EOF:") {
        if mark.len() != 40 {
            return Err(bad());
        }
        let mark = mark.to_vec();
        let (summary, result) = scan_reader(Tee { inner: &mut *conn, out });
        result?;
        let mut tail = [0u8; 40];
        conn.read_exact(&mut tail)?;
        if tail[..] != mark[..] {
            return Err(BackupError::Mismatch("the snapshot is not followed by its end mark".into()));
        }
        return Ok(summary);
    }
    let len = head.strip_prefix(b"$").and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok()).ok_or_else(bad)?;
    let (summary, result) = scan_reader(Tee { inner: (&mut *conn).take(len), out });
    result?;
    if summary.bytes != len {
        return Err(BackupError::Mismatch(format!("the source announced {len} bytes and the snapshot ended after {}", summary.bytes)));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        list.iter().map(|(a, r)| (a.to_string(), r.map(str::to_string))).collect()
    }

    #[test]
    fn a_replica_is_chosen_when_one_answers() {
        let nodes = c(&[("p:1", Some("primary")), ("down:1", None), ("r:1", Some("replica")), ("r:2", Some("replica"))]);
        assert_eq!(choose(&nodes, Prefer::Replica), Some("r:1"));
        assert_eq!(choose(&nodes, Prefer::Primary), Some("p:1"));
        assert_eq!(choose(&nodes, Prefer::Any), Some("p:1"));
    }

    #[test]
    fn without_the_preferred_role_any_answering_node_will_do() {
        let nodes = c(&[("down:1", None), ("p:1", Some("primary"))]);
        assert_eq!(choose(&nodes, Prefer::Replica), Some("p:1"));
        let nodes = c(&[("r:1", Some("replica"))]);
        assert_eq!(choose(&nodes, Prefer::Primary), Some("r:1"));
        assert_eq!(choose(&c(&[("down:1", None)]), Prefer::Any), None);
        assert_eq!(choose(&[], Prefer::Replica), None);
    }
}
