//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, and the debugging commands PFDEBUG and
//! PFSELFTEST. HLLs are plain strings in Redis's own format (`hyperloglog/hll.rs`), so
//! a value copied from Redis with GET/SET counts the same here, and back.

mod dense;
mod estimate;
mod hll;
mod murmur;
mod selftest;
mod sparse;

use self::dense::REGISTERS;
use self::hll::{Corrupt, Encoding};
use super::spec::{CommandSpec, acl, cmd, flag};
use super::strings::{set_raw, string_mut};
use super::{CmdError, CmdResult, Ctx};
use crate::store::{Locked, Partition, ValueRef};

const HLL: u32 = acl::HYPERLOGLOG;

/// A hyperloglog-family entry with Redis 7.0's summary; all date from 2.8.9.
const fn hyperloglog(summary: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "hyperloglog", summary, since: "2.8.9", ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    hyperloglog("Adds the specified elements to the specified HyperLogLog.", cmd("pfadd", -2, flag::WRITE | flag::DENYOOM | flag::FAST, acl::WRITE | HLL | acl::FAST, (1, 1, 1), pfadd)),
    hyperloglog("Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", cmd("pfcount", -2, flag::READONLY | flag::MAY_REPLICATE, acl::READ | HLL | acl::SLOW, (1, -1, 1), pfcount)),
    hyperloglog("Merge N different HyperLogLogs into a single one.", cmd("pfmerge", -2, flag::WRITE | flag::DENYOOM, acl::WRITE | HLL | acl::SLOW, (1, -1, 1), pfmerge)),
    hyperloglog("Internal commands for debugging HyperLogLog values", cmd("pfdebug", 3, flag::WRITE | flag::DENYOOM | flag::ADMIN, acl::WRITE | HLL | acl::ADMIN | acl::SLOW | acl::DANGEROUS, (2, 2, 1), pfdebug)),
    hyperloglog("An internal command for testing HyperLogLog values", cmd("pfselftest", 1, flag::ADMIN, HLL | acl::ADMIN | acl::SLOW | acl::DANGEROUS, (0, 0, 0), pfselftest)),
];

/// `hll-sparse-max-bytes`: the size past which a sparse HLL turns dense. Not
/// configurable yet; Redis's default.
fn sparse_max_bytes(_ctx: &Ctx<'_>) -> usize {
    hll::SPARSE_MAX_BYTES
}

/// A string that is not an HLL (Redis's wording and error code).
fn not_hll() -> CmdError {
    CmdError::other("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn corrupt(_: Corrupt) -> CmdError {
    CmdError::other("INVALIDOBJ Corrupted HLL object detected")
}

/// The bytes of a value read by a command, checked to be an HLL.
fn as_hll(v: ValueRef<'_>) -> Result<(&[u8], Encoding), CmdError> {
    match v {
        ValueRef::Str(s) => hll::encoding(s).map(|e| (s, e)).ok_or_else(not_hll),
        ValueRef::Obj(_) => Err(CmdError::WrongType),
    }
}

/// The HLL under `key` for an update, created empty when the key is missing (then the
/// flag is true). Like Redis, an existing value is moved out of the entry first.
fn hll_for_write<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<(&'p mut Vec<u8>, bool), CmdError> {
    let created = !p.contains(key, now);
    if created {
        set_raw(p, key, hll::new_empty(), now);
    }
    let s = string_mut(p, key, now)?.ok_or(CmdError::NoSuchKey)?;
    if hll::encoding(s).is_none() {
        return Err(not_hll());
    }
    Ok((s, created))
}

/// PFADD key [element ...]: 1 when a register changed or the key was created.
fn pfadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now, max_sparse) = (argv[1], ctx.now_ms, sparse_max_bytes(ctx));
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let (s, created) = hll_for_write(&mut p, key, now)?;
    let mut updated = u64::from(created);
    for element in &argv[2..] {
        // Elements added before a corruption is found stay added, as in Redis.
        if hll::add(s, element, max_sparse).map_err(corrupt)? {
            updated += 1;
        }
    }
    if updated > 0 {
        hll::invalidate(s);
    }
    drop(p);
    ctx.dirty(updated);
    ctx.out.int(i64::from(updated > 0));
    Ok(())
}

