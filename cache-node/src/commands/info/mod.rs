//! INFO [section ...]: server state as `# Section` blocks of `field:value` lines, in
//! Redis 7's section order and field names (what redis-cli, exporters and client
//! libraries parse). The sections themselves are written in sections.rs.

pub mod process;
mod sections;

use super::spec::{CommandSpec, acl, cmd, flag};
use super::{CmdResult, Ctx, args};
use crate::server::state::Server;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    group: "server",
    summary: "Get information and statistics about the server",
    ..cmd("info", -1, flag::LOADING | flag::STALE, acl::SLOW | acl::DANGEROUS, (0, 0, 0), info)
}];

/// Every section, in output order: (name, in the default set).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Which sections the arguments ask for: none means `default`; `all` and `everything`
/// mean every section; unknown names select nothing.
fn selected(names: &[&[u8]]) -> Vec<&'static str> {
    let mut want = vec![false; SECTIONS.len()];
    if names.is_empty() {
        return SECTIONS.iter().filter(|(_, d)| *d).map(|(n, _)| *n).collect();
    }
    for n in names {
        for (i, (name, default)) in SECTIONS.iter().enumerate() {
            let pick = args::is(n, name) || (*default && args::is(n, "default")) || args::is(n, "all") || args::is(n, "everything");
            want[i] |= pick;
        }
    }
    SECTIONS.iter().zip(want).filter(|(_, w)| *w).map(|((n, _), _)| *n).collect()
}

fn info(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let text = render(ctx.srv, &selected(&argv[1..]), ctx.now_ms);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// The INFO text of the given sections: each starts with its `# Title` line, lines end
/// in CRLF and sections are separated by an empty line.
pub fn render(srv: &Server, names: &[&str], now_ms: i64) -> String {
    let mut out = String::with_capacity(4096);
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        sections::write(srv, name, now_ms, &mut out);
    }
    out
}

/// CONFIG RESETSTAT: zero the counters INFO reports.
pub fn reset_stats(srv: &Server) {
    srv.stats.reset();
    srv.keyspace.reset_stats();
    process::reset_peak();
    process::RATES.reset();
    srv.eviction.evicted.store(0, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn section_selection() {
        let default = selected(&[]);
        assert_eq!(default.first(), Some(&"server"));
        assert!(!default.contains(&"commandstats"));
        assert_eq!(default.last(), Some(&"keyspace"));
        assert_eq!(selected(&[b"ALL"]).len(), SECTIONS.len());
        assert_eq!(selected(&[b"everything"]).len(), SECTIONS.len());
        assert_eq!(selected(&[b"keyspace", b"Server"]), vec!["server", "keyspace"]);
        assert_eq!(selected(&[b"default", b"commandstats"]).len(), default.len() + 1);
        assert!(selected(&[b"nosuch"]).is_empty());
    }

    #[test]
    fn renders_sections_with_separators() {
        let srv = Server::new(crate::config::Config::default());
        let text = render(&srv, &["cluster", "keyspace"], 0);
        assert_eq!(text, "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n");
        let all = render(&srv, &selected(&[b"all"]), 0);
        for title in ["# Server\r\n", "# Memory\r\n", "# Commandstats\r\n", "# Errorstats\r\n"] {
            assert!(all.contains(title), "{title}");
        }
        assert!(all.lines().all(|l| l.is_empty() || l.starts_with('#') || l.contains(':')), "{all}");
    }
}
