//! The cardinality estimate from the register histogram: Otmar Ertl's "improved
//! estimator" ("New cardinality estimation algorithms for HyperLogLog sketches",
//! arXiv:1702.01284), the one Redis 7 uses. Every floating-point step is done in the
//! same order as Redis so that both report the same integer.

use super::dense::REGISTERS;
use super::murmur::Q;

/// 0.5 / ln 2, the estimator's constant for an unbounded number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// sigma(x) = x + sum_k x^(2^k) 2^(k-1), summed until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// tau(x) = (1 - x - sum_k (1 - x^(2^-k))^2 2^-k) / 3, summed until it stops changing.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

/// The estimate for a histogram of register values (`histo[v]` = registers holding `v`).
/// Values above Q+1 cannot come from the hash and are ignored, as in Redis.
pub fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - histo[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    round_like_redis(ALPHA_INF * m * m / z)
}

/// Redis rounds with `llroundl` and casts the result back through a double: a value
/// out of the i64 range (every register at its maximum makes it infinite) comes out as
/// the bit pattern of i64::MIN.
fn round_like_redis(v: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let r = v.round();
    // NaN and the infinities fall outside the range too.
    if (-TWO_63..TWO_63).contains(&r) { (r as i64) as u64 } else { 1 << 63 }
}

/// The estimate for one byte per register (the union PFCOUNT builds over several keys).
pub fn estimate_bytes(regs: &[u8]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in regs {
        histo[usize::from(r & 63)] += 1;
    }
    estimate(&histo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_zero_and_small_counts_are_exact() {
        let mut histo = [0u64; 64];
        histo[0] = REGISTERS as u64;
        assert_eq!(estimate(&histo), 0);
        // A handful of registers at 1 reads as about that many elements.
        histo[0] -= 5;
        histo[1] = 5;
        assert_eq!(estimate(&histo), 5);
    }

    #[test]
    fn saturated_registers_give_the_redis_overflow_value() {
        let mut histo = [0u64; 64];
        histo[Q as usize + 1] = REGISTERS as u64;
        assert_eq!(estimate(&histo), 1 << 63);
        let mut histo = [0u64; 64];
        histo[63] = REGISTERS as u64;
        assert_eq!(estimate(&histo), 1 << 63);
    }
}
