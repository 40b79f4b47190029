//! Argument parsing helpers shared by the command families, with Redis's error replies.

use super::error::CmdError;
use crate::protocol::request::parse_i64;

/// Strict integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Non-negative integer argument.
pub fn uint(arg: &[u8]) -> Result<u64, CmdError> {
    match int(arg)? {
        n if n >= 0 => Ok(n as u64),
        _ => Err(CmdError::NotInteger),
    }
}

/// Float argument as Redis's `getDoubleFromObject`/`strtold` accepts it: decimal or
/// exponent notation, `inf`/`-inf`; no spaces, no NaN (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    let s = std::str::from_utf8(arg).map_err(|_| CmdError::NotFloat)?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(CmdError::NotFloat);
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if !lower.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'-' | b'+')) {
                return Err(CmdError::NotFloat);
            }
            lower.parse::<f64>().map_err(|_| CmdError::NotFloat)?
        }
    };
    if v.is_nan() {
        return Err(CmdError::NotFloat);
    }
    Ok(v)
}

/// Case-insensitive comparison with an ASCII keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Lossy UTF-8 text of an argument, for messages.
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(float(b"1.5").unwrap(), 1.5);
        assert_eq!(float(b"1e3").unwrap(), 1000.0);
        assert_eq!(float(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert!(float(b"nan").is_err());
        assert!(float(b" 1").is_err());
        assert!(float(b"abc").is_err());
        assert!(float(b"").is_err());
    }
}
