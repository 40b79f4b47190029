//! Value decoding: every value type Redis 7.0 writes and every older one it reads, built
//! with the store types' normal insertion API (so encodings follow our thresholds).
//! Duplicate members or fields, NaN scores and malformed compact blobs are errors;
//! an empty collection is `EmptyValue` (a file loader skips such keys, as Redis does).

use std::io::Read;

use super::error::RdbError;
use super::format::{QUICKLIST_PACKED, QUICKLIST_PLAIN, ty};
use super::input::{Input, parse_score_text};
use super::item::Item;
use super::{intset, listpack, ziplist, zipmap};
use crate::store::Value;
use crate::store::hash::Hash;
use crate::store::list::List;
use crate::store::set::{IntBuf, Set, fmt_int};
use crate::store::zset::ZSet;

/// The name of a type byte we cannot load, for the error message.
fn unsupported(t: u8) -> Option<&'static str> {
    match t {
        ty::MODULE_PRE_GA | ty::MODULE_2 => Some("module value"),
        ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 | ty::STREAM_LISTPACKS_3 => Some("stream"),
        _ => None,
    }
}

/// True when `t` is a value type byte (as opposed to an opcode).
pub fn is_value_type(t: u8) -> bool {
    t <= ty::STREAM_LISTPACKS_3 && t != 8
}

