//! The admin HTTP port: `/healthz` (the process serves requests) and `/readyz` (it
//! accepts client traffic: not starting, not shutting down). `/metrics` joins them with
//! the metrics work.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::state::Server;

pub fn router(srv: Arc<Server>) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(srv)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(srv): State<Arc<Server>>) -> (StatusCode, &'static str) {
    if srv.is_shutting_down() { (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n") } else { (StatusCode::OK, "ready\n") }
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
