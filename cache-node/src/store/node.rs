//! One heap allocation per key: the compact entry of the keyspace.
//!
//! Memory per key is a product goal (1M keys with 16-byte values in under 75 bytes of
//! RSS each), so an entry is a single allocation holding the chain link, metadata, key
//! and — for short strings — the value itself:
//!
//! ```text
//! 0   next: *mut node  (8)   bucket chain of the owning table
//! 8   meta: u32              bits 0..24 LRU clock (s), 24..28 kind, 28 has-expire
//! 12  klen: u32
//! 16  [expire_ms: i64, xpos: u32]   only when has-expire (index in the expires vector)
//! ..  key bytes
//! ..  payload: INLINE = [len: u8][bytes]    BOXED = *mut Value (8 bytes)
//! ```
//!
//! A `Node` is a plain pointer; the table that owns it guarantees it is freed exactly
//! once (by `free` or `into_value`) and never used afterwards. Nothing outside `store`
//! sees a `Node`.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::ptr::NonNull;

use super::value::Value;

/// Strings up to this length live inside the entry (Redis's embstr limit as well).
pub const INLINE_MAX: usize = 44;

const KIND_INLINE: u32 = 0;
const KIND_BOXED: u32 = 1;
const KIND_SHIFT: u32 = 24;
const KIND_MASK: u32 = 0xF << KIND_SHIFT;
const HAS_EXPIRE: u32 = 1 << 28;
const LRU_MASK: u32 = 0x00FF_FFFF;
const HEADER: usize = 16;
const EXPIRE_EXTRA: usize = 12;

/// What a new entry holds.
pub enum Payload<'a> {
    Inline(&'a [u8]),
    Boxed(Box<Value>),
}

#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Node(NonNull<u8>);

// Nodes are owned by a Partition, which is only ever used under its mutex.
unsafe impl Send for Node {}

impl Node {
    pub fn new(key: &[u8], payload: Payload<'_>, expire: Option<i64>, lru: u32) -> Node {
        let klen = u32::try_from(key.len()).unwrap_or(u32::MAX);
        let (kind, payload_len) = match &payload {
            Payload::Inline(v) => {
                debug_assert!(v.len() <= INLINE_MAX);
                (KIND_INLINE, 1 + v.len())
            }
            Payload::Boxed(_) => (KIND_BOXED, 8),
        };
        let extra = if expire.is_some() { EXPIRE_EXTRA } else { 0 };
        let size = HEADER + extra + key.len() + payload_len;
        let layout = layout(size);
        // SAFETY: layout has non-zero size; every byte up to `size` is written below.
        unsafe {
            let p = alloc(layout);
            let Some(p) = NonNull::new(p) else { handle_alloc_error(layout) };
            let raw = p.as_ptr();
            (raw as *mut *mut u8).write(std::ptr::null_mut());
            let mut meta = (lru & LRU_MASK) | (kind << KIND_SHIFT);
            if expire.is_some() {
                meta |= HAS_EXPIRE;
            }
            (raw.add(8) as *mut u32).write(meta);
            (raw.add(12) as *mut u32).write(klen);
            let mut off = HEADER;
            if let Some(at) = expire {
                (raw.add(off) as *mut i64).write_unaligned(at);
                (raw.add(off + 8) as *mut u32).write_unaligned(0);
                off += EXPIRE_EXTRA;
            }
            std::ptr::copy_nonoverlapping(key.as_ptr(), raw.add(off), key.len());
            off += key.len();
            match payload {
                Payload::Inline(v) => {
                    raw.add(off).write(v.len() as u8);
                    std::ptr::copy_nonoverlapping(v.as_ptr(), raw.add(off + 1), v.len());
                }
                Payload::Boxed(b) => {
                    (raw.add(off) as *mut *mut Value).write_unaligned(Box::into_raw(b));
                }
            }
            Node(p)
        }
    }

    fn raw(self) -> *mut u8 {
        self.0.as_ptr()
    }

    fn meta(self) -> u32 {
        // SAFETY: a live node always has its header.
        unsafe { (self.raw().add(8) as *const u32).read() }
    }

    fn set_meta(self, m: u32) {
        // SAFETY: as above.
        unsafe { (self.raw().add(8) as *mut u32).write(m) }
    }

    fn klen(self) -> usize {
        // SAFETY: as above.
        unsafe { (self.raw().add(12) as *const u32).read() as usize }
    }

    fn key_off(self) -> usize {
        if self.has_expire() { HEADER + EXPIRE_EXTRA } else { HEADER }
    }

    fn payload_off(self) -> usize {
        self.key_off() + self.klen()
    }

    /// The link to the next node of the bucket chain, in place.
    pub fn next_link(self) -> *mut Option<Node> {
        // Option<Node> is pointer-sized with None as null (Node wraps NonNull).
        self.raw() as *mut Option<Node>
    }

    pub fn next(self) -> Option<Node> {
        // SAFETY: the first 8 bytes of a live node are its chain link.
        unsafe { self.next_link().read() }
    }

    pub fn set_next(self, next: Option<Node>) {
        // SAFETY: as above.
        unsafe { self.next_link().write(next) }
    }

    pub fn key<'a>(self) -> &'a [u8] {
        // SAFETY: klen bytes of key follow the header; the borrow is bounded by the
        // owning partition's borrow at the call sites.
        unsafe { std::slice::from_raw_parts(self.raw().add(self.key_off()), self.klen()) }
    }

