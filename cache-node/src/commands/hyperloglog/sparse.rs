//! The sparse encoding: a run-length list of opcodes covering the 16384 registers in
//! order.
//!
//! - ZERO  `00xxxxxx`: 1..=64 registers set to 0.
//! - XZERO `01xxxxxx yyyyyyyy`: 1..=16384 registers set to 0 (14-bit length).
//! - VAL   `1vvvvvxx`: 1..=4 registers set to 1..=32.
//!
//! Updates split the opcode holding the register and then merge equal neighbours over
//! a short window, exactly as Redis does, so the same additions give the same bytes
//! here and there. Corrupted payloads are read as Redis reads them: a byte missing at
//! the end reads as the zero that terminates a Redis string.

use super::dense::{self, REGISTERS};

/// Largest value a VAL opcode holds; larger registers force the dense encoding.
pub const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// The payload of an empty HLL: XZERO opcodes covering every register.
pub fn empty() -> Vec<u8> {
    let mut out = Vec::new();
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        push_xzero(&mut out, n);
        left -= n;
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Zero,
    XZero,
    Val(u8),
}

/// One decoded opcode: what it holds, how many registers it covers, its size in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Op {
    pub kind: Kind,
    pub span: usize,
    pub len: usize,
}

fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}

fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}

fn val_len(b: u8) -> usize {
    usize::from(b & 0x3) + 1
}

fn val_byte(value: u8, len: usize) -> u8 {
    0x80 | (value - 1) << 2 | (len - 1) as u8
}

fn push_zeros(out: &mut impl Extend<u8>, n: usize) {
    if n > ZERO_MAX_LEN { push_xzero(out, n) } else { out.extend([(n - 1) as u8]) }
}

fn push_xzero(out: &mut impl Extend<u8>, n: usize) {
    let l = n - 1;
    out.extend([0x40 | (l >> 8) as u8, (l & 0xff) as u8]);
}

/// Decodes the opcode at `at` (which must be inside `p`).
pub fn op_at(p: &[u8], at: usize) -> Op {
    let b = p[at];
    match b & 0xc0 {
        0x00 => Op { kind: Kind::Zero, span: usize::from(b & 0x3f) + 1, len: 1 },
        0x40 => {
            let lo = p.get(at + 1).copied().unwrap_or(0);
            Op { kind: Kind::XZero, span: (usize::from(b & 0x3f) << 8 | usize::from(lo)) + 1, len: 2 }
        }
        _ => Op { kind: Kind::Val(val_value(b)), span: val_len(b), len: 1 },
    }
}

/// The opcodes of a payload in order.
pub fn ops(p: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= p.len() {
            return None;
        }
        let op = op_at(p, at);
        at += op.len;
        Some(op)
    })
}

/// Folds the registers into `max` (one byte per register). False when the opcodes do
/// not cover exactly 16384 registers; `max` may then be partly updated.
pub fn merge_into(p: &[u8], max: &mut [u8]) -> bool {
    let mut idx = 0usize;
    for op in ops(p) {
        match op.kind {
            Kind::Zero | Kind::XZero => idx += op.span,
            Kind::Val(v) => {
                if idx + op.span > REGISTERS {
                    break;
                }
                for m in &mut max[idx..idx + op.span] {
                    *m = (*m).max(v);
                }
                idx += op.span;
            }
        }
    }
    idx == REGISTERS
}

/// The packed dense registers holding the same values, or None when the payload is
/// corrupted.
pub fn to_dense(p: &[u8]) -> Option<Vec<u8>> {
    let mut regs = vec![0u8; dense::DENSE_BYTES];
    let mut idx = 0usize;
    for op in ops(p) {
        match op.kind {
            Kind::Zero | Kind::XZero => idx += op.span,
            Kind::Val(v) => {
                if idx + op.span > REGISTERS {
                    break;
                }
                for i in idx..idx + op.span {
                    dense::put(&mut regs, i, v);
                }
                idx += op.span;
            }
        }
    }
    (idx == REGISTERS).then_some(regs)
}

