//! The RDB codec against the real thing: files we write pass `redis-check-rdb` and load
//! into redis-server 7.0 with every key, type, value and TTL intact; files redis-server
//! writes (under small and large encoding thresholds) read back to what was stored; and
//! corrupt files give a clear error, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use cache_node::persist::rdb::{Checksum, RDB_VERSION, RdbError, RdbReader, RdbWriter, Record, WriteOptions};
use cache_node::store::hash::Hash;
use cache_node::store::list::List;
use cache_node::store::set::Set;
use cache_node::store::zset::ZSet;
use cache_node::store::{Value, ValueRef};
use common::unix_ms;
use redis_server::{Gen, Model, RedisServer, temp_dir};

fn to_value(m: &Model) -> Value {
    match m {
        Model::Str(s) => Value::Str(s.clone()),
        Model::List(items) => {
            let mut l = List::new();
            items.iter().for_each(|i| l.push_back(i));
            Value::List(l)
        }
        Model::Set(ms) => {
            let mut s = Set::default();
            ms.iter().for_each(|m| {
                s.add(m);
            });
            Value::Set(s)
        }
        Model::Hash(fs) => {
            let mut h = Hash::default();
            fs.iter().for_each(|(f, v)| {
                h.set(f, v);
            });
            Value::Hash(h)
        }
        Model::ZSet(ms) => {
            let mut z = ZSet::new();
            ms.iter().for_each(|(m, s)| {
                z.insert(m, *s);
            });
            Value::ZSet(z)
        }
    }
}

fn to_model(v: &Value) -> Model {
    match v {
        Value::Str(s) => Model::Str(s.clone()),
        Value::List(l) => Model::List(l.iter().map(<[u8]>::to_vec).collect()),
        Value::Set(s) => {
            let mut out = std::collections::BTreeSet::new();
            s.for_each(|m| {
                out.insert(m.to_vec());
            });
            Model::Set(out)
        }
        Value::Hash(h) => Model::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()),
        Value::ZSet(z) => Model::ZSet(z.to_vec().into_iter().collect()),
    }
}

/// Keys by database: value and absolute expiry (unix ms).
type Data = BTreeMap<usize, BTreeMap<Vec<u8>, (Model, Option<i64>)>>;

/// Every type, small and large, some keys with TTLs, in databases 0 and 3, plus the
/// edge cases: empty key, empty string, binary key, integers as strings.
fn random_data(seed: u64) -> Data {
    let mut g = Gen(fastrand::Rng::with_seed(seed));
    let now = unix_ms();
    let mut data = Data::new();
    for db in [0usize, 3] {
        let keys = data.entry(db).or_default();
        for i in 0..60u32 {
            let kind = (i % 6) as u8;
            let big = i % 5 == 0;
            let mut key = format!("k{i}:").into_bytes();
            key.extend(g.bytes(12));
            let ttl = (i % 3 == 0).then(|| now + g.0.i64(600_000..86_400_000));
            keys.insert(key, (g.model(kind, big), ttl));
        }
        keys.insert(Vec::new(), (Model::Str(Vec::new()), None));
        keys.insert(vec![0, 255, b'\n', 7], (Model::Str(b"12345678901".to_vec()), Some(now + 3_600_000)));
        keys.insert(b"int".to_vec(), (Model::Str(b"-2147483648".to_vec()), None));
        keys.insert(b"int64".to_vec(), (Model::Str(b"9223372036854775807".to_vec()), None));
        keys.insert(b"leading-zero".to_vec(), (Model::Str(b"007".to_vec()), None));
    }
    data
}

fn write_rdb(path: &Path, data: &Data, opts: WriteOptions) {
    let file = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(path).unwrap());
    let ctime = (unix_ms() / 1000).to_string();
    let aux: &[(&str, &[u8])] = &[("redis-ver", b"7.0.15"), ("redis-bits", b"64"), ("ctime", ctime.as_bytes()), ("used-mem", b"1000000"), ("aof-base", b"0")];
    let mut w = RdbWriter::new(file, opts, aux).unwrap();
    for (db, keys) in data {
        w.select_db(*db, keys.len() as u64, keys.values().filter(|(_, t)| t.is_some()).count() as u64).unwrap();
        for (k, (m, ttl)) in keys {
            let v = to_value(m);
            w.entry(k, ValueRef::from_value(&v), *ttl).unwrap();
        }
    }
    let written = w.bytes_written();
    let mut file = w.finish().unwrap();
    std::io::Write::flush(&mut file).unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().len(), written + 9); // EOF opcode + checksum
}

