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
//! A `Node` is a plain `Copy` pointer, so the compiler cannot check who owns it. Every
//! `unsafe` block below relies on this contract, which `table.rs` and `partition.rs`
//! keep (`mod node` is private to `store`; nothing outside sees a `Node`):
//!
//! - **Layout.** A handle points to an allocation made by `Node::new` with
//!   `layout(size)`, 8-aligned, laid out as above. `klen`, the kind and the has-expire
//!   bit never change after `new`, so `size()` at free time is the allocated size.
//! - **Liveness.** A node is live from `new` until exactly one of `free`, `into_value`
//!   or `release_shell`; no copy of the handle is used afterwards. While live it is
//!   reachable from exactly one bucket chain of one table and, when it has a TTL, from
//!   one slot of its partition's TTL index; it is unlinked from both before being freed.
//! - **Box ownership.** A boxed payload came from `Box::into_raw` and belongs to exactly
//!   one live node, except between `reshape` and the `release_shell` that must follow.
//! - **Borrows.** `key`, `inline_value`, `boxed` and `boxed_mut` return references of a
//!   caller-chosen lifetime. Callers bound them by a borrow of the owning partition
//!   (`&self` for shared ones, `&mut self` for `boxed_mut`), so the node can be neither
//!   freed nor handed out mutably while they live. Header writes (`next`, meta, expiry)
//!   never overlap key or payload bytes, so they do not invalidate such references.
//!
//! The methods are safe `fn`s only under this contract (a second `free` of a copied
//! handle is a double free). They are not `unsafe fn` to keep the table and partition
//! code readable; the contract is enforced instead by keeping `Node` private to
//! `store`, by `check_invariants` in the model test (`tests_model.rs`), and by running
//! the store tests under valgrind and Miri (commands there).

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

// SAFETY: a node owns its allocation and its boxed `Value` (which is `Send`); by the
// liveness rule every handle to it belongs to one partition, which moves between
// threads as a whole (inside its mutex, or whole after `take_parts`).
unsafe impl Send for Node {}