/// PFCOUNT key [key ...]: one key answers from (and refreshes) the cached cardinality;
/// several keys estimate their union without touching them.
fn pfcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 2 {
        let (db, now) = (ctx.db(), ctx.now_ms);
        let mut locked = ctx.srv.keyspace.lock_keys(db, argv[1..].iter().copied());
        let max = union(&mut locked, db, &argv[1..], now)?.0;
        drop(locked);
        ctx.out.int(estimate::estimate_bytes(&max[..]) as i64);
        return Ok(());
    }
    let (key, now) = (argv[1], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(v) = p.get(key, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    as_hll(v)?;
    let s = string_mut(&mut p, key, now)?.ok_or(CmdError::NoSuchKey)?;
    let card = match hll::cached(s) {
        Some(card) => card,
        None => {
            let card = hll::count(s).map_err(corrupt)?;
            // Refreshing the cache rewrites the string: a write, as far as Redis counts.
            hll::store_cache(s, card);
            drop(p);
            ctx.dirty(1);
            card
        }
    };
    // Redis replies with the unsigned value reinterpreted as a signed one.
    ctx.out.int(card as i64);
    Ok(())
}

/// The register-wise maximum of the HLLs under `keys` (missing keys count as empty),
/// and whether one of them is dense. The caller holds every key's partition lock.
fn union(locked: &mut Locked<'_>, db: usize, keys: &[&[u8]], now: i64) -> Result<(Box<[u8; REGISTERS]>, bool), CmdError> {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut any_dense = false;
    for key in keys {
        let Some(v) = locked.part(db, key).get(key, now) else { continue };
        let (s, enc) = as_hll(v)?;
        any_dense |= enc == Encoding::Dense;
        hll::merge_into(s, &mut max).map_err(corrupt)?;
    }
    Ok((max, any_dense))
}

/// PFMERGE destkey [sourcekey ...]: destkey becomes the union of itself and the sources.
fn pfmerge(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (db, now, dest, max_sparse) = (ctx.db(), ctx.now_ms, argv[1], sparse_max_bytes(ctx));
    // The union is computed under the same locks the write then uses: atomic over all keys.
    let mut locked = ctx.srv.keyspace.lock_keys(db, argv[1..].iter().copied());
    let (max, any_dense) = union(&mut locked, db, &argv[1..], now)?;
    let (s, _) = hll_for_write(locked.part(db, dest), dest, now)?;
    // A dense input makes the target dense up front instead of growing it sparse first.
    if any_dense {
        hll::to_dense(s).map_err(corrupt)?;
    }
    hll::store_registers(s, &max, max_sparse);
    hll::invalidate(s);
    drop(locked);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
fn pfdebug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (sub, key, now) = (argv[1], argv[2], ctx.now_ms);
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    // The key is looked up before the subcommand is even read, as in Redis.
    if !p.contains(key, now) {
        return Err(CmdError::other("ERR The specified key does not exist"));
    }
    let (s, _) = hll_for_write(&mut p, key, now)?;
    let enc = hll::encoding(s).ok_or_else(not_hll)?;
    let mut dirty = 0;
    if sub.eq_ignore_ascii_case(b"getreg") {
        if hll::to_dense(s).map_err(corrupt)? {
            dirty = 1;
        }
        let regs = hll::dense_registers(s);
        ctx.out.array(regs.len());
        for r in regs {
            ctx.out.int(i64::from(r));
        }
    } else if sub.eq_ignore_ascii_case(b"decode") {
        if enc != Encoding::Sparse {
            return Err(CmdError::other("ERR HLL encoding is not sparse"));
        }
        ctx.out.bulk(hll::describe_sparse(s).as_bytes());
    } else if sub.eq_ignore_ascii_case(b"encoding") {
        ctx.out.simple(enc.name());
    } else if sub.eq_ignore_ascii_case(b"todense") {
        let converted = hll::to_dense(s).map_err(corrupt)?;
        dirty = u64::from(converted);
        ctx.out.int(i64::from(converted));
    } else {
        // Redis formats the name as a C string: it ends at the first NUL.
        let name = sub.split(|&b| b == 0).next().unwrap_or_default();
        return Err(CmdError::other(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(name))));
    }
    drop(p);
    ctx.dirty(dirty);
    Ok(())
}

/// PFSELFTEST: checks the register packing and the two encodings against each other.
fn pfselftest(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    match selftest::run() {
        Ok(()) => ctx.out.ok(),
        Err(msg) => return Err(CmdError::other(format!("ERR TESTFAILED {msg}"))),
    }
    Ok(())
}
