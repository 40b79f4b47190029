//! The option grammar SET and GETEX share, with Redis 7's rules: the TTL options exclude
//! one another (repeating the same one is allowed, the last value wins), NX excludes XX,
//! and every flag is read before any number is validated, so a syntax error is reported
//! ahead of a bad number.

use crate::commands::CmdError;
use crate::commands::args;

/// How the number after a TTL option is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireUnit {
    /// Relative seconds.
    Ex,
    /// Relative milliseconds.
    Px,
    /// Absolute unix seconds.
    ExAt,
    /// Absolute unix milliseconds.
    PxAt,
}

impl ExpireUnit {
    fn from_arg(arg: &[u8]) -> Option<Self> {
        if args::is(arg, "ex") {
            Some(ExpireUnit::Ex)
        } else if args::is(arg, "px") {
            Some(ExpireUnit::Px)
        } else if args::is(arg, "exat") {
            Some(ExpireUnit::ExAt)
        } else if args::is(arg, "pxat") {
            Some(ExpireUnit::PxAt)
        } else {
            None
        }
    }

    pub fn is_absolute(self) -> bool {
        matches!(self, ExpireUnit::ExAt | ExpireUnit::PxAt)
    }

    fn is_seconds(self) -> bool {
        matches!(self, ExpireUnit::Ex | ExpireUnit::ExAt)
    }
}

/// Which command's grammar applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grammar {
    /// SET: NX XX GET KEEPTTL EX PX EXAT PXAT.
    Set,
    /// GETEX: PERSIST EX PX EXAT PXAT.
    GetEx,
}

/// Parsed flags; the TTL value stays unparsed until the command decides to use it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrOptions<'a> {
    pub nx: bool,
    pub xx: bool,
    pub get: bool,
    pub keepttl: bool,
    pub persist: bool,
    pub expire: Option<(ExpireUnit, &'a [u8])>,
}

/// Parses the options that follow the key (and value) of SET or GETEX.
pub fn parse<'a>(opts: &[&'a [u8]], grammar: Grammar) -> Result<StrOptions<'a>, CmdError> {
    let set = grammar == Grammar::Set;
    let mut o = StrOptions::default();
    let mut i = 0;
    while i < opts.len() {
        let a = opts[i];
        let unit = ExpireUnit::from_arg(a);
        let next = opts.get(i + 1).copied();
        // A TTL option may repeat itself but not follow a different one.
        let ttl_free = |u: ExpireUnit| o.expire.is_none_or(|(cur, _)| cur == u);
        if set && args::is(a, "nx") && !o.xx {
            o.nx = true;
        } else if set && args::is(a, "xx") && !o.nx {
            o.xx = true;
        } else if set && args::is(a, "get") {
            o.get = true;
        } else if set && args::is(a, "keepttl") && o.expire.is_none() {
            o.keepttl = true;
        } else if !set && args::is(a, "persist") && o.expire.is_none() {
            o.persist = true;
        } else if unit.is_some_and(ttl_free) && next.is_some() && !o.keepttl && !o.persist {
            o.expire = unit.zip(next);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// The absolute expiry time (unix ms) a TTL option asks for. `cmd` names the command in
/// Redis's `invalid expire time in '<cmd>' command` error.
pub fn expire_at(unit: ExpireUnit, arg: &[u8], now_ms: i64, cmd: &str) -> Result<i64, CmdError> {
    let n = args::int(arg)?;
    let invalid = || CmdError::InvalidExpire(cmd.to_string());
    if n <= 0 {
        return Err(invalid());
    }
    let ms = if unit.is_seconds() { n.checked_mul(1000).ok_or_else(invalid)? } else { n };
    let at = if unit.is_absolute() { Some(ms) } else { ms.checked_add(now_ms) };
    at.ok_or_else(invalid)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(words: &str, g: Grammar) -> Result<StrOptions<'_>, CmdError> {
        let v: Vec<&[u8]> = words.split_whitespace().map(str::as_bytes).collect();
        parse(&v, g)
    }

    #[test]
    fn set_grammar() {
        let o = p("nx get ex 10", Grammar::Set).unwrap();
        assert!(o.nx && o.get && !o.xx);
        assert_eq!(o.expire, Some((ExpireUnit::Ex, &b"10"[..])));
        // the same TTL option twice: the last wins
        assert_eq!(p("EX 10 ex 20", Grammar::Set).unwrap().expire, Some((ExpireUnit::Ex, &b"20"[..])));
        assert!(p("nx nx keepttl keepttl", Grammar::Set).is_ok());
        for bad in ["nx xx", "xx nx", "ex 10 px 10", "px 1 exat 1", "ex 10 keepttl", "keepttl ex 10", "ex", "persist", "foo"] {
            assert_eq!(p(bad, Grammar::Set), Err(CmdError::Syntax), "{bad}");
        }
        // a syntax error wins over a bad number because numbers are read later
        assert_eq!(p("ex abc foo", Grammar::Set), Err(CmdError::Syntax));
    }

    #[test]
    fn getex_grammar() {
        assert!(p("persist persist", Grammar::GetEx).unwrap().persist);
        assert_eq!(p("pxat 5", Grammar::GetEx).unwrap().expire, Some((ExpireUnit::PxAt, &b"5"[..])));
        for bad in ["nx", "xx", "get", "keepttl", "persist ex 1", "ex 1 persist", "ex 1 px 1", "ex"] {
            assert_eq!(p(bad, Grammar::GetEx), Err(CmdError::Syntax), "{bad}");
        }
    }

    #[test]
    fn expire_times() {
        let inv = Err(CmdError::InvalidExpire("set".into()));
        assert_eq!(expire_at(ExpireUnit::Ex, b"10", 1000, "set"), Ok(11_000));
        assert_eq!(expire_at(ExpireUnit::Px, b"10", 1000, "set"), Ok(1010));
        assert_eq!(expire_at(ExpireUnit::ExAt, b"10", 1000, "set"), Ok(10_000));
        assert_eq!(expire_at(ExpireUnit::PxAt, b"10", 1000, "set"), Ok(10));
        assert_eq!(expire_at(ExpireUnit::Ex, b"0", 1000, "set"), inv);
        assert_eq!(expire_at(ExpireUnit::PxAt, b"-1", 1000, "set"), inv);
        assert_eq!(expire_at(ExpireUnit::Ex, b"9223372036854776", 0, "set"), inv);
        assert_eq!(expire_at(ExpireUnit::ExAt, b"9223372036854775", 0, "set"), Ok(9_223_372_036_854_775_000));
        assert_eq!(expire_at(ExpireUnit::Px, b"9223372036854775807", 1, "set"), inv);
        assert_eq!(expire_at(ExpireUnit::Ex, b"x", 0, "set"), Err(CmdError::NotInteger));
        assert_eq!(expire_at(ExpireUnit::Ex, b"0", 0, "getex"), Err(CmdError::InvalidExpire("getex".into())));
    }
}
