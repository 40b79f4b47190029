//! Test harness: starts the real `cache-node` binary on a free loopback port and gives
//! tests clients for it (the `redis` crate, raw sockets, `redis-cli`). Every wait is
//! bounded; the process is killed when the handle drops.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod oracle;

pub struct Node {
    child: Child,
    pub port: u16,
    pub admin_port: u16,
    /// Log lines printed so far are collected here by a reader thread.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cache-node")
}

/// A port that was free a moment ago (for ports that cannot be 0, like the admin port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

impl Node {
    /// Starts a node with `--bind 127.0.0.1 --port 0 --admin-port <free>` plus `extra`.
    pub fn start(extra: &[&str]) -> Node {
        let mut admin_port = free_port();
        // Two workers dealing connections round-robin, whatever the machine: tests of
        // atomicity and concurrency must really run on two threads.
        let mut args: Vec<String> = vec![
            "--bind".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
            "--admin-port".into(),
            admin_port.to_string(),
            "--threads".into(),
            "2".into(),
            "--adaptive-threads".into(),
            "no".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        // The free admin port may be taken by another test's node before this one
        // binds it: the node then exits, and a new port is drawn (bounded).
        for _ in 0..4 {
            match Self::launch(&args, admin_port) {
                Ok(node) => return node,
                Err(log) if log.contains("cannot listen on admin port") => {
                    let fresh = free_port();
                    if let Some(i) = args.iter().position(|a| a == "--admin-port") {
                        args[i + 1] = fresh.to_string();
                    }
                    admin_port = fresh;
                }
                Err(log) => panic!("{log}"),
            }
        }
        panic!("cache-node found no free admin port");
    }

    /// Starts with exactly these arguments; `admin_port` is only recorded.
    pub fn start_args(args: &[String], admin_port: u16) -> Node {
        Self::launch(args, admin_port).unwrap_or_else(|log| panic!("{log}"))
    }

    /// Starts a node and waits until it answers; on failure, what went wrong with its log.
    fn launch(args: &[String], admin_port: u16) -> Result<Node, String> {
        let mut child = Command::new(bin()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn cache-node");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<u16>();
        for pipe in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
            let log = log.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening for RESP clients address=").nth(1)
                        && let Some(port) = rest.trim().rsplit(':').next().and_then(|p| p.parse().ok())
                    {
                        let _ = tx.send(port);
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let port = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cache-node did not start: {:?}", log.lock().unwrap()));
            }
        };
        let mut node = Node { child, port, admin_port, log };
        node.wait_ready()?;
        Ok(node)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The log's reader threads may still be reading the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("cache-node exited ({status}) before answering: {:?}", self.log.lock().unwrap()));
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                if s.write_all(b"PING\r\n").is_ok() {
                    let mut buf = [0u8; 64];
                    if let Ok(n) = s.read(&mut buf)
                        && n > 0
                    {
                        return Ok(());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("cache-node on port {} never answered: {:?}", self.port, self.log.lock().unwrap()))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A RESP2 connection with the `redis` crate.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url()).expect("client").get_connection_with_timeout(Duration::from_secs(5)).expect("connect")
    }

    /// A RESP3 connection with the `redis` crate.
    pub fn client3(&self) -> redis::Connection {
        redis::Client::open(format!("{}?protocol=resp3", self.url())).expect("client").get_connection_with_timeout(Duration::from_secs(5)).expect("connect")
    }

    /// A raw socket with a 5 s read timeout.
    pub fn raw(&self) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        Raw(s)
    }

    /// Runs `redis-cli -p PORT args...` and returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out =
            Command::new("redis-cli").arg("-p").arg(self.port.to_string()).args(args).output().expect("redis-cli is installed (apt-get install redis-tools)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `redis-cli -p PORT args...` with `input` on its standard input (commands, one a
    /// line, or RESP text for `--pipe`) and returns the whole output: status, stdout, stderr.
    pub fn cli_input(&self, args: &[&str], input: &[u8]) -> std::process::Output {
        let mut child = Command::new("redis-cli")
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("redis-cli is installed (apt-get install redis-tools)");
        // Written from another thread: redis-cli may answer before it has read everything.
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("redis-cli output");
        writer.join().expect("stdin writer").expect("write to redis-cli");
        out
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.wait_exit(Duration::from_secs(10))
    }

    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Raw(pub TcpStream);

impl Raw {
    pub fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).expect("write");
    }

