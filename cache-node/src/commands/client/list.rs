//! CLIENT LIST and CLIENT INFO: one line per connection in Redis's `key=value` format.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use super::super::args;
use super::super::command::full_name;
use super::super::{CmdError, CmdResult, Ctx, table};
use crate::server::clients::ClientInfo;

/// Connection kinds of `TYPE` filters (the link to a primary is not a client connection
/// here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Master,
    Replica,
    PubSub,
}

impl ClientType {
    pub fn parse(name: &[u8]) -> Result<Self, CmdError> {
        if args::is(name, "normal") {
            Ok(ClientType::Normal)
        } else if args::is(name, "master") {
            Ok(ClientType::Master)
        } else if args::is(name, "replica") || args::is(name, "slave") {
            Ok(ClientType::Replica)
        } else if args::is(name, "pubsub") {
            Ok(ClientType::PubSub)
        } else {
            Err(CmdError::other(format!("ERR Unknown client type '{}'", args::text(name))))
        }
    }

    pub fn of(c: &ClientInfo) -> Self {
        if c.is_replica.load(std::sync::atomic::Ordering::Relaxed) {
            ClientType::Replica
        } else if c.is_subscriber() {
            ClientType::PubSub
        } else {
            ClientType::Normal
        }
    }
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
pub fn list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let clients: Vec<_> = if argv.len() == 4 && args::is(argv[2], "type") {
        let t = ClientType::parse(argv[3])?;
        ctx.srv.clients.snapshot().into_iter().filter(|c| ClientType::of(c) == t).collect()
    } else if argv.len() > 3 && args::is(argv[2], "id") {
        let mut ids = Vec::with_capacity(argv.len() - 3);
        for a in &argv[3..] {
            ids.push(args::int(a).map_err(|_| CmdError::other("ERR Invalid client ID"))?);
        }
        ids.into_iter().filter_map(|id| u64::try_from(id).ok().and_then(|id| ctx.srv.clients.get(id))).collect()
    } else if argv.len() != 2 {
        return Err(CmdError::Syntax);
    } else {
        ctx.srv.clients.snapshot()
    };
    let mut text = String::new();
    for c in &clients {
        write_line(&mut text, c, ctx.now_ms);
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// CLIENT INFO: the calling connection's line.
pub fn info(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let mut text = String::new();
    write_line(&mut text, &ctx.session.info, ctx.now_ms);
    text.push('\n');
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// The name of the connection's last command (`get`, `client|list`, `NULL` before any).
fn last_command(c: &ClientInfo) -> String {
    let Some(top) = table::all().get(c.last_cmd.load(Relaxed)) else {
        return "NULL".to_string();
    };
    let sub = if top.subcommands.is_empty() { None } else { top.subcommands.get(c.last_sub.load(Relaxed)) };
    match sub {
        Some(s) => full_name(s, Some(top)),
        None => top.name.to_string(),
    }
}

/// One CLIENT LIST line, fields in Redis's order. Buffers we do not track per client
/// (reply buffer blocks, argument memory) read 0.
pub fn write_line(out: &mut String, c: &ClientInfo, now_ms: i64) {
    let age = c.created.elapsed().as_secs();
    let idle = (now_ms.saturating_sub(c.last_interaction_ms.load(Relaxed)) / 1000).max(0);
    let qbuf = c.qbuf.load(Relaxed);
    let omem = c.omem.load(Relaxed);
    let name = c.name.lock().clone();
    let lib_name = c.lib_name.lock().clone();
    let lib_ver = c.lib_ver.lock().clone();
    // Redis's letters, in its order: P subscriber, x in MULTI, d a watched key changed,
    // e no-evict.
    let multi = c.multi.load(Relaxed);
    let mut flags = String::new();
    for (on, letter) in [(c.is_subscriber(), 'P'), (multi >= 0, 'x'), (c.dirty_cas.load(Relaxed), 'd'), (c.no_evict.load(Relaxed), 'e')] {
        if on {
            flags.push(letter);
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let [sub, psub, ssub] = [0, 1, 2].map(|i| c.subscriptions[i].load(Relaxed));
    let _ = write!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem={} rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={} io-thread={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        name,
        age,
        idle,
        flags,
        c.db.load(Relaxed),
        sub,
        psub,
        ssub,
        multi,
        qbuf,
        c.multi_mem.load(Relaxed),
        omem,
        qbuf.saturating_add(omem).saturating_add(c.multi_mem.load(Relaxed)),
        last_command(c),
        c.resp.load(Relaxed),
        lib_name,
        lib_ver,
        c.worker.load(Relaxed),
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        let addr = "127.0.0.1:5000".parse().unwrap_or_else(|_| unreachable!());
        let laddr = "127.0.0.1:6379".parse().unwrap_or_else(|_| unreachable!());
        let c = ClientInfo::new(7, addr, laddr, 9, 1_000);
        *c.name.lock() = "app".into();
        let mut s = String::new();
        write_line(&mut s, &c, 3_500);
        assert!(s.starts_with("id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name=app age=0 idle=2 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 "), "{s}");
        assert!(s.ends_with(" events=r cmd=NULL user=default redir=-1 resp=2 lib-name= lib-ver= io-thread=0"), "{s}");
        let (i, _) = table::lookup(b"client").unwrap_or_else(|| unreachable!());
        c.last_cmd.store(i, Relaxed);
        let list = table::all()[i].subcommands.iter().position(|s| s.name == "list").unwrap_or_else(|| unreachable!());
        c.last_sub.store(list, Relaxed);
        assert_eq!(last_command(&c), "client|list");
    }

    #[test]
    fn client_types() {
        assert_eq!(ClientType::parse(b"SLAVE"), Ok(ClientType::Replica));
        assert_eq!(ClientType::parse(b"foo").unwrap_err().to_string(), "ERR Unknown client type 'foo'");
    }
}
