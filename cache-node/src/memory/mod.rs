//! Memory: how much the server uses (accounting), and keeping it under `maxmemory`
//! (the eviction policy as pure decisions, and the engine that applies them).

pub mod accounting;
pub mod evict;
pub mod policy;
pub mod report;
pub mod usage;
