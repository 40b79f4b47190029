//! LPUSH ... (lists). The family's commands are added here.

use super::spec::CommandSpec;

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[];
