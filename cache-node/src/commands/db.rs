//! db commands.

use super::spec::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
