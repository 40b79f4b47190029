//! Listening sockets and the accept loop. Accepted connections are dealt round-robin to
//! the worker threads, each of which runs its own single-threaded runtime: a connection
//! lives on one thread for its whole life, so serving it involves no cross-thread
//! wake-ups, and the two workers only meet at partition locks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tracing::{info, warn};

use super::clients::ClientInfo;
use super::state::{Server, now_ms};

/// Binds every address of the `bind` setting. A leading `-` marks an address whose
/// failure is tolerated (as in Redis's default `* -::*`).
pub fn bind_all(addrs: &[String], port: u16, backlog: i32) -> anyhow::Result<Vec<std::net::TcpListener>> {
    let mut out = Vec::new();
    let mut port = port;
    for a in addrs {
        let (optional, a) = match a.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, a.as_str()),
        };
        let ip: IpAddr = match a {
            "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            "::*" => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            other => match other.parse() {
                Ok(ip) => ip,
                Err(_) => anyhow::bail!("invalid bind address '{other}'"),
            },
        };
        match bind_one(SocketAddr::new(ip, port), backlog) {
            Ok(l) => {
                // With port 0, later addresses share the port the first one got.
                if port == 0 {
                    port = l.local_addr()?.port();
                }
                out.push(l);
            }
            Err(e) if optional => {
                warn!(address = a, error = %e, "optional bind address unavailable")
            }
            Err(e) => anyhow::bail!("cannot listen on {a}:{port}: {e}"),
        }
    }
    if out.is_empty() {
        anyhow::bail!("no address to listen on");
    }
    Ok(out)
}

fn bind_one(addr: SocketAddr, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    s.listen(backlog)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

const DENIED: &[u8] = b"-DENIED cache-node is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. To accept other clients, set a password (requirepass), or bind explicit addresses, or disable protected mode (protected-mode no).\r\n";

/// Accepts connections until shutdown and hands each to a worker.
pub async fn accept_loop(srv: Arc<Server>, listener: TcpListener, default_bind: bool) {
    let mut next = 0usize;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = srv.shutdown.notified() => return,
        };
        if srv.is_shutting_down() {
            return;
        }
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        srv.stats.connections_received.fetch_add(1, Relaxed);
        if srv.clients.len() >= srv.tun.maxclients.load(Relaxed) {
            srv.stats.rejected_connections.fetch_add(1, Relaxed);
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
            continue;
        }
        if default_bind && srv.tun.protected_mode.load(Relaxed) && !srv.tun.has_password.load(Relaxed) && !is_loopback(peer.ip()) {
            srv.stats.rejected_connections.fetch_add(1, Relaxed);
            let _ = stream.write_all(DENIED).await;
            continue;
        }
        let _ = stream.set_nodelay(true);
        let ka = srv.tun.tcp_keepalive_secs.load(Relaxed);
        if ka > 0 {
            let _ = SockRef::from(&stream).set_tcp_keepalive(&TcpKeepalive::new().with_time(Duration::from_secs(ka)));
        }
        let laddr = stream.local_addr().unwrap_or(peer);
        let id = srv.clients.next_id();
        use std::os::fd::AsRawFd;
        let info = Arc::new(ClientInfo::new(id, peer, laddr, stream.as_raw_fd(), now_ms()));
        srv.clients.register(info.clone());
        let Some(workers) = srv.workers.get().filter(|w| !w.is_empty()) else {
            srv.clients.unregister(id);
            return;
        };
        // Adaptive placement packs new connections where the balancer says; otherwise
        // they are dealt round-robin.
        let w = if srv.tun.adaptive_threads.load(Relaxed) {
            srv.home.load(Relaxed) % workers.len()
        } else {
            next = next.wrapping_add(1);
            next % workers.len()
        };
        info.worker.store(w, Relaxed);
        let handed = stream.into_std().map(|s| workers[w].send(super::Handoff::New(s, info)));
        if !matches!(handed, Ok(Ok(()))) {
            // The socket is closed when the failed message is dropped, after unregistering.
            srv.clients.unregister(id);
            drop(handed);
        }
    }
}

pub fn log_listening(listeners: &[std::net::TcpListener]) {
    for l in listeners {
        if let Ok(a) = l.local_addr() {
            info!(address = %a, "listening for RESP clients");
        }
    }
}
