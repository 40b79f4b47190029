//! The operator's node client against real servers: two redis-server processes (the
//! reference implementation of ROLE and REPLICAOF) on loopback, and a socket that never
//! answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cachefleet_operator::nodes::{NodeAddr, NodeClient, NodeError, RespNodeClient};
use cachefleet_operator::topology::ReportedRole;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn redis_server() -> Server {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (scripts/test.sh installs it)");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

fn addr(port: u16) -> NodeAddr {
    NodeAddr { host: "127.0.0.1".into(), port, password: None }
}

async fn wait_for_role(client: &RespNodeClient, node: &NodeAddr, want: impl Fn(&ReportedRole) -> bool) -> ReportedRole {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let role = client.role(node).await.unwrap();
        if want(&role) {
            return role;
        }
        assert!(Instant::now() < deadline, "role never reached the expected state; last {role:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn role_and_replicaof_drive_a_real_primary_and_replica() {
    let (a, b) = (redis_server(), redis_server());
    let client = RespNodeClient::default();
    assert_eq!(client.role(&addr(a.port)).await.unwrap(), ReportedRole::Primary { replicas: 0 });

    client.replicate_from(&addr(b.port), Some(("127.0.0.1", a.port))).await.unwrap();
    let role = wait_for_role(&client, &addr(b.port), |r| matches!(r, ReportedRole::Replica { in_sync: true, .. })).await;
    assert_eq!(role, ReportedRole::Replica { primary_host: "127.0.0.1".into(), primary_port: a.port, in_sync: true });
    wait_for_role(&client, &addr(a.port), |r| *r == ReportedRole::Primary { replicas: 1 }).await;

    client.replicate_from(&addr(b.port), None).await.unwrap();
    assert_eq!(client.role(&addr(b.port)).await.unwrap(), ReportedRole::Primary { replicas: 0 });
}

#[tokio::test]
async fn a_wrong_password_and_a_closed_port_are_errors() {
    let a = redis_server();
    let client = RespNodeClient::default();
    let with_password = NodeAddr { password: Some("nope".into()), ..addr(a.port) };
    let err = client.role(&with_password).await.unwrap_err();
    assert!(matches!(err, NodeError::Redis { .. }), "{err}");
    drop(a);
    let closed = free_port();
    assert!(client.role(&addr(closed)).await.is_err());
}

#[tokio::test]
async fn a_node_that_never_answers_costs_at_most_the_timeout() {
    // Accepts connections and reads nothing: the hung node a probe must not wait on forever.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(2));
        drop(conns);
    });
    let client = RespNodeClient { timeout: Duration::from_millis(300) };
    let started = Instant::now();
    let err = client.role(&addr(port)).await.unwrap_err();
    assert!(matches!(err, NodeError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn failover_to_hands_a_real_primary_s_role_to_its_replica_and_config_set_applies_every_pair() {
    let (a, b) = (redis_server(), redis_server());
    let client = RespNodeClient::default();
    client.replicate_from(&addr(b.port), Some(("127.0.0.1", a.port))).await.unwrap();
    wait_for_role(&client, &addr(b.port), |r| matches!(r, ReportedRole::Replica { in_sync: true, .. })).await;

    // The replica reports its link up a moment before the primary counts it online (at
    // its first ACK); until then the primary refuses the handover.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.failover_to(&addr(a.port), ("127.0.0.1", b.port), Duration::from_secs(5)).await {
            Ok(()) => break,
            Err(e) if e.to_string().contains("not online") && Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("{e}"),
        }
    }
    wait_for_role(&client, &addr(b.port), |r| matches!(r, ReportedRole::Primary { .. })).await;
    let old = wait_for_role(&client, &addr(a.port), |r| matches!(r, ReportedRole::Replica { .. })).await;
    assert!(matches!(old, ReportedRole::Replica { primary_port, .. } if primary_port == b.port), "{old:?}");

    let pairs = vec![("timeout".to_string(), "300".to_string()), ("maxmemory-policy".to_string(), "allkeys-lru".to_string())];
    client.config_set(&addr(b.port), &pairs).await.unwrap();
    let mut conn = redis::Client::open(format!("redis://127.0.0.1:{}", b.port)).unwrap().get_multiplexed_async_connection().await.unwrap();
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("timeout").query_async(&mut conn).await.unwrap();
    assert_eq!(got, ["timeout", "300"]);
    // The node checks every pair before applying any: one bad pair is an error.
    let bad = vec![("timeout".to_string(), "5".to_string()), ("databases".to_string(), "32".to_string())];
    assert!(client.config_set(&addr(b.port), &bad).await.is_err());
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("timeout").query_async(&mut conn).await.unwrap();
    assert_eq!(got, ["timeout", "300"]);
}
