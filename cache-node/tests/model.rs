//! Property test: random sequences of string, key and expiry commands run against the
//! real binary and against a small in-test model, and every reply must match the
//! model's. A handful of keys makes collisions (overwrites, renames onto existing keys,
//! TTL interplay) frequent. TTLs are far in the future or already past, so timing never
//! changes an answer.
// Tests fail by panicking; unwrap and expect are how they say so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, TestRunner};

const KEYS: &[&str] = &["a", "b", "c", "{a}x", "key:long:name"];

/// Absolute times far in the future: EXPIREAT/PXAT arguments land in this window so
/// that GT/LT comparisons between them are exact.
const ABS_MS: i64 = 4_000_000_000_000;
const ABS_S: i64 = ABS_MS / 1000;

// ---------------------------------------------------------------------------------
// Operations

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
    XxGt,
    XxLt,
    /// An invalid combination, for the error path.
    NxGt,
}

impl Cond {
    fn words(self) -> &'static [&'static str] {
        match self {
            Cond::None => &[],
            Cond::Nx => &["NX"],
            Cond::Xx => &["XX"],
            Cond::Gt => &["GT"],
            Cond::Lt => &["lt"],
            Cond::XxGt => &["xx", "GT"],
            Cond::XxLt => &["XX", "LT"],
            Cond::NxGt => &["NX", "gt"],
        }
    }
}

#[derive(Clone, Debug)]
enum SetTtl {
    None,
    Ex(i64),
    Px(i64),
    ExAt(i64),
    PxAt(i64),
    KeepTtl,
    /// EX 0: refused.
    ExZero,
}

/// Relative expiry arguments: seconds or ms, far in the future or already past.
#[derive(Clone, Debug)]
enum Rel {
    Future(i64),
    Past(i64),
}

