//! The manifest: which files make up the append-only set, in Redis 7.0's text format.
//!
//! One line a file, `file <name> seq <n> type <b|h|i>`: the base first, then history
//! files (left over from a rewrite, to be deleted, never loaded), then incremental files in
//! increasing `seq`. Parsing follows Redis's rules, messages included, so a manifest
//! Redis refuses is refused here too.

use super::error::AofError;
use super::quoting;

/// Redis reads lines into a 1024-byte buffer; a longer line is refused.
const MAX_LINE: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Base,
    History,
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    pub name: String,
    pub seq: i64,
    pub kind: FileKind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<ManifestEntry>,
    pub history: Vec<ManifestEntry>,
    pub incrs: Vec<ManifestEntry>,
}

impl Manifest {
    /// Nothing to load (Redis treats such a manifest as "no AOF").
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incrs.is_empty()
    }

    pub fn base_seq(&self) -> i64 {
        self.base.as_ref().map_or(0, |b| b.seq)
    }

    pub fn last_incr_seq(&self) -> i64 {
        self.incrs.last().map_or(0, |e| e.seq)
    }

    /// The text Redis writes: base, history, incremental files.
    pub fn format(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in self.base.iter().chain(&self.history).chain(&self.incrs) {
            out.extend_from_slice(b"file ");
            if quoting::needs_quoting(e.name.as_bytes()) {
                quoting::quote(e.name.as_bytes(), &mut out);
            } else {
                out.extend_from_slice(e.name.as_bytes());
            }
            out.extend_from_slice(format!(" seq {} type {}\n", e.seq, e.kind.letter()).as_bytes());
        }
        out
    }

    pub fn parse(text: &[u8]) -> Result<Manifest, AofError> {
        let bad = |line: usize, why: &str| AofError::BadManifest { line, why: why.to_owned() };
        if text.is_empty() {
            return Err(bad(0, "Found an empty AOF manifest"));
        }
        let mut m = Manifest::default();
        let mut rest = text;
        let mut line_no = 0;
        while !rest.is_empty() {
            line_no += 1;
            let nl = rest.iter().position(|&c| c == b'\n');
            let (raw, next) = match nl {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            if raw.first() == Some(&b'#') {
                continue;
            }
            // Redis needs the newline within its buffer: a last line without one is
            // refused with the same message as an over-long line.
            // A NUL hides the newline from Redis's check too.
            if nl.is_none() || raw.len() + 1 > MAX_LINE || raw.contains(&0) {
                return Err(bad(line_no, "The AOF manifest file contains too long line"));
            }
            let entry = parse_line(raw).map_err(|why| bad(line_no, why))?;
            match entry.kind {
                FileKind::Base => {
                    if m.base.is_some() {
                        return Err(bad(line_no, "Found duplicate base file information"));
                    }
                    m.base = Some(entry);
                }
                FileKind::History => m.history.push(entry),
                FileKind::Incr => {
                    if entry.seq <= m.last_incr_seq() {
                        return Err(bad(line_no, "Found a non-monotonic sequence number"));
                    }
                    m.incrs.push(entry);
                }
            }
        }
        Ok(m)
    }
}

fn parse_line(raw: &[u8]) -> Result<ManifestEntry, &'static str> {
    const INVALID: &str = "Invalid AOF manifest file format";
    let line = trim(raw);
    if line.is_empty() {
        return Err(INVALID);
    }
    let args = quoting::split_args(line).ok_or(INVALID)?;
    // At least the three pairs, more allowed (unknown keys, for forward compatibility).
    if args.len() < 6 || !args.len().is_multiple_of(2) {
        return Err(INVALID);
    }
    let (mut name, mut seq, mut kind) = (None, 0i64, 0u8);
    for pair in args.chunks_exact(2) {
        let (key, value) = (&pair[0], &pair[1]);
        if key.eq_ignore_ascii_case(b"file") {
            if value.contains(&b'/') {
                return Err("File can't be a path, just a filename");
            }
            name = Some(value.clone());
        } else if key.eq_ignore_ascii_case(b"seq") {
            seq = atoll(value);
        } else if key.eq_ignore_ascii_case(b"type") {
            kind = value.first().copied().unwrap_or(0);
        }
    }
    let name = match name {
        Some(n) if seq != 0 && kind != 0 => n,
        _ => return Err(INVALID),
    };
    let kind = match kind {
        b'b' => FileKind::Base,
        b'h' => FileKind::History,
        b'i' => FileKind::Incr,
        _ => return Err("Unknown AOF file type"),
    };
    // Redis takes names as bytes; ours come from a UTF-8 configuration.
    let name = String::from_utf8(name).map_err(|_| "File name is not valid UTF-8")?;
    Ok(ManifestEntry { name, seq, kind })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// C's `atoll`: leading spaces, a sign, digits up to the first non-digit; 0 if none.
