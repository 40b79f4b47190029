//! The 24 access bits of every entry, as Redis keeps them: under an LRU (or no) policy
//! the LRU clock in seconds; under an LFU policy 16 bits of minutes since the epoch
//! (when the counter was last decremented) above an 8-bit logarithmic access counter.
//!
//! The store knows no configuration: the server sets the mode and the LFU parameters
//! on load and on CONFIG SET. Reading them is one relaxed load per access.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

use super::partition::lru_clock;

/// The counter of a new entry, so it is not evicted before it had a chance to be used.
pub const LFU_INIT_VAL: u8 = 5;

static LFU: AtomicBool = AtomicBool::new(false);
static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static DECAY_MINUTES: AtomicU32 = AtomicU32::new(1);

/// Switches the meaning of the access bits (an LFU policy or not) and sets the LFU
/// parameters (`lfu-log-factor`, `lfu-decay-time`).
pub fn configure(lfu: bool, log_factor: u32, decay_minutes: u32) {
    LFU.store(lfu, Relaxed);
    LOG_FACTOR.store(log_factor, Relaxed);
    DECAY_MINUTES.store(decay_minutes, Relaxed);
}

pub fn lfu_mode() -> bool {
    LFU.load(Relaxed)
}

/// The LFU parameters in effect: (log factor, decay time in minutes).
pub fn lfu_params() -> (u32, u32) {
    (LOG_FACTOR.load(Relaxed), DECAY_MINUTES.load(Relaxed))
}

/// Access bits of a new entry.
#[inline]
pub fn fresh(now_ms: i64) -> u32 {
    if lfu_mode() { lfu_pack(minutes(now_ms), LFU_INIT_VAL) } else { lru_clock(now_ms) }
}

/// Access bits after an access to an entry whose bits were `old`.
#[inline]
pub fn touched(old: u32, now_ms: i64) -> u32 {
    if !lfu_mode() {
        return lru_clock(now_ms);
    }
    let (log_factor, decay) = lfu_params();
    let now = minutes(now_ms);
    let counter = lfu_decayed(old, now, decay);
    lfu_pack(now, lfu_log_incr(counter, log_factor, fastrand::f64()))
}

/// Minutes since the epoch, 16 bits wide.
pub fn minutes(now_ms: i64) -> u16 {
    ((now_ms / 60_000) as u64 & 0xFFFF) as u16
}

pub fn lfu_pack(minutes: u16, counter: u8) -> u32 {
    (u32::from(minutes) << 8) | u32::from(counter)
}

/// Minutes between the entry's stamp and `now`, on the wrapping 16-bit clock.
pub fn lfu_elapsed(bits: u32, now: u16) -> u32 {
    let then = (bits >> 8) as u16;
    if now >= then { u32::from(now - then) } else { 65535 - u32::from(then) + u32::from(now) }
}

/// The counter after decaying it by one per `decay` minutes elapsed (0 = no decay):
/// what OBJECT FREQ reports and what LFU eviction ranks by.
pub fn lfu_decayed(bits: u32, now: u16, decay: u32) -> u8 {
    let counter = (bits & 0xFF) as u8;
    let periods = lfu_elapsed(bits, now).checked_div(decay).unwrap_or(0);
    counter.saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX))
}

/// Logarithmic increment: the higher the counter, the less likely an access raises it
/// (`r` is a uniform draw in [0, 1)).
pub fn lfu_log_incr(counter: u8, log_factor: u32, r: f64) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if r < p { counter + 1 } else { counter }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_grows_logarithmically_and_saturates() {
        assert_eq!(lfu_log_incr(0, 10, 0.99), 1, "below the initial value every hit counts");
        assert_eq!(lfu_log_incr(5, 10, 0.99), 6);
        assert_eq!(lfu_log_incr(6, 10, 0.5), 6, "p = 1/11");
        assert_eq!(lfu_log_incr(6, 10, 0.05), 7);
        assert_eq!(lfu_log_incr(255, 0, 0.0), 255);
        // A million hits at factor 10 land near Redis's table (255 is reached at ~1M).
        let mut c = LFU_INIT_VAL;
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..100_000 {
            c = lfu_log_incr(c, 10, rng.f64());
        }
        assert!((120..=200).contains(&c), "{c}");
    }

    #[test]
    fn decay_is_one_per_period_on_a_wrapping_clock() {
        let bits = lfu_pack(100, 20);
        assert_eq!(lfu_decayed(bits, 100, 1), 20);
        assert_eq!(lfu_decayed(bits, 105, 1), 15);
        assert_eq!(lfu_decayed(bits, 105, 2), 18);
        assert_eq!(lfu_decayed(bits, 105, 0), 20, "decay 0 never decays");
        assert_eq!(lfu_decayed(bits, 1000, 1), 0);
        let late = lfu_pack(65530, 9);
        assert_eq!(lfu_elapsed(late, 3), 8);
        assert_eq!(lfu_decayed(late, 3, 1), 1);
    }
}
