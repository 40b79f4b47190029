//! DEBUG SLEEP / OBJECT / HELP: the few debugging subcommands clients and test suites
//! rely on. SLEEP pauses only the calling connection (the server keeps serving others).

use std::time::Duration;

use super::super::command::{reply_help, truncated};
use super::super::{CmdError, CmdResult, Ctx, args};
use crate::server::session::After;
use crate::store::ValueRef;
use crate::store::partition::lru_clock;
use crate::store::value::is_canonical_int;

/// Longest DEBUG SLEEP honoured; longer requests sleep this long.
const MAX_SLEEP: Duration = Duration::from_secs(24 * 3600);

pub fn debug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1];
    if args::is(sub, "help") && argv.len() == 2 {
        help(ctx);
        Ok(())
    } else if args::is(sub, "sleep") && argv.len() == 3 {
        ctx.session.after = After::Sleep(sleep_duration(argv[2]));
        ctx.out.ok();
        Ok(())
    } else if args::is(sub, "object") && argv.len() == 3 {
        object(ctx, argv[2])
    } else {
        Err(CmdError::other(format!("ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.", truncated(sub))))
    }
}

/// Seconds with decimals, read as leniently as C's strtod: text that is not a number,
/// negative or NaN sleeps 0; huge values are capped.
fn sleep_duration(arg: &[u8]) -> Duration {
    // A number never needs more than a few dozen bytes; bounding the text keeps the
    // prefix search below cheap whatever the client sends.
    let text = String::from_utf8_lossy(&arg[..arg.len().min(64)]);
    let text = text.trim_start();
    // The longest prefix that parses, like strtod.
    let secs = (1..=text.len()).rev().filter(|&n| text.is_char_boundary(n)).find_map(|n| text[..n].parse::<f64>().ok()).unwrap_or(0.0);
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).map_or(MAX_SLEEP, |d| d.min(MAX_SLEEP))
}

/// Bytes an RDB file would use for a string, without compression: integers that fit
/// 32 bits get the compact integer encodings, other strings a length prefix.
fn serialized_len(s: &[u8]) -> usize {
    let int = crate::protocol::request::parse_i64(s).filter(|_| s.len() <= 11 && is_canonical_int(s));
    match int {
        Some(n) if i8::try_from(n).is_ok() => return 2,
        Some(n) if i16::try_from(n).is_ok() => return 3,
        Some(n) if i32::try_from(n).is_ok() => return 5,
        _ => {}
    }
    let prefix = match s.len() {
        0..64 => 1,
        64..16384 => 2,
        n if n <= u32::MAX as usize => 5,
        _ => 9,
    };
    prefix + s.len()
}

/// The object encoding Redis would report for a string kept inline (embstr/int) or on
/// the heap (raw).
fn string_encoding(s: &[u8], inline: bool) -> &'static str {
    if is_canonical_int(s) && inline {
        "int"
    } else if inline {
        "embstr"
    } else {
        "raw"
    }
}

fn object(ctx: &mut Ctx<'_>, key: &[u8]) -> CmdResult {
    let now = ctx.now_ms;
    let mut part = ctx.srv.keyspace.lock(ctx.db(), key);
    let inline = part.is_inline(key, now).ok_or(CmdError::NoSuchKey)?;
    let idle = part.idle_secs(key, now).unwrap_or(0);
    let value = part.peek(key, now).ok_or(CmdError::NoSuchKey)?;
    let (addr, encoding, refcount, serialized) = match value {
        ValueRef::Str(s) => {
            let enc = string_encoding(s, inline);
            let shared = enc == "int" && crate::protocol::request::parse_i64(s).is_some_and(|n| (0..10_000).contains(&n));
            (s.as_ptr() as usize, enc, if shared { i32::MAX as i64 } else { 1 }, serialized_len(s))
        }
        ValueRef::Obj(v) => {
            let enc = match v.type_name() {
                "list" => "quicklist",
                "zset" => "skiplist",
                "stream" => "stream",
                _ => "hashtable",
            };
            (v as *const _ as usize, enc, 1, 0)
        }
    };
    let lru = (u64::from(lru_clock(now)) + 0x0100_0000 - idle % 0x0100_0000) & 0x00FF_FFFF;
    drop(part);
    ctx.out.simple(&format!("Value at:0x{addr:x} refcount:{refcount} encoding:{encoding} serializedlength:{serialized} lru:{lru} lru_seconds_idle:{idle}"));
    Ok(())
}

fn help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx.out,
        "DEBUG",
        &[
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sleep_parses_like_strtod() {
        assert_eq!(sleep_duration(b"0"), Duration::ZERO);
        assert_eq!(sleep_duration(b"0.5"), Duration::from_millis(500));
        assert_eq!(sleep_duration(b"1e-3"), Duration::from_millis(1));
        assert_eq!(sleep_duration(b"2abc"), Duration::from_secs(2));
        assert_eq!(sleep_duration(b"abc"), Duration::ZERO);
        assert_eq!(sleep_duration(b"-1"), Duration::ZERO);
        assert_eq!(sleep_duration(b"nan"), Duration::ZERO);
        assert_eq!(sleep_duration(b"inf"), MAX_SLEEP);
        assert_eq!(sleep_duration(b"1e300"), MAX_SLEEP);
    }

    #[test]
    fn rdb_lengths_and_encodings() {
        assert_eq!(serialized_len(b"1"), 2);
        assert_eq!(serialized_len(b"1000"), 3);
        assert_eq!(serialized_len(b"100000"), 5);
        assert_eq!(serialized_len(b"hello"), 6);
        assert_eq!(serialized_len(b"12345678901"), 12);
        assert_eq!(serialized_len(&[b'x'; 100]), 102);
        assert_eq!(string_encoding(b"12", true), "int");
        assert_eq!(string_encoding(b"hello", true), "embstr");
        assert_eq!(string_encoding(b"hello", false), "raw");
    }
}
