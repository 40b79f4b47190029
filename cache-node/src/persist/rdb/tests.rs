//! Round trips and robustness of the whole codec: random values through the writer and
//! the reader, DUMP payloads, and random or mutated input that must give Ok or Err,
//! never a panic.

use proptest::prelude::*;

use super::*;
use crate::store::hash::Hash;
use crate::store::list::List;
use crate::store::set::Set;
use crate::store::zset::ZSet;
use crate::store::{Value, ValueRef};

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..max),
        any::<i64>().prop_map(|i| i.to_string().into_bytes()),
        (-300i64..300).prop_map(|i| i.to_string().into_bytes()),
        (1usize..max.max(2)).prop_map(|n| vec![b'r'; n]),
    ]
}

/// Random non-empty values of every type, small (compact encodings) and large.
fn value() -> impl Strategy<Value = Value> {
    let n = prop_oneof![1usize..10, 100usize..700];
    prop_oneof![
        bytes(200).prop_map(Value::Str),
        (n.clone(), proptest::collection::vec(bytes(100), 1..20)).prop_map(|(n, items)| {
            let mut l = List::new();
            (0..n).for_each(|i| l.push_back(&items[i % items.len()]));
            Value::List(l)
        }),
        proptest::collection::vec(bytes(80), 1..600).prop_map(|ms| {
            let mut s = Set::default();
            ms.iter().for_each(|m| {
                s.add(m);
            });
            Value::Set(s)
        }),
        proptest::collection::vec(any::<i64>(), 1..600).prop_map(|ms| {
            let mut s = Set::default();
            ms.iter().for_each(|m| {
                s.add(m.to_string().as_bytes());
            });
            Value::Set(s)
        }),
        proptest::collection::vec((bytes(80), bytes(80)), 1..600).prop_map(|fs| {
            let mut h = Hash::default();
            fs.iter().for_each(|(f, v)| {
                h.set(f, v);
            });
            Value::Hash(h)
        }),
        proptest::collection::vec((bytes(80), prop_oneof![any::<f64>(), (-1000i32..1000).prop_map(f64::from)]), 1..300).prop_map(|ms| {
            let mut z = ZSet::new();
            ms.iter().filter(|(_, s)| !s.is_nan()).for_each(|(m, s)| {
                z.insert(m, *s);
            });
            if z.is_empty() {
                z.insert(b"x", 1.0);
            }
            Value::ZSet(z)
        }),
    ]
}

fn write_file(entries: &[(Vec<u8>, Value, Option<i64>)], opts: WriteOptions) -> Vec<u8> {
    let aux: &[(&str, &[u8])] = &[("redis-ver", b"7.0.15"), ("redis-bits", b"64")];
    let mut w = RdbWriter::new(Vec::new(), opts, aux).unwrap();
    w.select_db(0, entries.len() as u64, entries.iter().filter(|e| e.2.is_some()).count() as u64).unwrap();
    for (k, v, ttl) in entries {
        w.entry(k, ValueRef::from_value(v), *ttl).unwrap();
    }
    let n = w.bytes_written();
    let out = w.finish().unwrap();
    assert_eq!(out.len() as u64, n + 9);
    out
}

fn read_all(data: &[u8]) -> Result<Vec<Record>, RdbError> {
    let mut r = RdbReader::new(data)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next()? {
        out.push(rec);
    }
    Ok(out)
}

fn entries_of(records: Vec<Record>) -> Vec<(Vec<u8>, Value, Option<i64>)> {
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Entry { key, value, expire_ms } => Some((key, value, expire_ms)),
            _ => None,
        })
        .collect()
}

fn sample_file() -> Vec<u8> {
    let mut l = List::new();
    (0..3000).for_each(|i| l.push_back(format!("item-{i}").as_bytes()));
    let mut h = Hash::default();
    h.set(b"f", b"v");
    h.set(b"n", b"12");
    let mut z = ZSet::new();
    z.insert(b"a", 1.5);
    z.insert(b"b", f64::INFINITY);
    let mut s = Set::default();
    s.add(b"1");
    s.add(b"-70000");
    let entries = vec![
        (b"s".to_vec(), Value::Str(b"hello hello hello hello hello hello".to_vec()), Some(1_900_000_000_000)),
        (b"i".to_vec(), Value::Str(b"12345".to_vec()), None),
        (b"l".to_vec(), Value::List(l), None),
        (b"h".to_vec(), Value::Hash(h), None),
        (b"z".to_vec(), Value::ZSet(z), None),
        (b"set".to_vec(), Value::Set(s), None),
    ];
    write_file(&entries, WriteOptions::default())
}

