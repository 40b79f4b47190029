//! Model-based property test of `Partition`, the code that owns the raw entries of
//! `node.rs`: random operation sequences run against a partition and against a plain
//! `HashMap`, and after every step the two must agree exactly, the partition's
//! structural invariants must hold, and at the end nothing may have leaked.
//!
//! The model keeps every entry that is physically stored, including expired ones not
//! yet deleted (reads cannot see them but `len` counts them), and deletes an expired
//! entry exactly where the partition does: when a lookup meets it. Operations that
//! delete expired entries at random (`random_key`, `expire_sample`) are followed by a
//! resync that checks only expired entries disappeared.
//!
//! The unsafe entry layout (node.rs) is also checked from outside:
//!
//! ```text
//! cargo test -p cache-node --lib --no-run      # prints the test binary's path
//! PROPTEST_CASES=20 valgrind --leak-check=full --error-exitcode=1 \
//!     --suppressions=cache-node/valgrind.supp target/debug/deps/cache_node-<hash> store::
//! MIRIFLAGS=-Zmiri-disable-isolation PROPTEST_CASES=3 cargo +nightly miri test \
//!     -p cache-node --lib -- store:: --skip through_growth
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};

use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::node::{INLINE_MAX, census};
use super::partition::{Partition, Ttl, lru_clock};
use super::table::Hasher;
use super::value::{Value, ValueRef};

/// `cases` unless PROPTEST_CASES says otherwise (e.g. fewer under valgrind).
pub fn config(cases: u32) -> Config {
    let mut c = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

/// A TTL relative to the moment of the operation, so that tests mix past and future.
#[derive(Clone, Debug)]
enum TtlSpec {
    Clear,
    Keep,
    In(i64),
}

impl TtlSpec {
    fn ttl(&self, now: i64) -> Ttl {
        match self {
            TtlSpec::Clear => Ttl::Clear,
            TtlSpec::Keep => Ttl::Keep,
            TtlSpec::In(d) => Ttl::At(now + d),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set(usize, Vec<u8>, TtlSpec),
    SetStr(usize, Vec<u8>, TtlSpec),
    /// `set_str` on `count` consecutive keys of the pool: grows the table.
    SetMany(usize, usize, Vec<u8>, TtlSpec),
    Get(usize),
    GetNotouch(usize),
    Peek(usize),
    /// Appends the bytes through the `&mut Value`.
    GetMut(usize, Vec<u8>),
    Remove(usize),
    /// `remove` on `count` consecutive keys of the pool: shrinks the table.
    RemoveMany(usize, usize),
    Take(usize),
    ExpireAt(usize),
    SetExpire(usize, Option<i64>),
    Clear,
    ExpireSample(usize),
    RandomKey,
    Scan,
    Advance(i64),
}

fn ttl_spec() -> impl Strategy<Value = TtlSpec> {
    prop_oneof![Just(TtlSpec::Clear), Just(TtlSpec::Keep), (-2_000i64..5_000).prop_map(TtlSpec::In)]
}

fn op() -> impl Strategy<Value = Op> {
    // 0..100 bytes: both inline (<= 44) and boxed strings.
    let val = || vec(any::<u8>(), 0..100);
    let k = any::<usize>;
    prop_oneof![
        6 => (k(), val(), ttl_spec()).prop_map(|(k, v, t)| Op::Set(k, v, t)),
        6 => (k(), val(), ttl_spec()).prop_map(|(k, v, t)| Op::SetStr(k, v, t)),
        2 => (k(), 0..400usize, val(), ttl_spec()).prop_map(|(k, n, v, t)| Op::SetMany(k, n, v, t)),
        4 => k().prop_map(Op::Get),
        2 => k().prop_map(Op::GetNotouch),
        2 => k().prop_map(Op::Peek),
        3 => (k(), vec(any::<u8>(), 0..30)).prop_map(|(k, b)| Op::GetMut(k, b)),
        3 => k().prop_map(Op::Remove),
        2 => (k(), 0..400usize).prop_map(|(k, n)| Op::RemoveMany(k, n)),
        2 => k().prop_map(Op::Take),
        2 => k().prop_map(Op::ExpireAt),
        5 => (k(), option::of(-2_000i64..5_000)).prop_map(|(k, t)| Op::SetExpire(k, t)),
        1 => Just(Op::Clear),
        2 => (0..30usize).prop_map(Op::ExpireSample),
        2 => Just(Op::RandomKey),
        1 => Just(Op::Scan),
        4 => (-300i64..3_000).prop_map(Op::Advance),
    ]
}

/// A pool of distinct keys, 0..60 bytes: a handful (many collisions) or hundreds
/// (table growth and shrinking). A small alphabet makes shared prefixes common.
fn key_pool() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let key = || vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..60);
    prop_oneof![3 => btree_set(key(), 1..8), 1 => btree_set(key(), 100..400)].prop_map(|s: BTreeSet<_>| s.into_iter().collect())
}

/// Start times around zero and around the wrap of the 24-bit LRU clock.
fn start_time() -> impl Strategy<Value = i64> {
    const WRAP_MS: i64 = (1 << 24) * 1000;
    prop_oneof![0i64..1_000_000_000_000, (WRAP_MS - 10_000)..(WRAP_MS + 10_000)]
}

fn bytes(v: ValueRef<'_>) -> Vec<u8> {
    match v.to_value() {
        Value::Str(s) => s,
        #[allow(unreachable_patterns)]
        other => panic!("the test only stores strings, got {other:?}"),
    }
}

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    at: Option<i64>,
    /// Stored on the heap rather than inside the entry.
    boxed: bool,
    lru: u32,
}

