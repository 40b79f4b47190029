//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP over the parameter table, with Redis
//! 7's replies and error texts.

use super::super::args;
use super::super::command::{reply_help, run_subcommand, truncated};
use super::super::spec::{CommandSpec, Handler, acl, cmd, flag};
use super::super::{CmdError, CmdResult, Ctx};
use crate::config::{ConfigError, params};

const ADMIN: u32 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE;
const ADMIN_ACL: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

const fn sub(name: &'static str, arity: i32, flags: u32, acl: u32, summary: &'static str, since: &'static str, handler: Handler) -> CommandSpec {
    CommandSpec { group: "server", summary, since, ..cmd(name, arity, flags, acl, (0, 0, 0), handler) }
}

pub static SUBCOMMANDS: &[CommandSpec] = &[
    sub("get", -3, ADMIN, ADMIN_ACL, "Get the values of configuration parameters", "2.0.0", get),
    sub("help", 2, flag::LOADING | flag::STALE, acl::SLOW, "Show helpful text about the different subcommands", "5.0.0", help),
    sub("resetstat", 2, ADMIN, ADMIN_ACL, "Reset the stats returned by INFO", "2.0.0", resetstat),
    sub("rewrite", 2, ADMIN, ADMIN_ACL, "Rewrite the configuration file with the in memory configuration", "2.8.0", rewrite),
    sub("set", -4, ADMIN, ADMIN_ACL, "Set configuration parameters to the given values", "2.0.0", set),
];

pub fn config(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, argv, "config", SUBCOMMANDS)
}

fn has_glob(pattern: &[u8]) -> bool {
    pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// CONFIG GET pattern [pattern ...]: a name without glob characters is looked up
/// directly and echoed as the client spelled it (as Redis does); a pattern matches
/// names and aliases. Each parameter appears once.
fn get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cfg = ctx.srv.config.read();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pat in &argv[2..] {
        if !has_glob(pat) {
            let name = args::text(pat);
            match params::find(&name) {
                Some(p) if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) => pairs.push((name, cfg.str(p.name).to_string())),
                _ => {}
            }
            continue;
        }
        for (n, v) in cfg.matching(pat) {
            if !pairs.iter().any(|(m, _)| m.eq_ignore_ascii_case(n)) {
                pairs.push((n.to_string(), v));
            }
        }
    }
    drop(cfg);
    ctx.out.map(pairs.len());
    for (n, v) in pairs {
        ctx.out.bulk(n.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

fn set_failed(name: &str, reason: &str) -> CmdError {
    CmdError::other(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"))
}

/// CONFIG SET name value [name value ...]: all pairs are checked before any is applied,
/// in Redis's order: any unknown name first, then immutable or repeated names, then
/// the values.
fn set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() & 1 == 1 {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(&[u8], &[u8])> = argv[2..].chunks(2).map(|c| (c[0], c[1])).collect();
    if let Some((name, _)) = pairs.iter().find(|(n, _)| params::find(&args::text(n)).is_none()) {
        return Err(CmdError::other(format!("ERR Unknown option or number of arguments for CONFIG SET - '{}'", truncated(name))));
    }
    let mut seen: Vec<&'static str> = Vec::with_capacity(pairs.len());
    for (name, _) in &pairs {
        let typed = args::text(name);
        let Some(p) = params::find(&typed) else {
            continue;
        };
        if !p.mutable {
            return Err(set_failed(&typed, "can't set immutable config"));
        }
        if seen.contains(&p.name) {
            return Err(set_failed(&typed, "duplicate parameter"));
        }
        seen.push(p.name);
    }
    let owned: Vec<(String, String)> = pairs.iter().map(|(n, v)| (args::text(n), args::text(v))).collect();
    let changed = ctx.srv.config.write().set_runtime(&owned).map_err(|e| match e {
        ConfigError::Unknown(n) => CmdError::other(format!("ERR Unknown option or number of arguments for CONFIG SET - '{n}'")),
        other => CmdError::other(format!("ERR {other}")),
    })?;
    ctx.srv.config_changed(&changed);
    if changed.contains(&"appendfsync")
        && let Some(log) = ctx.srv.aof()
    {
        log.set_fsync(crate::persist::aof::Fsync::from_config(ctx.srv.config.read().str("appendfsync")));
    }
    if changed.contains(&"replica-read-only") {
        let r = &ctx.srv.replication;
        let role = r.role.read().clone();
        r.set_role(role, ctx.srv.config.read().bool("replica-read-only"));
    }
    if changed.contains(&"repl-backlog-size") {
        let size = usize::try_from(ctx.srv.config.read().int("repl-backlog-size")).unwrap_or(1 << 20);
        ctx.srv.replication.backlog.resize(size);
    }
    if changed.contains(&"appendonly") {
        let on = ctx.srv.config.read().bool("appendonly");
        let result = ctx.srv.arc().ok_or_else(|| "server not running".to_string()).and_then(|srv| srv.set_appendonly(on));
        if let Err(why) = result {
            // Not switched: the setting says what is true.
            let _ = ctx.srv.config.write().set_runtime(&[("appendonly".to_string(), if on { "no" } else { "yes" }.to_string())]);
            return Err(set_failed("appendonly", &why));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn resetstat(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::super::info::reset_stats(ctx.srv);
    ctx.out.ok();
    Ok(())
}

fn rewrite(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let cfg = ctx.srv.config.read().clone();
    let Some(path) = cfg.file.clone() else {
        return Err(CmdError::other("ERR The server is running without a config file"));
    };
    crate::config::file::rewrite_file(&path, &cfg).map_err(|e| {
        tracing::warn!(path = %path.display(), error = %e, "CONFIG REWRITE failed");
        CmdError::other(format!("ERR Rewriting config file: {e}"))
    })?;
    tracing::info!(path = %path.display(), "CONFIG REWRITE executed with success");
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx.out,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn glob_detection() {
        assert!(has_glob(b"max*"));
        assert!(has_glob(b"h?"));
        assert!(has_glob(b"[ab]"));
        assert!(!has_glob(b"maxmemory"));
    }
}
