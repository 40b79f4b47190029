//! Arbitrary bytes as an inline command line: `split_args` must return (no panic, no
//! endless loop) and never produce more arguments than the line has bytes.
#![no_main]

use cache_node::protocol::inline::split_args;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(args) = split_args(data) {
        assert!(args.len() <= data.len());
        let total: usize = args.iter().map(Vec::len).sum();
        assert!(total <= data.len());
    }
});
