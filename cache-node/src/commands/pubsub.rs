//! Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB
//! introspection. The registry and delivery live in server/pubsub/.

use std::sync::Arc;

use super::command::{reply_help, run_subcommand};
use super::spec::{CommandSpec, Handler, acl, cmd, flag};
use super::{CmdResult, Ctx};
use crate::server::pubsub::{ClientSubs, Kind, confirm};

const SUB: u32 = flag::PUBSUB | flag::NOSCRIPT | flag::LOADING | flag::STALE;
const PUB: u32 = flag::PUBSUB | flag::LOADING | flag::STALE | flag::FAST;
const SLOW: u32 = acl::PUBSUB | acl::SLOW;

const fn ps(name: &'static str, arity: i32, flags: u32, acl: u32, summary: &'static str, since: &'static str, handler: Handler) -> CommandSpec {
    CommandSpec { group: "pubsub", summary, since, ..cmd(name, arity, flags, acl, (0, 0, 0), handler) }
}

/// Shard-channel commands name their channels where keys go (for cluster routing).
const fn channels_at(first: i32, last: i32, spec: CommandSpec) -> CommandSpec {
    CommandSpec { first_key: first, last_key: last, step: 1, ..spec }
}

/// In the order Redis 7.0 lists them (COMMAND INFO).
static SUBCOMMANDS: &[CommandSpec] = &[
    ps("channels", -2, flag::PUBSUB | flag::LOADING | flag::STALE, SLOW, "List active channels", "2.8.0", channels),
    ps("numpat", 2, flag::PUBSUB | flag::LOADING | flag::STALE, SLOW, "Get the count of unique patterns pattern subscriptions", "2.8.0", numpat),
    ps("numsub", -2, flag::PUBSUB | flag::LOADING | flag::STALE, SLOW, "Get the count of subscribers for channels", "2.8.0", numsub),
    ps("shardnumsub", -2, flag::PUBSUB | flag::LOADING | flag::STALE, SLOW, "Get the count of subscribers for shard channels", "7.0.0", shardnumsub),
    ps("shardchannels", -2, flag::PUBSUB | flag::LOADING | flag::STALE, SLOW, "List active shard channels", "7.0.0", shardchannels),
    ps("help", 2, flag::LOADING | flag::STALE, acl::SLOW, "Show helpful text about the different subcommands", "6.2.0", help),
];

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    ps("subscribe", -2, SUB, SLOW, "Listen for messages published to the given channels", "2.0.0", subscribe),
    ps("psubscribe", -2, SUB, SLOW, "Listen for messages published to channels matching the given patterns", "2.0.0", psubscribe),
    channels_at(1, -1, ps("ssubscribe", -2, SUB, SLOW, "Listen for messages published to the given shard channels", "7.0.0", ssubscribe)),
    ps("unsubscribe", -1, SUB, SLOW, "Stop listening for messages posted to the given channels", "2.0.0", unsubscribe),
    ps("punsubscribe", -1, SUB, SLOW, "Stop listening for messages posted to channels matching the given patterns", "2.0.0", punsubscribe),
    channels_at(1, -1, ps("sunsubscribe", -1, SUB, SLOW, "Stop listening for messages posted to the given shard channels", "7.0.0", sunsubscribe)),
    ps("publish", 3, PUB, acl::PUBSUB | acl::FAST, "Post a message to a channel", "2.0.0", publish),
    channels_at(1, 1, ps("spublish", 3, PUB, acl::PUBSUB | acl::FAST, "Post a message to a shard channel", "7.0.0", spublish)),
    CommandSpec { subcommands: SUBCOMMANDS, ..ps("pubsub", -2, 0, acl::SLOW, "A container for Pub/Sub commands", "2.8.0", pubsub) },
];

/// Whether a RESP2 client with subscriptions may run `spec` (Redis 7.0's list). The
/// session keeps its `ClientSubs` while messages still wait, after the last
/// unsubscription: it is in subscribed mode only while it has subscriptions.
pub(super) fn allowed(ctx: &Ctx<'_>, spec: &CommandSpec) -> bool {
    ctx.session.pubsub.as_ref().is_none_or(|s| s.total() == 0)
        || matches!(spec.name, "ping" | "subscribe" | "ssubscribe" | "unsubscribe" | "sunsubscribe" | "psubscribe" | "punsubscribe" | "quit" | "reset")
}

