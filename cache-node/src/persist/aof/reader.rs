//! Reads RESP multibulk commands (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per argument)
//! back from an append-only file, one command at a time.
//!
//! Lines starting with `#` between commands are annotations (Redis writes `#TS:...` with
//! `aof-timestamp-enabled`) and are skipped. A file that ends inside a command is
//! `Truncated`, with the length of its complete commands, so that `aof-load-truncated`
//! can cut it there; anything else out of shape is `Corrupt`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::error::AofError;

/// Length lines are short: a sign-less 64-bit number plus the prefix and CRLF.
const MAX_HEADER_LINE: usize = 32;
/// An argument's buffer grows as its bytes arrive, so a bogus length in a short file
/// can't make us allocate more than the file holds.
const MAX_PREALLOC: usize = 64 * 1024;

pub struct CommandReader<R: Read> {
    inner: BufReader<R>,
    path: PathBuf,
    offset: u64,
    valid: u64,
}

impl CommandReader<File> {
    /// Opens `path`; errors name it.
    pub fn open(path: &Path) -> Result<CommandReader<File>, AofError> {
        let file = File::open(path).map_err(|e| AofError::io("open", path, e))?;
        Ok(CommandReader::new(file).with_path(path))
    }
}

impl<R: Read> CommandReader<R> {
    pub fn new(r: R) -> Self {
        CommandReader { inner: BufReader::with_capacity(64 * 1024, r), path: PathBuf::new(), offset: 0, valid: 0 }
    }

    /// For a reader positioned at `start` in its file (the command tail after an RDB
    /// preamble): offsets, including `valid_len`, are then file offsets.
    pub fn with_offset(r: R, start: u64) -> Self {
        let mut reader = CommandReader::new(r);
        reader.offset = start;
        reader.valid = start;
        reader
    }

    /// The file the errors name.
    pub fn with_path(mut self, path: &Path) -> Self {
        self.path = path.to_path_buf();
        self
    }

    /// Bytes consumed so far (the end of the last command returned, after `next`).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next command; Ok(None) at a clean end of file.
    // Not an Iterator: errors end the reading, and the name is the one the loader uses.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Vec<Vec<u8>>>, AofError> {
        loop {
            let Some(first) = self.peek()? else { return Ok(None) };
            match first {
                b'#' => {
                    // An annotation cut short at the end of the file is still a clean end,
                    // as in Redis: nothing after it is lost.
                    if !self.skip_line()? {
                        return Ok(None);
                    }
                }
                b'*' => break,
                _ => return Err(self.corrupt(self.offset, "expected '*' at the start of a command")),
            }
        }
        let argc = self.header(b'*')?;
        if argc == 0 {
            return Err(self.corrupt(self.offset, "a command needs at least one argument"));
        }
        let mut argv = Vec::with_capacity(usize::try_from(argc).unwrap_or(usize::MAX).min(64));
        for _ in 0..argc {
            let len = self.header(b'$')?;
            argv.push(self.bulk(len)?);
        }
        self.valid = self.offset;
        Ok(Some(argv))
    }

    fn peek(&mut self) -> Result<Option<u8>, AofError> {
        Ok(self.fill()?.first().copied())
    }

    fn fill(&mut self) -> Result<&[u8], AofError> {
        loop {
            match self.inner.fill_buf() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(AofError::io("read", &self.path, e)),
            }
        }
        Ok(self.inner.buffer())
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.offset += n as u64;
    }

    /// Skips through the next '\n'; false when the file ends first.
    fn skip_line(&mut self) -> Result<bool, AofError> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(false);
            }
            match buf.iter().position(|&c| c == b'\n') {
                Some(i) => {
                    self.consume(i + 1);
                    return Ok(true);
                }
                None => {
                    let n = buf.len();
                    self.consume(n);
                }
            }
        }
    }

    /// `<prefix><digits>\r\n`, returning the number.
    fn header(&mut self, prefix: u8) -> Result<u64, AofError> {
        let start = self.offset;
        let mut line = Vec::with_capacity(MAX_HEADER_LINE);
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Err(self.truncated());
            }
            let room = MAX_HEADER_LINE - line.len();
            let take = &buf[..buf.len().min(room)];
            match take.iter().position(|&c| c == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&take[..=i]);
                    self.consume(i + 1);
                    break;
                }
                None => {
                    let n = take.len();
                    line.extend_from_slice(take);
                    self.consume(n);
                    if line.len() >= MAX_HEADER_LINE {
                        return Err(self.corrupt(start, "length line too long"));
                    }
                }
            }
        }
        let what = if prefix == b'*' { "expected '*<argument count>\\r\\n'" } else { "expected '$<length>\\r\\n'" };
        let digits = match line.as_slice() {
            [p, digits @ .., b'\r', b'\n'] if *p == prefix => digits,
            _ => return Err(self.corrupt(start, what)),
        };
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(self.corrupt(start, what));
        }
        Ok(digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
    }

    /// `len` bytes then CRLF.
    fn bulk(&mut self, len: u64) -> Result<Vec<u8>, AofError> {
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(usize::MAX).min(MAX_PREALLOC));
        let mut left = len;
        while left > 0 {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Err(self.truncated());
            }
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            out.extend_from_slice(&buf[..n]);
            self.consume(n);
            left -= n as u64;
        }
        for expected in [b'\r', b'\n'] {
            let at = self.offset;
            match self.peek()? {
                None => return Err(self.truncated()),
                Some(c) if c == expected => self.consume(1),
                Some(_) => return Err(self.corrupt(at, "expected '\\r\\n' after an argument")),
            }
        }
        Ok(out)
    }

    fn truncated(&self) -> AofError {
        AofError::Truncated { path: self.path.clone(), valid_len: self.valid }
    }

    fn corrupt(&self, offset: u64, why: &str) -> AofError {
        AofError::Corrupt { path: self.path.clone(), offset, why: why.to_owned() }
    }
}

