//! Byte-for-byte comparison with redis-server: raw RESP2/RESP3 replies read whole, and
//! the list of replies that differ when two servers get the same commands.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::resp;

/// Reads exactly one RESP2/RESP3 reply (nested ones whole) and appends its bytes.
pub fn read_one<R: BufRead>(s: &mut R, out: &mut Vec<u8>) {
    let start = out.len();
    s.read_until(b'\n', out).unwrap();
    assert!(out.len() - start >= 2 && out.ends_with(b"\r\n"), "connection closed mid-reply: {:?}", String::from_utf8_lossy(&out[start..]));
    let line = out[start..out.len() - 2].to_vec();
    let n: i64 = std::str::from_utf8(&line[1..]).unwrap_or("0").parse().unwrap_or(0);
    match line[0] {
        b'$' | b'=' | b'!' if n >= 0 => {
            let mut body = vec![0u8; n as usize + 2];
            s.read_exact(&mut body).unwrap();
            out.extend_from_slice(&body);
        }
        b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| read_one(s, out)),
        b'%' | b'|' => (0..2 * n.max(0)).for_each(|_| read_one(s, out)),
        _ => {}
    }
}

/// A raw connection, switched to RESP3 when asked.
pub fn connect(port: u16, resp3: bool) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut s = BufReader::new(s);
    if resp3 {
        send(&mut s, &[b"HELLO".to_vec(), b"3".to_vec()]);
    }
    s
}

/// Sends one command and returns its whole reply.
pub fn send(s: &mut BufReader<TcpStream>, args: &[Vec<u8>]) -> Vec<u8> {
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    s.get_mut().write_all(&resp(&refs)).unwrap();
    let mut out = Vec::new();
    read_one(s, &mut out);
    out
}

/// Bytes as text for a message, cut after 400 characters.
pub fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    match s.char_indices().nth(400) {
        Some((at, _)) => format!("{}... ({} bytes)", &s[..at], b.len()),
        None => s.into_owned(),
    }
}

/// Runs `cmds` on both servers (RESP2, then RESP3) and lists every reply that differs.
pub fn diff(redis: u16, node: u16, cmds: &[Vec<Vec<u8>>]) -> Vec<String> {
    let mut diffs = Vec::new();
    for resp3 in [false, true] {
        let (mut r, mut n) = (connect(redis, resp3), connect(node, resp3));
        for c in cmds {
            let (want, got) = (send(&mut r, c), send(&mut n, c));
            if want != got {
                let c: Vec<String> = c.iter().take(4).map(|a| show(a)).collect();
                diffs.push(format!("resp3={resp3} {c:?}\n  redis: {:?}\n  ours:  {:?}", show(&want), show(&got)));
            }
        }
    }
    diffs
}

/// Sends `cmds` pipelined on a fresh connection (after HELLO 3 when `resp3`) and returns
/// every reply byte as text, read until the reply of a closing ECHO marker.
pub fn transcript<C: AsRef<[S]>, S: AsRef<str>>(port: u16, resp3: bool, cmds: &[C]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let read_until = |s: &mut TcpStream, end: &[u8]| {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(end) {
            let n = std::io::Read::read(s, &mut buf).expect("reply");
            assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    if resp3 {
        s.write_all(&resp(&[b"HELLO", b"3"])).unwrap();
        read_until(&mut s, b"modules\r\n*0\r\n");
    }
    let mut req = Vec::new();
    for c in cmds {
        let a: Vec<&[u8]> = c.as_ref().iter().map(|x| x.as_ref().as_bytes()).collect();
        req.extend(resp(&a));
    }
    req.extend(resp(&[b"ECHO", b"--end--"]));
    s.write_all(&req).unwrap();
    let got = read_until(&mut s, b"$7\r\n--end--\r\n");
    String::from_utf8_lossy(&got[..got.len() - 13]).into_owned()
}

/// Sends all of `cmds` in one write and reads back `replies` whole replies.
pub fn pipeline(port: u16, cmds: &[Vec<Vec<u8>>], replies: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = Vec::new();
    for c in cmds {
        let refs: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
        req.extend(resp(&refs));
    }
    s.write_all(&req).unwrap();
    let mut s = BufReader::new(s);
    let mut out = Vec::new();
    for _ in 0..replies {
        read_one(&mut s, &mut out);
    }
    out
}
