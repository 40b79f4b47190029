//! DUMP and RESTORE: values as Redis's serialized payload.

use super::spec::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