/// `argv` as a RESP multibulk, the form the log stores.
pub use crate::protocol::request::encode_command;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(bytes: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, AofError> {
        let mut r = CommandReader::new(bytes);
        let mut out = Vec::new();
        while let Some(cmd) = r.next()? {
            out.push(cmd);
        }
        Ok(out)
    }

    fn sample() -> (Vec<u8>, Vec<u64>) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        encode_command(&[b"SELECT", b"0"], &mut bytes);
        ends.push(bytes.len() as u64);
        bytes.extend_from_slice(b"#TS:1700000000\r\n");
        encode_command(&[b"SET", b"k", b"v\r\nwith crlf"], &mut bytes);
        ends.push(bytes.len() as u64);
        encode_command(&[b"RPUSH", b"l", b"", b"x"], &mut bytes);
        ends.push(bytes.len() as u64);
        (bytes, ends)
    }

    #[test]
    fn reads_commands_and_skips_annotations() {
        let (bytes, ends) = sample();
        let mut r = CommandReader::new(&bytes[..]);
        assert_eq!(r.next().unwrap().unwrap(), vec![b"SELECT".to_vec(), b"0".to_vec()]);
        assert_eq!(r.offset(), ends[0]);
        assert_eq!(r.next().unwrap().unwrap(), vec![b"SET".to_vec(), b"k".to_vec(), b"v\r\nwith crlf".to_vec()]);
        assert_eq!(r.next().unwrap().unwrap(), vec![b"RPUSH".to_vec(), b"l".to_vec(), vec![], b"x".to_vec()]);
        assert_eq!(r.offset(), ends[2]);
        assert!(r.next().unwrap().is_none());
        assert!(all(b"").unwrap().is_empty());
        assert!(all(b"#TS:1 cut short").unwrap().is_empty());
    }

    #[test]
    fn every_cut_is_truncated_at_the_last_complete_command() {
        let (bytes, ends) = sample();
        for cut in 0..bytes.len() {
            let expected = ends.iter().copied().filter(|&e| e <= cut as u64).max().unwrap_or(0);
            let at_boundary = ends.contains(&(cut as u64)) || cut == 0;
            // Between the first command and the annotation's end the file is clean
            // (an annotation cut short ends the file cleanly, as in Redis).
            let in_annotation = cut as u64 > ends[0] && cut <= ends[0] as usize + 16;
            match all(&bytes[..cut]) {
                Ok(cmds) => assert!(at_boundary || in_annotation, "cut {cut} read {} commands", cmds.len()),
                Err(AofError::Truncated { valid_len, .. }) => {
                    assert!(!at_boundary, "cut {cut}");
                    assert_eq!(valid_len, expected, "cut {cut}");
                }
                Err(e) => panic!("cut {cut}: {e}"),
            }
        }
    }

    #[test]
    fn malformed_input_is_corrupt_with_the_offset() {
        let corrupt_at = |bytes: &[u8]| match all(bytes) {
            Err(AofError::Corrupt { offset, .. }) => offset,
            other => panic!("expected Corrupt for {:?}, got {other:?}", String::from_utf8_lossy(bytes)),
        };
        let mut good = Vec::new();
        encode_command(&[b"SET", b"a", b"1"], &mut good);
        let n = good.len() as u64;
        let with = |tail: &[u8]| [good.as_slice(), tail].concat();
        assert_eq!(corrupt_at(&with(b"+OK\r\n")), n);
        assert_eq!(corrupt_at(&with(b"*0\r\n")), n + 4);
        assert_eq!(corrupt_at(&with(b"*x\r\n")), n);
        assert_eq!(corrupt_at(&with(b"*1\n")), n);
        assert_eq!(corrupt_at(&with(b"*1\r\n:3\r\n")), n + 4);
        assert_eq!(corrupt_at(&with(b"*1\r\n$-1\r\n")), n + 4);
        assert_eq!(corrupt_at(&with(b"*1\r\n$1\r\nab\r\n")), n + 4 + 4 + 1);
        assert_eq!(corrupt_at(&with(b"*99999999999999999999999\r\n")), n);
        assert_eq!(corrupt_at(&with(&[b'*'; 40])), n);
    }

    #[test]
    fn a_huge_length_in_a_short_file_is_just_truncated() {
        match all(b"*1\r\n$9999999999999\r\nabc") {
            Err(AofError::Truncated { valid_len: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn offsets_continue_from_the_start_given() {
        let mut bytes = Vec::new();
        encode_command(&[b"PING"], &mut bytes);
        bytes.extend_from_slice(b"*1\r\n");
        let mut r = CommandReader::with_offset(&bytes[..], 100);
        assert!(r.next().unwrap().is_some());
        assert_eq!(r.offset(), 100 + 14);
        match r.next() {
            Err(AofError::Truncated { valid_len, .. }) => assert_eq!(valid_len, 114),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = all(&bytes);
        }

        #[test]
        fn mutated_logs_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
            let (mut bytes, _) = sample();
            for (pos, byte) in edits {
                let p = pos % bytes.len();
                bytes[p] = byte;
            }
            let _ = all(&bytes);
        }

        #[test]
        fn encoded_commands_read_back(cmds in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..5), 0..10)) {
            let mut bytes = Vec::new();
            for cmd in &cmds {
                let argv: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
                encode_command(&argv, &mut bytes);
            }
            prop_assert_eq!(all(&bytes).unwrap(), cmds);
        }
    }
}