/// The session's subscriptions, created on first use.
fn subs<'c>(ctx: &'c mut Ctx<'_>) -> &'c mut ClientSubs {
    let (hub, info) = (&ctx.srv.pubsub, &ctx.session.info);
    ctx.session.pubsub.get_or_insert_with(|| Box::new(ClientSubs::new(hub.clone(), info.clone())))
}

fn subscribe_to(ctx: &mut Ctx<'_>, kind: Kind, names: &[&[u8]]) -> CmdResult {
    let (verb, _) = kind.verbs();
    for name in names {
        let s = subs(ctx);
        s.subscribe(kind, name);
        let n = s.count(kind);
        confirm(ctx.out, verb, Some(name), n);
    }
    Ok(())
}

fn unsubscribe_from(ctx: &mut Ctx<'_>, kind: Kind, names: &[&[u8]]) -> CmdResult {
    let (_, verb) = kind.verbs();
    if names.is_empty() {
        let all: Vec<Arc<[u8]>> = ctx.session.pubsub.as_ref().map(|s| s.names(kind)).unwrap_or_default();
        if all.is_empty() {
            let n = ctx.session.pubsub.as_ref().map_or(0, |s| s.count(kind));
            confirm(ctx.out, verb, None, n);
        }
        for name in all {
            let s = subs(ctx);
            s.unsubscribe(kind, &name);
            let n = s.count(kind);
            confirm(ctx.out, verb, Some(&name), n);
        }
    } else {
        for name in names {
            let n = match ctx.session.pubsub.as_mut() {
                Some(s) => {
                    s.unsubscribe(kind, name);
                    s.count(kind)
                }
                None => 0,
            };
            confirm(ctx.out, verb, Some(name), n);
        }
    }
    // Subscriptions gone: leave subscribed mode, but keep the queue if messages wait.
    if ctx.session.pubsub.as_ref().is_some_and(|s| s.total() == 0 && !s.sub.has_queued()) {
        ctx.session.pubsub = None;
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    subscribe_to(ctx, Kind::Channel, &argv[1..])
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    subscribe_to(ctx, Kind::Pattern, &argv[1..])
}

fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    subscribe_to(ctx, Kind::Shard, &argv[1..])
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    unsubscribe_from(ctx, Kind::Channel, &argv[1..])
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    unsubscribe_from(ctx, Kind::Pattern, &argv[1..])
}

fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    unsubscribe_from(ctx, Kind::Shard, &argv[1..])
}

fn publish(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = ctx.srv.pubsub.publish(argv[1], argv[2]);
    // As Redis does, replicas get PUBLISH (not the AOF) so that their subscribers hear it.
    if ctx.srv.journal.is_active() {
        let mut cmd = Vec::with_capacity(32 + argv[1].len() + argv[2].len());
        crate::protocol::request::encode_command(argv, &mut cmd);
        let at = ctx.srv.journal.append_replication_only(&cmd);
        ctx.session.repl_offset = ctx.session.repl_offset.max(at);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = ctx.srv.pubsub.spublish(argv[1], argv[2]);
    ctx.out.int(n as i64);
    Ok(())
}

fn pubsub(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, argv, "pubsub", SUBCOMMANDS)
}

fn list_channels(ctx: &mut Ctx<'_>, kind: Kind, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        let sub = super::command::truncated(argv[1]);
        return Err(super::CmdError::other(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try PUBSUB HELP.")));
    }
    let found = ctx.srv.pubsub.channels(kind, argv.get(2).copied());
    ctx.out.array(found.len());
    for c in found {
        ctx.out.bulk(&c);
    }
    Ok(())
}

fn channels(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    list_channels(ctx, Kind::Channel, argv)
}

fn shardchannels(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    list_channels(ctx, Kind::Shard, argv)
}

fn count_subscribers(ctx: &mut Ctx<'_>, kind: Kind, names: &[&[u8]]) -> CmdResult {
    let counts = ctx.srv.pubsub.numsub(kind, names);
    // A flat array in RESP3 too, as Redis 7.0 replies.
    ctx.out.array(2 * names.len());
    for (name, n) in names.iter().zip(counts) {
        ctx.out.bulk(name);
        ctx.out.int(n as i64);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, Kind::Channel, &argv[2..])
}

fn shardnumsub(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, Kind::Shard, &argv[2..])
}

fn numpat(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let (_, patterns, _) = ctx.srv.pubsub.counts();
    ctx.out.int(patterns as i64);
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