pub fn value<R: Read>(inp: &mut Input<R>, t: u8, key: &[u8]) -> Result<Value, RdbError> {
    let at = inp.pos();
    if let Some(name) = unsupported(t) {
        return Err(RdbError::UnsupportedType { type_byte: t, key: String::from_utf8_lossy(key).into_owned(), offset: at, name });
    }
    let v = match t {
        ty::STRING => return Ok(Value::Str(inp.string()?)),
        ty::LIST => {
            let n = inp.len()?;
            let mut l = List::new();
            for _ in 0..n {
                l.push_back(&inp.string()?);
            }
            Value::List(l)
        }
        ty::SET => {
            let n = inp.len()?;
            let mut s = Set::default();
            for _ in 0..n {
                let m_at = inp.pos();
                if !s.add(&inp.string()?) {
                    return Err(RdbError::Duplicate { what: "set member", offset: m_at });
                }
            }
            Value::Set(s)
        }
        ty::ZSET | ty::ZSET_2 => {
            let n = inp.len()?;
            let mut z = ZSet::new();
            for _ in 0..n {
                let m_at = inp.pos();
                let m = inp.string()?;
                let score = if t == ty::ZSET_2 { inp.binary_double()? } else { inp.text_double()? };
                zset_add(&mut z, &m, score, m_at)?;
            }
            Value::ZSet(z)
        }
        ty::HASH => {
            let n = inp.len()?;
            let mut h = Hash::default();
            for _ in 0..n {
                let f_at = inp.pos();
                let f = inp.string()?;
                let v = inp.string()?;
                hash_add(&mut h, &f, &v, f_at)?;
            }
            Value::Hash(h)
        }
        ty::HASH_ZIPMAP => {
            let blob = inp.string()?;
            let mut h = Hash::default();
            for (f, v) in zipmap::entries(&blob).map_err(|w| inp.corrupt(w, at))? {
                hash_add(&mut h, f, v, at)?;
            }
            Value::Hash(h)
        }
        ty::LIST_ZIPLIST => {
            let blob = inp.string()?;
            let mut l = List::new();
            list_extend(&mut l, &ziplist::entries(&blob).map_err(|w| inp.corrupt(w, at))?);
            Value::List(l)
        }
        ty::SET_INTSET => {
            let blob = inp.string()?;
            let mut s = Set::default();
            let mut buf = IntBuf::default();
            for v in intset::entries(&blob).map_err(|w| inp.corrupt(w, at))? {
                s.add(fmt_int(v, &mut buf));
            }
            Value::Set(s)
        }
        ty::SET_LISTPACK => {
            let blob = inp.string()?;
            let mut s = Set::default();
            let mut buf = IntBuf::default();
            for m in listpack::entries(&blob).map_err(|w| inp.corrupt(w, at))? {
                if !s.add(m.bytes(&mut buf)) {
                    return Err(RdbError::Duplicate { what: "set member", offset: at });
                }
            }
            Value::Set(s)
        }
        ty::ZSET_ZIPLIST | ty::ZSET_LISTPACK => {
            let blob = inp.string()?;
            let items = if t == ty::ZSET_ZIPLIST { ziplist::entries(&blob) } else { listpack::entries(&blob) };
            let items = items.map_err(|w| inp.corrupt(w, at))?;
            if items.len() & 1 == 1 {
                return Err(inp.corrupt("sorted set blob (odd element count)", at));
            }
            let mut z = ZSet::new();
            let mut buf = IntBuf::default();
            for pair in items.chunks_exact(2) {
                let score = match pair[1] {
                    Item::Int(i) => i as f64,
                    Item::Str(s) => parse_score_text(s).ok_or(RdbError::Corrupt { what: "score", offset: at })?,
                };
                zset_add(&mut z, pair[0].bytes(&mut buf), score, at)?;
            }
            Value::ZSet(z)
        }
        ty::HASH_ZIPLIST | ty::HASH_LISTPACK => {
            let blob = inp.string()?;
            let items = if t == ty::HASH_ZIPLIST { ziplist::entries(&blob) } else { listpack::entries(&blob) };
            let items = items.map_err(|w| inp.corrupt(w, at))?;
            if items.len() & 1 == 1 {
                return Err(inp.corrupt("hash blob (odd element count)", at));
            }
            let mut h = Hash::default();
            let (mut fb, mut vb) = (IntBuf::default(), IntBuf::default());
            for pair in items.chunks_exact(2) {
                hash_add(&mut h, pair[0].bytes(&mut fb), pair[1].bytes(&mut vb), at)?;
            }
            Value::Hash(h)
        }
        ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
            let n = inp.len()?;
            let mut l = List::new();
            for _ in 0..n {
                let container = if t == ty::LIST_QUICKLIST_2 { inp.len()? } else { QUICKLIST_PACKED };
                let node_at = inp.pos();
                let blob = inp.string()?;
                match container {
                    QUICKLIST_PLAIN => l.push_back(&blob),
                    QUICKLIST_PACKED => {
                        let items = if t == ty::LIST_QUICKLIST { ziplist::entries(&blob) } else { listpack::entries(&blob) };
                        list_extend(&mut l, &items.map_err(|w| inp.corrupt(w, node_at))?);
                    }
                    _ => return Err(inp.corrupt("quicklist container", node_at)),
                }
            }
            Value::List(l)
        }
        _ => return Err(inp.corrupt("value type", at.saturating_sub(1))),
    };
    if is_empty(&v) {
        return Err(RdbError::EmptyValue { what: v.type_name(), offset: at });
    }
    Ok(v)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Str(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
    }
}

fn list_extend(l: &mut List, items: &[Item<'_>]) {
    let mut buf = IntBuf::default();
    for i in items {
        l.push_back(i.bytes(&mut buf));
    }
}

fn zset_add(z: &mut ZSet, m: &[u8], score: f64, at: u64) -> Result<(), RdbError> {
    if score.is_nan() {
        return Err(RdbError::Corrupt { what: "sorted set score (NaN)", offset: at });
    }
    if z.score(m).is_some() {
        return Err(RdbError::Duplicate { what: "sorted set member", offset: at });
    }
    z.insert(m, score);
    Ok(())
}

fn hash_add(h: &mut Hash, f: &[u8], v: &[u8], at: u64) -> Result<(), RdbError> {
    if h.set(f, v) { Ok(()) } else { Err(RdbError::Duplicate { what: "hash field", offset: at }) }
}