/// Aux fields, as (key, value).
type Aux = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads a whole file: aux fields, entries by database, and the checksum outcome.
fn read_rdb(path: &Path) -> Result<(Aux, Data, Option<Checksum>), RdbError> {
    let file = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    let mut r = RdbReader::new(file)?;
    let (mut aux, mut data, mut db) = (Vec::new(), Data::new(), 0usize);
    while let Some(rec) = r.next()? {
        match rec {
            Record::Aux { key, value } => aux.push((key, value)),
            Record::SelectDb(n) => db = n as usize,
            Record::ResizeDb { .. } => {}
            Record::Entry { key, value, expire_ms } => {
                data.entry(db).or_default().insert(key, (to_model(&value), expire_ms));
            }
        }
    }
    Ok((aux, data, r.checksum()))
}

fn check_rdb(path: &Path) {
    let out = Command::new("redis-check-rdb").arg(path).output().expect("redis-check-rdb must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("RDB looks OK"), "redis-check-rdb:\n{text}");
}

/// What a server holds, read back with ordinary commands.
fn assert_server_has(c: &mut redis::Connection, data: &Data) {
    let now = unix_ms();
    for (db, keys) in data {
        let _: () = redis::cmd("SELECT").arg(*db).query(c).unwrap();
        let size: usize = redis::cmd("DBSIZE").query(c).unwrap();
        assert_eq!(size, keys.len(), "db {db}");
        for (k, (m, ttl)) in keys {
            let got = Model::load(c, k).unwrap_or_else(|| panic!("missing key {k:?}"));
            assert_eq!(got.type_name(), m.type_name(), "{k:?}");
            assert_eq!(&got, m, "{k:?}");
            let pttl: i64 = redis::cmd("PTTL").arg(k).query(c).unwrap();
            match ttl {
                None => assert_eq!(pttl, -1, "{k:?}"),
                Some(at) => assert!((pttl - (at - now)).abs() < 60_000, "{k:?}: pttl {pttl}, want about {}", at - now),
            }
        }
    }
}

#[test]
fn our_files_pass_redis_check_rdb_and_load_into_redis() {
    for (seed, opts) in [
        (1, WriteOptions { compress: true, checksum: true }),
        (2, WriteOptions { compress: false, checksum: true }),
        (3, WriteOptions { compress: true, checksum: false }),
    ] {
        let dir = temp_dir("rdb-ours");
        let data = random_data(seed);
        let path = dir.join("dump.rdb");
        write_rdb(&path, &data, opts);
        check_rdb(&path);
        // Our own reader agrees too.
        let (aux, back, checksum) = read_rdb(&path).unwrap();
        assert!(aux.iter().any(|(k, v)| k == b"redis-ver" && v == b"7.0.15"));
        assert_eq!(checksum, Some(if opts.checksum { checksum.unwrap() } else { Checksum::NotComputed }));
        assert!(!opts.checksum || matches!(checksum, Some(Checksum::Verified(_))));
        assert_eq!(back, data);
        // Deep sanitization: redis-server checks every listpack and intset entry we wrote.
        let server = RedisServer::start(&dir, &["--sanitize-dump-payload", "yes"]);
        assert_server_has(&mut server.client(), &data);
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Stores `data` in a running redis-server with ordinary commands.
fn fill(c: &mut redis::Connection, data: &Data) {
    for (db, keys) in data {
        let _: () = redis::cmd("SELECT").arg(*db).query(c).unwrap();
        for (k, (m, ttl)) in keys {
            m.store(c, k);
            if let Some(at) = ttl {
                let _: i64 = redis::cmd("PEXPIREAT").arg(k).arg(*at).query(c).unwrap();
            }
        }
    }
}

#[test]
fn redis_files_read_back_under_every_encoding() {
    let configs: &[&[&str]] = &[
        &[],
        // Small thresholds: almost everything in the general encodings, lists in many nodes.
        &["--hash-max-listpack-entries", "2", "--zset-max-listpack-entries", "2", "--set-max-intset-entries", "2", "--list-max-listpack-size", "2"],
        // Large thresholds: everything compact, big list nodes.
        &[
            "--hash-max-listpack-entries",
            "100000",
            "--hash-max-listpack-value",
            "100000",
            "--zset-max-listpack-entries",
            "100000",
            "--zset-max-listpack-value",
            "100000",
            "--set-max-intset-entries",
            "100000",
            "--list-max-listpack-size",
            "-5",
        ],
        // Compressed list nodes, uncompressed strings, no checksum.
        &["--list-compress-depth", "1", "--list-max-listpack-size", "4", "--rdbcompression", "no", "--rdbchecksum", "no"],
    ];
    for (i, extra) in configs.iter().enumerate() {
        let dir = temp_dir("rdb-theirs");
        let data = random_data(100 + i as u64);
        let server = RedisServer::start(&dir, extra);
        let mut c = server.client();
        fill(&mut c, &data);
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
        let (aux, back, checksum) = read_rdb(&dir.join("dump.rdb")).unwrap_or_else(|e| panic!("config {extra:?}: {e}"));
        assert!(aux.iter().any(|(k, v)| k == b"redis-ver" && v.starts_with(b"7.")), "{aux:?}");
        let want_checksum = !extra.contains(&"no");
        assert_eq!(matches!(checksum, Some(Checksum::Verified(_))), want_checksum, "{extra:?}");
        assert_eq!(back, data, "config {extra:?}");
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn read_bytes(bytes: &[u8]) -> Result<usize, RdbError> {
    let mut r = RdbReader::new(bytes)?;
    let mut n = 0;
    while r.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

#[test]
fn corrupt_files_give_clear_errors() {
    let dir = temp_dir("rdb-corrupt");
    let mut data = random_data(7);
    data.retain(|db, _| *db == 0);
    let server = RedisServer::start(&dir, &[]);
    fill(&mut server.client(), &data);
    let _: () = redis::cmd("SAVE").query(&mut server.client()).unwrap();
    drop(server);
    let good = std::fs::read(dir.join("dump.rdb")).unwrap();
    assert!(read_bytes(&good).is_ok());

    // Truncated anywhere: an error naming an offset within the file.
    let step = (good.len() / 500).max(1);
    for cut in (0..good.len()).step_by(step).chain(good.len() - 9..good.len()) {
        match read_bytes(&good[..cut]) {
            Ok(_) => panic!("truncated at {cut} read fine"),
            Err(RdbError::Truncated { offset }) => assert!(offset <= cut as u64, "cut {cut}: offset {offset}"),
            Err(RdbError::BadMagic) => assert!(cut < 9),
            Err(e) => assert!(!e.to_string().is_empty(), "cut {cut}"),
        }
    }
    // A flipped byte: the checksum (or the structure) catches it.
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..300 {
        let mut bad = good.clone();
        let at = rng.usize(9..good.len() - 8);
        bad[at] ^= 1 << rng.u8(0..8);
        let e = read_bytes(&bad).expect_err("flipped byte read fine");
        assert!(e.to_string().contains("byte"), "{e}");
    }
    let mut bad = good.clone();
    bad[..5].copy_from_slice(b"RADIS");
    assert!(matches!(read_bytes(&bad), Err(RdbError::BadMagic)));
    let mut bad = good.clone();
    bad[5..9].copy_from_slice(b"0012");
    let e = read_bytes(&bad).unwrap_err();
    assert!(matches!(e, RdbError::UnsupportedVersion { version: 12 }));
    assert!(e.to_string().contains("12"), "{e}");
    assert_eq!(RDB_VERSION, 10);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plain_list_nodes_read_back() {
    // Redis 7.0 stores a list element above `quicklist-packed-threshold` in a PLAIN node.
    let dir = temp_dir("rdb-plain");
    let server = RedisServer::start(&dir, &["--enable-debug-command", "yes"]);
    let mut c = server.client();
    let _: () = redis::cmd("DEBUG").arg("QUICKLIST-PACKED-THRESHOLD").arg("1000").query(&mut c).unwrap();
    let big = vec![b'x'; 3000];
    let items = vec![b"a".to_vec(), big.clone(), b"b".to_vec(), big, b"12".to_vec()];
    let mut data = Data::new();
    data.entry(0).or_default().insert(b"plain".to_vec(), (Model::List(items), None));
    fill(&mut c, &data);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let (_, back, _) = read_rdb(&dir.join("dump.rdb")).unwrap();
    assert_eq!(back, data);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
