//! `cachefleet-operator run`: the controller process — logging, HTTP endpoints, API
//! server checks, leader election, and the controller until SIGTERM.

use anyhow::{Context as _, bail};
use clap::Args;
use kube::{Api, Client};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::api::CacheCluster;
use crate::controller::{self, Context, events::KubeEvents};
use crate::http::{HttpState, router};
use crate::leader::{self, LeaderConfig};
use crate::metrics::Metrics;
use crate::nodes::RespNodeClient;
use crate::resources::BuildOptions;

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Address of the /metrics, /healthz and /readyz endpoints.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// cache-node image for clusters whose spec names none.
    #[arg(long, env = "CACHE_NODE_IMAGE", default_value_t = crate::resources::names::default_cache_node_image())]
    pub cache_node_image: String,
    /// Elect a leader over a Lease, so several replicas can run safely.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub leader_election: bool,
    #[arg(long, default_value = "cachefleet-operator")]
    pub lease_name: String,
    /// Namespace of the Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// Identity in the Lease.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Log line format.
    #[arg(long, default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
    /// Watch only this namespace (default: all).
    #[arg(long)]
    pub watch_namespace: Option<String>,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // A second init (tests) is harmless.
    let _ = if format == "json" { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// Whether the API server serves the Prometheus Operator's ServiceMonitor. Read once at
/// start: installing the Prometheus Operator later needs an operator restart.
async fn service_monitors_served(client: &Client) -> bool {
    match client.list_api_groups().await {
        Ok(groups) => groups.groups.iter().any(|g| g.name == "monitoring.coreos.com"),
        Err(e) => {
            tracing::warn!(error = %e, "API discovery failed; ServiceMonitors are off");
            false
        }
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    tracing::info!(version = crate::VERSION, "cachefleet-operator starting");
    let metrics = Metrics::new().context("registering metrics")?;
    let ready = Arc::new(AtomicBool::new(false));

    let listener = tokio::net::TcpListener::bind(args.metrics_addr).await.with_context(|| format!("listening on {}", args.metrics_addr))?;
    let app = router(HttpState { metrics: metrics.clone(), ready: ready.clone() });
    let http = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = Client::try_default().await.context("connecting to the Kubernetes API server")?;
    let clusters: Api<CacheCluster> = match &args.watch_namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    if let Err(e) = clusters.list(&kube::api::ListParams::default().limit(1)).await {
        bail!("cannot list CacheClusters ({e}); are the CRDs installed? kubectl apply --server-side -f crds/");
    }
    let options = BuildOptions { default_image: args.cache_node_image.clone(), service_monitor_supported: service_monitors_served(&client).await };
    ready.store(true, Ordering::Relaxed);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signal_tx = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received");
        let _ = signal_tx.send(true);
    });
    let stopped = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let mut lost_leadership = false;
    let holder = if args.leader_election {
        let identity = args.identity.clone().unwrap_or_else(|| format!("cachefleet-operator-{}", std::process::id()));
        let cfg = LeaderConfig::new(args.lease_name.clone(), args.lease_namespace.clone(), identity);
        tracing::info!(lease = %cfg.lease_name, namespace = %cfg.namespace, identity = %cfg.identity, "waiting to become leader");
        let mut waiting = stop_rx.clone();
        tokio::select! {
            _ = leader::acquire(&client, &cfg) => {},
            _ = waiting.wait_for(|stop| *stop) => {
                http.abort();
                return Ok(());
            }
        }
        tracing::info!("leader elected: this replica reconciles");
        metrics.leader.set(1);
        let (client, tx) = (client.clone(), stop_tx.clone());
        Some(tokio::spawn(async move {
            leader::hold(&client, &cfg).await;
            let _ = tx.send(true);
            true
        }))
    } else {
        metrics.leader.set(1);
        None
    };

    let events = Arc::new(KubeEvents::new(client.clone()));
    let ctx = Context::new(client, Arc::new(RespNodeClient::default()), events, metrics, options);
    controller::run(ctx, args.watch_namespace.clone(), stopped).await;

    if let Some(h) = holder {
        if h.is_finished() {
            lost_leadership = h.await.unwrap_or(false);
        } else {
            h.abort();
        }
    }
    http.abort();
    if lost_leadership {
        // Exit non-zero so Kubernetes restarts the pod as a fresh candidate.
        bail!("lost the leader lease");
    }
    tracing::info!("stopped");
    Ok(())
}