/// Adds the register histogram to `histo`; false when the opcodes do not cover exactly
/// 16384 registers.
pub fn histogram(p: &[u8], histo: &mut [u64; 64]) -> bool {
    let mut idx = 0usize;
    for op in ops(p) {
        let v = match op.kind {
            Kind::Zero | Kind::XZero => 0,
            Kind::Val(v) => v,
        };
        histo[usize::from(v)] += op.span as u64;
        idx += op.span;
    }
    idx == REGISTERS
}

/// What [`set`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The register already held `count` or more.
    Unchanged,
    Updated,
    /// The value does not fit a VAL opcode, or the payload would grow past the limit:
    /// the caller converts to dense and sets the register there. Nothing was changed.
    Promote,
}

/// Raises register `index` to `count` in the sparse payload `s[start..]`. `max_len` is
/// the largest total string length (`hll-sparse-max-bytes`) the update may produce.
/// Err when no opcode covers the register (a corrupted payload).
pub fn set(s: &mut Vec<u8>, start: usize, index: usize, count: u8, max_len: usize) -> Result<Outcome, ()> {
    // No register is ever lowered (and a VAL opcode cannot hold 0).
    if count == 0 {
        return Ok(Outcome::Unchanged);
    }
    if count > VAL_MAX_VALUE {
        return Ok(Outcome::Promote);
    }
    // Step 1: find the opcode covering `index`, the one before it, and its first register.
    let end = s.len();
    let (mut at, mut first, mut prev) = (start, 0usize, None);
    let mut op = None;
    while at < end {
        let o = op_at(s, at);
        if index < first + o.span {
            op = Some(o);
            break;
        }
        prev = Some(at);
        at += o.len;
        first += o.span;
    }
    let Some(op) = op else { return Err(()) };

    // Step 2: the trivial cases update one byte in place; the general case builds the
    // up to 5 bytes (zeros, value, zeros) that replace the opcode.
    let mut seq: smallvec::SmallVec<[u8; 5]> = smallvec::SmallVec::new();
    match op.kind {
        Kind::Val(old) if old >= count => return Ok(Outcome::Unchanged),
        Kind::Val(_) | Kind::Zero if op.span == 1 => {
            s[at] = val_byte(count, 1);
            merge_window(s, prev.unwrap_or(start));
            return Ok(Outcome::Updated);
        }
        Kind::Zero | Kind::XZero => {
            let last = first + op.span - 1;
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        }
        Kind::Val(old) => {
            let last = first + op.span - 1;
            if index != first {
                seq.push(val_byte(old, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(old, last - index));
            }
        }
    }

    // Step 3: splice the new bytes in place of the opcode.
    let delta = seq.len() as isize - op.len as isize;
    if delta > 0 && end + delta as usize > max_len {
        return Ok(Outcome::Promote);
    }
    let new_len = end.saturating_add_signed(delta);
    s.splice(at..(at + op.len).min(end), seq);
    // A two-byte opcode cut short at the end of a corrupted payload: Redis keeps the
    // length arithmetic of a whole one, dropping the last byte written.
    s.truncate(new_len);
    merge_window(s, prev.unwrap_or(start));
    Ok(Outcome::Updated)
}

/// Step 4: merges adjacent VAL opcodes of equal value over the 5 opcodes from `at`.
fn merge_window(s: &mut Vec<u8>, mut at: usize) {
    let mut budget = 5;
    while at < s.len() && budget > 0 {
        budget -= 1;
        let b = s[at];
        if !is_val(b) {
            at += if b & 0xc0 == 0x40 { 2 } else { 1 };
            continue;
        }
        if let Some(&nb) = s.get(at + 1)
            && is_val(nb)
            && val_value(b) == val_value(nb)
        {
            let len = val_len(b) + val_len(nb);
            if len <= VAL_MAX_LEN {
                s[at + 1] = val_byte(val_value(b), len);
                s.remove(at);
                // Try the merged opcode against its right neighbour too.
                continue;
            }
        }
        at += 1;
    }
}

/// PFDEBUG DECODE's text: `z:len`, `Z:len`, `v:value,len` separated by spaces.
pub fn describe(p: &[u8]) -> String {
    let parts: Vec<String> = ops(p)
        .map(|op| match op.kind {
            Kind::Zero => format!("z:{}", op.span),
            Kind::XZero => format!("Z:{}", op.span),
            Kind::Val(v) => format!("v:{},{}", v, op.span),
        })
        .collect();
    parts.join(" ")
}
