//! The byte source under the reader and DUMP parsing: counts the offset (for error
//! messages), keeps the running CRC64, and reads the RDB primitives (lengths, strings,
//! doubles). Client-given lengths are never allocated up front: big strings grow as their
//! bytes actually arrive.

use std::io::{ErrorKind, Read};

use super::crc64::crc64;
use super::error::RdbError;
use super::format::len;
use super::lzf;

/// Strings up to this size are read in one go; longer ones in steps of this size.
const STEP: usize = 1 << 20;

pub struct Input<R> {
    inner: R,
    pos: u64,
    crc: u64,
    /// Whether to keep the CRC (files); DUMP payloads are checked up front instead.
    track_crc: bool,
}

/// A length, or one of the special string encodings (`11xxxxxx`).
pub enum Len {
    Plain(u64),
    Special(u8),
}

impl<R: Read> Input<R> {
    pub fn new(inner: R, track_crc: bool) -> Self {
        Input { inner, pos: 0, crc: 0, track_crc }
    }

    /// Bytes consumed so far: the offset of the next byte.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    pub fn crc(&self) -> u64 {
        self.crc
    }

    pub fn corrupt(&self, what: &'static str, at: u64) -> RdbError {
        RdbError::Corrupt { what, offset: at }
    }

    pub fn exact(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                if self.track_crc {
                    self.crc = crc64(self.crc, buf);
                }
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Err(RdbError::Truncated { offset: self.pos }),
            Err(e) => Err(RdbError::Io(e)),
        }
    }

    /// Reads without adding to the CRC (the stored checksum itself).
    pub fn exact_untracked(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        let track = std::mem::replace(&mut self.track_crc, false);
        let r = self.exact(buf);
        self.track_crc = track;
        r
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.exact(&mut b)?;
        Ok(b)
    }

    pub fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.array::<1>()?[0])
    }

    /// `n` bytes, allocated as they arrive for big `n`.
    pub fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let n = usize::try_from(n).map_err(|_| RdbError::BadLength { offset: self.pos })?;
        if n <= STEP {
            let mut v = vec![0u8; n];
            self.exact(&mut v)?;
            return Ok(v);
        }
        let mut v = Vec::with_capacity(STEP);
        while v.len() < n {
            let old = v.len();
            let step = (n - old).min(STEP);
            v.resize(old + step, 0);
            self.exact(&mut v[old..])?;
        }
        Ok(v)
    }

    pub fn len_or_special(&mut self) -> Result<Len, RdbError> {
        let at = self.pos;
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain(u64::from(b & 0x3f)),
            1 => Len::Plain((u64::from(b & 0x3f) << 8) | u64::from(self.u8()?)),
            3 => Len::Special(b & 0x3f),
            _ => match b {
                len::BITS_32 => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
                len::BITS_64 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(RdbError::BadLength { offset: at }),
            },
        })
    }

    pub fn len(&mut self) -> Result<u64, RdbError> {
        let at = self.pos;
        match self.len_or_special()? {
            Len::Plain(n) => Ok(n),
            Len::Special(_) => Err(RdbError::BadLength { offset: at }),
        }
    }

    /// A string in any of its encodings (raw, integer, LZF).
    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        let at = self.pos;
        match self.len_or_special()? {
            Len::Plain(n) => self.bytes(n),
            Len::Special(len::ENC_INT8) => Ok(i8::from_le_bytes(self.array()?).to_string().into_bytes()),
            Len::Special(len::ENC_INT16) => Ok(i16::from_le_bytes(self.array()?).to_string().into_bytes()),
            Len::Special(len::ENC_INT32) => Ok(i32::from_le_bytes(self.array()?).to_string().into_bytes()),
            Len::Special(len::ENC_LZF) => {
                let clen = self.len()?;
                let ulen = self.len()?;
                if ulen > lzf::max_expansion(usize::try_from(clen).unwrap_or(usize::MAX)) as u64 {
                    return Err(self.corrupt("LZF string length", at));
                }
                let packed = self.bytes(clen)?;
                lzf::decompress(&packed, ulen as usize).ok_or(RdbError::Corrupt { what: "LZF string", offset: at })
            }
            Len::Special(_) => Err(self.corrupt("string encoding", at)),
        }
    }

    /// A score of the old ZSET type: length byte then text; 253/254/255 = nan/inf/-inf.
    pub fn text_double(&mut self) -> Result<f64, RdbError> {
        let at = self.pos;
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let t = self.bytes(u64::from(n))?;
                parse_score_text(&t).ok_or(RdbError::Corrupt { what: "score", offset: at })
            }
        }
    }

    pub fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

/// A score written as text (old ZSET type, ziplist and listpack members), as strtod reads
/// it: decimal or exponent notation, inf, -inf, nan.
pub fn parse_score_text(t: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(t).ok()?;
    if s.is_empty() || s.len() > 400 {
        return None;
    }
    s.parse::<f64>().ok()
}
