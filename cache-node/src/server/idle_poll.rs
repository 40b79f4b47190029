//! Polling instead of sleeping in the short gaps of a busy worker.
//!
//! A worker that finds no ready connection sleeps in `epoll_wait`, and the next request
//! pays for waking it: the client's `send` runs the kernel's wake-up of the sleeping
//! thread (an inter-processor interrupt when it sleeps on another core). A worker busy
//! most of the time sleeps and is woken thousands of times a second, and with one
//! request per round trip that wake-up is a large part of what each request costs the
//! client. So while a worker is busy at least `BUSY` of the time, a poller task keeps it
//! polling its sockets (a zero-timeout `epoll_wait` each turn) for up to `idle-poll-us`
//! after the last request, and only then lets it sleep. A worker under light load
//! sleeps at once, as before: its CPU use stays proportional to its work.
//!
//! A worker's utilisation is the CPU time its thread used over the wall time, less the
//! turns it polled and found nothing: polling is idle time, so it does not make the
//! worker look busier and keep itself going.
//!
//! Polling only pays while the core it spins on is otherwise idle. When other threads
//! want that core (clients on the same machine, a node packed with other pods), the
//! kernel shares it between them and the poller, and each turn it spins is a turn they
//! wait. So every `GUARD_WINDOW` of polling the poller compares the CPU time its thread
//! got with the wall time that passed; when other threads took more than `SHARED` of
//! it, it stops polling for a while (`Backoff`).

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::state::Server;

/// Utilisation (CPU time spent on work over wall time) above which a worker polls.
pub const BUSY: f64 = 0.5;
/// Utilisation is measured over intervals at least this long.
const MEASURE: Duration = Duration::from_millis(5);
/// Polling time over which the core's sharing is judged.
const GUARD_WINDOW: Duration = Duration::from_millis(10);
/// Share of a guard window spent off the CPU above which the core is taken to be
/// wanted by others. Alone on its core a poller loses a few percent to interrupts and
/// to short wake-ups of other threads; sharing it with a busy thread, about half.
pub const SHARED: f64 = 0.2;
/// First pause of polling after contention, and its ceiling.
pub const BACKOFF_MIN: Duration = Duration::from_millis(50);
pub const BACKOFF_MAX: Duration = Duration::from_millis(1600);

thread_local! {
    /// Ready events this worker has handled.
    static EVENTS: Cell<u64> = const { Cell::new(0) };
    /// Set while the poller waits for work; cleared by the event that wakes it.
    static PARKED: Cell<bool> = const { Cell::new(false) };
    static WAKE: Arc<Notify> = Arc::new(Notify::new());
}

/// Called by a connection for each ready event it handles.
#[inline]
pub fn note_event() {
    EVENTS.with(|e| e.set(e.get().wrapping_add(1)));
    if PARKED.with(|p| p.replace(false)) {
        WAKE.with(|w| w.notify_one());
    }
}

/// Whether a worker busy `util` of the time polls for `window_us` before sleeping.
pub fn should_poll(util: f64, window_us: u64) -> bool {
    window_us > 0 && util >= BUSY
}

/// The share of `wall` a thread spent working: its CPU time less its idle polling.
fn utilisation(cpu: Duration, polled: Duration, wall: Duration) -> f64 {
    let wall = wall.as_secs_f64();
    if wall <= 0.0 { 0.0 } else { (cpu.saturating_sub(polled).as_secs_f64() / wall).clamp(0.0, 1.0) }
}

/// CPU time this thread has used (None when the clock cannot be read).
fn thread_cpu() -> Option<Duration> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Whether other threads took more than `SHARED` of `wall` from a thread that wanted
/// all of it and got `cpu`.
pub fn contended(wall: Duration, cpu: Duration) -> bool {
    wall.saturating_sub(cpu).as_secs_f64() > SHARED * wall.as_secs_f64()
}

