//! Arbitrary bytes after a valid RDB header: the reader must return Ok or Err for every
//! record (no panic, no huge allocation from a forged length), and a file it accepts
//! must re-encode to one it reads back identically.
#![no_main]

use cache_node::persist::rdb::{RdbReader, RdbWriter, Record, WriteOptions};
use cache_node::store::ValueRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Half the inputs keep their own header (so bad magic and versions are covered too).
    let mut file = Vec::with_capacity(data.len() + 9);
    if data.first().is_some_and(|b| b & 1 == 0) {
        file.extend_from_slice(b"REDIS0010");
        file.extend_from_slice(&data[1..]);
    } else {
        file.extend_from_slice(data);
    }
    let Ok(mut r) = RdbReader::new(&file[..]) else { return };
    let mut entries = Vec::new();
    loop {
        match r.next() {
            Ok(Some(Record::Entry { key, value, expire_ms })) => entries.push((key, value, expire_ms)),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return,
        }
    }
    let opts = WriteOptions { compress: true, checksum: true };
    let Ok(mut w) = RdbWriter::new(Vec::new(), opts, &[]) else { return };
    for (k, v, t) in &entries {
        if w.entry(k, ValueRef::from_value(v), *t).is_err() {
            return;
        }
    }
    let Ok(out) = w.finish() else { return };
    let mut back = RdbReader::new(&out[..]).expect("our own header");
    for (k, v, t) in &entries {
        match back.next() {
            Ok(Some(Record::Entry { key, value, expire_ms })) => {
                assert_eq!((&key, &value, &expire_ms), (k, v, t));
            }
            other => panic!("re-encoded file: {other:?}"),
        }
    }
    assert!(matches!(back.next(), Ok(None)));
});
