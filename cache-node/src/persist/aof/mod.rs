//! The append-only file set, laid out as Redis 7.0 does (`appendonlydir/` with a
//! manifest, one base file and incremental files).