struct Model {
    map: HashMap<Vec<u8>, Entry>,
    now: i64,
    hits: u64,
    misses: u64,
    expired: u64,
}

impl Model {
    fn visible(&self, e: &Entry) -> bool {
        e.at.is_none_or(|at| at >= self.now)
    }

    /// Partition::live: the visible entry, deleting an expired one.
    fn live(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let now = self.now;
        if self.map.get(key)?.at.is_some_and(|at| at < now) {
            self.map.remove(key);
            self.expired += 1;
            return None;
        }
        self.map.get_mut(key)
    }

    /// A write; returns whether the key existed.
    fn write(&mut self, key: &[u8], value: Vec<u8>, ttl: &TtlSpec) -> bool {
        let now = self.now;
        let old = self.live(key).map(|e| e.at);
        let at = match ttl {
            TtlSpec::Clear => None,
            TtlSpec::Keep => old.flatten(),
            TtlSpec::In(d) => Some(now + d),
        };
        let boxed = value.len() > INLINE_MAX;
        self.map.insert(key.to_vec(), Entry { value, at, boxed, lru: lru_clock(now) });
        old.is_some()
    }

    /// After an operation that deletes expired entries at random: drops from the model
    /// what the partition no longer stores, checking that only expired entries went.
    fn resync(&mut self, p: &Partition) -> usize {
        let mut stored = HashSet::new();
        p.for_each(i64::MIN, |k, _, _| {
            stored.insert(k.to_vec());
        });
        let gone: Vec<Vec<u8>> = self.map.keys().filter(|k| !stored.contains(*k)).cloned().collect();
        for k in &gone {
            let e = &self.map[k];
            assert!(!self.visible(e), "a live key vanished: {k:?}");
            self.map.remove(k);
        }
        self.expired += gone.len() as u64;
        gone.len()
    }

