//! Idle polling (server/idle_poll.rs): a busy worker polls between requests instead of
//! sleeping, an idle one sleeps, `idle-poll-us 0` turns it off, and a worker whose core
//! another process wants stops polling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use common::*;

fn stat(c: &mut redis::Connection, name: &str) -> u64 {
    let info: String = q(c, &["INFO", "stats"]);
    info_field(&info, name).unwrap_or_else(|| panic!("{name} missing")).parse().unwrap()
}

/// Clients sending one GET at a time on `conns` connections until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(node: &Node, conns: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..conns)
            .map(|_| {
                let mut c = node.client();
                let stop = stop.clone();
                // Bounded even if the test fails before it stops the load.
                let deadline = Instant::now() + Duration::from_secs(60);
                std::thread::spawn(move || {
                    while !stop.load(Relaxed) && Instant::now() < deadline {
                        let _: Option<String> = q(&mut c, &["GET", "k"]);
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The node's CPU time (user + system), as INFO reports it.
fn cpu_time(c: &mut redis::Connection) -> Duration {
    let info: String = q(c, &["INFO", "cpu"]);
    let secs = |name: &str| info_field(&info, name).unwrap_or_else(|| panic!("{name} missing")).parse::<f64>().unwrap();
    Duration::from_secs_f64(secs("used_cpu_user") + secs("used_cpu_sys"))
}

#[test]
fn a_busy_worker_polls_an_idle_one_sleeps_and_zero_turns_it_off() {
    let node = Node::start(&["--threads", "1"]);
    let mut c = node.client();
    let before = stat(&mut c, "worker_idle_poll_ms");
    {
        let _load = Load::start(&node, 4);
        let polled = wait_for(Duration::from_secs(20), || stat(&mut c, "worker_idle_poll_ms") > before + 20);
        assert!(polled, "a busy worker polls: {} ms", stat(&mut c, "worker_idle_poll_ms") - before);
    }
    // Idle: no polling, and next to no CPU, over a whole second.
    let (polled, cpu) = (stat(&mut c, "worker_idle_poll_ms"), cpu_time(&mut c));
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(1) {
        let _: String = q(&mut c, &["PING"]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(stat(&mut c, "worker_idle_poll_ms") <= polled + 1, "an idle worker does not poll");
    let used = cpu_time(&mut c).saturating_sub(cpu);
    assert!(used < Duration::from_millis(200), "an idle node sleeps: {used:?} of CPU in a second");

    let _: () = q(&mut c, &["CONFIG", "SET", "idle-poll-us", "0"]);
    let off = stat(&mut c, "worker_idle_poll_ms");
    {
        let _load = Load::start(&node, 4);
        let t0 = Instant::now();
        let served = stat(&mut c, "total_commands_processed");
        // As much load as polled above, counted in commands served.
        while t0.elapsed() < Duration::from_secs(2) && stat(&mut c, "total_commands_processed") < served + 20_000 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(stat(&mut c, "worker_idle_poll_ms"), off, "idle-poll-us 0 never polls");
}

/// A process spinning on CPU 0 until killed (by the guard's Drop).
struct Hog(Child);

impl Hog {
    fn on_cpu0() -> Hog {
        Hog(Command::new("taskset").args(["-c", "0", "sh", "-c", "while :; do :; done"]).spawn().expect("taskset"))
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_worker_sharing_its_core_with_a_busy_process_stops_polling() {
    let node = Node::start(&["--threads", "1"]);
    let pinned = Command::new("taskset").args(["-a", "-p", "-c", "0", &node.pid().to_string()]).output().expect("taskset");
    assert!(pinned.status.success(), "pin the node to CPU 0: {pinned:?}");
    let _hog = Hog::on_cpu0();
    let mut c = node.client();
    let _load = Load::start(&node, 4);
    let paused = wait_for(Duration::from_secs(20), || stat(&mut c, "worker_idle_poll_pauses") > 0);
    assert!(paused, "polling pauses when the core is shared (polled {} ms)", stat(&mut c, "worker_idle_poll_ms"));
}