    /// Reads until exactly `want.len()` bytes arrived (or 5 s passed) and returns them.
    pub fn read_exact_len(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match self.0.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(_) => break,
            }
        }
        buf.truncate(got);
        buf
    }

    /// Sends `req` and asserts the reply is exactly `want`.
    pub fn roundtrip(&mut self, req: &[u8], want: &[u8]) {
        self.send(req);
        let got = self.read_exact_len(want.len());
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want), "reply to {:?}", String::from_utf8_lossy(req));
    }

    /// True when the server closed the connection (read returns EOF within 5 s).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        }
    }
}

/// Encodes a command as a RESP multibulk request.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One HTTP GET on the admin port; the whole response (status line, headers, body).
pub fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- Helpers shared by the command test files ----

/// `+OK`, as a raw RESP reply.
pub const OK: &str = "+OK\r\n";
/// A RESP2 null bulk string.
pub const NIL: &str = "$-1\r\n";
pub const SYNTAX: &str = "-ERR syntax error\r\n";
pub const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
pub const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

/// Runs one command with the `redis` crate; a server error fails the test, naming the command.
pub fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Sends one command (given as separate arguments) on a raw socket and asserts the exact reply bytes.
pub fn exact(raw: &mut Raw, args: &[&str], want: &str) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    raw.roundtrip(&resp(&a), want.as_bytes());
}

/// Like [`exact`], for an error reply: `msg` is the error text without `-` and CRLF.
pub fn err(raw: &mut Raw, args: &[&str], msg: &str) {
    exact(raw, args, &err_reply(msg));
}

/// Sends a command given as separate binary arguments and asserts the exact reply bytes.
pub fn rtb(raw: &mut Raw, args: &[&[u8]], want: impl AsRef<[u8]>) {
    raw.roundtrip(&resp(args), want.as_ref());
}

/// Sends a whitespace-separated command and asserts the exact reply bytes.
pub fn rt(raw: &mut Raw, cmd: &str, want: impl AsRef<[u8]>) {
    let args: Vec<&[u8]> = cmd.split_whitespace().map(str::as_bytes).collect();
    rtb(raw, &args, want);
}

/// A raw RESP error reply with this text.
pub fn err_reply(msg: &str) -> String {
    format!("-{msg}\r\n")
}

/// A raw RESP bulk string reply holding `v`.
pub fn bulk(v: impl AsRef<[u8]>) -> Vec<u8> {
    let v = v.as_ref();
    let mut out = format!("${}\r\n", v.len()).into_bytes();
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
    out
}

/// Switches a raw connection to RESP3 and consumes the HELLO map: a PING sent after
/// it marks its end, so the map's contents do not matter here.
pub fn hello3(r: &mut Raw) {
    r.send(&resp(&[b"HELLO", b"3"]));
    r.send(&resp(&[b"PING"]));
    let mut seen = Vec::new();
    while !seen.ends_with(b"+PONG\r\n") {
        let byte = r.read_exact_len(1);
        assert!(!byte.is_empty() && seen.len() < 4096, "no PONG after HELLO 3: {seen:?}");
        seen.extend(byte);
    }
}

/// Reads one reply line and returns it without its CRLF.
pub fn read_line(r: &mut Raw) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        let b = r.read_exact_len(1);
        assert!(!b.is_empty(), "connection closed mid-line");
        line.extend(b);
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).unwrap()
}

/// Stores a non-string value under `key` with whichever collection command this build
/// has (the data-type families are separate modules); false when there is none yet.
pub fn make_non_string(c: &mut redis::Connection, key: &str) -> bool {
    let tries: [&[&str]; 4] = [&["RPUSH", key, "x"], &["SADD", key, "x"], &["HSET", key, "f", "v"], &["ZADD", key, "1", "m"]];
    tries.iter().any(|args| redis::cmd(args[0]).arg(&args[1..]).query::<i64>(c).is_ok())
}

