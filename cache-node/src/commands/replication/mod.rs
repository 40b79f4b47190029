//! Replication commands. Serving replicas: REPLCONF, PSYNC, SYNC, WAIT, ROLE
//! (primary.rs); following a primary: REPLICAOF/SLAVEOF (replica.rs); switching roles:
//! FAILOVER (failover.rs).

mod failover;
mod primary;
mod replica;

use super::spec::{CommandSpec, acl, cmd, flag};

const ADMIN: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

const fn server(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "server", summary, since, ..spec }
}

pub static COMMANDS: &[CommandSpec] = &[
    server(
        "Make the server a replica of another instance, or promote it as master",
        "5.0.0",
        cmd("replicaof", 3, flag::ADMIN | flag::NOSCRIPT | flag::STALE, ADMIN, (0, 0, 0), replica::replicaof),
    ),
    server(
        "Make the server a replica of another instance, or promote it as master",
        "1.0.0",
        cmd("slaveof", 3, flag::ADMIN | flag::NOSCRIPT | flag::STALE, ADMIN, (0, 0, 0), replica::replicaof),
    ),
    server(
        "An internal command for configuring the replication stream",
        "3.0.0",
        cmd("replconf", -1, flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::ALLOW_BUSY, ADMIN, (0, 0, 0), primary::replconf),
    ),
    server("Internal command used for replication", "2.8.0", cmd("psync", -3, flag::ADMIN | flag::NOSCRIPT | flag::NO_MULTI, ADMIN, (0, 0, 0), primary::psync)),
    server("Internal command used for replication", "1.0.0", cmd("sync", 1, flag::ADMIN | flag::NOSCRIPT | flag::NO_MULTI, ADMIN, (0, 0, 0), primary::sync)),
    CommandSpec {
        group: "generic",
        summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        since: "3.0.0",
        ..cmd("wait", 3, flag::NOSCRIPT, acl::SLOW | acl::CONNECTION, (0, 0, 0), primary::wait)
    },
    server(
        "Return the role of the instance in the context of replication",
        "2.8.12",
        cmd("role", 1, flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST, acl::ADMIN | acl::FAST | acl::DANGEROUS, (0, 0, 0), primary::role),
    ),
    server(
        "Start a coordinated failover between this server and one of its replicas.",
        "6.2.0",
        cmd("failover", -1, flag::ADMIN | flag::NOSCRIPT | flag::STALE, ADMIN, (0, 0, 0), failover::failover),
    ),
];
