//! Which bytes of its primary's stream a replica has applied, and when they reach its
//! own backlog (and so its offset, its ACKs and its own replicas).
//!
//! Consecutive commands applied from one read are appended as one run when the read is
//! done, as Redis feeds a replica's stream once per read: an append per command cost
//! a lock and a copy per command. The stream of an open MULTI is held back until its
//! EXEC has run, so a link that breaks inside it resumes from the MULTI. Whatever was
//! applied must be flushed before the offset is reported (an ACK) or the link ends
//! (a PSYNC from too low an offset would apply commands twice).

use std::ops::Range;

#[derive(Debug, Default)]
pub(super) struct Applied {
    /// Applied bytes of the read buffer not yet appended (empty when start == end).
    run: Range<usize>,
    /// The stream of an open MULTI, from the MULTI on.
    tx: Vec<u8>,
}

impl Applied {
    /// The command at `buf[cmd]` was applied; `tx_open`: a MULTI is open after it.
    /// `append` receives stream bytes in order, each call a whole number of commands.
    pub(super) fn applied(&mut self, buf: &[u8], cmd: Range<usize>, tx_open: bool, append: &mut impl FnMut(&[u8])) {
        if tx_open || !self.tx.is_empty() {
            self.flush(buf, append);
            self.tx.extend_from_slice(&buf[cmd.clone()]);
            if !tx_open {
                append(&self.tx);
                self.tx.clear();
            }
            self.run = cmd.end..cmd.end;
            return;
        }
        if self.run.end != cmd.start {
            self.flush(buf, append);
            self.run = cmd.start..cmd.start;
        }
        self.run.end = cmd.end;
    }

    /// Appends the pending run. Call before the offset is read and before `buf` changes.
    pub(super) fn flush(&mut self, buf: &[u8], append: &mut impl FnMut(&[u8])) {
        if self.run.start < self.run.end {
            append(&buf[self.run.clone()]);
        }
        self.run = self.run.end..self.run.end;
    }

    /// Bytes of an open MULTI held back (read but not yet counted as applied).
    pub(super) fn held_back(&self) -> usize {
        self.tx.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `cmds` (text, whether a MULTI is open after it) laid out back to back in
    /// reads of `split` commands; returns what reached the backlog, append by append.
    fn run(cmds: &[(&str, bool)], split: usize) -> Vec<String> {
        let mut a = Applied::default();
        let mut out = Vec::new();
        for read in cmds.chunks(split.max(1)) {
            let buf: String = read.iter().map(|c| c.0).collect();
            let mut at = 0;
            let mut sink = |b: &[u8]| out.push(String::from_utf8_lossy(b).into_owned());
            for &(c, open) in read {
                a.applied(buf.as_bytes(), at..at + c.len(), open, &mut sink);
                at += c.len();
            }
            a.flush(buf.as_bytes(), &mut sink);
        }
        out
    }

    #[test]
    fn a_read_is_one_append_and_a_transaction_waits_for_its_exec() {
        assert_eq!(run(&[("a", false), ("b", false), ("c", false)], 3), ["abc"]);
        assert_eq!(run(&[("a", false), ("b", false), ("c", false)], 2), ["ab", "c"]);
        // MULTI x EXEC inside one read: what came before first, the block as one.
        assert_eq!(run(&[("a", false), ("M", true), ("x", true), ("E", false), ("b", false)], 5), ["a", "MxE", "b"]);
        // A transaction across reads is held back until its EXEC.
        let mut a = Applied::default();
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut sink = |b: &[u8]| out.push(b.to_vec());
        a.applied(b"aM", 0..1, false, &mut sink);
        a.applied(b"aM", 1..2, true, &mut sink);
        a.flush(b"aM", &mut sink);
        assert_eq!(a.held_back(), 1);
        a.applied(b"xE", 0..1, true, &mut sink);
        a.flush(b"xE", &mut sink);
        a.applied(b"xE", 1..2, false, &mut sink);
        assert_eq!(a.held_back(), 0);
        a.flush(b"xE", &mut sink);
        assert_eq!(out, [b"a".to_vec(), b"MxE".to_vec()]);
    }

    #[test]
    fn a_gap_in_the_buffer_is_never_appended() {
        let mut a = Applied::default();
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut sink = |b: &[u8]| out.push(b.to_vec());
        a.applied(b"ab-cd", 0..2, false, &mut sink);
        a.applied(b"ab-cd", 3..5, false, &mut sink);
        a.flush(b"ab-cd", &mut sink);
        a.flush(b"ab-cd", &mut sink);
        assert_eq!(out, [b"ab".to_vec(), b"cd".to_vec()]);
    }

    proptest! {
        /// Whatever the reads, the backlog gets exactly the stream of every command
        /// applied outside an open transaction, in order.
        #[test]
        fn appended_bytes_are_the_stream_up_to_an_open_multi(cmds in proptest::collection::vec((0u8..4, 1usize..5), 0..40), split in 1usize..8) {
            let mut open = false;
            let mut text = Vec::new();
            for (i, &(kind, len)) in cmds.iter().enumerate() {
                // kind 0: MULTI, 1: EXEC, else a command.
                match kind {
                    0 => open = true,
                    1 => open = false,
                    _ => {}
                }
                text.push((char::from(b'a' + (i % 26) as u8).to_string().repeat(len), open));
            }
            let cmds: Vec<(&str, bool)> = text.iter().map(|(s, o)| (s.as_str(), *o)).collect();
            let got: String = run(&cmds, split).concat();
            let mut want = String::new();
            let mut pending = String::new();
            for (c, o) in &cmds {
                pending.push_str(c);
                if !o {
                    want.push_str(&pending);
                    pending.clear();
                }
            }
            prop_assert_eq!(got, want);
        }
    }
}
