//! HRANDFIELD key [count [WITHVALUES]], with Redis 7.0's reply shapes: a bulk without a
//! count; with one, an array of fields, of field/value pairs flattened in RESP2, or of
//! two-element arrays in RESP3.

use crate::commands::sets::sample;
use crate::commands::{CmdError, CmdResult, Ctx, args};
use crate::protocol::Reply;
use crate::store::hash::Hash;

fn pair(out: &mut Reply, f: &[u8], v: &[u8], withvalues: bool) {
    if withvalues && out.is_resp3() {
        out.array(2);
    }
    out.bulk(f);
    if withvalues {
        out.bulk(v);
    }
}

fn header(out: &mut Reply, n: usize, withvalues: bool) {
    out.array(if withvalues && !out.is_resp3() { n * 2 } else { n });
}

pub fn hrandfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, now) = (argv[1], ctx.now_ms);
    if argv.len() == 2 {
        let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
        match super::read(&mut p, key, now)?.filter(|h| !h.is_empty()) {
            Some(h) => {
                let (f, _) = h.nth(fastrand::usize(..h.len())).unwrap_or_default();
                ctx.out.bulk(f);
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = sample::count_arg(argv[2])?;
    if argv.len() > 4 || (argv.len() == 4 && !args::is(argv[3], "withvalues")) {
        return Err(CmdError::Syntax);
    }
    let withvalues = argv.len() == 4;
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::other("ERR value is out of range"));
    }
    let count = l.unsigned_abs();
    if l < 0 {
        sample::check_repeats(count)?;
    }
    let mut p = ctx.srv.keyspace.lock(ctx.db(), key);
    match super::read(&mut p, key, now)? {
        Some(h) if l != 0 && !h.is_empty() => reply_with_count(ctx.out, h, l, withvalues),
        _ => ctx.out.array(0),
    }
    Ok(())
}

fn reply_with_count(out: &mut Reply, h: &Hash, l: i64, withvalues: bool) {
    let size = h.len();
    // A packed hash finds a position by walking it: index its pairs once instead.
    let packed: Option<Vec<(&[u8], &[u8])>> = matches!(h, Hash::Packed(_)).then(|| h.iter().collect());
    let nth = |i: usize| match &packed {
        Some(pairs) => pairs.get(i).copied().unwrap_or_default(),
        None => h.nth(i).unwrap_or_default(),
    };
    if l < 0 || l == 1 {
        // Repeats allowed: independent picks, in random order.
        let count = l.unsigned_abs() as usize;
        header(out, count, withvalues);
        for _ in 0..count {
            let (f, v) = nth(fastrand::usize(..size));
            pair(out, f, v, withvalues);
        }
        return;
    }
    let count = l as u64;
    if count >= size as u64 {
        header(out, size, withvalues);
        h.iter().for_each(|(f, v)| pair(out, f, v, withvalues));
        return;
    }
    let positions = sample::distinct(size, count as usize);
    header(out, positions.len(), withvalues);
    for i in positions {
        let (f, v) = nth(i);
        pair(out, f, v, withvalues);
    }
}
