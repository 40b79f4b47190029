//! Arbitrary bytes as a RESTORE payload, with a valid footer added half of the time so
//! the body decoders are reached: parsing returns Ok or Err, and an accepted value
//! DUMPs to a payload that parses back to the same value.
#![no_main]

use cache_node::persist::rdb::{RDB_VERSION, crc64, dump_payload, parse_dump_payload};
use cache_node::store::ValueRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut payload = data.to_vec();
    if data.first().is_some_and(|b| b & 1 == 0) {
        payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &payload);
        payload.extend_from_slice(&crc.to_le_bytes());
    }
    if let Ok(v) = parse_dump_payload(&payload) {
        let again = dump_payload(ValueRef::from_value(&v));
        assert_eq!(parse_dump_payload(&again).ok().as_ref(), Some(&v));
    }
});
