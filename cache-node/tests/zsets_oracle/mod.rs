//! The reference for the sorted-set and geo tests: a throwaway `redis-server` 7.0 on a
//! free loopback port, and a comparison that runs a script of commands on it and on
//! cache-node, over RESP2 and RESP3, requiring byte-identical replies.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::common::{Node, free_port, resp, wait_for};

/// A redis-server on a free loopback port, with no persistence, killed on drop.
struct Oracle {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Oracle {
    fn start() -> Option<Oracle> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("zsets-oracle-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let o = Oracle { child, port, dir };
        let up = wait_for(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", o.port)).is_ok());
        assert!(up, "redis-server did not start");
        Some(o)
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw connection that reads whole replies, whatever their RESP type.
struct Conn(TcpStream);

impl Conn {
    fn open(port: u16, resp3: bool) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut c = Conn(s);
        if resp3 {
            c.call(&[b"HELLO", b"3"]);
        }
        c
    }

    fn byte(&mut self) -> u8 {
        let mut b = [0u8; 1];
        self.0.read_exact(&mut b).expect("reply byte");
        b[0]
    }

    fn line(&mut self, out: &mut Vec<u8>) -> String {
        let start = out.len();
        while out.len() < start + 2 || !out.ends_with(b"\r\n") {
            out.push(self.byte());
        }
        String::from_utf8_lossy(&out[start..out.len() - 2]).into_owned()
    }

    /// Reads one complete reply into `out`.
    fn reply(&mut self, out: &mut Vec<u8>) {
        let t = self.byte();
        out.push(t);
        let head = self.line(out);
        let n: i64 = head.parse().unwrap_or(0);
        match t {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.0.read_exact(&mut body).unwrap();
                out.extend(body);
            }
            b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| self.reply(out)),
            b'%' => (0..2 * n.max(0)).for_each(|_| self.reply(out)),
            _ => {}
        }
    }

    fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.0.write_all(&resp(args)).unwrap();
        let mut out = Vec::new();
        self.reply(&mut out);
        out
    }
}

/// Runs every command of `script` (one command per line, words split on spaces) on both
/// servers and both protocols, comparing replies. Needs redis-server (scripts/test.sh
/// installs it) and fails without it.
pub fn same_as_redis(script: &str) {
    let oracle = Oracle::start().expect("redis-server must be installed (scripts/test.sh installs it) and start");
    let node = Node::start(&[]);
    for resp3 in [false, true] {
        let mut ours = Conn::open(node.port, resp3);
        let mut theirs = Conn::open(oracle.port, resp3);
        for c in [&mut ours, &mut theirs] {
            c.call(&[b"FLUSHALL"]);
        }
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let args: Vec<&[u8]> = line.split(' ').filter(|w| !w.is_empty()).map(str::as_bytes).collect();
            let want = theirs.call(&args);
            let got = ours.call(&args);
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{} `{line}`", if resp3 { "RESP3" } else { "RESP2" });
        }
    }
}