/// The value of `name` in an INFO text (`name:value` lines).
pub fn info_field(info: &str, name: &str) -> Option<String> {
    info.split("\r\n").find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':'))).map(str::to_string)
}

/// Seconds since the Unix epoch, by this machine's clock.
pub fn unix_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

// ---- Checks the data-type test files share ----

/// Replays a transcript recorded from redis-server — (command, RESP2 reply, RESP3 reply
/// or "=" when it is the same) — on a fresh database, once per protocol.
pub fn replay_transcript(node: &Node, transcript: &[(&str, &str, &str)]) {
    for resp3 in [false, true] {
        let mut r = node.raw();
        if resp3 {
            hello3(&mut r);
        }
        rt(&mut r, "FLUSHALL", OK);
        for (cmd, resp2, resp3_reply) in transcript {
            let want = if resp3 && *resp3_reply != "=" { resp3_reply } else { resp2 };
            rt(&mut r, cmd, want);
        }
    }
}

/// A command's COMMAND INFO as redis-server reports it: name, arity, flags, first key,
/// last key, step, ACL categories.
pub type CommandInfo<'a> = (&'a str, i64, &'a str, i64, i64, i64, &'a str);

/// Asserts each command's COMMAND INFO entry matches `want`.
pub fn assert_command_info(c: &mut redis::Connection, want: &[CommandInfo<'_>]) {
    use redis::Value;
    for (name, arity, flags, first, last, step, cats) in want {
        let info: Vec<Value> = q(c, &["COMMAND", "INFO", name]);
        let Value::Array(e) = &info[0] else { panic!("{name}: {info:?}") };
        let text = |v: &Value| -> Vec<String> {
            match v {
                Value::Array(xs) | Value::Set(xs) => xs.iter().map(|x| redis::from_redis_value::<String>(x).unwrap()).collect(),
                _ => panic!("{v:?}"),
            }
        };
        assert_eq!(redis::from_redis_value::<i64>(&e[1]).unwrap(), *arity, "{name}");
        assert_eq!(text(&e[2]).join(" "), *flags, "{name}");
        let keys: Vec<i64> = e[3..6].iter().map(|v| redis::from_redis_value(v).unwrap()).collect();
        assert_eq!(keys, vec![*first, *last, *step], "{name}");
        assert_eq!(text(&e[6]).join(" "), *cats, "{name}");
    }
}

/// Writes since start, as INFO persistence reports them.
pub fn changes(c: &mut redis::Connection) -> i64 {
    info_field(&q::<String>(c, &["INFO", "persistence"]), "rdb_changes_since_last_save").unwrap().parse().unwrap()
}

/// Runs each space-separated command and asserts how many changes it counted.
pub fn assert_changes(c: &mut redis::Connection, steps: &[(&str, i64)]) {
    for (cmd, want) in steps {
        let before = changes(c);
        let _: redis::Value = q(c, &cmd.split(' ').collect::<Vec<_>>());
        assert_eq!(changes(c) - before, *want, "{cmd}");
    }
}

/// One field of INFO replication ("" when absent).
pub fn repl_info(c: &mut redis::Connection, field: &str) -> String {
    let text: String = q(c, &["INFO", "replication"]);
    info_field(&text, field).unwrap_or_default()
}

/// Starts a node replicating `primary` (with `extra` arguments) and waits until its
/// link is up and the primary counts it online (after its first ACK).
pub fn replica_of(primary: &Node, extra: &[&str]) -> Node {
    let port = primary.port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", port.as_str()];
    args.extend_from_slice(extra);
    let node = Node::start(&args);
    let mut c = node.client();
    assert!(wait_for(Duration::from_secs(30), || repl_info(&mut c, "master_link_status") == "up"), "the replica never synced");
    let mut pc = primary.client();
    let line = format!("port={},state=online", node.port);
    assert!(wait_for(Duration::from_secs(30), || q::<String>(&mut pc, &["INFO", "replication"]).contains(&line)), "the primary never saw the replica online");
    node
}
