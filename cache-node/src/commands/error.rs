//! Command errors. Their Display text is exactly what Redis 7 sends after the `-`, since
//! clients parse some of them (WRONGTYPE, MOVED, NOAUTH...).

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CmdError {
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand { name: String, args: String },
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand { cmd: String, sub: String },
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(String),
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    #[error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")]
    AuthNotConfigured,
    #[error("NOPROTO unsupported protocol version")]
    NoProto,
    #[error("ERR bit offset is not an integer or out of range")]
    BitOffset,
    #[error("ERR bit is not an integer or out of range")]
    BitValue,
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    #[error("ERR offset is out of range")]
    OffsetOutOfRange,
    /// Any other message, already in Redis's wording (including its prefix).
    #[error("{0}")]
    Other(String),
}

impl CmdError {
    pub fn other(msg: impl Into<String>) -> Self {
        CmdError::Other(msg.into())
    }

    /// The error prefix used for error statistics (`errorstat_ERR`, `errorstat_WRONGTYPE`).
    pub fn code(&self) -> String {
        let s = self.to_string();
        s.split(' ').next().unwrap_or("ERR").to_string()
    }
}

pub type CmdResult = Result<(), CmdError>;
