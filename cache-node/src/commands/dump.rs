//! DUMP and RESTORE: values as Redis's serialized payload (see `persist::rdb::dump`), so
//! that payloads move between redis-server and us in both directions.

use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx};
use crate::persist::rdb::{dump_payload, parse_dump_payload};
use crate::store::{Ttl, Value};

const fn generic(summary: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "generic", summary, since: "2.6.0", ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    generic("Return a serialized version of the value stored at the specified key.", cmd("dump", 2, flag::READONLY, acl::KEYSPACE | acl::READ | acl::SLOW, (1, 1, 1), dump)),
    generic("Create a key using the provided serialized value, previously obtained using DUMP.", cmd("restore", -4, flag::WRITE | flag::DENYOOM, acl::KEYSPACE | acl::WRITE | acl::SLOW | acl::DANGEROUS, (1, 1, 1), restore)),
];

/// DUMP key: the payload, or nil when the key does not exist.
fn dump(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let payload = p.get(argv[1], ctx.now_ms).map(dump_payload);
    drop(p);
    match payload {
        Some(b) => ctx.out.bulk(&b),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct Options {
    replace: bool,
    absttl: bool,
    /// IDLETIME seconds (sets the key's LRU clock under a non-LFU policy) / FREQ counter
    /// (sets the LFU counter under an LFU policy); the other one is ignored, as in Redis.
    idle: Option<i64>,
    freq: Option<i64>,
}

impl Options {
    /// Parsed left to right like Redis: IDLETIME and FREQ exclude each other (the
    /// second one is a syntax error), and a bad number is reported where it is met.
    fn parse(opts: &[&[u8]]) -> Result<Self, CmdError> {
        let mut o = Options::default();
        let mut i = 0;
        while i < opts.len() {
            let more = i + 1 < opts.len();
            if args::is(opts[i], "replace") {
                o.replace = true;
            } else if args::is(opts[i], "absttl") {
                o.absttl = true;
            } else if args::is(opts[i], "idletime") && more && o.freq.is_none() {
                let v = args::int(opts[i + 1])?;
                if v < 0 {
                    return Err(CmdError::other("ERR Invalid IDLETIME value, must be >= 0"));
                }
                o.idle = Some(v);
                i += 1;
            } else if args::is(opts[i], "freq") && more && o.idle.is_none() {
                let v = args::int(opts[i + 1])?;
                if !(0..=255).contains(&v) {
                    return Err(CmdError::other("ERR Invalid FREQ value, must be >= 0 and <= 255"));
                }
                o.freq = Some(v);
                i += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 1;
        }
        Ok(o)
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency].
/// Errors come in Redis's order: options, BUSYKEY, the TTL, then the payload. The
/// payload is decoded before the key's partition is locked, so a big value does not
/// hold the lock while it is built.
fn restore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (db, key, now) = (ctx.db(), argv[1], ctx.now_ms);
    let opts = Options::parse(&argv[4..])?;
    let ttl = args::int(argv[2]).and_then(|t| if t < 0 { Err(CmdError::other("ERR Invalid TTL value, must be >= 0")) } else { Ok(t) });
    let value = match parse_dump_payload(argv[3]) {
        Ok(v) => Ok(v),
        Err(e) if e.is_dump_footer() => Err(CmdError::other("ERR DUMP payload version or checksum are wrong")),
        Err(_) => Err(CmdError::other("ERR Bad data format")),
    };
    let mut p = ctx.srv.keyspace.lock(db, key);
    if !opts.replace && p.contains(key, now) {
        return Err(CmdError::other("BUSYKEY Target key name already exists."));
    }
    let ttl = ttl?;
    let value: Value = value?;
    let expire = match ttl {
        0 => None,
        t if opts.absttl => Some(t),
        t => Some(t.saturating_add(now)),
    };
    if let Some(at) = expire
        && at <= now
    {
        // Already expired: nothing is created, and a replaced key is deleted.
        let deleted = opts.replace && p.remove(key, now);
        drop(p);
        if deleted {
            ctx.dirty(1);
            ctx.propagate(&[b"DEL", key]);
        }
        ctx.out.ok();
        return Ok(());
    }
    p.set(key, value, expire.map_or(Ttl::Clear, Ttl::At), now);
    if crate::store::access::lfu_mode() {
        if let Some(freq) = opts.freq {
            p.set_access_bits(key, crate::store::access::lfu_pack(crate::store::access::minutes(now), freq.clamp(0, 255) as u8), now);
        }
    } else if let Some(idle) = opts.idle {
        p.set_idle_secs(key, idle.unsigned_abs(), now);
    }
    drop(p);
    ctx.dirty(1);
    if let Some(at) = expire
        && !opts.absttl
    {
        // The deadline, not the delay, so a replay restores the same expiry (the payload
        // and the other options go as sent).
        let at = at.to_string();
        let mut cmd: Vec<&[u8]> = vec![b"RESTORE", key, at.as_bytes(), argv[3]];
        cmd.extend(argv[4..].iter().copied());
        cmd.push(b"ABSTTL");
        ctx.propagate(&cmd);
    }
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Options;

    fn parse(opts: &[&str]) -> Result<Options, String> {
        let a: Vec<&[u8]> = opts.iter().map(|s| s.as_bytes()).collect();
        Options::parse(&a).map_err(|e| e.to_string())
    }

    #[test]
    fn options() {
        assert!(parse(&["REPLACE", "absttl"]).is_ok_and(|o| o.replace && o.absttl));
        assert_eq!(parse(&["idletime", "-1"]).err().unwrap(), "ERR Invalid IDLETIME value, must be >= 0");
        assert_eq!(parse(&["freq", "256"]).err().unwrap(), "ERR Invalid FREQ value, must be >= 0 and <= 255");
        assert_eq!(parse(&["idletime", "1", "freq", "2"]).err().unwrap(), "ERR syntax error");
        assert_eq!(parse(&["freq", "1", "idletime", "2"]).err().unwrap(), "ERR syntax error");
        assert_eq!(parse(&["idletime"]).err().unwrap(), "ERR syntax error");
        assert_eq!(parse(&["idletime", "x"]).err().unwrap(), "ERR value is not an integer or out of range");
        assert!(parse(&["idletime", "5", "idletime", "6"]).is_ok_and(|o| o.idle == Some(6)));
    }
}