fn atoll(s: &[u8]) -> i64 {
    let mut i = s.iter().take_while(|c| c.is_ascii_whitespace()).count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    for &c in s[i..].iter().take_while(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg { -v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(name: &str, seq: i64, kind: FileKind) -> ManifestEntry {
        ManifestEntry { name: name.into(), seq, kind }
    }

    fn line_of(text: &str) -> (usize, String) {
        match Manifest::parse(text.as_bytes()) {
            Err(AofError::BadManifest { line, why }) => (line, why),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn round_trips_redis_text() {
        // What redis-server 7.0.15 writes after a rewrite that left history behind.
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
                    file appendonly.aof.1.base.rdb seq 1 type h\n\
                    file appendonly.aof.1.incr.aof seq 1 type h\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base, Some(entry("appendonly.aof.2.base.rdb", 2, FileKind::Base)));
        assert_eq!(m.history.len(), 2);
        assert_eq!(m.incrs.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(m.format(), text.as_bytes());
    }

    #[test]
    fn quotes_names_that_need_it() {
        let m = Manifest { incrs: vec![entry("my aof.1.incr.aof", 1, FileKind::Incr)], ..Manifest::default() };
        assert_eq!(m.format(), b"file \"my aof.1.incr.aof\" seq 1 type i\n");
        assert_eq!(Manifest::parse(&m.format()).unwrap(), m);
    }

    #[test]
    fn accepts_what_redis_accepts() {
        let m = Manifest::parse(b"# a comment\n  FILE 'x y' SEQ 7 TYPE incr extra key \r\n").unwrap();
        assert_eq!(m.incrs, vec![entry("x y", 7, FileKind::Incr)]);
        // Only comments: not empty, but nothing to load.
        assert!(Manifest::parse(b"# nothing\n").unwrap().is_empty());
        // Out-of-order base and history lines are fine; the format puts them back in order.
        let m = Manifest::parse(b"file i seq 1 type i\nfile b seq 1 type b\n").unwrap();
        assert_eq!(m.format(), b"file b seq 1 type b\nfile i seq 1 type i\n");
    }

    #[test]
    fn refuses_what_redis_refuses_with_the_line() {
        assert_eq!(line_of(""), (0, "Found an empty AOF manifest".into()));
        assert_eq!(line_of("file a seq 1 type i"), (1, "The AOF manifest file contains too long line".into()));
        assert_eq!(line_of("file a seq 1 type i\n\n"), (2, "Invalid AOF manifest file format".into()));
        assert_eq!(line_of("file a/b seq 1 type i\n"), (1, "File can't be a path, just a filename".into()));
        assert_eq!(line_of("file a seq 1 type z\n"), (1, "Unknown AOF file type".into()));
        assert_eq!(line_of("file a seq 0 type i\n"), (1, "Invalid AOF manifest file format".into()));
        assert_eq!(line_of("file a seq 1 type i x\n"), (1, "Invalid AOF manifest file format".into()));
        assert_eq!(line_of("file a seq 1 kind i\n"), (1, "Invalid AOF manifest file format".into()));
        assert_eq!(line_of("file \"a\"b seq 1 type i\n"), (1, "Invalid AOF manifest file format".into()));
        assert_eq!(line_of("file a seq 1 type b\nfile b seq 2 type b\n"), (2, "Found duplicate base file information".into()));
        assert_eq!(line_of("# c\nfile a seq 2 type i\nfile b seq 2 type i\n"), (3, "Found a non-monotonic sequence number".into()));
        let long = format!("file {} seq 1 type i\n", "a".repeat(1100));
        assert_eq!(line_of(&long), (1, "The AOF manifest file contains too long line".into()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Manifest::parse(&bytes);
        }

        #[test]
        fn mutated_manifests_never_panic(
            pos in 0usize..200, byte in any::<u8>(), cut in 0usize..200,
        ) {
            let mut text = b"file appendonly.aof.2.base.rdb seq 2 type b\nfile \"a b\\x41\" seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n".to_vec();
            let p = pos % text.len();
            text[p] = byte;
            text.truncate(cut.min(text.len()));
            let _ = Manifest::parse(&text);
        }

        #[test]
        fn format_parse_round_trip(
            names in proptest::collection::vec("[ -~]{1,20}", 1..6),
        ) {
            let names: Vec<String> = names.into_iter().filter(|n| !n.contains('/')).collect();
            prop_assume!(!names.is_empty());
            let m = Manifest {
                base: None,
                history: vec![],
                incrs: names.iter().enumerate()
                    .map(|(i, n)| entry(n, i64::try_from(i).unwrap() + 1, FileKind::Incr)).collect(),
            };
            prop_assert_eq!(Manifest::parse(&m.format()).unwrap(), m);
        }
    }
}
