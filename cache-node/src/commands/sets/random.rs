//! SPOP and SRANDMEMBER. Picks are positions in the set (O(1) each, see `sample.rs`).

use super::sample;
use crate::commands::{CmdError, CmdResult, Ctx, args};
use crate::protocol::Reply;
use crate::store::set::{IntBuf, Set};

/// SPOP key [count]: a bulk without a count; a set (RESP3) of the popped members with
/// one. The key goes once its last member does.
pub fn spop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let (key, now) = (argv[1], ctx.now_ms);
    let count = match argv.get(2) {
        None => None,
        Some(a) => match args::int(a) {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => return Err(CmdError::other("ERR value is out of range, must be positive")),
        },
    };
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let Some(s) = super::write(&mut p, key, now)?.filter(|s| !s.is_empty()) else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    };
    let mut whole = false;
    // What the journal replays: the members actually taken (a random pick would differ).
    let mut taken: Vec<Vec<u8>> = Vec::new();
    let popped = match count {
        None => {
            let m = s.take_at(fastrand::usize(..s.len()));
            ctx.out.bulk(&m);
            taken.push(m);
            1
        }
        Some(0) => {
            ctx.out.set(0);
            0
        }
        Some(n) if n >= s.len() as u64 => {
            // The whole set, in its iteration order (ascending for an intset, as Redis).
            ctx.out.set(s.len());
            s.for_each(|m| ctx.out.bulk(m));
            whole = true;
            s.len()
        }
        Some(n) => {
            let n = n as usize;
            ctx.out.set(n);
            let remaining = s.len() - n;
            if remaining * 5 > n {
                for _ in 0..n {
                    let m = s.take_at(fastrand::usize(..s.len()));
                    ctx.out.bulk(&m);
                    taken.push(m);
                }
            } else {
                // Most of the set goes: like Redis, build a new set from the members that
                // stay (so its encoding is chosen afresh: a big set of integers can become
                // an intset again) and reply with the others.
                let mut buf = IntBuf::default();
                let mut kept: Option<Set> = None;
                for i in sample::distinct(s.len(), remaining) {
                    let m = s.member_at(i, &mut buf);
                    kept.get_or_insert_with(|| Set::for_member(m)).add(m);
                }
                let kept = kept.unwrap_or_default();
                s.for_each(|m| {
                    if !kept.contains(m) {
                        ctx.out.bulk(m);
                        taken.push(m.to_vec());
                    }
                });
                *s = kept;
            }
            n
        }
    };
    if whole || s.is_empty() {
        p.remove(key, now);
        ctx.propagate(&[b"DEL", key]);
    } else if !taken.is_empty() {
        let mut cmd: Vec<&[u8]> = vec![b"SREM", key];
        cmd.extend(taken.iter().map(Vec::as_slice));
        ctx.propagate(&cmd);
    }
    drop(p);
    ctx.dirty(popped as u64);
    Ok(())
}

/// SRANDMEMBER key [count]: a bulk without a count; with one, an array of distinct
/// members (count > 0) or of independent picks (count < 0).
pub fn srandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let (key, now) = (argv[1], ctx.now_ms);
    let count = match argv.get(2) {
        None => None,
        Some(a) => {
            let l = sample::count_arg(a)?;
            if l < 0 {
                sample::check_repeats(l.unsigned_abs())?;
            }
            Some(l)
        }
    };
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    let s = super::read(&mut p, key, now)?.filter(|s| !s.is_empty());
    let mut buf = IntBuf::default();
    match (s, count) {
        (None, None) => ctx.out.null(),
        (None, Some(_)) => ctx.out.array(0),
        (Some(s), None) => ctx.out.bulk(s.member_at(fastrand::usize(..s.len()), &mut buf)),
        (Some(s), Some(l)) => with_count(ctx.out, s, l),
    }
    Ok(())
}

fn with_count(out: &mut Reply, s: &Set, l: i64) {
    let size = s.len();
    let mut buf = IntBuf::default();
    if l == 0 {
        out.array(0);
    } else if l < 0 || l == 1 {
        let count = l.unsigned_abs() as usize;
        out.array(count);
        for _ in 0..count {
            out.bulk(s.member_at(fastrand::usize(..size), &mut buf));
        }
    } else if l as u64 >= size as u64 {
        out.array(size);
        s.for_each(|m| out.bulk(m));
    } else {
        let positions = sample::distinct(size, l as usize);
        out.array(positions.len());
        for i in positions {
            out.bulk(s.member_at(i, &mut buf));
        }
    }
}
