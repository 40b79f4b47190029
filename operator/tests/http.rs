//! The operator's HTTP endpoints over a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cachefleet_operator::http::{HttpState, router};
use cachefleet_operator::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(port: u16, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn metrics_health_and_readiness() {
    let metrics = Metrics::new().unwrap();
    metrics.reconciles.inc();
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(axum::serve(listener, router(HttpState { metrics, ready: ready.clone() })).into_future());

    assert!(get(port, "/healthz").await.starts_with("HTTP/1.1 200"));
    assert!(get(port, "/readyz").await.starts_with("HTTP/1.1 503"), "not ready before the API server was reached");
    ready.store(true, Ordering::Relaxed);
    assert!(get(port, "/readyz").await.starts_with("HTTP/1.1 200"));
    let body = get(port, "/metrics").await;
    assert!(body.contains("cachefleet_operator_reconciles_total 1"), "{body}");
    assert!(get(port, "/nope").await.starts_with("HTTP/1.1 404"));
}
