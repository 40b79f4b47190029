//! The server starts, answers real clients and stops cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

#[test]
fn set_get_over_resp2_resp3_and_inline() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
    let mut c3 = node.client3();
    let v: Option<String> = redis::cmd("GET").arg("missing").query(&mut c3).unwrap();
    assert_eq!(v, None);
    let mut raw = node.raw();
    raw.roundtrip(b"PING\r\n", b"+PONG\r\n");
    assert_eq!(node.cli(&["GET", "k"]), "v\n");
}

#[test]
fn sigterm_stops_the_server() {
    let mut node = Node::start(&[]);
    let status = node.terminate().expect("exited within 10 s");
    assert!(status.success(), "{status:?}");
}

#[test]
fn admin_port_serves_health_and_readiness() {
    let node = Node::start(&[]);
    assert!(wait_for(std::time::Duration::from_secs(5), || http_get(node.admin_port, "/healthz").starts_with("HTTP/1.1 200")));
    let ready = http_get(node.admin_port, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.ends_with("ready\n"), "{ready}");
    assert!(http_get(node.admin_port, "/nope").starts_with("HTTP/1.1 404"));
}
