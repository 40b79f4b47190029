//! BITFIELD and BITFIELD_RO: a list of GET/SET/INCRBY operations on integer fields,
//! with OVERFLOW switching the policy for the operations after it.

use super::field::{FieldType, Overflow};
use super::string_for_bits;
use crate::commands::args;
use crate::commands::strings::max_string_len;
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::ValueRef;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy, Debug)]
struct Op {
    kind: Kind,
    ty: FieldType,
    offset: u64,
    overflow: Overflow,
}

/// Parses every operation before running any, so a bad one fails the whole command.
fn parse(argv: &[&[u8]], max_len: u64) -> Result<Vec<Op>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let sub = argv[j];
        let remaining = argv.len() - j - 1;
        let takes_value = if args::is(sub, "get") && remaining >= 2 {
            false
        } else if (args::is(sub, "set") || args::is(sub, "incrby")) && remaining >= 3 {
            true
        } else if args::is(sub, "overflow") && remaining >= 1 {
            let policy = argv[j + 1];
            overflow = if args::is(policy, "wrap") {
                Overflow::Wrap
            } else if args::is(policy, "sat") {
                Overflow::Sat
            } else if args::is(policy, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::other("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let ty = FieldType::parse(argv[j + 1])?;
        let offset = super::bits::parse_offset(argv[j + 2], Some(ty.bits), max_len)?;
        let kind = if !takes_value {
            Kind::Get
        } else if args::is(sub, "set") {
            Kind::Set(args::int(argv[j + 3])?)
        } else {
            Kind::IncrBy(args::int(argv[j + 3])?)
        };
        ops.push(Op { kind, ty, offset, overflow });
        j += if takes_value { 4 } else { 3 };
    }
    Ok(ops)
}

pub fn bitfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run(ctx, argv, false)
}

pub fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run(ctx, argv, true)
}

fn run(ctx: &mut Ctx<'_>, argv: &[&[u8]], read_only: bool) -> CmdResult {
    let key = argv[1];
    let now = ctx.now_ms;
    let ops = parse(argv, max_string_len(ctx))?;
    // Highest bit any write touches: the string grows to cover it up front.
    let highest = ops.iter().filter(|op| op.kind != Kind::Get).map(|op| op.offset + u64::from(op.ty.bits) - 1).max();
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(highest) = highest else {
        // Only reads: a missing key reads as zeros and is not created.
        let s = match p.get(key, now) {
            None => &[][..],
            Some(ValueRef::Str(s)) => s,
            Some(_) => return Err(CmdError::WrongType),
        };
        ctx.out.array(ops.len());
        for op in &ops {
            ctx.out.int(op.ty.get(s, op.offset));
        }
        return Ok(());
    };
    if read_only {
        return Err(CmdError::other("ERR BITFIELD_RO only supports the GET subcommand"));
    }
    // Like Redis, the key is created (or grown) even if every write then fails.
    let s = string_for_bits(&mut p, key, now, (highest >> 3) as usize + 1)?;
    ctx.out.array(ops.len());
    let mut changes = 0;
    for op in &ops {
        let old = i128::from(op.ty.get(s, op.offset));
        let (value, incr) = match op.kind {
            Kind::Get => {
                ctx.out.int(old as i64);
                continue;
            }
            Kind::Set(v) => (op.ty.value_of_arg(v), 0),
            Kind::IncrBy(by) => (old, i128::from(by)),
        };
        changes += 1;
        match op.ty.apply(value, incr, op.overflow) {
            Some(new) => {
                op.ty.put(s, op.offset, new);
                // SET replies with the old value, INCRBY with the new one.
                ctx.out.int(if matches!(op.kind, Kind::Set(_)) { old as i64 } else { new as i64 });
            }
            None => ctx.out.null(),
        }
    }
    drop(p);
    ctx.dirty(changes);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ops(words: &str) -> Result<Vec<Op>, CmdError> {
        let argv: Vec<&[u8]> = words.split_whitespace().map(str::as_bytes).collect();
        parse(&argv, 512 * 1024 * 1024)
    }

    #[test]
    fn parsing() {
        let v = ops("bitfield k incrby u2 100 1 overflow sat set i8 #2 -3 get u4 0").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!((v[0].kind, v[0].overflow, v[0].offset), (Kind::IncrBy(1), Overflow::Wrap, 100));
        assert_eq!((v[1].kind, v[1].overflow, v[1].offset), (Kind::Set(-3), Overflow::Sat, 16));
        assert_eq!(v[2].kind, Kind::Get);
        assert!(ops("bitfield k").unwrap().is_empty());
        for bad in ["bitfield k get", "bitfield k get i8", "bitfield k set i8 0", "bitfield k overflow", "bitfield k foo"] {
            assert_eq!(ops(bad).unwrap_err(), CmdError::Syntax, "{bad}");
        }
        assert_eq!(ops("bitfield k overflow foo get i8 0").unwrap_err().to_string(), "ERR Invalid OVERFLOW type specified");
        assert_eq!(ops("bitfield k get i8 -1").unwrap_err(), CmdError::BitOffset);
        assert_eq!(ops("bitfield k set i8 0 x").unwrap_err(), CmdError::NotInteger);
        assert!(ops("bitfield k get u64 0").unwrap_err().to_string().starts_with("ERR Invalid bitfield type"));
    }
}
