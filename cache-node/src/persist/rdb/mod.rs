//! The RDB file format, as Redis 7.0 writes and reads it.
