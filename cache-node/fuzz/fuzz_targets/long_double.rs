//! Arbitrary bytes as an INCRBYFLOAT argument: reading must return (no panic, bounded
//! work), and whatever reads as a finite number prints as a plain decimal that reads back.
#![no_main]

use cache_node::commands::strings::long_double::LongDouble;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 5 * 1024 {
        return;
    }
    if let Some(v) = LongDouble::parse(data) {
        let sum = v + v;
        if v.is_finite() {
            let text = v.to_human();
            assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'));
            assert!(LongDouble::parse(text.as_bytes()).is_some());
        }
        if sum.is_finite() {
            let _ = sum.to_human();
        }
    }
});
