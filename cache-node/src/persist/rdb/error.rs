//! What can go wrong reading an RDB file or a DUMP payload. Every variant that comes
//! from the data says where: the byte offset from the start of the file (or payload).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RdbError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not an RDB file: the first bytes are not \"REDIS\" and a 4-digit version")]
    BadMagic,
    #[error("unsupported RDB version {version} (this build reads versions 1 to 11, as Redis 7.0)")]
    UnsupportedVersion { version: u32 },
    #[error("unexpected end of data at byte {offset}")]
    Truncated { offset: u64 },
    #[error("invalid length encoding at byte {offset}")]
    BadLength { offset: u64 },
    #[error("invalid {what} at byte {offset}")]
    Corrupt { what: &'static str, offset: u64 },
    #[error("unsupported value type {type_byte} for key '{key}' at byte {offset} ({name})")]
    UnsupportedType { type_byte: u8, key: String, offset: u64, name: &'static str },
    #[error("unsupported RDB opcode {opcode} at byte {offset} ({name})")]
    UnsupportedOpcode { opcode: u8, offset: u64, name: &'static str },
    #[error("duplicate {what} in a value at byte {offset}")]
    Duplicate { what: &'static str, offset: u64 },
    #[error("empty {what} at byte {offset}")]
    EmptyValue { what: &'static str, offset: u64 },
    #[error("checksum mismatch at byte {offset}: the file says {stored:#018x}, the data gives {computed:#018x}")]
    Checksum { stored: u64, computed: u64, offset: u64 },
    /// A DUMP payload whose footer (RDB version, CRC64) does not check out: RESTORE replies
    /// "ERR DUMP payload version or checksum are wrong".
    #[error("DUMP payload version or checksum are wrong")]
    DumpFooter,
}

impl RdbError {
    /// True for the DUMP-footer case, which RESTORE reports differently from bad data.
    pub fn is_dump_footer(&self) -> bool {
        matches!(self, RdbError::DumpFooter)
    }
}