/// When polling is paused after contention, and for how long the next pause lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    until: Option<Instant>,
    next: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { until: None, next: BACKOFF_MIN }
    }

    pub fn paused(&self, now: Instant) -> bool {
        self.until.is_some_and(|u| now < u)
    }

    /// After a guard window of polling, `contended` or not.
    pub fn after_window(&mut self, now: Instant, contended: bool) {
        if contended {
            self.until = Some(now + self.next);
            self.next = (self.next * 2).min(BACKOFF_MAX);
        } else {
            self.next = BACKOFF_MIN;
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// The poller: runs on every worker's runtime for its lifetime.
pub async fn run(srv: Arc<Server>) {
    let wake = WAKE.with(Arc::clone);
    // Without the thread's CPU clock there is no telling how busy the worker is, nor
    // whether polling steals a core: it never polls.
    let Some(mut cpu_at) = thread_cpu() else {
        return;
    };
    let mut since = Instant::now();
    let mut polled = Duration::ZERO;
    let mut util = 0.0;
    let mut backoff = Backoff::new();
    loop {
        let now = Instant::now();
        if now.duration_since(since) >= MEASURE {
            let cpu = thread_cpu().unwrap_or(cpu_at);
            util = utilisation(cpu.saturating_sub(cpu_at), polled, now.duration_since(since));
            (since, cpu_at, polled) = (now, cpu, Duration::ZERO);
        }
        let window_us = srv.tun.idle_poll_us.load(Relaxed);
        if should_poll(util, window_us) && !backoff.paused(now) {
            let idle = spin(window_us, &mut backoff).await;
            polled += idle;
            srv.stats.idle_poll_us.fetch_add(idle.as_micros() as u64, Relaxed);
            if backoff.paused(Instant::now()) {
                srv.stats.idle_poll_pauses.fetch_add(1, Relaxed);
            }
        }
        PARKED.with(|p| p.set(true));
        wake.notified().await;
    }
}

/// Yields to the worker's other tasks until `window_us` passes with no event, or the
/// guard sees contention; returns the time spent in turns that found nothing to do.
/// Each yield makes the runtime poll its sockets without blocking before it runs them.
async fn spin(window_us: u64, backoff: &mut Backoff) -> Duration {
    let window = Duration::from_micros(window_us);
    let mut polled = Duration::ZERO;
    let Some(mut cpu_at) = thread_cpu() else {
        return polled;
    };
    let mut seen = EVENTS.with(Cell::get);
    let start = Instant::now();
    let (mut quiet_since, mut guard_at, mut turn_at) = (start, start, start);
    let mut polled_at = polled;
    loop {
        tokio::task::yield_now().await;
        let now = Instant::now();
        let events = EVENTS.with(Cell::get);
        if events != seen {
            seen = events;
            quiet_since = now;
        } else {
            polled += now.duration_since(turn_at);
            if now.duration_since(quiet_since) >= window {
                return polled;
            }
        }
        turn_at = now;
        if now.duration_since(guard_at) >= GUARD_WINDOW {
            let Some(cpu) = thread_cpu() else { return polled };
            let (wall, used) = (now.duration_since(guard_at), cpu.saturating_sub(cpu_at));
            backoff.after_window(now, contended(wall, used));
            // The load may have fallen while requests still come often enough to keep
            // the spin going: stop once the work no longer fills half the time.
            if backoff.paused(now) || !should_poll(utilisation(used, polled.saturating_sub(polled_at), wall), window_us) {
                return polled;
            }
            (cpu_at, guard_at, polled_at) = (cpu, now, polled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_only_when_busy_and_enabled() {
        assert!(should_poll(0.7, 50));
        assert!(!should_poll(0.3, 50), "a lightly loaded worker sleeps at once");
        assert!(!should_poll(1.0, 0), "idle-poll-us 0 turns polling off");
    }

    #[test]
    fn contention_pauses_polling_with_a_doubling_pause() {
        let t0 = Instant::now();
        let mut b = Backoff::new();
        b.after_window(t0, false);
        assert!(!b.paused(t0), "a window alone on the core keeps polling");
        b.after_window(t0, true);
        assert!(b.paused(t0 + BACKOFF_MIN / 2));
        assert!(!b.paused(t0 + BACKOFF_MIN));
        let t1 = t0 + BACKOFF_MIN;
        b.after_window(t1, true);
        assert!(b.paused(t1 + BACKOFF_MIN * 3 / 2), "the second pause is twice as long");
        for _ in 0..10 {
            b.after_window(t1, true);
        }
        assert!(!b.paused(t1 + BACKOFF_MAX), "pauses stop growing at BACKOFF_MAX");
        b.after_window(t1, false);
        b.after_window(t1, true);
        assert!(!b.paused(t1 + BACKOFF_MIN), "a quiet window starts the pauses over");
    }

    #[test]
    fn a_core_shared_with_a_busy_thread_is_contended() {
        let ms = Duration::from_millis;
        assert!(!contended(ms(10), ms(10)));
        assert!(!contended(ms(10), ms(9)), "a few percent lost to interrupts is not contention");
        assert!(contended(ms(10), ms(5)), "half the window went to another thread");
        assert!(!contended(ms(10), ms(11)), "clock skew is not contention");
    }

    #[test]
    fn the_thread_cpu_clock_advances_with_work() {
        let a = thread_cpu().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut x = 0u64;
        while thread_cpu().unwrap() - a < Duration::from_millis(2) {
            assert!(Instant::now() < deadline, "2 ms of CPU in 10 s of spinning");
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(x > 0);
    }

    #[test]
    fn utilisation_is_cpu_spent_working_over_wall_time() {
        let ms = Duration::from_millis;
        assert!((utilisation(ms(6), ms(0), ms(8)) - 0.75).abs() < 1e-9);
        assert!((utilisation(ms(8), ms(4), ms(8)) - 0.5).abs() < 1e-9, "polling is not work");
        assert_eq!(utilisation(ms(9), ms(0), ms(5)), 1.0, "clamped");
        assert_eq!(utilisation(ms(1), ms(2), ms(5)), 0.0);
        assert_eq!(utilisation(ms(1), ms(0), Duration::ZERO), 0.0);
    }
}
