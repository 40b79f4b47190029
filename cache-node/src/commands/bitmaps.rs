//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, and
//! BITFIELD (`bitfield.rs`). The bit arithmetic itself is pure code in `bits.rs` and
//! `field.rs`.

mod bitfield;
mod bits;
mod field;

use self::bits::{BitOp, Unit};
use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::strings::{max_string_len, set_raw, string_mut};
use super::{CmdError, CmdResult, Ctx};
use crate::store::{Partition, Ttl, Value, ValueRef};

const R: u32 = acl::READ | acl::BITMAP;
const W: u32 = acl::WRITE | acl::BITMAP;

/// A bitmap-family entry with Redis 7.0's summary and first version.
const fn bitmap(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "bitmap", summary, since, ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    bitmap("Sets or clears the bit at offset in the string value stored at key", "2.2.0", cmd("setbit", 4, flag::WRITE | flag::DENYOOM, W | acl::SLOW, (1, 1, 1), setbit)),
    bitmap("Returns the bit value at offset in the string value stored at key", "2.2.0", cmd("getbit", 3, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), getbit)),
    bitmap("Count set bits in a string", "2.6.0", cmd("bitcount", -2, flag::READONLY, R | acl::SLOW, (1, 1, 1), bitcount)),
    bitmap("Find first bit set or clear in a string", "2.8.7", cmd("bitpos", -3, flag::READONLY, R | acl::SLOW, (1, 1, 1), bitpos)),
    bitmap("Perform bitwise operations between strings", "2.6.0", cmd("bitop", -4, flag::WRITE | flag::DENYOOM, W | acl::SLOW, (2, -1, 1), bitop)),
    bitmap("Perform arbitrary bitfield integer operations on strings", "3.2.0", cmd("bitfield", -2, flag::WRITE | flag::DENYOOM, W | acl::SLOW, (1, 1, 1), bitfield::bitfield)),
    bitmap("Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", "6.0.0", cmd("bitfield_ro", -2, flag::READONLY | flag::FAST, R | acl::FAST, (1, 1, 1), bitfield::bitfield_ro)),
];

/// The string under `key`, created or zero-extended to at least `min_len` bytes (Redis's
/// `lookupStringForBitCommand`). Callers validate offsets against proto-max-bulk-len first.
fn string_for_bits<'p>(p: &'p mut Partition, key: &[u8], now: i64, min_len: usize) -> Result<&'p mut Vec<u8>, CmdError> {
    if !p.contains(key, now) {
        p.set(key, Value::Str(vec![0; min_len]), Ttl::Clear, now);
    }
    let s = string_mut(p, key, now)?.ok_or(CmdError::NoSuchKey)?;
    if s.len() < min_len {
        s.resize(min_len, 0);
    }
    Ok(s)
}

/// SETBIT key offset 0|1: replies with the bit's previous value.
fn setbit(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    let pos = bits::parse_offset(argv[2], None, max_string_len(ctx))?;
    let on = match args::int(argv[3]) {
        Ok(0) => false,
        Ok(1) => true,
        _ => return Err(CmdError::BitValue),
    };
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let s = string_for_bits(&mut p, key, now, (pos >> 3) as usize + 1)?;
    let old = bits::set_bit(s, pos, on);
    drop(p);
    ctx.dirty(1);
    ctx.out.int(i64::from(old));
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let pos = bits::parse_offset(argv[2], None, max_string_len(ctx))?;
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let bit = match p.get(argv[1], ctx.now_ms) {
        None => false,
        Some(ValueRef::Str(s)) => bits::get_bit(s, pos),
        Some(_) => return Err(CmdError::WrongType),
    };
    ctx.out.int(i64::from(bit));
    Ok(())
}

