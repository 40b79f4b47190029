//! `/readyz` of a replica: ready only while its link to the primary is up and in sync,
//! so Kubernetes keeps a loading or cut-off replica out of the reader Service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Node, exact, free_port, http_get, wait_for};

fn ready(node: &Node) -> bool {
    http_get(node.admin_port, "/readyz").starts_with("HTTP/1.1 200")
}

#[test]
fn a_replica_is_ready_only_while_in_sync_with_its_primary() {
    let primary = Node::start(&[]);
    let replica = Node::start(&[]);
    assert!(wait_for(Duration::from_secs(5), || ready(&replica)), "a standalone primary is ready");

    // A primary that does not exist: the link stays down, the replica is not ready.
    let nowhere = free_port();
    exact(&mut replica.raw(), &["REPLICAOF", "127.0.0.1", &nowhere.to_string()], "+OK\r\n");
    let answer = http_get(replica.admin_port, "/readyz");
    assert!(answer.starts_with("HTTP/1.1 503") && answer.ends_with("replica not in sync with its primary\n"), "{answer}");

    // A real primary: ready once the full sync is done.
    exact(&mut replica.raw(), &["REPLICAOF", "127.0.0.1", &primary.port.to_string()], "+OK\r\n");
    assert!(wait_for(Duration::from_secs(10), || ready(&replica)), "{}", http_get(replica.admin_port, "/readyz"));

    // The primary goes away: the link drops and the replica stops being ready.
    drop(primary);
    assert!(wait_for(Duration::from_secs(10), || !ready(&replica)), "{}", http_get(replica.admin_port, "/readyz"));

    // Promoted, it is ready again.
    exact(&mut replica.raw(), &["REPLICAOF", "NO", "ONE"], "+OK\r\n");
    assert!(ready(&replica));
}
