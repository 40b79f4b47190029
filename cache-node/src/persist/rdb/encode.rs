//! Value encoding, shared by the file writer and DUMP: the type byte a value is written
//! with, and its body. Encodings are the plain ones Redis 7.0 loads, with the compact
//! (listpack, intset) types for values we hold compactly, which keeps files small and
//! loads fast.

use super::format::{COMPRESS_MIN, LIST_NODE_BYTES, QUICKLIST_PACKED, len, ty};
use super::{intset, listpack, lzf};
use crate::store::hash::Hash;
use crate::store::list::List;
use crate::store::set::Set;
use crate::store::zset::ZSet;
use crate::store::{Value, ValueRef};

/// RDB length encoding: 6, 14, 32 (big-endian) or 64 (big-endian) bits.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push((len::BITS_6 << 6) | n as u8);
    } else if n < 1 << 14 {
        out.push((len::BITS_14 << 6) | (n >> 8) as u8);
        out.push((n & 0xff) as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(len::BITS_32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(len::BITS_64);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string: as an integer when it is the canonical text of one that fits 32 bits, LZF
/// compressed when `compress` is on, it is longer than 20 bytes and that saves at least
/// 4 bytes (Redis's rule), else raw.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11
        && let Some(v) = crate::protocol::request::parse_i64(s)
    {
        let special = |out: &mut Vec<u8>, enc: u8| out.push((len::ENCVAL << 6) | enc);
        if let Ok(v) = i8::try_from(v) {
            special(out, len::ENC_INT8);
            out.push(v as u8);
            return;
        } else if let Ok(v) = i16::try_from(v) {
            special(out, len::ENC_INT16);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        } else if let Ok(v) = i32::try_from(v) {
            special(out, len::ENC_INT32);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
    }
    if compress
        && s.len() > COMPRESS_MIN
        && let Some(packed) = lzf::compress(s, s.len() - 4)
    {
        out.push((len::ENCVAL << 6) | len::ENC_LZF);
        put_len(out, packed.len() as u64);
        put_len(out, s.len() as u64);
        out.extend_from_slice(&packed);
        return;
    }
    put_raw(out, s);
}

/// A length-prefixed string without any special encoding (blobs: listpacks, intsets).
pub fn put_raw(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// The type byte `value` is written with.
pub fn type_of(value: ValueRef<'_>) -> u8 {
    match value {
        ValueRef::Str(_) => ty::STRING,
        ValueRef::Obj(v) => match v {
            Value::Str(_) => ty::STRING,
            Value::List(_) => ty::LIST_QUICKLIST_2,
            Value::Set(Set::Ints(_)) => ty::SET_INTSET,
            Value::Set(Set::Table(_)) => ty::SET,
            Value::ZSet(z) if z.encoding() == "listpack" => ty::ZSET_LISTPACK,
            Value::ZSet(_) => ty::ZSET_2,
            Value::Hash(Hash::Packed(_)) => ty::HASH_LISTPACK,
            Value::Hash(Hash::Table(_)) => ty::HASH,
        },
    }
}

/// The body of `value`, in the encoding `type_of` names.
pub fn put_value(out: &mut Vec<u8>, value: ValueRef<'_>, compress: bool) {
    match value {
        ValueRef::Str(s) => put_string(out, s, compress),
        ValueRef::Obj(v) => match v {
            Value::Str(s) => put_string(out, s, compress),
            Value::List(l) => put_list(out, l, compress),
            Value::Set(s) => put_set(out, s, compress),
            Value::ZSet(z) => put_zset(out, z, compress),
            Value::Hash(h) => put_hash(out, h, compress),
        },
    }
}

/// QUICKLIST_2: node count, then per node its container and a listpack of at most
/// 8 KB (an element bigger than that gets a node of its own, as in Redis).
fn put_list(out: &mut Vec<u8>, l: &List, compress: bool) {
    let mut nodes: Vec<Vec<u8>> = Vec::new();
    let mut node = listpack::Builder::default();
    for e in l.iter() {
        if !node.is_empty() && node.len() + e.len() + 11 > LIST_NODE_BYTES {
            nodes.push(std::mem::take(&mut node).finish());
        }
        node.push(e);
    }
    if !node.is_empty() {
        nodes.push(node.finish());
    }
    put_len(out, nodes.len() as u64);
    for n in &nodes {
        put_len(out, QUICKLIST_PACKED);
        put_blob(out, n, compress);
    }
}

/// A blob (listpack, intset) as a string: compressed like any string when that pays,
/// never integer-encoded.
fn put_blob(out: &mut Vec<u8>, blob: &[u8], compress: bool) {
    if compress
        && blob.len() > COMPRESS_MIN
        && let Some(packed) = lzf::compress(blob, blob.len() - 4)
    {
        out.push((len::ENCVAL << 6) | len::ENC_LZF);
        put_len(out, packed.len() as u64);
        put_len(out, blob.len() as u64);
        out.extend_from_slice(&packed);
    } else {
        put_raw(out, blob);
    }
}

fn put_set(out: &mut Vec<u8>, s: &Set, compress: bool) {
    match s {
        Set::Ints(ints) => {
            let sorted: Vec<i64> = ints.iter().collect();
            put_blob(out, &intset::encode(&sorted), compress);
        }
        Set::Table(_) => {
            put_len(out, s.len() as u64);
            s.for_each(|m| put_string(out, m, compress));
        }
    }
}

fn put_hash(out: &mut Vec<u8>, h: &Hash, compress: bool) {
    match h {
        Hash::Packed(_) => {
            let mut lp = listpack::Builder::default();
            for (f, v) in h.iter() {
                lp.push(f);
                lp.push(v);
            }
            put_blob(out, &lp.finish(), compress);
        }
        Hash::Table(_) => {
            put_len(out, h.len() as u64);
            for (f, v) in h.iter() {
                put_string(out, f, compress);
                put_string(out, v, compress);
            }
        }
    }
}

fn put_zset(out: &mut Vec<u8>, z: &ZSet, compress: bool) {
    if z.encoding() == "listpack" {
        let mut lp = listpack::Builder::default();
        let mut text = String::new();
        z.for_each(0, z.len(), false, &mut |m, s| {
            lp.push(m);
            lp.push(score_text(s, &mut text));
        });
        put_blob(out, &lp.finish(), compress);
    } else {
        put_len(out, z.len() as u64);
        // Highest first, as Redis writes, so that a loader inserting each element at the
        // head of its list builds it in order.
        z.for_each(0, z.len(), true, &mut |m, s| {
            put_string(out, m, compress);
            out.extend_from_slice(&s.to_le_bytes());
        });
    }
}

/// A score as text that reads back to the same double: an integer when it is one (the
/// listpack then stores it as an integer), else the shortest exponent form.
fn score_text(s: f64, buf: &mut String) -> &[u8] {
    use std::fmt::Write;
    buf.clear();
    if s.is_infinite() {
        buf.push_str(if s > 0.0 { "inf" } else { "-inf" });
    } else if s.fract() == 0.0 && s.abs() < 9.0e15 {
        let _ = write!(buf, "{}", s as i64);
    } else {
        let _ = write!(buf, "{s:e}");
    }
    buf.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        let enc = |n: u64| {
            let mut v = Vec::new();
            put_len(&mut v, n);
            v
        };
        assert_eq!(enc(5), [5]);
        assert_eq!(enc(300), [0x41, 0x2c]);
        assert_eq!(enc(70000), [0x80, 0, 1, 0x11, 0x70]);
        assert_eq!(enc(1 << 40), [0x81, 0, 0, 1, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn strings_like_redis() {
        let enc = |s: &[u8]| {
            let mut v = Vec::new();
            put_string(&mut v, s, true);
            v
        };
        // What redis-server 7.0 DUMPs for SET k 1, -200, 100000 and "a" x 100.
        assert_eq!(enc(b"1"), [0xc0, 1]);
        assert_eq!(enc(b"-200"), [0xc1, 0x38, 0xff]);
        assert_eq!(enc(b"100000"), [0xc2, 0xa0, 0x86, 1, 0]);
        assert_eq!(enc(b"01"), [2, b'0', b'1']);
        assert_eq!(enc(b"4294967296"), [10, b'4', b'2', b'9', b'4', b'9', b'6', b'7', b'2', b'9', b'6']);
        assert_eq!(enc(&[b'a'; 100])[0], 0xc3);
    }

    #[test]
    fn score_texts_read_back() {
        let mut buf = String::new();
        for s in [0.0, 1.0, -3.0, 0.1, 1.0 / 3.0, 1e300, -1e-300, f64::INFINITY, f64::NEG_INFINITY, 9.5e15, f64::MAX] {
            let t = score_text(s, &mut buf).to_vec();
            let back = super::super::input::parse_score_text(&t).unwrap();
            assert_eq!(back.to_bits(), s.to_bits(), "{s}");
        }
    }
}