    fn apply(&mut self, p: &mut Partition, keys: &[Vec<u8>], op: &Op) {
        let now = self.now;
        let clock = lru_clock(now);
        let key = |i: &usize| keys[i % keys.len()].as_slice();
        match op {
            Op::Set(k, v, t) => {
                let got = p.set(key(k), Value::Str(v.clone()), t.ttl(now), now);
                assert_eq!(got, self.write(key(k), v.clone(), t));
            }
            Op::SetStr(k, v, t) => {
                let got = p.set_str(key(k), v, t.ttl(now), now);
                assert_eq!(got, self.write(key(k), v.clone(), t));
            }
            Op::SetMany(k, n, v, t) => {
                let first = k % keys.len();
                for key in keys.iter().cycle().skip(first).take((*n).min(keys.len())) {
                    let got = p.set_str(key, v, t.ttl(now), now);
                    assert_eq!(got, self.write(key, v.clone(), t));
                }
            }
            Op::Get(k) => {
                let got = p.get(key(k), now).map(bytes);
                let want = self.live(key(k)).map(|e| {
                    e.lru = clock;
                    e.value.clone()
                });
                if want.is_some() {
                    self.hits += 1;
                } else {
                    self.misses += 1;
                }
                assert_eq!(got, want);
            }
            Op::GetNotouch(k) => {
                let got = p.get_notouch(key(k), now).map(bytes);
                let want = self.live(key(k)).map(|e| e.value.clone());
                if want.is_some() {
                    self.hits += 1;
                } else {
                    self.misses += 1;
                }
                assert_eq!(got, want);
            }
            Op::Peek(k) => {
                let got = p.peek(key(k), now).map(bytes);
                assert_eq!(got, self.live(key(k)).map(|e| e.value.clone()));
            }
            Op::GetMut(k, extra) => {
                let got = p.get_mut(key(k), now).map(|v| match v {
                    Value::Str(s) => {
                        s.extend_from_slice(extra);
                        s.clone()
                    }
                    #[allow(unreachable_patterns)]
                    other => panic!("not a string: {other:?}"),
                });
                let want = self.live(key(k)).map(|e| {
                    e.lru = clock;
                    e.boxed = true;
                    e.value.extend_from_slice(extra);
                    e.value.clone()
                });
                assert_eq!(got, want);
            }
            Op::Remove(k) => {
                let want = self.live(key(k)).is_some();
                self.map.remove(key(k));
                assert_eq!(p.remove(key(k), now), want);
            }
            Op::RemoveMany(k, n) => {
                let first = k % keys.len();
                for key in keys.iter().cycle().skip(first).take((*n).min(keys.len())) {
                    let want = self.live(key).is_some();
                    self.map.remove(key.as_slice());
                    assert_eq!(p.remove(key, now), want);
                }
            }
            Op::Take(k) => {
                let want = self.live(key(k)).map(|e| (Value::Str(e.value.clone()), e.at));
                self.map.remove(key(k));
                assert_eq!(p.take(key(k), now), want);
            }
            Op::ExpireAt(k) => {
                let want = self.live(key(k)).map(|e| e.at);
                assert_eq!(p.expire_at(key(k), now), want);
            }
            Op::SetExpire(k, d) => {
                let at = d.map(|d| now + d);
                let want = self.live(key(k)).map(|e| e.at = at).is_some();
                assert_eq!(p.set_expire(key(k), at, now), want);
            }
            Op::Clear => {
                assert_eq!(p.clear(), self.map.len());
                self.map.clear();
            }
            Op::ExpireSample(n) => {
                let (checked, expired) = p.expire_sample(*n, now);
                assert_eq!(expired, self.resync(p));
                assert!(expired <= checked && checked <= *n);
                if checked < *n {
                    assert_eq!(p.expires_len(), 0, "stopped early with keys left to sample");
                }
            }
            Op::RandomKey => {
                let got = p.random_key(now);
                let deleted = self.resync(p);
                match got {
                    Some(k) => {
                        assert!(self.map.get(&k).is_some_and(|e| self.visible(e)), "random_key returned {k:?}");
                        assert!(deleted < 100);
                    }
                    // Gives up only after deleting 100 expired keys, or when empty.
                    None => assert!(deleted == 100 || self.map.is_empty(), "random_key: None after {deleted} deletions"),
                }
            }
            Op::Scan => {
                let mut seen = Vec::new();
                let mut cursor = 0;
                let mut steps = 0;
                loop {
                    cursor = p.scan_step(cursor, now, |k, v| seen.push((k.to_vec(), bytes(v))));
                    steps += 1;
                    if cursor == 0 {
                        break;
                    }
                    assert!(steps < 1 << 16, "scan does not terminate");
                }
                seen.sort();
                let mut want: Vec<_> = self.map.iter().filter(|(_, e)| self.visible(e)).map(|(k, e)| (k.clone(), e.value.clone())).collect();
                want.sort();
                // No resize during this scan, so each visible key comes exactly once.
                assert_eq!(seen, want);
            }
            Op::Advance(d) => self.now += d,
        }
    }

