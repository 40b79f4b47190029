//! Splitting of inline (telnet) commands into arguments, with the quoting rules of
//! redis-cli and Redis's `sdssplitargs`: "double quotes" with \n \r \t \b \a \\ \" and
//! \xHH escapes, 'single quotes' with only \' escaped, and a closing quote that must be
//! followed by a space or the end of the line.

/// C's `isspace`, which Redis uses between arguments and after a closing quote (it
/// includes vertical tab, unlike `u8::is_ascii_whitespace`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Returns `None` on unbalanced quotes.
///
/// Redis works on a C string, so a NUL byte ends the line; the same is done here (the
/// request parser never passes a NUL, but the config file reader might).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let c = line.get(i).copied();
            if in_dq {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'x') && hex2(line.get(i + 2..i + 4)).is_some() => {
                        cur.push(hex2(line.get(i + 2..i + 4)).unwrap_or(0));
                        i += 3;
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        cur.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        // The closing quote must be followed by a space or nothing.
                        if i + 1 < line.len() && !is_space(line[i + 1]) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => cur.push(other),
                }
            } else if in_sq {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        cur.push(b'\'');
                    }
                    Some(b'\'') => {
                        if i + 1 < line.len() && !is_space(line[i + 1]) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => cur.push(other),
                }
            } else {
                match c {
                    None => break,
                    // Only these end an unquoted argument (not \v or \f), as in Redis.
                    Some(b' ' | b'\n' | b'\r' | b'\t') => {
                        i += 1;
                        break;
                    }
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(other) => cur.push(other),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

fn hex2(b: Option<&[u8]>) -> Option<u8> {
    let b = b?;
    let h = (b.first()?.to_ascii_lowercase() as char).to_digit(16)?;
    let l = (b.get(1)?.to_ascii_lowercase() as char).to_digit(16)?;
    Some((h * 16 + l) as u8)
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn s(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|x| x.as_bytes().to_vec()).collect()
    }

    #[test]
    fn quoting() {
        assert_eq!(split_args(b"set a b").unwrap(), s(&["set", "a", "b"]));
        assert_eq!(split_args(b"  set   \"a b\" 'c d'  ").unwrap(), s(&["set", "a b", "c d"]));
        assert_eq!(split_args(b"echo \"\\x41\\n\"").unwrap(), vec![b"echo".to_vec(), b"A\n".to_vec()]);
        assert_eq!(split_args(b"echo 'it\\'s'").unwrap(), s(&["echo", "it's"]));
        assert_eq!(split_args(b"echo \"\"").unwrap(), s(&["echo", ""]));
        assert!(split_args(b"echo \"abc").is_none());
        assert!(split_args(b"echo \"abc\"d").is_none());
        assert!(split_args(b"echo 'abc").is_none());
        assert_eq!(split_args(b"").unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn escapes_like_sdssplitargs() {
        // \x with a bad hex digit is an ordinary escape of 'x'.
        assert_eq!(split_args(b"echo \"\\x4g\"").unwrap(), s(&["echo", "x4g"]));
        assert_eq!(split_args(b"echo \"\\q\\\"\" x").unwrap(), s(&["echo", "q\"", "x"]));
        // A quote may start in the middle of an argument.
        assert!(split_args(b"a\"b c\"d").is_none());
        assert_eq!(split_args(b"a\"b c\"").unwrap(), s(&["ab c"]));
        // A backslash at the very end leaves the quote open.
        assert!(split_args(b"echo \"a\\").is_none());
    }

    #[test]
    fn whitespace_is_c_isspace() {
        // Vertical tab and form feed separate arguments and may follow a closing quote,
        // but do not end an unquoted argument.
        assert_eq!(split_args(b"\x0bPING").unwrap(), s(&["PING"]));
        assert_eq!(split_args(b"ECHO \"a\"\x0b").unwrap(), s(&["ECHO", "a"]));
        assert_eq!(split_args(b"ECHO 'a'\x0c").unwrap(), s(&["ECHO", "a"]));
        assert_eq!(split_args(b"ECHO a\x0bb").unwrap(), s(&["ECHO", "a\x0bb"]));
    }

    /// Regression: a NUL byte used to stop the scanner without advancing, looping forever
    /// while pushing empty arguments, so one inline request ate all memory.
    #[test]
    fn nul_ends_the_line() {
        assert_eq!(split_args(b"PING\0foo").unwrap(), s(&["PING"]));
        assert_eq!(split_args(b"\0").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(split_args(b"a \0 b").unwrap(), s(&["a"]));
        assert!(split_args(b"echo \"a\0\"").is_none());
        assert!(split_args(b"echo 'a\0'").is_none());
    }
}