fn unit(arg: &[u8]) -> Result<Unit, CmdError> {
    if args::is(arg, "bit") {
        Ok(Unit::Bit)
    } else if args::is(arg, "byte") {
        Ok(Unit::Byte)
    } else {
        Err(CmdError::Syntax)
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    // Redis 7.0 answers 0 for a missing key before looking at the other arguments.
    let s = match p.get(argv[1], ctx.now_ms) {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(ValueRef::Str(s)) => s,
        Some(_) => return Err(CmdError::WrongType),
    };
    let range = match argv.len() {
        2 => bits::bit_range(s.len() as u64, 0, -1, Unit::Byte),
        4 | 5 => {
            let start = args::int(argv[2])?;
            let end = args::int(argv[3])?;
            // Both negative with start past end is empty (checked before the unit).
            if start < 0 && end < 0 && start > end {
                None
            } else {
                let u = if argv.len() == 5 { unit(argv[4])? } else { Unit::Byte };
                bits::bit_range(s.len() as u64, start, end, u)
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let n = range.map_or(0, |(first, last)| bits::count(s, first, last));
    ctx.out.int(n as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let bit = match args::int(argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::other("ERR The bit argument must be 1 or 0.")),
    };
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    // A missing key is an endless run of zeros.
    let s = match p.get(argv[1], ctx.now_ms) {
        None => {
            ctx.out.int(if bit { -1 } else { 0 });
            return Ok(());
        }
        Some(ValueRef::Str(s)) => s,
        Some(_) => return Err(CmdError::WrongType),
    };
    let (start, end, end_given, u) = match argv.len() {
        3 => (0, -1, false, Unit::Byte),
        4..=6 => {
            let start = args::int(argv[3])?;
            let u = if argv.len() == 6 { unit(argv[5])? } else { Unit::Byte };
            match argv.get(4) {
                Some(e) => (start, args::int(e)?, true, u),
                None => (start, -1, false, u),
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let pos = match bits::bit_range(s.len() as u64, start, end, u) {
        None => -1,
        Some((first, last)) => match bits::find(s, bit, first, last) {
            Some(pos) => pos as i64,
            None if bit || end_given => -1,
            // Looking for a 0 without an explicit end: the string continues with zeros.
            None => last as i64 + 1,
        },
    };
    ctx.out.int(pos);
    Ok(())
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: stores the result, or deletes destkey when
/// every source is empty. Atomic over all keys.
fn bitop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let name = argv[1];
    let op = if args::is(name, "and") {
        BitOp::And
    } else if args::is(name, "or") {
        BitOp::Or
    } else if args::is(name, "xor") {
        BitOp::Xor
    } else if args::is(name, "not") {
        BitOp::Not
    } else {
        return Err(CmdError::Syntax);
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err(CmdError::other("ERR BITOP NOT must be called with a single source key."));
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    let (dest, sources) = (argv[2], &argv[3..]);
    let mut locked = ctx.srv.keyspace.lock_keys(db, argv[2..].iter().copied());
    // First pass: types and the result length.
    let mut max_len = 0;
    for key in sources {
        match locked.part(db, key).get(key, now) {
            None => {}
            Some(ValueRef::Str(s)) => max_len = max_len.max(s.len()),
            Some(_) => return Err(CmdError::WrongType),
        }
    }
    // Second pass: fold each source into the result, one borrow at a time.
    let mut result = vec![0u8; max_len];
    for (i, key) in sources.iter().enumerate() {
        let src = match locked.part(db, key).peek(key, now) {
            Some(ValueRef::Str(s)) => s,
            _ => &[][..],
        };
        if i == 0 {
            result[..src.len()].copy_from_slice(src);
            if op == BitOp::Not {
                bits::fold(&mut result, &[], BitOp::Not);
            }
        } else {
            bits::fold(&mut result, src, op);
        }
    }
    let dest_part = locked.part(db, dest);
    let changed = if max_len > 0 {
        set_raw(dest_part, dest, result, now);
        true
    } else {
        dest_part.remove(dest, now)
    };
    drop(locked);
    ctx.dirty(u64::from(changed));
    ctx.out.int(max_len as i64);
    Ok(())
}
