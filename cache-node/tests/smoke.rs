//! The server starts, answers real clients and stops cleanly.
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
