//! Listeners, worker threads, connections, the admin HTTP port and shutdown.

pub mod admin;
pub mod balance;
pub mod balancer;
pub mod blocking;
pub mod clients;
pub mod connection;
pub mod cron;
pub mod idle_poll;
pub mod journal;
pub mod latency;
pub mod listener;
pub mod metrics;
pub mod persistence;
pub mod pubsub;
pub mod session;
pub mod slowlog;
pub mod state;
pub mod stats;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::commands::table;
use crate::config::Config;
use clients::ClientInfo;
use state::Server;

/// Runs a server with `config` until SIGTERM, SIGINT or SHUTDOWN.
pub fn run(config: Config) -> anyhow::Result<()> {
    run_with_log_hook(config, Box::new(|_| {}))
}

/// As `run`, with the function that applies CONFIG SET loglevel.
pub fn run_with_log_hook(config: Config, hook: crate::logging::LevelHook) -> anyhow::Result<()> {
    let srv = Arc::new(Server::new(config));
    let _ = srv.me.set(Arc::downgrade(&srv));
    *srv.log_level_hook.write() = Some(hook);
    srv.load_at_startup().context("cannot load the data set")?;
    // Signal handlers go in first, so a SIGTERM that arrives once the listening line is
    // logged always means a clean shutdown.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let signals = {
        let _in_runtime = rt.enter();
        Signals::install()
    };
    let (bind, port, backlog, admin_port) = {
        let c = srv.config.read();
        (c.bind(), c.port(), c.int("tcp-backlog") as i32, c.admin_port())
    };
    let default_bind = bind.join(" ") == "* -::*";
    let listeners = if port == 0 && bind.is_empty() { Vec::new() } else { listener::bind_all(&bind, port, backlog)? };
    if let Some(l) = listeners.first() {
        srv.tcp_port.store(l.local_addr()?.port(), Relaxed);
    }
    // After binding: the link announces the port it listens on (REPLCONF listening-port),
    // which must be the bound one, not 0.
    crate::replication::replica::start_from_config(&srv);
    listener::log_listening(&listeners);
    let admin = if admin_port > 0 {
        let host = admin_host(&bind);
        let l = std::net::TcpListener::bind((host.as_str(), admin_port)).with_context(|| format!("cannot listen on admin port {host}:{admin_port}"))?;
        l.set_nonblocking(true)?;
        info!(address = %l.local_addr()?, "admin HTTP listening");
        Some(l)
    } else {
        None
    };
    write_pidfile(&srv);

    let mut senders = Vec::new();
    for i in 0..srv.threads {
        senders.push(spawn_worker(i, srv.clone())?);
    }
    let _ = srv.workers.set(senders);
    let cron = cron::spawn(srv.clone())?;

    rt.block_on(async {
        for l in listeners {
            let l = tokio::net::TcpListener::from_std(l)?;
            tokio::spawn(listener::accept_loop(srv.clone(), l, default_bind));
        }
        if let Some(l) = admin {
            tokio::spawn(admin::serve(srv.clone(), tokio::net::TcpListener::from_std(l)?));
        }
        wait_for_stop(&srv, signals).await;
        Ok::<_, anyhow::Error>(())
    })?;
    srv.begin_shutdown();
    // Give connections a moment to flush and unregister; never hang the exit.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !srv.clients.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = cron.join();
    srv.persist_at_shutdown();
    remove_pidfile(&srv);
    info!("cache-node stopped");
    Ok(())
}

fn admin_host(bind: &[String]) -> String {
    let first = bind.iter().map(|b| b.trim_start_matches('-')).next().unwrap_or("*");
    match first {
        "*" => "0.0.0.0".into(),
        "::*" => "::".into(),
        other => other.into(),
    }
}

/// A message to a worker thread. Sockets cross threads as std sockets: a tokio stream
/// is tied to the runtime that registered it.
pub enum Handoff {
    /// A newly accepted connection.
    New(std::net::TcpStream, Arc<ClientInfo>),
    /// A connection the balancer moved here from another worker.
    Moved(Box<connection::Parked>),
}

pub type HandoffTx = mpsc::UnboundedSender<Handoff>;

/// Starts worker thread `i` with its own single-threaded runtime.
fn spawn_worker(i: usize, srv: Arc<Server>) -> anyhow::Result<HandoffTx> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Handoff>();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Registered here, in worker order, so thread statistics line up with worker indexes.
    let stats = srv.stats.register_thread(table::all().len());
    // The script thread's stack: a worker runs short scripts inline (scripting/inline.rs).
    let builder = std::thread::Builder::new().name(format!("worker-{i}")).stack_size(crate::scripting::SCRIPT_STACK);
    builder.spawn(move || {
        rt.block_on(async move {
            tokio::spawn(idle_poll::run(srv.clone()));
            while let Some(msg) = rx.recv().await {
                match msg {
                    Handoff::New(s, info) => match TcpStream::from_std(s) {
                        Ok(stream) => {
                            tokio::spawn(connection::serve(srv.clone(), stream, info, stats.clone(), i));
                        }
                        Err(e) => {
                            srv.clients.unregister(info.id);
                            warn!(error = %e, "cannot register connection");
                        }
                    },
                    Handoff::Moved(parked) => {
                        tokio::spawn(connection::resume(srv.clone(), *parked, stats.clone(), i));
                    }
                }
            }
        });
    })?;
    Ok(tx)
}

/// SIGTERM and SIGINT streams (None when they cannot be handled here).
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Signals {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(t), Ok(i)) => Signals(Some((t, i))),
            (t, i) => {
                warn!(term = ?t.err(), int = ?i.err(), "cannot handle signals; stop with SHUTDOWN");
                Signals(None)
            }
        }
    }
}

async fn wait_for_stop(srv: &Server, signals: Signals) {
    // Registered before checking the flag, so a SHUTDOWN that already happened is seen.
    let shutdown = srv.shutdown.notified();
    tokio::pin!(shutdown);
    shutdown.as_mut().enable();
    if srv.is_shutting_down() {
        return;
    }
    let Some((mut term, mut int)) = signals.0 else {
        shutdown.await;
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received, shutting down"),
        _ = int.recv() => info!("SIGINT received, shutting down"),
        _ = shutdown => {}
    }
}

fn write_pidfile(srv: &Server) {
    let path = srv.config.read().str("pidfile").to_string();
    if !path.is_empty()
        && let Err(e) = std::fs::write(&path, format!("{}\n", std::process::id()))
    {
        warn!(path, error = %e, "cannot write pidfile");
    }
}

fn remove_pidfile(srv: &Server) {
    let path = srv.config.read().str("pidfile").to_string();
    if !path.is_empty() {
        let _ = std::fs::remove_file(path);
    }
}
