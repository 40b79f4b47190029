//! `used_memory`: bytes the program holds from the allocator, cheap enough to read
//! before every write.
//!
//! The binary installs `Counting<Jemalloc>` as its global allocator. Every allocation
//! adds its jemalloc size class (what jemalloc really reserves, so the figure matches
//! its `stats.allocated`) to a per-thread counter, every free subtracts it. A thread
//! folds its counter into one global atomic once it drifts by `SLACK` bytes, so the hot
//! path touches only thread-local memory and the global figure is exact to within
//! `SLACK` bytes per thread. Reading it is one atomic load.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

/// Drift a thread may hold before publishing it (bytes). Also the documented error
/// bound of `used()` per thread that allocates.
pub const SLACK: i64 = 32 * 1024;

static USED: AtomicI64 = AtomicI64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Net bytes this thread allocated since it started (never reset).
    static NET: Cell<i64> = const { Cell::new(0) };
    /// The part of `NET` already added to `USED`.
    static PUBLISHED: Cell<i64> = const { Cell::new(0) };
}

/// A global allocator that counts what `A` hands out.
pub struct Counting<A> {
    inner: A,
}

impl<A> Counting<A> {
    pub const fn new(inner: A) -> Self {
        Counting { inner }
    }
}

#[inline]
fn account(delta: i64) {
    // `try_with`: a thread being torn down has no thread-locals left; its last bytes
    // go straight to the global counter.
    let done = NET.try_with(|net| {
        let n = net.get() + delta;
        net.set(n);
        PUBLISHED.with(|p| {
            let drift = n - p.get();
            if !(-SLACK..=SLACK).contains(&drift) {
                USED.fetch_add(drift, Relaxed);
                p.set(n);
            }
        });
    });
    if done.is_err() {
        USED.fetch_add(delta, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `inner`, which upholds GlobalAlloc's
// contract; the counting touches only integers (no allocation, no unwinding).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            account(size_class(layout.size()) as i64);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            account(size_class(layout.size()) as i64);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.inner.dealloc(ptr, layout) };
        account(-(size_class(layout.size()) as i64));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(size_class(new_size) as i64 - size_class(layout.size()) as i64);
        }
        p
    }
}

/// jemalloc's size class for a request of `n` bytes: multiples of 8 up to 8, of 16 up
/// to 128, then four classes per doubling (160, 192, 224, 256, 320...). Large classes
/// follow the same four-per-doubling rule, so one formula covers every size.
#[inline]
pub const fn size_class(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return (n + 15) & !15;
    }
    let spacing = 1usize << ((n - 1).ilog2() - 2);
    (n + spacing - 1) & !(spacing - 1)
}

/// What an allocation of `n` bytes really takes (0 for nothing allocated).
pub const fn alloc_size(n: usize) -> usize {
    if n == 0 { 0 } else { size_class(n) }
}

/// Bytes allocated by the whole program, exact to `SLACK` per thread. Falls back to
/// jemalloc's own statistics when the counting allocator is not installed (unit tests
/// of the library run with the system allocator).
pub fn used() -> u64 {
    if INSTALLED.load(Relaxed) { USED.load(Relaxed).max(0) as u64 } else { allocator_allocated() }
}

/// Marks the counting allocator as the program's allocator (main does this first).
pub fn install() {
    INSTALLED.store(true, Relaxed);
}

/// Whether `used()` comes from the counting allocator.
pub fn installed() -> bool {
    INSTALLED.load(Relaxed)
}

/// Net bytes the calling thread allocated since it started, exact (no slack): the
/// difference of two reads is what the code between them allocated (or freed).
pub fn thread_net() -> i64 {
    NET.try_with(Cell::get).unwrap_or(0)
}

/// Asks jemalloc to return every arena's unused dirty pages to the system (MEMORY
/// PURGE). False when the allocator refused.
#[cfg(not(target_env = "msvc"))]
pub fn purge() -> bool {
    // "arena.<MALLCTL_ARENAS_ALL>.purge" takes neither input nor output.
    let name = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated name; null old/new pointers with zero lengths are what
    // this control expects.
    unsafe { tikv_jemalloc_sys::mallctl(name.as_ptr().cast(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), 0) == 0 }
}

#[cfg(target_env = "msvc")]
pub fn purge() -> bool {
    true
}

#[cfg(not(target_env = "msvc"))]
fn allocator_allocated() -> u64 {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    stats::allocated::read().map(|v| v as u64).unwrap_or(0)
}

#[cfg(target_env = "msvc")]
fn allocator_allocated() -> u64 {
    0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_follow_jemalloc() {
        let want = [
            (0, 8),
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (33, 48),
            (100, 112),
            (128, 128),
            (129, 160),
            (200, 224),
            (256, 256),
            (257, 320),
            (1000, 1024),
            (1025, 1280),
            (14337, 16384),
            (20000, 20480),
            (1 << 20, 1 << 20),
            ((1 << 20) + 1, (1 << 20) + (1 << 18)),
        ];
        for (n, c) in want {
            assert_eq!(size_class(n), c, "size {n}");
        }
    }

    /// The formula agrees with the real allocator: jemalloc's usable size of a block is
    /// its size class.
    #[cfg(not(target_env = "msvc"))]
    #[test]
    fn size_classes_match_the_allocator() {
        use std::alloc::GlobalAlloc;
        let a = tikv_jemallocator::Jemalloc;
        for n in (1..5000).chain([16_385, 40_000, 100_000, 300_000, 1 << 21]) {
            let layout = Layout::from_size_align(n, 8).unwrap();
            // SAFETY: non-zero size; freed with the same layout.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(tikv_jemallocator::usable_size(p), size_class(n), "size {n}");
                a.dealloc(p, layout);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn size_class_is_the_smallest_class_that_fits(n in 0usize..(1 << 30)) {
            let c = size_class(n);
            proptest::prop_assert!(c >= n);
            proptest::prop_assert!(c == 8 || size_class(c) == c);
            proptest::prop_assert!(n == 0 || c - n < n.max(16));
        }
    }

    #[test]
    fn counting_tracks_a_thread_exactly() {
        static A: Counting<std::alloc::System> = Counting::new(std::alloc::System);
        let before = thread_net();
        let layout = Layout::from_size_align(100, 8).unwrap();
        // SAFETY: non-zero size; freed with the same layout.
        unsafe {
            let p = A.alloc(layout);
            assert_eq!(thread_net() - before, 112);
            let q = A.realloc(p, layout, 300);
            assert_eq!(thread_net() - before, 320);
            A.dealloc(q, Layout::from_size_align(300, 8).unwrap());
        }
        assert_eq!(thread_net(), before);
    }
}
