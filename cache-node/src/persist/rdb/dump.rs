//! DUMP payloads, in Redis's format: type byte, value body, the RDB version (u16 LE) and
//! a CRC64 (u64 LE) of everything before it.

use super::crc64::crc64;
use super::decode;
use super::encode::{put_value, type_of};
use super::error::RdbError;
use super::format::RDB_VERSION;
use super::input::Input;
use crate::store::{Value, ValueRef};

pub fn dump_payload(value: ValueRef<'_>) -> Vec<u8> {
    let mut out = vec![type_of(value)];
    // Redis compresses DUMP payloads as it does files (rdbcompression defaults to yes).
    put_value(&mut out, value, true);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The value of a DUMP payload. A wrong footer (a newer RDB version, or a checksum that
/// does not match) is `RdbError::DumpFooter`; anything wrong in the body is another
/// variant ("ERR Bad data format" for RESTORE).
pub fn parse_dump_payload(payload: &[u8]) -> Result<Value, RdbError> {
    if payload.len() < 10 {
        return Err(RdbError::DumpFooter);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let stored = u64::from_le_bytes([footer[2], footer[3], footer[4], footer[5], footer[6], footer[7], footer[8], footer[9]]);
    if version > RDB_VERSION || crc64(0, &payload[..payload.len() - 8]) != stored {
        return Err(RdbError::DumpFooter);
    }
    let mut inp = Input::new(body, false);
    let t = inp.u8()?;
    if !decode::is_value_type(t) {
        return Err(RdbError::Corrupt { what: "value type", offset: 0 });
    }
    decode::value(&mut inp, t, b"")
}