#[test]
fn sample_round_trip_and_every_truncation_fails_cleanly() {
    let file = sample_file();
    let recs = read_all(&file).unwrap();
    assert_eq!(entries_of(recs).len(), 6);
    for cut in 0..file.len() {
        assert!(read_all(&file[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn flipped_bytes_are_caught() {
    let file = sample_file();
    for i in 9..file.len() {
        let mut bad = file.clone();
        bad[i] ^= 0x10;
        assert!(read_all(&bad).is_err(), "flip at {i}");
    }
}

#[test]
fn header_checks() {
    assert!(matches!(read_all(b"RADIS0010"), Err(RdbError::BadMagic)));
    assert!(matches!(read_all(b"REDIS"), Err(RdbError::BadMagic)));
    assert!(matches!(read_all(b"REDIS0012\xff"), Err(RdbError::UnsupportedVersion { version: 12 })));
    assert!(matches!(read_all(b"REDIS0000\xff"), Err(RdbError::UnsupportedVersion { version: 0 })));
    // Version 4: no checksum after EOF.
    assert_eq!(read_all(b"REDIS0004\xff").unwrap(), vec![]);
    // A zero checksum means "not computed".
    let mut f = b"REDIS0010\xff".to_vec();
    f.extend_from_slice(&[0; 8]);
    assert_eq!(read_all(&f).unwrap(), vec![]);
}

#[test]
fn unchecksummed_file_reads() {
    let entries = vec![(b"k".to_vec(), Value::Str(b"v".to_vec()), None)];
    let f = write_file(&entries, WriteOptions { compress: false, checksum: false });
    assert_eq!(&f[f.len() - 8..], &[0; 8]);
    let mut r = RdbReader::new(&f[..]).unwrap();
    while r.next().unwrap().is_some() {}
    assert_eq!(r.checksum(), Some(Checksum::NotComputed));
}

#[test]
fn streams_and_modules_are_refused_clearly() {
    for (t, name) in [(15u8, "stream"), (7, "module")] {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&[t, 3, b'k', b'e', b'y', 0, 0, 0]);
        let e = read_all(&f).unwrap_err();
        assert!(matches!(e, RdbError::UnsupportedType { type_byte, ref key, .. } if type_byte == t && key == "key"), "{e}");
        assert!(e.to_string().contains(name), "{e}");
    }
    let e = read_all(b"REDIS0010\xf7\x00").unwrap_err();
    assert!(matches!(e, RdbError::UnsupportedOpcode { opcode: 247, offset: 9, .. }), "{e}");
}

#[test]
fn old_types_and_opcodes() {
    // ZSET (3) with text scores, HASH (4), LIST (1), EXPIRETIME (seconds), IDLE, FREQ,
    // an empty set (skipped), and a function library (skipped).
    let mut f = b"REDIS0009".to_vec();
    f.extend_from_slice(&[0xfe, 0, 0xfb, 2, 0]);
    f.extend_from_slice(&[0xfd, 0x10, 0, 0, 0]); // expires at 16 s
    f.extend_from_slice(&[3, 1, b'z', 3, 1, b'a', 254, 1, b'b', 255, 1, b'c', 3, b'1', b'.', b'5']);
    f.extend_from_slice(&[0xf8, 5, 0xf9, 7]);
    f.extend_from_slice(&[4, 1, b'h', 1, 1, b'f', 0xc0, 7]);
    f.extend_from_slice(&[1, 1, b'l', 2, 1, b'x', 0xc1, 0x00, 0x01]);
    f.extend_from_slice(&[2, 1, b'e', 0]);
    f.extend_from_slice(&[0xf6, 2, b'#', b'!']);
    f.push(0xff);
    let crc = crc64(0, &f);
    f.extend_from_slice(&crc.to_le_bytes());
    let mut r = RdbReader::new(&f[..]).unwrap();
    let mut recs = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        recs.push(rec);
    }
    assert_eq!(r.checksum(), Some(Checksum::Verified(crc)));
    assert_eq!(r.skipped_empty(), 1);
    assert_eq!(recs[0], Record::SelectDb(0));
    assert_eq!(recs[1], Record::ResizeDb { keys: 2, expires: 0 });
    let e = entries_of(recs);
    let Value::ZSet(z) = &e[0].1 else { panic!() };
    assert_eq!(z.len(), 3);
    assert_eq!(z.score(b"a"), Some(f64::INFINITY));
    assert_eq!(z.score(b"b"), Some(f64::NEG_INFINITY));
    assert_eq!(z.score(b"c"), Some(1.5));
    assert_eq!(e[0].2, Some(16_000));
    let Value::Hash(h) = &e[1].1 else { panic!() };
    assert_eq!(h.get(b"f"), Some(&b"7"[..]));
    let Value::List(l) = &e[2].1 else { panic!() };
    assert_eq!(l.iter().collect::<Vec<_>>(), vec![&b"x"[..], &b"256"[..]]);
    assert_eq!(e.len(), 3);
}

#[test]
fn duplicates_and_nan_are_errors() {
    let payload = |body: &[u8]| {
        let mut p = body.to_vec();
        p.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    let dup_set = payload(&[2, 2, 1, b'a', 1, b'a']);
    assert!(matches!(parse_dump_payload(&dup_set), Err(RdbError::Duplicate { .. })));
    let dup_hash = payload(&[4, 2, 1, b'a', 1, b'1', 1, b'a', 1, b'2']);
    assert!(matches!(parse_dump_payload(&dup_hash), Err(RdbError::Duplicate { .. })));
    let nan = payload(&[3, 1, 1, b'a', 253]);
    assert!(parse_dump_payload(&nan).is_err());
    let empty = payload(&[2, 0]);
    assert!(matches!(parse_dump_payload(&empty), Err(RdbError::EmptyValue { .. })));
    let ok = payload(&[0, 0xc0, 5]);
    assert_eq!(parse_dump_payload(&ok).unwrap(), Value::Str(b"5".to_vec()));
    let mut bad_crc = ok.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    assert!(parse_dump_payload(&bad_crc).unwrap_err().is_dump_footer());
    let mut newer = vec![0, 0xc0, 5, 11, 0];
    let crc = crc64(0, &newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    assert!(parse_dump_payload(&newer).unwrap_err().is_dump_footer());
    assert!(parse_dump_payload(b"short").unwrap_err().is_dump_footer());
}

#[test]
fn redis_dump_payloads_parse() {
    // Captured from redis-server 7.0.15: DUMP of SET k 1 and of a 100-byte string.
    let one = b"\x00\xc0\x01\n\x00&x\xe7\xb6\xd1\x01\x11\xfc";
    assert_eq!(parse_dump_payload(one).unwrap(), Value::Str(b"1".to_vec()));
    assert_eq!(dump_payload(ValueRef::Str(b"1")), one.to_vec());
    let long = b"\x00\xc3\t@d\x01aa\xe0W\x00\x01aa\n\x00\xe8\xa3\xb5\x07\xb0m\xf2q";
    assert_eq!(parse_dump_payload(long).unwrap(), Value::Str(vec![b'a'; 100]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn values_round_trip(
        vals in proptest::collection::vec((bytes(30), value(), proptest::option::of(0i64..4_000_000_000_000)), 1..6),
        compress in any::<bool>(),
    ) {
        let f = write_file(&vals, WriteOptions { compress, checksum: true });
        let got = entries_of(read_all(&f).unwrap());
        prop_assert_eq!(got.len(), vals.len());
        for ((k, v, t), (gk, gv, gt)) in vals.iter().zip(&got) {
            prop_assert_eq!(k, gk);
            prop_assert_eq!(v, gv);
            prop_assert_eq!(t, gt);
            prop_assert_eq!(v.type_name(), gv.type_name());
        }
        for (_, v, _) in &vals {
            let p = dump_payload(ValueRef::from_value(v));
            prop_assert_eq!(&parse_dump_payload(&p).unwrap(), v);
        }
    }

    #[test]
    fn random_bytes_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..300), version in 1u8..12) {
        let _ = parse_dump_payload(&data);
        let mut f = format!("REDIS{version:04}").into_bytes();
        f.append(&mut data);
        let _ = read_all(&f);
    }

    #[test]
    fn mutated_files_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut f = sample_file();
        let mut unchecked = f.clone();
        let n = f.len();
        // Without the checksum (zeroed), corrupt data reaches the value decoders.
        unchecked[n - 8..].fill(0);
        for (i, b) in &flips {
            let at = 9 + i.index(n - 17);
            f[at] = *b;
            unchecked[at] = *b;
        }
        let _ = read_all(&f);
        let _ = read_all(&unchecked);
    }

    #[test]
    fn mutated_payloads_never_panic(v in value(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut p = dump_payload(ValueRef::from_value(&v));
        let n = p.len();
        for (i, b) in &flips {
            p[i.index(n - 10)] = *b;
        }
        // Fix the checksum up so the body itself is parsed.
        let crc = crc64(0, &p[..n - 8]);
        p[n - 8..].copy_from_slice(&crc.to_le_bytes());
        let _ = parse_dump_payload(&p);
    }
}