#[derive(Clone, Debug)]
enum Op {
    Set { key: &'static str, value: Vec<u8>, nx: bool, xx: bool, get: bool, ttl: SetTtl },
    Get(&'static str),
    Del(Vec<&'static str>),
    Exists(Vec<&'static str>),
    Type(&'static str),
    DbSize,
    Rename(&'static str, &'static str),
    RenameNx(&'static str, &'static str),
    Copy { src: &'static str, dst: &'static str, replace: bool },
    Expire { key: &'static str, ms: bool, at: Rel, cond: Cond },
    ExpireAt { key: &'static str, ms: bool, at: i64, cond: Cond },
    Persist(&'static str),
    Ttl { key: &'static str, ms: bool },
    ExpireTime { key: &'static str, ms: bool },
    Append(&'static str, Vec<u8>),
    Incr(&'static str),
    IncrBy(&'static str, i64),
    Strlen(&'static str),
    GetRange(&'static str, i64, i64),
    SetRange(&'static str, i64, Vec<u8>),
    MSet(Vec<(&'static str, Vec<u8>)>),
    MGet(Vec<&'static str>),
    GetDel(&'static str),
    SetNx(&'static str, Vec<u8>),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Set { .. } => "set",
            Op::Get(_) => "get",
            Op::Del(_) => "del",
            Op::Exists(_) => "exists",
            Op::Type(_) => "type",
            Op::DbSize => "dbsize",
            Op::Rename(..) => "rename",
            Op::RenameNx(..) => "renamenx",
            Op::Copy { .. } => "copy",
            Op::Expire { ms: false, .. } => "expire",
            Op::Expire { ms: true, .. } => "pexpire",
            Op::ExpireAt { ms: false, .. } => "expireat",
            Op::ExpireAt { ms: true, .. } => "pexpireat",
            Op::Persist(_) => "persist",
            Op::Ttl { ms: false, .. } => "ttl",
            Op::Ttl { ms: true, .. } => "pttl",
            Op::ExpireTime { ms: false, .. } => "expiretime",
            Op::ExpireTime { ms: true, .. } => "pexpiretime",
            Op::Append(..) => "append",
            Op::Incr(_) => "incr",
            Op::IncrBy(..) => "incrby",
            Op::Strlen(_) => "strlen",
            Op::GetRange(..) => "getrange",
            Op::SetRange(..) => "setrange",
            Op::MSet(_) => "mset",
            Op::MGet(_) => "mget",
            Op::GetDel(_) => "getdel",
            Op::SetNx(..) => "setnx",
        }
    }

    fn args(&self) -> Vec<Vec<u8>> {
        let mut a: Vec<Vec<u8>> = vec![self.name().to_ascii_uppercase().into_bytes()];
        let s = |x: &str| x.as_bytes().to_vec();
        let n = |x: i64| x.to_string().into_bytes();
        match self {
            Op::Set { key, value, nx, xx, get, ttl } => {
                a.extend([s(key), value.clone()]);
                if *nx {
                    a.push(s("NX"));
                }
                if *xx {
                    a.push(s("XX"));
                }
                if *get {
                    a.push(s("GET"));
                }
                match ttl {
                    SetTtl::None => {}
                    SetTtl::Ex(v) => a.extend([s("EX"), n(*v)]),
                    SetTtl::Px(v) => a.extend([s("px"), n(*v)]),
                    SetTtl::ExAt(v) => a.extend([s("EXAT"), n(*v)]),
                    SetTtl::PxAt(v) => a.extend([s("PXAT"), n(*v)]),
                    SetTtl::KeepTtl => a.push(s("KEEPTTL")),
                    SetTtl::ExZero => a.extend([s("EX"), s("0")]),
                }
            }
            Op::Get(k) | Op::Type(k) | Op::Persist(k) | Op::Incr(k) | Op::Strlen(k) | Op::GetDel(k) => a.push(s(k)),
            Op::Ttl { key, .. } | Op::ExpireTime { key, .. } => a.push(s(key)),
            Op::Del(ks) | Op::Exists(ks) | Op::MGet(ks) => a.extend(ks.iter().map(|k| s(k))),
            Op::DbSize => {}
            Op::Rename(x, y) | Op::RenameNx(x, y) => a.extend([s(x), s(y)]),
            Op::Copy { src, dst, replace } => {
                a.extend([s(src), s(dst)]);
                if *replace {
                    a.push(s("REPLACE"));
                }
            }
            Op::Expire { key, at, cond, .. } => {
                let v = match at {
                    Rel::Future(v) | Rel::Past(v) => *v,
                };
                a.extend([s(key), n(v)]);
                a.extend(cond.words().iter().map(|w| s(w)));
            }
            Op::ExpireAt { key, at, cond, .. } => {
                a.extend([s(key), n(*at)]);
                a.extend(cond.words().iter().map(|w| s(w)));
            }
            Op::Append(k, v) | Op::SetNx(k, v) => a.extend([s(k), v.clone()]),
            Op::IncrBy(k, by) => a.extend([s(k), n(*by)]),
            Op::GetRange(k, x, y) => a.extend([s(k), n(*x), n(*y)]),
            Op::SetRange(k, off, v) => a.extend([s(k), n(*off), v.clone()]),
            Op::MSet(pairs) => {
                for (k, v) in pairs {
                    a.extend([s(k), v.clone()]);
                }
            }
        }
        a
    }
}

// ---------------------------------------------------------------------------------
// Strategies

fn key() -> impl Strategy<Value = &'static str> + Clone {
    prop::sample::select(KEYS)
}

fn keys() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(key(), 1..4)
}

fn value() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(&["0", "1", "-5", "42", "007", "+1", "9223372036854775807", "-9223372036854775808", "1.5", " 1", "", "abc"][..]).prop_map(|s| s.as_bytes().to_vec()),
        3 => "[a-z0-9]{0,6}".prop_map(String::into_bytes),
        1 => "[a-z]{40,60}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
    .boxed()
}

fn cond_abs() -> impl Strategy<Value = Cond> {
    prop::sample::select(&[Cond::None, Cond::None, Cond::Nx, Cond::Xx, Cond::Gt, Cond::Lt, Cond::XxGt, Cond::XxLt, Cond::NxGt][..])
}

fn cond_rel() -> impl Strategy<Value = Cond> {
    prop::sample::select(&[Cond::None, Cond::None, Cond::Nx, Cond::Xx][..])
}

fn op() -> BoxedStrategy<Op> {
    let set_ttl = prop_oneof![
        4 => Just(SetTtl::None),
        1 => (1_000i64..1_000_000).prop_map(SetTtl::Ex),
        1 => (1_000_000i64..1_000_000_000).prop_map(SetTtl::Px),
        1 => (0i64..5).prop_map(|d| SetTtl::ExAt(ABS_S + d)),
        1 => (0i64..5000).prop_map(|d| SetTtl::PxAt(ABS_MS + d)),
        1 => Just(SetTtl::KeepTtl),
        1 => Just(SetTtl::ExZero),
    ];
    let set = (key(), value(), any::<bool>(), any::<bool>(), any::<bool>(), set_ttl).prop_map(|(key, value, nx, xx, get, ttl)| Op::Set {
        key,
        value,
        nx: nx && !xx,
        xx,
        get,
        ttl,
    });
    let rel = prop_oneof![4 => (1_000i64..1_000_000).prop_map(Rel::Future), 1 => (-100i64..=0).prop_map(Rel::Past)];
    let abs = prop_oneof![5 => 0i64..5000, 1 => Just(-4_000_000_000_000i64)];
    prop_oneof![
        6 => set.boxed(),
        4 => key().prop_map(Op::Get).boxed(),
        2 => keys().prop_map(Op::Del).boxed(),
        2 => keys().prop_map(Op::Exists).boxed(),
        1 => key().prop_map(Op::Type).boxed(),
        1 => Just(Op::DbSize).boxed(),
        2 => (key(), key()).prop_map(|(a, b)| Op::Rename(a, b)).boxed(),
        2 => (key(), key()).prop_map(|(a, b)| Op::RenameNx(a, b)).boxed(),
        2 => (key(), key(), any::<bool>()).prop_map(|(src, dst, replace)| Op::Copy { src, dst, replace }).boxed(),
        3 => (key(), any::<bool>(), rel, cond_rel()).prop_map(|(key, ms, at, cond)| {
            // Seconds for EXPIRE, scaled to the same span in ms for PEXPIRE.
            let at = match (ms, at) {
                (true, Rel::Future(v)) => Rel::Future(v * 1000),
                (_, other) => other,
            };
            Op::Expire { key, ms, at, cond }
        }).boxed(),
        3 => (key(), any::<bool>(), abs, cond_abs()).prop_map(|(key, ms, d, cond)| {
            let at = if d < 0 { if ms { 1 } else { 0 } } else if ms { ABS_MS + d } else { ABS_S + d / 1000 };
            Op::ExpireAt { key, ms, at, cond }
        }).boxed(),
        2 => key().prop_map(Op::Persist).boxed(),
        2 => (key(), any::<bool>()).prop_map(|(key, ms)| Op::Ttl { key, ms }).boxed(),
        2 => (key(), any::<bool>()).prop_map(|(key, ms)| Op::ExpireTime { key, ms }).boxed(),
        2 => (key(), value()).prop_map(|(k, v)| Op::Append(k, v)).boxed(),
        2 => key().prop_map(Op::Incr).boxed(),
        2 => (key(), prop::sample::select(&[1i64, -1, 0, 1000, i64::MAX, i64::MIN, -7][..])).prop_map(|(k, by)| Op::IncrBy(k, by)).boxed(),
        1 => key().prop_map(Op::Strlen).boxed(),
        2 => (key(), prop_oneof![8 => -12i64..12, 1 => Just(i64::MIN), 1 => Just(i64::MAX)], prop_oneof![8 => -12i64..12, 1 => Just(i64::MIN), 1 => Just(i64::MAX)])
            .prop_map(|(k, a, b)| Op::GetRange(k, a, b)).boxed(),
        2 => (key(), -1i64..20, value()).prop_map(|(k, o, v)| Op::SetRange(k, o, v)).boxed(),
        2 => prop::collection::vec((key(), value()), 1..4).prop_map(Op::MSet).boxed(),
        2 => keys().prop_map(Op::MGet).boxed(),
        1 => key().prop_map(Op::GetDel).boxed(),
        1 => (key(), value()).prop_map(|(k, v)| Op::SetNx(k, v)).boxed(),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------
// The model

/// When a key expires, as far as the model can know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exp {
    Never,
    /// Relative to the server's clock: some time far in the future.
    Later,
    /// An exact absolute time (ms), always after any `Later`.
    At(i64),
}

/// A new expiry time as EXPIRE-family conditions compare it.
#[derive(Clone, Copy, Debug)]
enum When {
    Past,
    Later,
    At(i64),
}

#[derive(Clone, Debug, PartialEq)]
enum Resp {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Resp>),
}

#[derive(Debug)]
enum Expect {
    Exact(Resp),
    /// A positive integer (a TTL the model only knows is far away).
    Positive,
}

impl Expect {
    fn matches(&self, got: &Resp) -> bool {
        match self {
            Expect::Exact(r) => r == got,
            Expect::Positive => matches!(got, Resp::Int(n) if *n > 0),
        }
    }
}

fn ok() -> Expect {
    Expect::Exact(Resp::Status("OK".into()))
}
fn int(n: i64) -> Expect {
    Expect::Exact(Resp::Int(n))
}
fn bulk(v: Option<&Vec<u8>>) -> Expect {
    Expect::Exact(Resp::Bulk(v.cloned()))
}
fn error(msg: &str) -> Expect {
    Expect::Exact(Resp::Error(msg.into()))
}

/// A strict decimal i64, as Redis's string2ll reads one.
fn parse_int(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

#[derive(Default)]
struct Model {
    keys: HashMap<&'static str, (Vec<u8>, Exp)>,
}

impl Model {
    fn apply(&mut self, op: &Op) -> Expect {
        let same_objects = "ERR source and destination objects are the same";
        match op {
            Op::Set { key, value, nx, xx, get, ttl } => {
                let exp = match ttl {
                    SetTtl::ExZero => return error("ERR invalid expire time in 'set' command"),
                    SetTtl::None => Exp::Never,
                    SetTtl::Ex(_) | SetTtl::Px(_) => Exp::Later,
                    SetTtl::ExAt(s) => Exp::At(s * 1000),
                    SetTtl::PxAt(ms) => Exp::At(*ms),
                    SetTtl::KeepTtl => self.keys.get(key).map_or(Exp::Never, |e| e.1),
                };
                let old = self.keys.get(key).map(|e| e.0.clone());
                if (*nx && old.is_some()) || (*xx && old.is_none()) {
                    return if *get { bulk(old.as_ref()) } else { bulk(None) };
                }
                self.keys.insert(key, (value.clone(), exp));
                if *get { bulk(old.as_ref()) } else { ok() }
            }
            Op::Get(k) => bulk(self.keys.get(k).map(|e| &e.0)),
            Op::Del(ks) => {
                let mut n = 0;
                for k in ks {
                    n += i64::from(self.keys.remove(k).is_some());
                }
                int(n)
            }
            Op::Exists(ks) => int(ks.iter().filter(|k| self.keys.contains_key(*k)).count() as i64),
            Op::Type(k) => Expect::Exact(Resp::Status(if self.keys.contains_key(k) { "string" } else { "none" }.into())),
            Op::DbSize => int(self.keys.len() as i64),
            Op::Rename(src, dst) | Op::RenameNx(src, dst) => {
                let nx = matches!(op, Op::RenameNx(..));
                if !self.keys.contains_key(src) {
                    return error("ERR no such key");
                }
                if src == dst {
                    return if nx { int(0) } else { ok() };
                }
                if nx && self.keys.contains_key(dst) {
                    return int(0);
                }
                if let Some(e) = self.keys.remove(src) {
                    self.keys.insert(dst, e);
                }
                if nx { int(1) } else { ok() }
            }
            Op::Copy { src, dst, replace } => {
                if src == dst {
                    return error(same_objects);
                }
                let Some(e) = self.keys.get(src).cloned() else {
                    return int(0);
                };
                if self.keys.contains_key(dst) && !replace {
                    return int(0);
                }
                self.keys.insert(dst, e);
                int(1)
            }
            Op::Expire { key, at, cond, .. } => {
                let when = match at {
                    Rel::Future(_) => When::Later,
                    Rel::Past(_) => When::Past,
                };
                self.expire(key, when, *cond)
            }
            Op::ExpireAt { key, ms, at, cond } => {
                let at_ms = if *ms { *at } else { at * 1000 };
                let when = if at_ms <= 1000 { When::Past } else { When::At(at_ms) };
                self.expire(key, when, *cond)
            }
            Op::Persist(k) => match self.keys.get_mut(k) {
                Some(e) if e.1 != Exp::Never => {
                    e.1 = Exp::Never;
                    int(1)
                }
                _ => int(0),
            },
            Op::Ttl { key, .. } => match self.keys.get(key) {
                None => int(-2),
                Some((_, Exp::Never)) => int(-1),
                Some(_) => Expect::Positive,
            },
            Op::ExpireTime { key, ms } => match self.keys.get(key) {
                None => int(-2),
                Some((_, Exp::Never)) => int(-1),
                Some((_, Exp::Later)) => Expect::Positive,
                Some((_, Exp::At(at))) => int(if *ms { *at } else { (at + 500) / 1000 }),
            },
            Op::Append(k, v) => {
                let e = self.keys.entry(k).or_insert((Vec::new(), Exp::Never));
                e.0.extend_from_slice(v);
                int(e.0.len() as i64)
            }
            Op::Incr(k) => self.incr(k, 1),
            Op::IncrBy(k, by) => self.incr(k, *by),
            Op::Strlen(k) => int(self.keys.get(k).map_or(0, |e| e.0.len() as i64)),
            Op::GetRange(k, start, end) => {
                let s = self.keys.get(k).map(|e| e.0.clone()).unwrap_or_default();
                Expect::Exact(Resp::Bulk(Some(getrange(&s, *start, *end))))
            }
            Op::SetRange(k, off, v) => {
                if *off < 0 {
                    return error("ERR offset is out of range");
                }
                let off = *off as usize;
                match self.keys.get_mut(k) {
                    None if v.is_empty() => int(0),
                    None => {
                        let mut s = vec![0u8; off];
                        s.extend_from_slice(v);
                        let n = s.len();
                        self.keys.insert(k, (s, Exp::Never));
                        int(n as i64)
                    }
                    Some(e) => {
                        if !v.is_empty() {
                            if e.0.len() < off + v.len() {
                                e.0.resize(off + v.len(), 0);
                            }
                            e.0[off..off + v.len()].copy_from_slice(v);
                        }
                        int(e.0.len() as i64)
                    }
                }
            }
            Op::MSet(pairs) => {
                for (k, v) in pairs {
                    self.keys.insert(k, (v.clone(), Exp::Never));
                }
                ok()
            }
            Op::MGet(ks) => Expect::Exact(Resp::Array(ks.iter().map(|k| Resp::Bulk(self.keys.get(k).map(|e| e.0.clone()))).collect())),
            Op::GetDel(k) => bulk(self.keys.remove(k).map(|e| e.0).as_ref()),
            Op::SetNx(k, v) => {
                if self.keys.contains_key(k) {
                    int(0)
                } else {
                    self.keys.insert(k, (v.clone(), Exp::Never));
                    int(1)
                }
            }
        }
    }

    /// EXPIRE-family semantics: no TTL counts as infinite for GT/LT; a time in the past
    /// deletes the key.
    fn expire(&mut self, key: &'static str, when: When, cond: Cond) -> Expect {
        if cond == Cond::NxGt {
            return error("ERR NX and XX, GT or LT options at the same time are not compatible");
        }
        let Some(cur) = self.keys.get(key).map(|e| e.1) else {
            return int(0);
        };
        // Orders times the model can compare: Past < Later < At(_).
        let rank = |w: When| match w {
            When::Past => (0, 0),
            When::Later => (1, 0),
            When::At(t) => (2, t),
        };
        let cur_when = match cur {
            Exp::Never => None,
            Exp::Later => Some(When::Later),
            Exp::At(t) => Some(When::At(t)),
        };
        let allowed = match (cond, cur_when) {
            (Cond::None, _) => true,
            (Cond::Nx, c) => c.is_none(),
            (Cond::Xx, c) => c.is_some(),
            (Cond::Gt | Cond::XxGt, None) => false,
            (Cond::Lt, None) => true,
            (Cond::XxLt, None) => false,
            (Cond::Gt | Cond::XxGt, Some(c)) => rank(when) > rank(c),
            (Cond::Lt | Cond::XxLt, Some(c)) => rank(when) < rank(c),
            (Cond::NxGt, _) => unreachable!(),
        };
        if !allowed {
            return int(0);
        }
        match when {
            When::Past => {
                self.keys.remove(key);
            }
            When::Later => self.keys.get_mut(key).into_iter().for_each(|e| e.1 = Exp::Later),
            When::At(t) => self.keys.get_mut(key).into_iter().for_each(|e| e.1 = Exp::At(t)),
        }
        int(1)
    }

    fn incr(&mut self, key: &'static str, by: i64) -> Expect {
        let (cur, exp) = match self.keys.get(key) {
            None => (0, Exp::Never),
            Some((v, exp)) => match parse_int(v) {
                Some(n) => (n, *exp),
                None => return error("ERR value is not an integer or out of range"),
            },
        };
        let Some(n) = cur.checked_add(by) else {
            return error("ERR increment or decrement would overflow");
        };
        self.keys.insert(key, (n.to_string().into_bytes(), exp));
        int(n)
    }
}

/// GETRANGE as Redis computes it.
fn getrange(s: &[u8], start: i64, end: i64) -> Vec<u8> {
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Vec::new();
    }
    let mut start = if start < 0 { len.saturating_add(start) } else { start };
    let mut end = if end < 0 { len.saturating_add(end) } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Vec::new();
    }
    s[start as usize..=end as usize].to_vec()
}

// ---------------------------------------------------------------------------------
// A minimal RESP2 client that keeps error texts

struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn new(node: &Node) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", node.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        Conn { r: BufReader::new(s.try_clone().expect("clone")), w: s }
    }

    fn call(&mut self, args: &[Vec<u8>]) -> Resp {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        self.w.write_all(&resp(&refs)).expect("write");
        self.read()
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read");
        assert!(l.ends_with("\r\n"), "truncated reply line {l:?}");
        l.truncate(l.len() - 2);
        l
    }

    fn read(&mut self) -> Resp {
        let l = self.line();
        let (kind, rest) = l.split_at(1);
        let num = || rest.parse::<i64>().expect("length");
        match kind {
            "+" => Resp::Status(rest.to_string()),
            "-" => Resp::Error(rest.to_string()),
            ":" => Resp::Int(num()),
            "$" if num() < 0 => Resp::Bulk(None),
            "$" => {
                let mut buf = vec![0u8; num() as usize + 2];
                self.r.read_exact(&mut buf).expect("bulk");
                buf.truncate(buf.len() - 2);
                Resp::Bulk(Some(buf))
            }
            "*" => Resp::Array((0..num().max(0)).map(|_| self.read()).collect()),
            _ => panic!("unexpected reply line {l:?}"),
        }
    }
}

fn show(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
}

#[test]
fn string_key_and_expiry_commands_match_a_model() {
    let node = Node::start(&[]);
    let conn = RefCell::new(Conn::new(&node));
    let config = Config { cases: 256, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(op(), 1..50), |ops| {
        let mut c = conn.borrow_mut();
        prop_assert_eq!(c.call(&[b"FLUSHALL".to_vec()]), Resp::Status("OK".into()));
        let mut model = Model::default();
        let mut history = Vec::new();
        for op in ops.iter() {
            let args = op.args();
            history.push(show(&args));
            let want = model.apply(op);
            let got = c.call(&args);
            prop_assert!(want.matches(&got), "after {:#?}\nexpected {:?}, got {:?}", history, want, got);
        }
        // The whole keyspace agrees at the end, not just the replies on the way.
        let mut listed = match c.call(&[b"KEYS".to_vec(), b"*".to_vec()]) {
            Resp::Array(v) => v,
            other => panic!("KEYS replied {other:?}"),
        };
        listed.sort_by_key(|r| format!("{r:?}"));
        let mut want: Vec<Resp> = model.keys.keys().map(|k| Resp::Bulk(Some(k.as_bytes().to_vec()))).collect();
        want.sort_by_key(|r| format!("{r:?}"));
        prop_assert_eq!(listed, want, "after {:#?}", history);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn model_helpers() {
    assert_eq!(getrange(b"Hello World", 0, 3), b"Hell");
    assert_eq!(getrange(b"Hello World", -3, -1), b"rld");
    assert_eq!(getrange(b"Hello World", 0, -1), b"Hello World");
    assert_eq!(getrange(b"Hello World", 10, 100), b"d");
    assert_eq!(getrange(b"Hello World", -1, -5), b"");
    assert_eq!(getrange(b"", 0, -1), b"");
    assert_eq!(getrange(b"abc", i64::MIN, i64::MAX), b"abc");
    assert_eq!(parse_int(b"-5"), Some(-5));
    assert_eq!(parse_int(b"+1"), None);
    assert_eq!(parse_int(b"007"), None);
    assert_eq!(parse_int(b"-0"), None);
}
