//! Command scopes: partitions a whole command holds from start to end.
//!
//! Handlers lock the partitions they need themselves and release them when they return.
//! A write command must also hand its effect to the write journal (AOF, replicas) before
//! anyone else can touch those keys, or the journal could replay two writes to one key
//! in the opposite order from the one memory saw. So the dispatcher locks every
//! partition a write command names *before* the handler runs (`Keyspace::scope`), keeps
//! them until the effect is journaled, and the handler's own lock calls are served from
//! that set on this thread instead of locking again.
//!
//! The set lives in a thread-local because handlers take their locks through the shared
//! `Keyspace`. A scope never spans an `.await` (handlers are plain functions), so the
//! thread-local cannot leak to another task.

use std::cell::RefCell;
use std::ptr::NonNull;

use smallvec::SmallVec;

use super::keyspace::{Keyspace, Locked};
use super::partition::Partition;

struct Held {
    id: (usize, usize),
    part: NonNull<Partition>,
    /// A guard handed out for it is alive (a handler may not hold two).
    lent: bool,
}

/// The thread's scope. It stays in place between commands and is refilled, because moving
/// a fresh one in on every write command copied a few hundred bytes each time.
struct Current {
    /// The keyspace the scope belongs to (tests run several in one process); 0 when no
    /// scope is active.
    ks: usize,
    held: SmallVec<[Held; 4]>,
}

impl Current {
    /// The scope, when one is active for keyspace `ks`.
    fn of(&mut self, ks: &Keyspace) -> Option<&mut Current> {
        (self.ks == ks as *const Keyspace as usize).then_some(self)
    }
}

thread_local! {
    static CURRENT: RefCell<Current> = const { RefCell::new(Current { ks: 0, held: SmallVec::new_const() }) };
}

/// A partition lent out of the current scope. Dereferences to the partition; gives it
/// back to the scope when dropped.
pub struct Lent {
    part: NonNull<Partition>,
    id: (usize, usize),
}

impl std::ops::Deref for Lent {
    type Target = Partition;
    fn deref(&self) -> &Partition {
        // SAFETY: the scope holds this partition's mutex for as long as any `Lent` of it
        // exists (the scope outlives the handler that holds the `Lent`), and `lent`
        // guarantees this is the only reference handed out.
        unsafe { self.part.as_ref() }
    }
}

impl std::ops::DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut Partition {
        // SAFETY: as for `deref`; `&mut self` makes this borrow unique.
        unsafe { self.part.as_mut() }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            let mut cur = c.borrow_mut();
            if cur.ks != 0
                && let Ok(i) = cur.held.binary_search_by(|h| h.id.cmp(&self.id))
            {
                cur.held[i].lent = false;
            }
        });
    }
}

/// What a lock request finds in the current scope.
pub enum Lookup {
    /// No scope on this thread, or the partition is not in it: lock it normally.
    NotHeld,
    Lent(Lent),
}

/// Looks `id` up in this thread's scope for keyspace `ks`.
pub fn lend(ks: &Keyspace, id: (usize, usize)) -> Lookup {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let Some(cur) = c.of(ks) else { return Lookup::NotHeld };
        match cur.held.binary_search_by(|h| h.id.cmp(&id)) {
            Ok(i) => {
                let h = &mut cur.held[i];
                // Two live guards of one partition would be two `&mut`; without the scope
                // this would have been a self-deadlock, so it is a bug in the caller.
                assert!(!h.lent, "partition {id:?} locked twice by one command");
                h.lent = true;
                Lookup::Lent(Lent { part: h.part, id })
            }
            Err(_) => {
                // Locking outside the declared set while holding it could deadlock with
                // another command; the command table must name every key a write touches.
                debug_assert!(false, "partition {id:?} is not in the command's declared keys");
                Lookup::NotHeld
            }
        }
    })
}

/// Calls `f` with every partition of this thread's scope for `ks` that is not lent out.
pub fn for_each_held(ks: &Keyspace, mut f: impl FnMut(usize, &mut Partition)) {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let Some(cur) = c.of(ks) else { return };
        for h in cur.held.iter_mut().filter(|h| !h.lent) {
            // SAFETY: the scope holds this partition's mutex while it is in `CURRENT`, and
            // it is not lent, so this is the only reference to it.
            f(h.id.0, unsafe { h.part.as_mut() });
        }
    });
}

/// The partitions a command holds from start to end (see the module comment). Dropping
/// it ends the scope and releases them.
pub struct Scope<'a> {
    locked: Locked<'a>,
}

impl<'a> Scope<'a> {
    pub(super) fn enter(ks: &'a Keyspace, mut locked: Locked<'a>) -> Scope<'a> {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            debug_assert!(c.ks == 0, "nested command scope");
            c.ks = ks as *const Keyspace as usize;
            c.held.clear();
            c.held.extend(locked.parts_with_ids().map(|(id, p)| Held { id, part: NonNull::from(p), lent: false }));
        });
        Scope { locked }
    }

    /// The held partitions (for the dispatcher, after the handler returned).
    pub fn locked(&mut self) -> &mut Locked<'a> {
        &mut self.locked
    }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        // Forget the pointers before the locks go (`locked` drops after this body).
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            c.ks = 0;
            c.held.clear();
        });
    }
}
