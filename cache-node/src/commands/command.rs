//! COMMAND: what clients learn about the command table (COMMAND, INFO, DOCS, LIST,
//! COUNT, GETKEYS, GETKEYSANDFLAGS), in Redis 7's reply shapes, plus the subcommand
//! dispatch shared by the container commands (CLIENT, CONFIG, COMMAND).

use std::sync::atomic::Ordering::Relaxed;

use super::args;
use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdError, CmdResult, Ctx, table};
use crate::protocol::Reply;

const INTROSPECT: u32 = flag::LOADING | flag::STALE;
const INTROSPECT_ACL: u32 = acl::SLOW | acl::CONNECTION;

const fn sub(name: &'static str, arity: i32, summary: &'static str, since: &'static str, handler: super::spec::Handler) -> CommandSpec {
    CommandSpec { group: "server", summary, since, ..cmd(name, arity, INTROSPECT, INTROSPECT_ACL, (0, 0, 0), handler) }
}

static SUBCOMMANDS: &[CommandSpec] = &[
    sub("count", 2, "Get total number of Redis commands", "2.8.13", count),
    sub("docs", -2, "Get array of specific Redis command documentation", "7.0.0", docs),
    sub("getkeys", -4, "Extract keys given a full Redis command", "2.8.13", getkeys),
    sub("getkeysandflags", -4, "Extract keys and access flags given a full Redis command", "7.0.0", getkeysandflags),
    sub("help", 2, "Show helpful text about the different subcommands", "5.0.0", help),
    sub("info", -2, "Get array of specific Redis command details, or all when no argument is given.", "2.8.13", info),
    sub("list", -2, "Get an array of Redis command names", "7.0.0", list),
];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    group: "server",
    summary: "Get array of Redis command details",
    since: "2.8.13",
    subcommands: SUBCOMMANDS,
    ..cmd("command", -1, INTROSPECT, INTROSPECT_ACL, (0, 0, 0), command)
}];

/// Runs the subcommand `argv[1]` of the container command `parent` (whose table entry
/// lists `subs`), after the checks the dispatcher does for top-level commands: the
/// subcommand exists and its arity (counted from the container name) is right.
pub fn run_subcommand(ctx: &mut Ctx<'_>, argv: &[&[u8]], parent: &str, subs: &'static [CommandSpec]) -> CmdResult {
    let Some(name) = argv.get(1) else {
        return Err(CmdError::WrongArity(parent.to_string()));
    };
    let Some(pos) = subs.iter().position(|s| args::is(name, s.name)) else {
        ctx.session.info.last_sub.store(usize::MAX, Relaxed);
        return Err(CmdError::UnknownSubcommand { cmd: args::text(argv[0]).to_ascii_uppercase(), sub: truncated(name) });
    };
    ctx.session.info.last_sub.store(pos, Relaxed);
    let spec = &subs[pos];
    if !spec.arity_ok(argv.len()) {
        return Err(CmdError::WrongArity(format!("{parent}|{}", spec.name)));
    }
    (spec.handler)(ctx, argv)
}

/// Redis quotes at most 128 bytes of a client's argument in error messages.
pub fn truncated(arg: &[u8]) -> String {
    args::text(&arg[..arg.len().min(128)])
}

/// The name of a table entry as Redis reports it (`get`, `client|list`).
pub fn full_name(spec: &CommandSpec, parent: Option<&CommandSpec>) -> String {
    match parent {
        Some(p) => format!("{}|{}", p.name, spec.name),
        None => spec.name.to_string(),
    }
}