impl Node {
    /// Allocates an entry. Panics on a key over 4 GiB or an inline payload over
    /// `INLINE_MAX` bytes: both would make the stored lengths disagree with the
    /// allocation size. Neither can come from a client (proto-max-bulk-len is 512 MB,
    /// and the partition boxes longer strings).
    #[must_use]
    pub fn new(key: &[u8], payload: Payload<'_>, expire: Option<i64>, lru: u32) -> Node {
        let Ok(klen) = u32::try_from(key.len()) else { panic!("key of {} bytes", key.len()) };
        let (kind, payload_len) = match &payload {
            Payload::Inline(v) => {
                assert!(v.len() <= INLINE_MAX, "inline payload of {} bytes", v.len());
                (KIND_INLINE, 1 + v.len())
            }
            Payload::Boxed(_) => (KIND_BOXED, 8),
        };
        let extra = if expire.is_some() { EXPIRE_EXTRA } else { 0 };
        let size = HEADER + extra + key.len() + payload_len;
        let layout = layout(size);
        // SAFETY: `layout` has a non-zero size (>= HEADER) and align 8. Every write below
        // stays inside `size` bytes: header at 0..16, expiry at 16..28 when present, then
        // key and payload exactly as counted in `size`. The header fields are at
        // 8-aligned offsets 0/8/12 of an 8-aligned block, so aligned writes are valid;
        // later fields may be unaligned and use write_unaligned. All `size` bytes are
        // initialised before the node is returned.
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
                    // v.len() <= INLINE_MAX < 256, checked above.
                    raw.add(off).write(v.len() as u8);
                    std::ptr::copy_nonoverlapping(v.as_ptr(), raw.add(off + 1), v.len());
                }
                Payload::Boxed(b) => {
                    #[cfg(test)]
                    census::add(0, 1);
                    (raw.add(off) as *mut *mut Value).write_unaligned(Box::into_raw(b));
                }
            }
            #[cfg(test)]
            census::add(1, 0);
            Node(p)
        }
    }

    fn raw(self) -> *mut u8 {
        self.0.as_ptr()
    }

    /// The node's address, for a cache prefetch hint only (never dereferenced).
    pub(super) fn addr(self) -> *const u8 {
        self.0.as_ptr()
    }

    fn meta(self) -> u32 {
        // SAFETY: liveness + layout: a live node's 16-byte header is initialised and
        // bytes 8..12 are 4-aligned.
        unsafe { (self.raw().add(8) as *const u32).read() }
    }

    fn set_meta(self, m: u32) {
        // SAFETY: as in `meta`. Callers only change the LRU bits (see the layout rule).
        unsafe { (self.raw().add(8) as *mut u32).write(m) }
    }

    fn klen(self) -> usize {
        // SAFETY: as in `meta`; bytes 12..16 hold the key length.
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
        // Option<Node> is pointer-sized with None as null (Node wraps NonNull), so the
        // first 8 bytes of the header, written as a null or node pointer, are a valid
        // Option<Node>. Dereferencing the result is the caller's (unsafe) business.
        self.raw() as *mut Option<Node>
    }

    pub fn next(self) -> Option<Node> {
        // SAFETY: liveness + layout: bytes 0..8 of a live node are an initialised,
        // 8-aligned Option<Node> (see `next_link`).
        unsafe { self.next_link().read() }
    }

    pub fn set_next(self, next: Option<Node>) {
        // SAFETY: as in `next`. The link is not covered by any reference handed out.
        unsafe { self.next_link().write(next) }
    }

    pub fn key<'a>(self) -> &'a [u8] {
        // SAFETY: layout: `klen` initialised key bytes start at `key_off` inside the
        // allocation, and nothing writes them after `new`. Borrows rule: callers keep
        // the node live (owning partition borrowed) for `'a`.
        unsafe { std::slice::from_raw_parts(self.raw().add(self.key_off()), self.klen()) }
    }

    pub fn is_inline(self) -> bool {
        (self.meta() & KIND_MASK) >> KIND_SHIFT == KIND_INLINE
    }

    pub fn inline_value<'a>(self) -> Option<&'a [u8]> {
        if !self.is_inline() {
            return None;
        }
        // SAFETY: layout: an INLINE payload is a length byte followed by that many
        // initialised bytes, all inside the allocation, never written after `new`.
        // Borrows rule for `'a`, as in `key`.
        unsafe {
            let p = self.raw().add(self.payload_off());
            Some(std::slice::from_raw_parts(p.add(1), p.read() as usize))
        }
    }

    fn boxed_ptr(self) -> Option<*mut Value> {
        if self.is_inline() {
            return None;
        }
        // SAFETY: layout: a BOXED payload is 8 initialised bytes at `payload_off`, which
        // may be unaligned, hence read_unaligned.
        Some(unsafe { (self.raw().add(self.payload_off()) as *const *mut Value).read_unaligned() })
    }

    pub fn boxed<'a>(self) -> Option<&'a Value> {
        // SAFETY: box ownership: the pointer is a live Box<Value> owned by this node.
        // Borrows rule: no `&mut Value` to it exists while the partition is borrowed
        // shared for `'a`.
        self.boxed_ptr().map(|p| unsafe { &*p })
    }

    /// # Safety
    /// The node is live, and no other reference to its value exists while the returned
    /// one is used.
    pub unsafe fn boxed_mut<'a>(self) -> Option<&'a mut Value> {
        // SAFETY: as in `boxed`; the caller holds the partition's `&mut` for `'a`, so this
        // is the only reference to the value.
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
        // SAFETY: layout: with HAS_EXPIRE set, bytes 16..24 hold the expiry time.
        Some(unsafe { (self.raw().add(HEADER) as *const i64).read_unaligned() })
    }

    /// Overwrites the expiry time of a node that already has one.
    pub fn set_expire_in_place(self, at: i64) {
        // A hard check: without the expiry field these bytes are the key.
        assert!(self.has_expire());
        // SAFETY: layout: with HAS_EXPIRE set, bytes 16..24 are the expiry field, which
        // no handed-out reference covers.
        unsafe { (self.raw().add(HEADER) as *mut i64).write_unaligned(at) }
    }

    /// Position of this node in its partition's expires vector.
    pub fn xpos(self) -> usize {
        assert!(self.has_expire());
        // SAFETY: layout: with HAS_EXPIRE set, bytes 24..28 hold the index position.
        unsafe { (self.raw().add(HEADER + 8) as *const u32).read_unaligned() as usize }
    }

    /// Panics past 4G entries with a TTL in one partition (far beyond any memory): a
    /// truncated position would unlink the wrong node from the TTL index.
    pub fn set_xpos(self, pos: usize) {
        assert!(self.has_expire());
        let Ok(pos) = u32::try_from(pos) else { panic!("TTL index position {pos}") };
        // SAFETY: as in `xpos`; no handed-out reference covers these bytes.
        unsafe { (self.raw().add(HEADER + 8) as *mut u32).write_unaligned(pos) }
    }

    pub fn size(self) -> usize {
        let payload = match self.inline_value() {
            Some(v) => 1 + v.len(),
            None => 8,
        };
        self.payload_off() + payload
    }

    /// A new entry with this key and value but a different TTL. A boxed value is
    /// moved, not copied: the caller must then free this node with `release_shell`,
    /// which leaves the box to the new entry.
    #[must_use]
    pub fn reshape(self, expire: Option<i64>) -> Node {
        match (self.inline_value(), self.boxed_ptr()) {
            (Some(s), _) => Node::new(self.key(), Payload::Inline(s), expire, self.lru()),
            (None, Some(p)) => {
                // SAFETY: box ownership: `p` came from Box::into_raw and this node owns
                // it; ownership passes to the new node here. This node keeps a stale
                // copy of the pointer that nothing dereferences again: the caller's
                // `release_shell` deallocates only the entry.
                let b = unsafe { Box::from_raw(p) };
                #[cfg(test)]
                census::add(0, -1);
                Node::new(self.key(), Payload::Boxed(b), expire, self.lru())
            }
            (None, None) => Node::new(self.key(), Payload::Inline(b""), expire, self.lru()),
        }
    }

    /// Frees this entry's allocation without dropping its boxed value (see `reshape`).
    ///
    /// # Safety
    /// The node is live, its box (if any) now belongs to the node `reshape` returned,
    /// and this handle (or a copy) is never used again.
    pub unsafe fn release_shell(self) {
        #[cfg(test)]
        census::add(-1, 0);
        // SAFETY: layout + liveness: allocated in `new` with `layout(self.size())`, and
        // this is the node's single free; its box (if any) now belongs to the node
        // `reshape` returned.
        unsafe { dealloc(self.raw(), layout(self.size())) };
    }

    /// Frees the node, dropping a boxed value.
    ///
    /// # Safety
    /// The node is live, linked from no table or index, and this handle (or a copy) is
    /// never used again.
    pub unsafe fn free(self) {
        drop(self.into_payload());
    }

    /// Frees the node and returns its value.
    ///
    /// # Safety
    /// As for `free`.
    pub unsafe fn into_value(self) -> Value {
        match self.into_payload() {
            Ok(v) => Value::Str(v),
            Err(b) => *b,
        }
    }

    fn into_payload(self) -> Result<Vec<u8>, Box<Value>> {
        let size = self.size();
        let out = match self.boxed_ptr() {
            // SAFETY: box ownership: the pointer came from Box::into_raw and is owned by
            // this node, which is freed just below, so the box is reclaimed once.
            Some(p) => Err(unsafe { Box::from_raw(p) }),
            None => Ok(self.inline_value().unwrap_or_default().to_vec()),
        };
        #[cfg(test)]
        census::add(-1, if out.is_err() { -1 } else { 0 });
        // SAFETY: layout + liveness: allocated in `new` with this same layout, freed once;
        // the inline bytes were copied out above.
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

/// Test-only count of live nodes and boxed payloads on this thread, so unit tests can
/// assert that a sequence of operations leaks nothing (valgrind checks the same from
/// outside). Per thread because tests run in parallel.
#[cfg(test)]
pub mod census {
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<(isize, isize)> = const { Cell::new((0, 0)) };
    }

    pub(super) fn add(nodes: isize, boxes: isize) {
        LIVE.with(|c| {
            let (n, b) = c.get();
            c.set((n + nodes, b + boxes));
        });
    }

    /// (nodes, boxed values) allocated and not yet freed by this thread.
    pub fn live() -> (isize, isize) {
        LIVE.with(Cell::get)
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
        assert_eq!(n.size(), 16 + 3 + 1 + 5);
        unsafe { n.free() };

        let n = Node::new(b"k", Payload::Inline(b""), Some(-5), 0);
        assert_eq!(n.expire(), Some(-5));
        n.set_xpos(42);
        n.set_expire_in_place(99);
        assert_eq!((n.expire(), n.xpos(), n.key()), (Some(99), 42, &b"k"[..]));
        assert_eq!(unsafe { n.into_value() }, Value::Str(Vec::new()));

        let big = vec![b'x'; 1000];
        let n = Node::new(b"", Payload::Boxed(Box::new(Value::Str(big.clone()))), Some(1), 0);
        assert!(n.inline_value().is_none());
        if let Some(Value::Str(v)) = unsafe { n.boxed_mut() } {
            v.push(b'y');
        }
        assert_eq!(n.key(), b"");
        let m = n.reshape(None);
        unsafe { n.release_shell() };
        assert_eq!((m.key(), m.expire()), (&b""[..], None));
        let n = m.reshape(Some(5));
        unsafe { m.release_shell() };
        assert_eq!(n.expire(), Some(5));
        let value = unsafe { n.into_value() };
        let Value::Str(v) = value else { panic!("a string was stored") };
        assert_eq!(v.len(), 1001);
    }
}
