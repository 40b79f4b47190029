//! INFO replication, in Redis's field order.

use std::fmt::Write;

use super::state::Role;
use crate::server::state::Server;

pub fn section(srv: &Server, out: &mut String) {
    let r = &srv.replication;
    let role = r.role.read().clone();
    out.push_str("# Replication\r\n");
    match role {
        Role::Primary => out.push_str("role:master\r\n"),
        Role::Replica { .. } => {
            out.push_str("role:slave\r\n");
            super::replica::info_lines(srv, out);
        }
    }
    super::primary::info_lines(srv, out);
    let ids = r.ids.lock().clone();
    let (first, histlen) = r.backlog.range();
    let active = srv.journal.feeds_backlog() || r.is_replica();
    let _ = write!(
        out,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\n\
         repl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        super::failover_state(srv),
        ids.replid,
        ids.replid2,
        r.offset(),
        ids.second_offset,
        u8::from(active),
        r.backlog.capacity(),
        // Redis numbers bytes from 1.
        if histlen > 0 { first + 1 } else { 0 },
        histlen,
    );
}
