//! Wire protocols. Pure codecs: they read from and write to byte buffers and never do
//! I/O, so they can be fuzzed and property-tested in isolation.

pub mod inline;
pub mod reply;
pub mod request;

pub use reply::{Reply, RespVersion};
pub use request::{Limits, ParseError, Request, parse_request};
