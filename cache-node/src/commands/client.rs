//! CLIENT subcommands.

use super::CmdError;
use super::spec::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];

/// Client names may not contain spaces, newlines or other special characters.
pub fn validate_name(name: &[u8]) -> Result<String, CmdError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::other("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}
