//! The quoting rules of Redis's manifest lines: names are written bare unless they hold
//! spaces, quotes, backslashes or unprintable bytes, in which case they are written as a
//! double-quoted string with C-style escapes; lines are split the way `redis-cli` splits
//! its input (double quotes with escapes, single quotes with only `\'`).

/// Whether `s` can't be written bare.
pub fn needs_quoting(s: &[u8]) -> bool {
    // Redis leaves `'` bare, which its own parser then reads as a quote: quote it too.
    s.iter().any(|&c| c == b'\\' || c == b'"' || c == b'\'' || !is_print(c) || is_space(c))
}

/// `s` as a double-quoted string with escapes.
pub fn quote(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            c if is_print(c) => out.push(c),
            c => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Manifest lines split as Redis's `sdssplitargs` does, like inline commands.
pub use crate::protocol::inline::split_args;

fn is_print(c: u8) -> bool {
    (0x20..0x7f).contains(&c)
}

/// C's `isspace` in the "C" locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| v.into_iter().map(|a| String::from_utf8_lossy(&a).into_owned()).collect())
    }

    #[test]
    fn splits_like_redis() {
        assert_eq!(split("a  b\tc").unwrap(), ["a", "b", "c"]);
        assert_eq!(split(r#"file "a b" x"#).unwrap(), ["file", "a b", "x"]);
        assert_eq!(split(r#""a\x41\n\"""#).unwrap(), ["aA\n\""]);
        assert_eq!(split(r"'a\'b'").unwrap(), ["a'b"]);
        assert_eq!(split(r#"ab"cd""#).unwrap(), ["abcd"]);
        assert_eq!(split(r#""abc"d"#), None);
        assert_eq!(split(r#""abc"#), None);
        assert_eq!(split("'abc"), None);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }

    proptest::proptest! {
        #[test]
        fn split_never_panics_or_loops(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Some(args) = split_args(&line) {
                proptest::prop_assert!(args.len() <= line.len());
            }
        }
    }

    #[test]
    fn quote_round_trips() {
        for name in [&b"a b"[..], b"q\"\\", b"\x00\x01\xff\n\r\t\x07\x08", b"plain"] {
            let mut out = Vec::new();
            quote(name, &mut out);
            assert_eq!(split_args(&out).unwrap(), vec![name.to_vec()]);
        }
        assert!(!needs_quoting(b"appendonly.aof.1.incr.aof"));
        assert!(needs_quoting(b"a b"));
        assert!(needs_quoting(b"a\xffb"));
        assert!(needs_quoting(b"'a"));
        assert_eq!(split_args(b"a\0b c").unwrap(), vec![b"a".to_vec()]);
    }
}
