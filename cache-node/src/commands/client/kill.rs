//! CLIENT KILL, in both forms: `CLIENT KILL addr:port` (replies OK or an error, may
//! kill the caller) and `CLIENT KILL <filter> <value> ...` (replies with a count, skips
//! the caller unless SKIPME no).

use super::super::args;
use super::super::{CmdError, CmdResult, Ctx};
use super::list::ClientType;
use crate::server::clients::ClientInfo;
use crate::server::session::After;

/// What selects the connections to close. Every field that is set must match.
#[derive(Debug, Default, PartialEq)]
pub struct Filter {
    pub id: Option<u64>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    pub kind: Option<ClientType>,
    pub skip_me: bool,
}

impl Filter {
    /// Parses the arguments after `CLIENT KILL`.
    pub fn parse(rest: &[&[u8]]) -> Result<Self, CmdError> {
        if let [addr] = rest {
            return Ok(Filter { addr: Some(args::text(addr)), skip_me: false, ..Filter::default() });
        }
        let mut f = Filter { skip_me: true, ..Filter::default() };
        let mut i = 0;
        while i < rest.len() {
            let (opt, val) = match (rest[i], rest.get(i + 1)) {
                (opt, Some(val)) => (opt, *val),
                _ => return Err(CmdError::Syntax),
            };
            if args::is(opt, "id") {
                match args::int(val) {
                    Ok(n) if n >= 1 => f.id = Some(n as u64),
                    _ => return Err(CmdError::other("ERR client-id should be greater than 0")),
                }
            } else if args::is(opt, "type") {
                f.kind = Some(ClientType::parse(val)?);
            } else if args::is(opt, "addr") {
                f.addr = Some(args::text(val));
            } else if args::is(opt, "laddr") {
                f.laddr = Some(args::text(val));
            } else if args::is(opt, "user") {
                // Only the default user exists, and every connection is authenticated as it.
                if val != b"default" {
                    return Err(CmdError::other(format!("ERR No such user '{}'", args::text(val))));
                }
            } else if args::is(opt, "skipme") {
                f.skip_me = if args::is(val, "yes") {
                    true
                } else if args::is(val, "no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(f)
    }

    /// Whether `c` is selected (the caller is `me`).
    pub fn matches(&self, c: &ClientInfo, me: u64) -> bool {
        self.id.is_none_or(|id| c.id == id)
            && self.addr.as_ref().is_none_or(|a| *a == c.addr.to_string())
            && self.laddr.as_ref().is_none_or(|a| *a == c.laddr.to_string())
            && self.kind.is_none_or(|k| k == ClientType::of(c))
            && !(self.skip_me && c.id == me)
    }
}

pub fn kill(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let old_form = argv.len() == 3;
    let filter = Filter::parse(&argv[2..])?;
    let me = ctx.session.id();
    // Other connections are shut down now; the caller first gets its reply.
    let others = ctx.srv.clients.kill(|c| c.id != me && filter.matches(c, me));
    let myself = filter.matches(&ctx.session.info, me);
    let killed = others + usize::from(myself);
    if old_form {
        if killed == 0 {
            return Err(CmdError::other("ERR No such client"));
        }
        ctx.out.ok();
    } else {
        ctx.out.int(killed as i64);
    }
    if myself {
        ctx.session.after = After::Close;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Filter, CmdError> {
        let parts: Vec<&[u8]> = s.split(' ').map(str::as_bytes).collect();
        Filter::parse(&parts)
    }

    #[test]
    fn parses_both_forms() {
        assert_eq!(parse("1.2.3.4:5").unwrap_or_default(), Filter { addr: Some("1.2.3.4:5".into()), ..Filter::default() });
        let f = parse("ID 3 SKIPME no TYPE normal").unwrap_or_default();
        assert_eq!((f.id, f.skip_me, f.kind), (Some(3), false, Some(ClientType::Normal)));
        assert!(parse("ADDR a LADDR b USER default").is_ok_and(|f| f.skip_me));
        assert_eq!(parse("ID 0").unwrap_err().to_string(), "ERR client-id should be greater than 0");
        assert_eq!(parse("ID abc").unwrap_err().to_string(), "ERR client-id should be greater than 0");
        assert_eq!(parse("USER bob").unwrap_err().to_string(), "ERR No such user 'bob'");
        assert_eq!(parse("SKIPME maybe"), Err(CmdError::Syntax));
        assert_eq!(parse("MAXAGE 10"), Err(CmdError::Syntax));
        assert_eq!(parse("ID 1 ID"), Err(CmdError::Syntax));
    }

    #[test]
    fn matching_skips_the_caller() {
        let addr = "127.0.0.1:5000".parse().unwrap_or_else(|_| unreachable!());
        let laddr = "127.0.0.1:6379".parse().unwrap_or_else(|_| unreachable!());
        let c = ClientInfo::new(4, addr, laddr, 1, 0);
        assert!(parse("ADDR 127.0.0.1:5000").is_ok_and(|f| f.matches(&c, 1) && !f.matches(&c, 4)));
        assert!(parse("127.0.0.1:5000").is_ok_and(|f| f.matches(&c, 4)));
        assert!(parse("LADDR 127.0.0.1:6379 ID 4").is_ok_and(|f| f.matches(&c, 1)));
        assert!(parse("ID 5").is_ok_and(|f| !f.matches(&c, 1)));
    }
}
