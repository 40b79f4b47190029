//! The admin HTTP port: `/healthz` (the process serves requests), `/readyz` (it accepts
//! client traffic: not starting, not shutting down) and `/metrics` (metrics.rs).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::state::Server;

pub fn router(srv: Arc<Server>) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics)).with_state(srv)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(srv): State<Arc<Server>>) -> (StatusCode, &'static str) {
    if srv.is_shutting_down() { (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n") } else { (StatusCode::OK, "ready\n") }
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
