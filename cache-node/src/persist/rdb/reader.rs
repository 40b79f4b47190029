//! Streaming RDB reader: one record at a time, never the whole file in memory.

use std::io::Read;

use super::decode;
use super::error::RdbError;
use super::format::{MAX_READ_VERSION, op};
use super::input::Input;
use crate::store::Value;

/// One record of an RDB file.
#[derive(Debug, PartialEq)]
pub enum Record {
    Aux {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    SelectDb(u64),
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    /// A key with its value and absolute expiry time (unix ms), as stored: keys already
    /// expired are returned too (the loader decides what to do with them).
    Entry {
        key: Vec<u8>,
        value: Value,
        expire_ms: Option<i64>,
    },
}

/// What the trailing checksum said, once the EOF opcode was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// Matched the data.
    Verified(u64),
    /// Stored as zero: written with `rdbchecksum no`.
    NotComputed,
    /// Files before version 5 carry none.
    Absent,
}

pub struct RdbReader<R: Read> {
    input: Input<R>,
    version: u32,
    checksum: Option<Checksum>,
    skipped_empty: u64,
}

impl<R: Read> RdbReader<R> {
    /// Reads and checks the header: "REDIS" and a 4-digit version, 1 to 11.
    pub fn new(input: R) -> Result<Self, RdbError> {
        let mut input = Input::new(input, true);
        let head: [u8; 9] = match input.array() {
            Ok(h) => h,
            Err(RdbError::Truncated { .. }) => return Err(RdbError::BadMagic),
            Err(e) => return Err(e),
        };
        if &head[..5] != b"REDIS" || !head[5..].iter().all(u8::is_ascii_digit) {
            return Err(RdbError::BadMagic);
        }
        let version = head[5..].iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        if version == 0 || version > MAX_READ_VERSION {
            return Err(RdbError::UnsupportedVersion { version });
        }
        Ok(RdbReader { input, version, checksum: None, skipped_empty: 0 })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.input.pos()
    }

    /// The checksum outcome, once `next` returned `Ok(None)`.
    pub fn checksum(&self) -> Option<Checksum> {
        self.checksum
    }

    /// Keys skipped because their collection was empty (as Redis skips them).
    pub fn skipped_empty(&self) -> u64 {
        self.skipped_empty
    }

    /// The next record; `Ok(None)` after the EOF opcode and a matching (or zero) checksum.
    // Not an Iterator: a fallible stream whose end is a checked state, not just "no more".
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Record>, RdbError> {
        let mut expire_ms = None;
        loop {
            if self.checksum.is_some() {
                return Ok(None);
            }
            let at = self.input.pos();
            let opcode = self.input.u8()?;
            match opcode {
                op::EXPIRETIME_MS => expire_ms = Some(i64::from_le_bytes(self.input.array()?)),
                op::EXPIRETIME => expire_ms = Some(i64::from(i32::from_le_bytes(self.input.array()?)) * 1000),
                // Eviction hints for the next key; the loader does not need them.
                op::IDLE => {
                    self.input.len()?;
                }
                op::FREQ => {
                    self.input.u8()?;
                }
                op::AUX => {
                    let key = self.input.string()?;
                    let value = self.input.string()?;
                    return Ok(Some(Record::Aux { key, value }));
                }
                op::RESIZEDB => {
                    let keys = self.input.len()?;
                    let expires = self.input.len()?;
                    return Ok(Some(Record::ResizeDb { keys, expires }));
                }
                op::SELECTDB => return Ok(Some(Record::SelectDb(self.input.len()?))),
                // A function library (Redis 7.0 FUNCTION LOAD): we have no functions, and a
                // cache's data does not depend on them, so the library is read and dropped.
                op::FUNCTION2 => {
                    self.input.string()?;
                }
                op::FUNCTION_PRE_GA => {
                    return Err(RdbError::UnsupportedOpcode { opcode, offset: at, name: "function library (pre-GA format)" });
                }
                op::MODULE_AUX => return Err(RdbError::UnsupportedOpcode { opcode, offset: at, name: "module data" }),
                op::EOF => {
                    self.checksum = Some(self.finish()?);
                    return Ok(None);
                }
                t if decode::is_value_type(t) => {
                    let key = self.input.string()?;
                    match decode::value(&mut self.input, t, &key) {
                        Ok(value) => return Ok(Some(Record::Entry { key, value, expire_ms })),
                        Err(RdbError::EmptyValue { .. }) => {
                            self.skipped_empty += 1;
                            expire_ms = None;
                        }
                        Err(e) => return Err(e),
                    }
                }
                _ => return Err(RdbError::Corrupt { what: "opcode or value type", offset: at }),
            }
        }
    }

    fn finish(&mut self) -> Result<Checksum, RdbError> {
        if self.version < 5 {
            return Ok(Checksum::Absent);
        }
        let computed = self.input.crc();
        let offset = self.input.pos();
        let mut b = [0u8; 8];
        self.input.exact_untracked(&mut b)?;
        match u64::from_le_bytes(b) {
            0 => Ok(Checksum::NotComputed),
            stored if stored == computed => Ok(Checksum::Verified(stored)),
            stored => Err(RdbError::Checksum { stored, computed, offset }),
        }
    }
}
