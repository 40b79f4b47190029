//! MEMORY USAGE: what one key and its value cost here, in allocator bytes.

use super::accounting::alloc_size;
use crate::store::Value;
use crate::store::value::ValueRef;

/// Sum of `cost(i)` over `len` elements, estimated from the first `samples` of them
/// (0 = all) scaled to the whole, as Redis's MEMORY USAGE SAMPLES does.
pub fn sampled(len: usize, samples: usize, cost: impl Fn(usize) -> usize) -> usize {
    let n = if samples == 0 { len } else { len.min(samples) };
    if n == 0 {
        return 0;
    }
    let sum: usize = (0..n).map(cost).sum();
    if n == len { sum } else { (sum as u128 * len as u128 / n as u128) as usize }
}

/// Bytes of a value stored outside its entry (0 for strings kept inline).
pub fn value_bytes(v: ValueRef<'_>, inline: bool, samples: usize) -> usize {
    let boxed = alloc_size(std::mem::size_of::<Value>());
    match v {
        ValueRef::Str(_) if inline => 0,
        ValueRef::Str(s) => boxed + alloc_size(s.len()),
        ValueRef::Obj(o) => {
            boxed
                + match o {
                    Value::Str(s) => alloc_size(s.capacity()),
                    Value::List(l) => l.heap_bytes(),
                    Value::Hash(h) => h.heap_bytes(samples),
                    Value::Set(s) => s.heap_bytes(samples),
                    Value::ZSet(z) => z.heap_bytes(),
                }
        }
    }
}

/// MEMORY USAGE of `key` in `db`: its entry, its share of the bucket array and its
/// value. None when the key does not exist.
pub fn key_usage(srv: &crate::server::state::Server, db: usize, key: &[u8], samples: usize, now: i64) -> Option<usize> {
    let mut p = srv.keyspace.lock(db, key);
    let entry = p.entry_size(key, now)?;
    let inline = p.is_inline(key, now).unwrap_or(false);
    let value = p.peek(key, now).map_or(0, |v| value_bytes(v, inline, samples));
    Some(alloc_size(entry) + std::mem::size_of::<usize>() + value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_scales_to_the_whole() {
        assert_eq!(sampled(0, 5, |_| 10), 0);
        assert_eq!(sampled(3, 5, |i| i), 3);
        assert_eq!(sampled(100, 0, |_| 2), 200);
        assert_eq!(sampled(100, 10, |i| if i < 5 { 1 } else { 3 }), 200);
    }
}