/// Replies with Redis's HELP layout: a header line, then the lines given (each
/// subcommand followed by its indented description), then HELP itself.
pub fn reply_help(out: &mut Reply, command: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

/// Finds a command by name, `container|sub` names included: (spec, its container).
fn find(name: &[u8]) -> Option<(&'static CommandSpec, Option<&'static CommandSpec>)> {
    let mut parts = name.splitn(2, |&b| b == b'|');
    let top = parts.next()?;
    let (_, spec) = table::lookup(top)?;
    match parts.next() {
        None => Some((spec, None)),
        Some(s) => spec.subcommands.iter().find(|c| args::is(s, c.name)).map(|c| (c, Some(spec))),
    }
}

fn command(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 1 {
        let all = table::all();
        ctx.out.array(all.len());
        for c in all {
            write_info(ctx.out, c, None);
        }
        return Ok(());
    }
    run_subcommand(ctx, argv, "command", SUBCOMMANDS)
}

fn count(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(table::all().len() as i64);
    Ok(())
}

fn info(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        return command(ctx, &argv[..1]);
    }
    ctx.out.array(argv.len() - 2);
    for name in &argv[2..] {
        match find(name) {
            Some((spec, parent)) => write_info(ctx.out, spec, parent),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn docs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let found: Vec<(&CommandSpec, Option<&CommandSpec>)> =
        if argv.len() == 2 { table::all().iter().map(|c| (*c, None)).collect() } else { argv[2..].iter().filter_map(|n| find(n)).collect() };
    ctx.out.map(found.len());
    for (spec, parent) in found {
        ctx.out.bulk(full_name(spec, parent).as_bytes());
        write_docs(ctx.out, spec, parent);
    }
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
fn list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    enum Filter<'a> {
        All,
        Module,
        AclCat(Option<u32>),
        Pattern(&'a [u8]),
    }
    let filter = match argv.len() {
        2 => Filter::All,
        5 if args::is(argv[2], "filterby") => {
            let v = argv[4];
            if args::is(argv[3], "module") {
                Filter::Module
            } else if args::is(argv[3], "aclcat") {
                Filter::AclCat(acl::NAMES.iter().find(|(_, n)| args::is(v, n)).map(|(bit, _)| *bit))
            } else if args::is(argv[3], "pattern") {
                Filter::Pattern(v)
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let mut names = Vec::new();
    for top in table::all() {
        let entries = std::iter::once((*top, None)).chain(top.subcommands.iter().map(|s| (s, Some(*top))));
        for (spec, parent) in entries {
            let name = full_name(spec, parent);
            let keep = match &filter {
                Filter::All => true,
                Filter::Module => false,
                Filter::AclCat(cat) => cat.is_some_and(|c| spec.acl & c != 0),
                Filter::Pattern(p) => crate::store::glob::matches(p, name.as_bytes(), true),
            };
            if keep {
                names.push(name);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// Resolves the command a GETKEYS request describes and the key positions in it,
/// with Redis's errors.
fn keys_of(argv: &[&[u8]]) -> Result<(&'static CommandSpec, Vec<usize>), CmdError> {
    let target = &argv[2..];
    let (_, top) = table::lookup(target[0]).ok_or_else(|| CmdError::other("ERR Invalid command specified"))?;
    let spec = match (top.subcommands.is_empty(), target.get(1)) {
        (false, Some(name)) => top.subcommands.iter().find(|s| args::is(name, s.name)).ok_or_else(|| CmdError::other("ERR Invalid command specified"))?,
        _ => top,
    };
    if spec.first_key <= 0 && spec.numkeys_at.is_none() {
        return Err(CmdError::other("ERR The command has no key arguments"));
    }
    if !spec.arity_ok(target.len()) {
        return Err(CmdError::other("ERR Invalid number of arguments specified for command"));
    }
    let keys = spec.key_positions(target);
    if keys.is_empty() {
        return Err(CmdError::other("ERR Invalid arguments specified for command"));
    }
    Ok((spec, keys))
}

fn getkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (_, keys) = keys_of(argv)?;
    ctx.out.array(keys.len());
    for i in keys {
        ctx.out.bulk(argv[2 + i]);
    }
    Ok(())
}

fn getkeysandflags(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (spec, keys) = keys_of(argv)?;
    let flags = key_flags(spec);
    ctx.out.array(keys.len());
    for i in keys {
        ctx.out.array(2);
        ctx.out.bulk(argv[2 + i]);
        ctx.out.set(flags.len());
        for f in flags {
            ctx.out.simple(f);
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

/// Command flags in the order Redis 7 lists them; `may_replicate` is hidden, as there.
const FLAG_ORDER: &[&str] = &[
    "write",
    "readonly",
    "denyoom",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "fast",
    "no_auth",
    "no_multi",
    "movablekeys",
    "allow_busy",
];

/// ACL categories in the order of Redis's category table.
const ACL_ORDER: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The names in `order` whose bit (looked up in `names`) is set in `bits`.
fn named_bits(bits: u32, names: &[(u32, &'static str)], order: &[&'static str]) -> Vec<&'static str> {
    order.iter().filter(|n| names.iter().any(|(bit, name)| name == *n && bits & bit != 0)).copied().collect()
}

/// Key-spec flags derived from the command flags: our table keeps Redis's legacy
/// (first, last, step) triple, not per-key access flags.
fn key_flags(spec: &CommandSpec) -> &'static [&'static str] {
    if spec.has(flag::READONLY) {
        &["RO", "access"]
    } else if spec.has(flag::WRITE) {
        &["RW", "update"]
    } else if spec.has(flag::PUBSUB) {
        // Shard channels sit where keys do (for cluster routing) but are not keys.
        &["not_key"]
    } else {
        &[]
    }
}

/// One COMMAND INFO entry: name, arity, flags, first key, last key, step, ACL
/// categories, tips, key specifications, subcommands.
fn write_info(out: &mut Reply, spec: &CommandSpec, parent: Option<&CommandSpec>) {
    out.array(10);
    out.bulk(full_name(spec, parent).as_bytes());
    out.int(i64::from(spec.arity));
    let flags = named_bits(spec.flags, flag::NAMES, FLAG_ORDER);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.int(i64::from(spec.first_key));
    out.int(i64::from(spec.last_key));
    out.int(i64::from(spec.step));
    let cats = named_bits(spec.acl, acl::NAMES, ACL_ORDER);
    out.set(cats.len());
    for c in cats {
        out.simple(&format!("@{c}"));
    }
    out.set(0); // tips
    write_key_specs(out, spec);
    if spec.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(spec.subcommands.len());
        for s in spec.subcommands {
            write_info(out, s, Some(spec));
        }
    }
}

/// Redis 7 key specifications, converted from the legacy range: one `index` begin
/// search and one `range` find-keys spec (lastkey relative to the first key when
/// positive, to the end of the arguments when negative).
fn write_key_specs(out: &mut Reply, spec: &CommandSpec) {
    if spec.first_key <= 0 {
        out.set(0);
        return;
    }
    out.set(1);
    out.map(3);
    out.bulk(b"flags");
    let flags = key_flags(spec);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"index");
    out.bulk(b"spec");
    out.map(1);
    out.bulk(b"index");
    out.int(i64::from(spec.first_key));
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"range");
    out.bulk(b"spec");
    out.map(3);
    out.bulk(b"lastkey");
    out.int(i64::from(if spec.last_key < 0 { spec.last_key } else { spec.last_key - spec.first_key }));
    out.bulk(b"keystep");
    out.int(i64::from(spec.step));
    out.bulk(b"limit");
    out.int(0);
}

/// One COMMAND DOCS entry (a map): summary, since, group and, for containers, the
/// documentation of each subcommand.
fn write_docs(out: &mut Reply, spec: &CommandSpec, parent: Option<&CommandSpec>) {
    let has_summary = !spec.summary.is_empty();
    let has_subs = !spec.subcommands.is_empty();
    out.map(2 + usize::from(has_summary) + usize::from(has_subs));
    if has_summary {
        out.bulk(b"summary");
        out.bulk(spec.summary.as_bytes());
    }
    out.bulk(b"since");
    out.bulk(spec.since.as_bytes());
    out.bulk(b"group");
    out.bulk(parent.map_or(spec.group, |p| p.group).as_bytes());
    if has_subs {
        out.bulk(b"subcommands");
        out.map(spec.subcommands.len());
        for s in spec.subcommands {
            out.bulk(full_name(s, Some(spec)).as_bytes());
            write_docs(out, s, Some(spec));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocol::RespVersion;

    #[test]
    fn finds_containers_and_subcommands() {
        assert!(find(b"COMMAND").is_some_and(|(c, p)| c.name == "command" && p.is_none()));
        assert!(find(b"command|INFO").is_some_and(|(c, p)| c.name == "info" && p.is_some_and(|p| p.name == "command")));
        assert!(find(b"command|nosuch").is_none());
        assert!(find(b"nosuch").is_none());
    }

    #[test]
    fn info_of_a_command_without_keys_has_empty_sets() {
        let mut out = Reply::new(RespVersion::Resp3);
        let (spec, parent) = find(b"command|count").unwrap_or_else(|| unreachable!());
        write_info(&mut out, spec, parent);
        let text = String::from_utf8_lossy(&out.buf).into_owned();
        assert!(
            text.starts_with(
                "*10\r\n$13\r\ncommand|count\r\n:2\r\n~2\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@slow\r\n+@connection\r\n~0\r\n~0\r\n~0\r\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn every_flag_and_category_has_a_place_in_the_order() {
        for (_, n) in flag::NAMES {
            assert!(FLAG_ORDER.contains(n) || *n == "may_replicate", "{n}");
        }
        for (_, n) in acl::NAMES {
            // `server` is not one of Redis's categories, so it is never reported.
            assert!(ACL_ORDER.contains(n) || *n == "server", "{n}");
        }
        assert_eq!(named_bits(acl::SLOW | acl::ADMIN | acl::DANGEROUS, acl::NAMES, ACL_ORDER), ["admin", "slow", "dangerous"]);
    }

    #[test]
    fn help_layout() {
        let mut out = Reply::new(RespVersion::Resp2);
        reply_help(&mut out, "X", &["A", "    does a"]);
        assert_eq!(
            out.buf,
            b"*5\r\n+X <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+A\r\n+    does a\r\n+HELP\r\n+    Prints this help.\r\n".to_vec()
        );
    }
}
