//! PFSELFTEST: the checks Redis runs from inside the server — register packing against
//! a plain array, sparse and dense HLLs agreeing as they grow, and the estimate staying
//! within six standard errors at every power of ten.

use super::dense::{self, DENSE_BYTES, REGISTERS};
use super::hll::{self, Encoding};

const PACKING_ROUNDS: usize = 100;
const ELEMENTS: u64 = 1_000_000;

pub fn run() -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_BYTES];
    let mut model = vec![0u8; REGISTERS];
    for _ in 0..PACKING_ROUNDS {
        for (i, m) in model.iter_mut().enumerate() {
            *m = fastrand::u8(0..64);
            dense::put(&mut regs, i, *m);
        }
        for (i, &m) in model.iter().enumerate() {
            let got = dense::get(&regs, i);
            if got != m {
                return Err(format!("Register {i} should be {m} but is {got}"));
            }
        }
    }

    let mut dense_hll = hll::new_empty();
    hll::to_dense(&mut dense_hll).map_err(|_| "empty HLL is corrupted".to_string())?;
    let mut sparse_hll = hll::new_empty();
    let rel_err = 1.04 / (REGISTERS as f64).sqrt();
    let seed = fastrand::u64(..);
    let mut checkpoint = 1u64;
    for j in 1..=ELEMENTS {
        let element = (j ^ seed).to_le_bytes();
        let _ = hll::add(&mut dense_hll, &element, hll::SPARSE_MAX_BYTES);
        let _ = hll::add(&mut sparse_hll, &element, hll::SPARSE_MAX_BYTES);
        if j != checkpoint {
            continue;
        }
        if j < hll::SPARSE_MAX_BYTES as u64 / 2 && hll::encoding(&sparse_hll) != Some(Encoding::Sparse) {
            return Err("sparse encoding not used".into());
        }
        let card = hll::count(&dense_hll).map_err(|_| "dense HLL is corrupted".to_string())?;
        if hll::count(&sparse_hll) != Ok(card) {
            return Err("dense/sparse disagree".into());
        }
        // Small counts are exact but for the odd collision.
        let max_err = if j == 10 { 1 } else { (rel_err * 6.0 * j as f64).ceil() as u64 };
        let err = card.abs_diff(j);
        if err > max_err {
            return Err(format!("Too big error. card:{j} abserr:{err}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}