    pub fn is_inline(self) -> bool {
        (self.meta() & KIND_MASK) >> KIND_SHIFT == KIND_INLINE
    }

    pub fn inline_value<'a>(self) -> Option<&'a [u8]> {
        if !self.is_inline() {
            return None;
        }
        // SAFETY: an inline payload is a length byte followed by that many bytes.
        unsafe {
            let p = self.raw().add(self.payload_off());
            Some(std::slice::from_raw_parts(p.add(1), p.read() as usize))
        }
    }

    fn boxed_ptr(self) -> Option<*mut Value> {
        if self.is_inline() {
            return None;
        }
        // SAFETY: a boxed payload is a pointer produced by Box::into_raw.
        Some(unsafe { (self.raw().add(self.payload_off()) as *const *mut Value).read_unaligned() })
    }

    pub fn boxed<'a>(self) -> Option<&'a Value> {
        // SAFETY: the box lives as long as the node.
        self.boxed_ptr().map(|p| unsafe { &*p })
    }

    pub fn boxed_mut<'a>(self) -> Option<&'a mut Value> {
        // SAFETY: the partition hands out at most one reference at a time (it is
        // borrowed mutably for the reference's lifetime).
        self.boxed_ptr().map(|p| unsafe { &mut *p })
    }

    pub fn lru(self) -> u32 {
        self.meta() & LRU_MASK
    }

    pub fn set_lru(self, clock: u32) {
        self.set_meta((self.meta() & !LRU_MASK) | (clock & LRU_MASK));
    }

    pub fn has_expire(self) -> bool {
        self.meta() & HAS_EXPIRE != 0
    }

    pub fn expire(self) -> Option<i64> {
        if !self.has_expire() {
            return None;
        }
        // SAFETY: present when HAS_EXPIRE is set.
        Some(unsafe { (self.raw().add(HEADER) as *const i64).read_unaligned() })
    }

    /// Overwrites the expiry time of a node that already has one.
    pub fn set_expire_in_place(self, at: i64) {
        debug_assert!(self.has_expire());
        // SAFETY: present when HAS_EXPIRE is set.
        unsafe { (self.raw().add(HEADER) as *mut i64).write_unaligned(at) }
    }

    /// Position of this node in its partition's expires vector.
    pub fn xpos(self) -> usize {
        debug_assert!(self.has_expire());
        // SAFETY: present when HAS_EXPIRE is set.
        unsafe { (self.raw().add(HEADER + 8) as *const u32).read_unaligned() as usize }
    }

    pub fn set_xpos(self, pos: usize) {
        debug_assert!(self.has_expire());
        // SAFETY: present when HAS_EXPIRE is set.
        unsafe { (self.raw().add(HEADER + 8) as *mut u32).write_unaligned(pos as u32) }
    }

    fn size(self) -> usize {
        let payload = match self.inline_value() {
            Some(v) => 1 + v.len(),
            None => 8,
        };
        self.payload_off() + payload
    }

    /// Bytes of heap this entry uses, excluding a boxed value's own contents.
    pub fn alloc_size(self) -> usize {
        self.size()
    }

    /// Frees the node, dropping a boxed value.
    pub fn free(self) {
        drop(self.into_payload());
    }

    /// Frees the node and returns its value.
    pub fn into_value(self) -> Value {
        match self.into_payload() {
            Ok(v) => Value::Str(v),
            Err(b) => *b,
        }
    }

    fn into_payload(self) -> Result<Vec<u8>, Box<Value>> {
        let size = self.size();
        let out = match self.boxed_ptr() {
            // SAFETY: the pointer came from Box::into_raw and is owned by this node.
            Some(p) => Err(unsafe { Box::from_raw(p) }),
            None => Ok(self.inline_value().unwrap_or_default().to_vec()),
        };
        // SAFETY: allocated in `new` with this same layout.
        unsafe { dealloc(self.raw(), layout(size)) };
        out
    }
}

fn layout(size: usize) -> Layout {
    match Layout::from_size_align(size, 8) {
        Ok(l) => l,
        // Only reachable for sizes near isize::MAX, which key limits rule out.
        Err(_) => handle_alloc_error(Layout::new::<u64>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_shape() {
        let n = Node::new(b"key", Payload::Inline(b"value"), None, 7);
        assert_eq!(n.key(), b"key");
        assert_eq!(n.inline_value(), Some(&b"value"[..]));
        assert_eq!(n.expire(), None);
        assert_eq!(n.lru(), 7);
        assert_eq!(n.alloc_size(), 16 + 3 + 1 + 5);
        n.free();

        let n = Node::new(b"k", Payload::Inline(b""), Some(-5), 0);
        assert_eq!(n.expire(), Some(-5));
        n.set_xpos(42);
        n.set_expire_in_place(99);
        assert_eq!((n.expire(), n.xpos(), n.key()), (Some(99), 42, &b"k"[..]));
        assert_eq!(n.into_value(), Value::Str(Vec::new()));

        let big = vec![b'x'; 1000];
        let n = Node::new(b"", Payload::Boxed(Box::new(Value::Str(big.clone()))), Some(1), 0);
        assert!(n.inline_value().is_none());
        if let Some(Value::Str(v)) = n.boxed_mut() {
            v.push(b'y');
        }
        assert_eq!(n.key(), b"");
        let Value::Str(v) = n.into_value();
        assert_eq!(v.len(), 1001);
    }
}
