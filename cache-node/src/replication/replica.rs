//! Following a primary (filled in by the replica-side work).

/// The link to this node's primary.
#[derive(Default)]
pub struct Link {}

/// INFO replication lines of a replica, from `master_host` to `replica_announced`.
pub fn info_lines(srv: &crate::server::state::Server, out: &mut String) {
    let _ = (srv, out);
}
