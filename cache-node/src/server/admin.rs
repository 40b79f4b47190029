//! The admin HTTP port: `/healthz` (the process serves requests), `/readyz` (it accepts
//! client traffic: not starting, not shutting down, and a replica only once its link to
//! the primary is up and in sync) and `/metrics` (metrics.rs).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::state::Server;
use crate::replication::replica::role_state;
use crate::replication::state::Role;

pub fn router(srv: Arc<Server>) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics)).with_state(srv)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(srv): State<Arc<Server>>) -> (StatusCode, &'static str) {
    if srv.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    // A replica that is connecting or still receiving its full copy holds a partial or
    // stale data set: it must not join the reader Service nor count as a ready replica.
    let replica = matches!(*srv.replication.role.read(), Role::Replica { .. });
    if replica && role_state(&srv).0 != "connected" {
        return (StatusCode::SERVICE_UNAVAILABLE, "replica not in sync with its primary\n");
    }
    (StatusCode::OK, "ready\n")
}

async fn metrics(State(srv): State<Arc<Server>>) -> ([(axum::http::header::HeaderName, &'static str); 1], String) {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], super::metrics::render(&srv))
}

pub async fn serve(srv: Arc<Server>, listener: tokio::net::TcpListener) {
    let shutdown = {
        let srv = srv.clone();
        async move {
            if !srv.is_shutting_down() {
                srv.shutdown.notified().await;
            }
        }
    };
    if let Err(e) = axum::serve(listener, router(srv)).with_graceful_shutdown(shutdown).await {
        tracing::warn!(error = %e, "admin HTTP server stopped");
    }
}
