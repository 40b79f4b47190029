//! WATCH / UNWATCH and the touches that make a watched EXEC fail.
//!
//! Registry and ordering: store/watch.rs. A WATCH registers each key while holding its
//! partition; every write touches the keys it changed while still holding theirs
//! (`touch_written`, called by the dispatcher before the command's scope is released),
//! expiries touch from the store, and EXEC checks while holding the watched keys'
//! partitions. So a write that finished before EXEC started is always seen, and one that
//! starts after EXEC began waits for it.

use std::sync::atomic::Ordering::Relaxed;

use super::scope::Plan;
use super::spec::CommandSpec;
use super::{CmdError, CmdResult, Ctx, args};
use crate::server::state::Server;
use crate::store::watch::Watches;

/// The keys one connection watches; dropping it (connection closed) unregisters them.
#[derive(Debug, Default)]
pub struct Watched {
    keys: Vec<(usize, Box<[u8]>)>,
    reg: Option<(std::sync::Arc<Watches>, u64)>,
}

impl Watched {
    /// The watched (database, key) pairs.
    pub fn keys(&self) -> Vec<(usize, Box<[u8]>)> {
        self.keys.clone()
    }

    fn clear(&mut self) {
        if let Some((w, id)) = &self.reg {
            w.unwatch(*id, &self.keys);
        }
        self.keys.clear();
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.clear();
    }
}

/// WATCH key [key ...]
pub fn watch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.session.tx.queue.is_some() {
        return Err(CmdError::other("ERR WATCH inside MULTI is not allowed"));
    }
    let srv = ctx.srv;
    let db = ctx.db();
    let id = ctx.session.id();
    let dirty = ctx.session.info.dirty_cas.clone();
    let watched = &mut ctx.session.tx.watched;
    let reg = watched.reg.get_or_insert_with(|| (srv.keyspace.watches.clone(), id));
    for key in &argv[1..] {
        if watched.keys.iter().any(|(d, k)| *d == db && &k[..] == *key) {
            continue;
        }
        // Registered under the key's partition lock: see the module comment.
        let part = srv.keyspace.lock(db, key);
        let expired = part.holds_expired(key, ctx.now_ms);
        reg.0.watch(db, key, id, &dirty, expired);
        drop(part);
        watched.keys.push((db, (*key).into()));
    }
    ctx.out.ok();
    Ok(())
}

/// UNWATCH
pub fn unwatch(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// Forgets every watched key and the "a watched key changed" mark.
pub fn unwatch_all(ctx: &mut Ctx<'_>) {
    ctx.session.tx.watched.clear();
    ctx.session.info.dirty_cas.store(false, Relaxed);
}

/// At EXEC, holding the watched keys' partitions: whether one of them changed since
/// WATCH, or existed then and has expired since (Redis 7.0 treats both as changes).
pub(super) fn changed(ctx: &Ctx<'_>, watched: &[(usize, Box<[u8]>)]) -> bool {
    if ctx.session.info.dirty_cas.load(Relaxed) {
        return true;
    }
    let ks = &ctx.srv.keyspace;
    watched.iter().any(|(db, key)| !ks.watches.watched_expired(*db, key, ctx.session.id()) && ks.lock(*db, key).holds_expired(key, ctx.now_ms))
}

/// Marks the watchers of `key` in `db`: for eviction, which deletes keys. The caller
/// holds the key's partition.
pub fn touch_watched(srv: &Server, db: usize, key: &[u8]) {
    srv.keyspace.watches.touch_deleted(db, key);
}

/// The watched keys a database-wide write (FLUSHDB, FLUSHALL, SWAPDB) will change:
/// those present in a database it empties or replaces. Called before the command runs,
/// holding every partition it will touch.
pub(super) fn before_db_write(srv: &Server, spec: &CommandSpec, argv: &[&[u8]], db: usize) -> Vec<(usize, Box<[u8]>)> {
    let ks = &srv.keyspace;
    if ks.watches.is_idle() {
        return Vec::new();
    }
    let dbs: Vec<usize> = match spec.name {
        "flushdb" => vec![db],
        "flushall" => (0..ks.databases()).collect(),
        "swapdb" => argv[1..].iter().filter_map(|a| args::int(a).ok().and_then(|n| usize::try_from(n).ok())).collect(),
        _ => return Vec::new(),
    };
    let present = |d: usize, k: &[u8]| ks.lock(d, k).holds(k);
    ks.watches
        .keys_where(|d| dbs.contains(&d))
        .into_iter()
        .filter(|(d, k)| if spec.name == "swapdb" { dbs.iter().any(|&o| present(o, k)) } else { present(*d, k) })
        .collect()
}

/// After a write command changed something (still holding its partitions): touches the
/// keys it wrote. Commands that only read some of their keys (the sources of
/// SINTERSTORE, COPY...) touch only their destination.
pub(super) fn touch_written(srv: &Server, spec: &CommandSpec, plan: &Plan<'_>, before: Vec<(usize, Box<[u8]>)>) {
    let ks = &srv.keyspace;
    let touch = |db: usize, key: &[u8]| ks.watches.touch(db, key, || ks.lock(db, key).holds(key));
    match plan {
        Plan::Pairs(pairs) => {
            for &(db, key) in written(spec.name, pairs) {
                touch(db, key);
            }
        }
        _ => {
            for (db, key) in &before {
                touch(*db, key);
            }
        }
    }
}

/// The (database, key) pairs of a write's plan that it may change.
fn written<'p, 'a>(name: &str, pairs: &'p [(usize, &'a [u8])]) -> &'p [(usize, &'a [u8])] {
    match name {
        // destination first, sources after
        "sinterstore" | "sunionstore" | "sdiffstore" | "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" | "geosearchstore" | "bitop"
        | "pfmerge" => pairs.get(..1).unwrap_or_default(),
        // source first, then the STORE destinations
        "georadius" | "georadiusbymember" => pairs.get(1..).unwrap_or_default(),
        // COPY src dst [DB n]: the destination in its database (the last pair)
        "copy" => pairs.get(pairs.len().saturating_sub(1)..).unwrap_or_default(),
        _ => pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::written;

    #[test]
    fn only_destinations_of_store_commands_are_written() {
        let p: Vec<(usize, &[u8])> = vec![(0, b"dst"), (0, b"s1"), (0, b"s2")];
        assert_eq!(written("sinterstore", &p), &p[..1]);
        assert_eq!(written("bitop", &p), &p[..1]);
        assert_eq!(written("mset", &p), &p[..]);
        assert_eq!(written("georadius", &p), &p[1..]);
        let copy: Vec<(usize, &[u8])> = vec![(0, b"src"), (0, b"dst"), (3, b"dst")];
        assert_eq!(written("copy", &copy), &copy[2..]);
        assert!(written("copy", &[]).is_empty());
        assert!(written("bitop", &[]).is_empty());
    }
}