    /// Everything observable must agree; reads used here have no side effects.
    fn check(&self, p: &mut Partition) {
        p.check_invariants();
        assert_eq!(p.len(), self.map.len(), "len counts expired-but-stored keys too");
        assert_eq!(p.expires_len(), self.map.values().filter(|e| e.at.is_some()).count());
        assert_eq!((p.stats.hits, p.stats.misses, p.stats.expired), (self.hits, self.misses, self.expired));

        let mut stored = HashMap::new();
        p.for_each(i64::MIN, |k, v, at| assert!(stored.insert(k.to_vec(), (bytes(v), at)).is_none(), "for_each repeats {k:?}"));
        let want: HashMap<_, _> = self.map.iter().map(|(k, e)| (k.clone(), (e.value.clone(), e.at))).collect();
        assert_eq!(stored, want);

        let mut visible = HashSet::new();
        p.for_each(self.now, |k, _, _| assert!(visible.insert(k.to_vec())));
        let want: HashSet<_> = self.map.iter().filter(|(_, e)| self.visible(e)).map(|(k, _)| k.clone()).collect();
        assert_eq!(visible, want);

        // Storage form and LRU clock of visible keys (a lookup of an expired key would
        // delete it, so those are left alone).
        let clock = lru_clock(self.now);
        for k in &visible {
            let e = &self.map[k];
            assert_eq!(p.is_inline(k, self.now), Some(!e.boxed), "storage form of {k:?}");
            let idle = u64::from(clock.wrapping_sub(e.lru) & 0x00FF_FFFF);
            assert_eq!(p.idle_secs(k, self.now), Some(idle), "LRU clock of {k:?}");
        }
    }
}

fn run(seed: u64, keys: &[Vec<u8>], now: i64, ops: &[Op]) {
    // random_key and expire_sample draw from fastrand: replay the same choices.
    fastrand::seed(seed);
    let before = census::live();
    let mut p = Partition::new(Hasher::with_seed(seed));
    let mut m = Model { map: HashMap::new(), now, hits: 0, misses: 0, expired: 0 };
    for op in ops {
        m.apply(&mut p, keys, op);
        m.check(&mut p);
    }
    drop(p);
    assert_eq!(census::live(), before, "(nodes, boxed values) leaked or freed twice");
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn partition_matches_model(seed: u64, keys in key_pool(), now in start_time(), ops in vec(op(), 1..100)) {
        run(seed, &keys, now, &ops);
    }
}

/// A fixed long run through growth to hundreds of keys and back, whatever proptest
/// happens to generate.
#[test]
fn partition_matches_model_through_growth_and_shrink() {
    let keys: Vec<Vec<u8>> = (0..600).map(|i| format!("key:{i}:{}", "x".repeat(i % 50)).into_bytes()).collect();
    let ix = |i: usize| i;
    let long = vec![b'L'; 80];
    let mut ops = vec![
        Op::SetMany(ix(0), 400, b"v".to_vec(), TtlSpec::In(1_000)),
        Op::SetMany(ix(200), 300, long.clone(), TtlSpec::Clear),
        Op::SetExpire(ix(10), None),
        Op::SetExpire(ix(250), Some(500)),
        Op::GetMut(ix(11), b"more".to_vec()),
        Op::GetMut(ix(250), b"more".to_vec()),
        Op::Scan,
        Op::Advance(1_500),
        Op::ExpireSample(50),
        Op::RandomKey,
        Op::RemoveMany(ix(150), 420),
        Op::Scan,
        Op::SetMany(ix(500), 100, long, TtlSpec::Keep),
    ];
    for i in 0..40 {
        ops.push(Op::ExpireSample(30));
        ops.push(Op::SetExpire(ix(i * 13), Some(-1)));
        ops.push(Op::Get(ix(i * 13)));
    }
    ops.push(Op::Clear);
    ops.push(Op::SetStr(ix(3), b"again".to_vec(), TtlSpec::In(10)));
    run(42, &keys, 1_700_000_000_000, &ops);
}
