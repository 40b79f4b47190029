//! RDB file writer: header and aux fields, databases, entries, EOF and checksum. Each
//! entry is encoded into a reused buffer, then checksummed and written in one call.

use std::io::Write;

use super::crc64::crc64;
use super::encode::{put_len, put_string, put_value, type_of};
use super::format::{RDB_VERSION, op};
use crate::store::ValueRef;

#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    /// `rdbcompression`: LZF for strings longer than 20 bytes when it saves space.
    pub compress: bool,
    /// `rdbchecksum`: without it the trailing checksum is written as zero.
    pub checksum: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { compress: true, checksum: true }
    }
}

pub struct RdbWriter<W: Write> {
    out: W,
    opts: WriteOptions,
    crc: u64,
    written: u64,
    buf: Vec<u8>,
}

/// The scratch buffer is given back when a huge value grew it past this.
const KEEP_BUF: usize = 1 << 20;

impl<W: Write> RdbWriter<W> {
    /// Writes "REDIS0010" and the aux fields given by the caller (redis-ver, redis-bits,
    /// ctime, used-mem, aof-base...).
    pub fn new(out: W, opts: WriteOptions, aux: &[(&str, &[u8])]) -> std::io::Result<Self> {
        let mut w = RdbWriter { out, opts, crc: 0, written: 0, buf: Vec::with_capacity(4096) };
        w.buf.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
        for (k, v) in aux {
            w.buf.push(op::AUX);
            put_string(&mut w.buf, k.as_bytes(), false);
            put_string(&mut w.buf, v, false);
        }
        w.flush_buf()?;
        Ok(w)
    }

    /// SELECTDB + RESIZEDB opcodes.
    pub fn select_db(&mut self, db: usize, keys: u64, expires: u64) -> std::io::Result<()> {
        self.buf.push(op::SELECTDB);
        put_len(&mut self.buf, db as u64);
        self.buf.push(op::RESIZEDB);
        put_len(&mut self.buf, keys);
        put_len(&mut self.buf, expires);
        self.flush_buf()
    }

    /// One key: optional EXPIRETIME_MS, then type byte, key, value.
    pub fn entry(&mut self, key: &[u8], value: ValueRef<'_>, expire_ms: Option<i64>) -> std::io::Result<()> {
        if let Some(at) = expire_ms {
            self.buf.push(op::EXPIRETIME_MS);
            self.buf.extend_from_slice(&at.to_le_bytes());
        }
        self.buf.push(type_of(value));
        put_string(&mut self.buf, key, self.opts.compress);
        put_value(&mut self.buf, value, self.opts.compress);
        self.flush_buf()
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// EOF opcode + 8-byte little-endian CRC64 (0 when checksums are off). Returns the
    /// underlying writer (not flushed: the caller flushes and syncs).
    pub fn finish(mut self) -> std::io::Result<W> {
        self.buf.push(op::EOF);
        self.flush_buf()?;
        let crc = if self.opts.checksum { self.crc } else { 0 };
        self.out.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        Ok(self.out)
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        if self.opts.checksum {
            self.crc = crc64(self.crc, &self.buf);
        }
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        if self.buf.capacity() > KEEP_BUF {
            self.buf = Vec::with_capacity(4096);
        }
        Ok(())
    }
}
