//! `cachefleet-operator local`: a whole cluster as processes on this machine, driven by
//! the same topology brain as the Kubernetes controller. For trying cachefleet without
//! Kubernetes, and for end-to-end tests of failover.
//!
//! - `spec`: the cluster file, validated, and its node.conf.
//! - `process`: starting and stopping cache-node processes.
//! - `probe`: RESP calls to the nodes.
//! - `driver`: the loop.
//! - `status`: `DIR/status.json`.
//! - `schedule`: cron schedules in a time zone (when scheduled snapshots fire).
//! - `snapshots`: scheduled snapshots and their retention.
//! - `restore`: seeding a new cluster from `restoreFrom`.

pub mod driver;
pub mod probe;
pub mod process;
pub mod restore;
pub mod schedule;
pub mod snapshots;
pub mod spec;
pub mod status;

use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `cachefleet-operator local`.
#[derive(clap::Args, Debug, Clone)]
pub struct LocalArgs {
    /// CacheCluster YAML file. Edits while running are applied (replicas, parameters).
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Directory for each node's data, node.conf, logs and status.json.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// cache-node binary (default: `cache-node` next to this executable).
    #[arg(long, value_name = "PATH")]
    pub node_binary: Option<PathBuf>,
    /// First port: node o of shard s listens on base + 100 s + o.
    #[arg(long, default_value_t = 7000)]
    pub base_port: u16,
    /// Address the nodes listen on and are reached at.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Log format: json or text.
    #[arg(long, default_value = "text")]
    pub log_format: String,
    /// Root of snapshot files: destination pvc is `DIR/<cluster>-snapshots` (the claim's
    /// directory), and `restoreFrom: {location: pvc://CLAIM/NAME}` reads `DIR/CLAIM/NAME`.
    /// Default: `<data-dir>/snapshots`.
    #[arg(long, value_name = "DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// Take scheduled snapshots every SECONDS instead of on spec.snapshots.schedule (for tests).
    #[arg(long, value_name = "SECONDS", hide = true)]
    pub snapshot_every: Option<u64>,
}

pub fn run(args: LocalArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    let node_binary = process::find_node_binary(args.node_binary.as_deref()).map_err(anyhow::Error::msg)?;
    let snapshot_root = args.snapshot_dir.clone().unwrap_or_else(|| args.data_dir.join("snapshots"));
    let opts = driver::Options {
        file: args.file,
        data_dir: args.data_dir,
        node_binary,
        base_port: args.base_port,
        host: args.host,
        snapshot_root,
        snapshot_every: args.snapshot_every.map(std::time::Duration::from_secs),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async move {
        let mut driver = driver::Driver::new(opts)?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut interval = tokio::time::interval(driver::PROBE_PERIOD);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => driver.tick().await,
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
            }
        }
        tracing::info!("stopping every node");
        driver.shutdown().await;
        Ok(())
    })
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}
