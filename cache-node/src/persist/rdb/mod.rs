//! The RDB file format, as Redis 7.0 writes and reads it: pure codecs, no I/O of their
//! own beyond the `Read`/`Write` they are given.
//!
//! - `writer.rs` / `encode.rs`: `RdbWriter` and the value encodings it writes.
//! - `reader.rs` / `decode.rs` / `input.rs`: the streaming `RdbReader` and every value
//!   encoding Redis 7.0 (and older versions) writes.
//! - `listpack.rs`, `ziplist.rs`, `intset.rs`, `zipmap.rs`: the compact blobs, validated.
//! - `crc64.rs`, `lzf.rs`: the checksum and the string compression.
//! - `dump.rs`: DUMP/RESTORE payloads.
//!
//! Not supported: streams and module values (a clear `UnsupportedType` error), module
//! aux data and pre-GA function libraries (`UnsupportedOpcode`). Redis 7.0 function
//! libraries are skipped: we have no functions.

mod crc64;
mod decode;
mod dump;
mod encode;
mod error;
mod format;
mod input;
mod intset;
mod item;
mod listpack;
mod lzf;
mod reader;
mod writer;
mod ziplist;
mod zipmap;

#[cfg(test)]
mod tests;

pub use crc64::crc64;
pub use dump::{dump_payload, parse_dump_payload};
pub use error::RdbError;
pub use format::RDB_VERSION;
pub use reader::{Checksum, RdbReader, Record};
pub use writer::{RdbWriter, WriteOptions};
