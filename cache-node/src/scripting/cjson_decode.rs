//! `cjson.decode`'s parser, with the behaviour scripts see in Redis's bundled lua-cjson
//! rather than strict JSON: strings keep any bytes (no UTF-8 or control-character check),
//! numbers are read as C's `strtod` reads them (so `+1`, `0x10`, `Infinity`, `nan` and
//! leading zeros are accepted), a NUL byte ends the text, nesting stops at 1000 levels,
//! and errors read `Expected <what> but found <token> at character <n>`.
//!
//! Pure: it returns a tree, which `cjson.rs` turns into Lua values.

use std::borrow::Cow;
use std::fmt;

/// lua-cjson's `decode_max_depth` default.
pub const MAX_DEPTH: usize = 1000;

/// A decoded value. Strings without escapes borrow the text: no copy until they become
/// Lua strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, [u8]>),
    Arr(Vec<Json<'a>>),
    /// Members in text order; a repeated key's last value wins when it becomes a table.
    Obj(Vec<(Cow<'a, [u8]>, Json<'a>)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// `found` is a token name (`T_END`...) or a token error (`invalid token`...);
    /// `at` is 1-based.
    Syntax {
        expected: &'static str,
        found: &'static str,
        at: usize,
    },
    TooDeep {
        depth: usize,
        at: usize,
    },
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Syntax { expected, found, at } => write!(f, "Expected {expected} but found {found} at character {at}"),
            DecodeError::TooDeep { depth, at } => write!(f, "Found too many nested data structures ({depth}) at character {at}"),
            DecodeError::NotUtf8 => f.write_str("JSON parser does not support UTF-16 or UTF-32"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Cow<'a, [u8]>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A token that could not be read, with lua-cjson's description of why.
    Error(&'static str),
}

impl Tok<'_> {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(why) => why,
        }
    }
}

struct Token<'a> {
    tok: Tok<'a>,
    /// 0-based offset where the token (or its error) is.
    index: usize,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    depth: usize,
}

/// Parses one JSON text as lua-cjson does.
pub fn decode(data: &[u8]) -> Result<Json<'_>, DecodeError> {
    // lua-cjson's check for other encodings: only the first character must be ASCII.
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(DecodeError::NotUtf8);
    }
    let mut p = Parser { data, pos: 0, depth: 0 };
    let first = p.next_token();
    let value = p.value(first)?;
    let last = p.next_token();
    if last.tok != Tok::End {
        return Err(unexpected("the end", &last));
    }
    Ok(value)
}

fn unexpected(expected: &'static str, t: &Token<'_>) -> DecodeError {
    DecodeError::Syntax { expected, found: t.tok.name(), at: t.index + 1 }
}

impl<'a> Parser<'a> {
    /// The byte at `i`, 0 past the end: the text reads as C's NUL-terminated string.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn next_token(&mut self) -> Token<'a> {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = match self.at(self.pos) {
            0 => return Token { tok: Tok::End, index },
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b':' => Tok::Colon,
            b',' => Tok::Comma,
            b'"' => return self.string(),
            b'-' | b'0'..=b'9' => return self.number(),
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => return self.word(),
            _ => return Token { tok: Tok::Error("invalid token"), index },
        };
        self.pos += 1;
        Token { tok: single, index }
    }

    /// `true`, `false`, `null`, or what `strtod` reads of `+...`, `inf...` and `nan...`.
    fn word(&mut self) -> Token<'a> {
        let index = self.pos;
        for (text, tok) in [(&b"true"[..], Tok::Bool(true)), (b"false", Tok::Bool(false)), (b"null", Tok::Null)] {
            if self.rest().starts_with(text) {
                self.pos += text.len();
                return Token { tok, index };
            }
        }
        let rest = self.rest();
        let lower = |n: usize| rest.get(..n).map(<[u8]>::to_ascii_lowercase);
        if rest.first() == Some(&b'+') || lower(3).is_some_and(|w| w == b"inf" || w == b"nan") {
            return self.number();
        }
        Token { tok: Tok::Error("invalid token"), index }
    }

    fn number(&mut self) -> Token<'a> {
        let index = self.pos;
        match strtod(self.rest()) {
            Some((n, used)) => {
                self.pos += used;
                Token { tok: Tok::Num(n), index }
            }
            None => Token { tok: Tok::Error("invalid number"), index },
        }
    }

    fn string(&mut self) -> Token<'a> {
        let index = self.pos;
        self.pos += 1;
        // Most strings have no escape: borrow them whole.
        let rest = self.rest();
        let run = rest.iter().position(|&b| matches!(b, b'"' | b'\\' | 0)).unwrap_or(rest.len());
        if rest.get(run) == Some(&b'"') {
            self.pos += run + 1;
            return Token { tok: Tok::Str(Cow::Borrowed(&rest[..run])), index };
        }
        let mut out = Vec::new();
        loop {
            let ch = self.at(self.pos);
            match ch {
                b'"' => break,
                0 => return Token { tok: Tok::Error("unexpected end of string"), index: self.pos },
                b'\\' => {
                    let esc = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => match self.unicode_escape(&mut out) {
                            Some(len) => {
                                self.pos += len;
                                continue;
                            }
                            None => return Token { tok: Tok::Error("invalid unicode escape code"), index: self.pos },
                        },
                        _ => return Token { tok: Tok::Error("invalid escape code"), index: self.pos },
                    };
                    out.push(esc);
                    self.pos += 2;
                }
                _ => {
                    // Plain bytes up to the next quote, backslash or NUL go in one copy.
                    let rest = self.rest();
                    let run = rest.iter().position(|&b| matches!(b, b'"' | b'\\' | 0)).unwrap_or(rest.len());
                    out.extend_from_slice(&rest[..run]);
                    self.pos += run;
                }
            }
        }
        self.pos += 1;
        Token { tok: Tok::Str(Cow::Owned(out)), index }
    }

    /// Appends the UTF-8 of the `\uXXXX` escape (or surrogate pair) at `pos`; returns
    /// its length in the text, None when it is not a valid escape.
    fn unicode_escape(&self, out: &mut Vec<u8>) -> Option<usize> {
        let hex4 = |at: usize| -> Option<u32> { (0..4).try_fold(0u32, |acc, i| Some(acc << 4 | char::from(self.at(at + i)).to_digit(16)?)) };
        let mut cp = hex4(self.pos + 2)?;
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            // A surrogate: it must be a high one, followed by an escaped low one.
            if cp & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let low = hex4(self.pos + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let c = char::from_u32(cp)?;
        out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
        Some(len)
    }

    fn descend(&mut self) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep { depth: self.depth, at: self.pos });
        }
        Ok(())
    }

    fn value(&mut self, t: Token<'a>) -> Result<Json<'a>, DecodeError> {
        match t.tok {
            Tok::Str(s) => Ok(Json::Str(s)),
            Tok::Num(n) => Ok(Json::Num(n)),
            Tok::Bool(b) => Ok(Json::Bool(b)),
            Tok::Null => Ok(Json::Null),
            Tok::ObjBegin => self.object(),
            Tok::ArrBegin => self.array(),
            _ => Err(unexpected("value", &t)),
        }
    }

    fn object(&mut self) -> Result<Json<'a>, DecodeError> {
        self.descend()?;
        let mut members = Vec::new();
        let mut t = self.next_token();
        if t.tok == Tok::ObjEnd {
            self.depth -= 1;
            return Ok(Json::Obj(members));
        }
        loop {
            let Tok::Str(key) = t.tok else { return Err(unexpected("object key string", &t)) };
            let colon = self.next_token();
            if colon.tok != Tok::Colon {
                return Err(unexpected("colon", &colon));
            }
            let first = self.next_token();
            members.push((key, self.value(first)?));
            let sep = self.next_token();
            match sep.tok {
                Tok::ObjEnd => break,
                Tok::Comma => t = self.next_token(),
                _ => return Err(unexpected("comma or object end", &sep)),
            }
        }
        self.depth -= 1;
        Ok(Json::Obj(members))
    }

    fn array(&mut self) -> Result<Json<'a>, DecodeError> {
        self.descend()?;
        let mut items = Vec::new();
        let mut t = self.next_token();
        if t.tok == Tok::ArrEnd {
            self.depth -= 1;
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.value(t)?);
            let sep = self.next_token();
            match sep.tok {
                Tok::ArrEnd => break,
                Tok::Comma => t = self.next_token(),
                _ => return Err(unexpected("comma or array end", &sep)),
            }
        }
        self.depth -= 1;
        Ok(Json::Arr(items))
    }
}

/// C's `strtod` on the front of `s` (no leading space: the caller is at a token):
/// the value and how many bytes it used, None when no number starts here.
pub fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let sign = usize::from(matches!(at(0), b'+' | b'-'));
    let negative = at(0) == b'-';
    let body = s.get(sign..).unwrap_or_default();
    let lower = |n: usize| body.get(..n).map(<[u8]>::to_ascii_lowercase);
    let apply = |v: f64| if negative { -v } else { v };
    if lower(8).is_some_and(|w| w == b"infinity") {
        return Some((apply(f64::INFINITY), sign + 8));
    }
    if lower(3).is_some_and(|w| w == b"inf") {
        return Some((apply(f64::INFINITY), sign + 3));
    }
    if lower(3).is_some_and(|w| w == b"nan") {
        let mut used = 3;
        // `nan(chars)`: the parenthesised part belongs to the number when it closes.
        if body.get(3) == Some(&b'(') {
            let inner = body[4..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
            if body.get(4 + inner) == Some(&b')') {
                used += inner + 2;
            }
        }
        return Some((apply(f64::NAN), sign + used));
    }
    if body.first() == Some(&b'0') && matches!(body.get(1), Some(b'x' | b'X')) {
        if let Some((v, used)) = hex_float(&body[2..]) {
            return Some((apply(v), sign + 2 + used));
        }
        // `0x` without hex digits is the number 0 followed by `x`.
        return Some((apply(0.0), sign + 1));
    }
    let digits = |from: usize| body.iter().skip(from).take_while(|b| b.is_ascii_digit()).count();
    let int = digits(0);
    let mut end = int;
    let mut frac = 0;
    if body.get(end) == Some(&b'.') {
        frac = digits(end + 1);
        end += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(body.get(end), Some(b'e' | b'E')) {
        let esign = usize::from(matches!(body.get(end + 1), Some(b'+' | b'-')));
        let exp = digits(end + 1 + esign);
        if exp > 0 {
            end += 1 + esign + exp;
        }
    }
    // What is left is plain decimal text, which Rust converts with correct rounding.
    let text = std::str::from_utf8(&body[..end]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((apply(v), sign + end))
}

/// The part of a hex float after `0x`: value and bytes used, None without a digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let mut mant: u128 = 0;
    let mut exp: i64 = 0;
    let mut seen = false;
    let mut sticky = false;
    let mut i = 0;
    let mut point = false;
    while let Some(&b) = s.get(i) {
        if b == b'.' && !point {
            point = true;
            i += 1;
            continue;
        }
        let Some(d) = char::from(b).to_digit(16) else { break };
        seen = true;
        if mant >> 120 == 0 {
            mant = mant << 4 | u128::from(d);
            if point {
                exp -= 4;
            }
        } else {
            // Beyond 30 digits: keep the scale, remember the lost bits for rounding.
            sticky |= d != 0;
            if !point {
                exp += 4;
            }
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let esign = usize::from(matches!(s.get(i + 1), Some(b'+' | b'-')));
        let negative = s.get(i + 1) == Some(&b'-');
        let n = s.iter().skip(i + 1 + esign).take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            let e = s[i + 1 + esign..i + 1 + esign + n].iter().fold(0i64, |acc, b| (acc * 10 + i64::from(b - b'0')).min(100_000));
            exp += if negative { -e } else { e };
            i += 1 + esign + n;
        }
    }
    let mant = mant | u128::from(sticky);
    let mut v = mant as f64;
    // Scaling by a power of two is exact until the result leaves the normal range.
    let mut e = exp.clamp(-5000, 5000);
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = e.max(-1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    Some((v, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        decode(s.as_bytes()).map(|v| format!("{v:?}")).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn values() {
        assert_eq!(
            decode(br#"{"a":[1,2.5,{"b":"c"}],"n":null,"t":true}"#).unwrap(),
            Json::Obj(vec![
                (b"a"[..].into(), Json::Arr(vec![Json::Num(1.0), Json::Num(2.5), Json::Obj(vec![(b"b"[..].into(), Json::Str(b"c"[..].into()))])])),
                (b"n"[..].into(), Json::Null),
                (b"t"[..].into(), Json::Bool(true)),
            ])
        );
        assert_eq!(decode(b" [ ] ").unwrap(), Json::Arr(vec![]));
        assert_eq!(decode(br#""\u00e9\ud83d\ude00\/\n""#).unwrap(), Json::Str("é😀/\n".as_bytes().into()));
        // Bytes pass through as they are, control characters and invalid UTF-8 included.
        assert_eq!(decode(b"\"a\nb\xff\"").unwrap(), Json::Str(b"a\nb\xff"[..].into()));
        // A NUL ends the text.
        assert_eq!(decode(b"12\0junk").unwrap(), Json::Num(12.0));
    }

    #[test]
    fn numbers_as_strtod_reads_them() {
        for (text, want) in [
            ("+5", 5.0),
            ("0x1F", 31.0),
            ("-0x10", -16.0),
            ("0x1.8p1", 3.0),
            ("01", 1.0),
            ("1.", 1.0),
            ("1e3", 1000.0),
            ("Infinity", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("1e400", f64::INFINITY),
        ] {
            assert_eq!(decode(text.as_bytes()), Ok(Json::Num(want)), "{text}");
        }
        assert!(matches!(decode(b"nan"), Ok(Json::Num(n)) if n.is_nan()));
        assert!(matches!(decode(b"NaN(1_a)"), Ok(Json::Num(n)) if n.is_nan()));
        assert_eq!(strtod(b"1e+x"), Some((1.0, 1)));
        assert_eq!(strtod(b"0x"), Some((0.0, 1)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"."), None);
    }

    #[test]
    fn errors_name_the_token_and_its_place() {
        assert_eq!(err(""), "Expected value but found T_END at character 1");
        assert_eq!(err("{bad"), "Expected object key string but found invalid token at character 2");
        assert_eq!(err("[1,]"), "Expected value but found T_ARR_END at character 4");
        assert_eq!(err("[1 2]"), "Expected comma or array end but found T_NUMBER at character 4");
        assert_eq!(err(r#"{"a" 1}"#), "Expected colon but found T_NUMBER at character 6");
        assert_eq!(err(r#"{"a":1,}"#), "Expected object key string but found T_OBJ_END at character 8");
        assert_eq!(err("[1]x"), "Expected the end but found invalid token at character 4");
        assert_eq!(err("truex"), "Expected the end but found invalid token at character 5");
        assert_eq!(err("tru"), "Expected value but found invalid token at character 1");
        assert_eq!(err(r#""abc"#), "Expected value but found unexpected end of string at character 5");
        assert_eq!(err(r#""a\x""#), "Expected value but found invalid escape code at character 3");
        assert_eq!(err(r#""\ud800""#), "Expected value but found invalid unicode escape code at character 2");
        assert_eq!(err("-"), "Expected value but found invalid number at character 1");
        assert_eq!(err("1\0"), "JSON parser does not support UTF-16 or UTF-32");
        assert_eq!(err(&"[".repeat(1001)), "Found too many nested data structures (1001) at character 1001");
        assert!(decode("[".repeat(1000).as_bytes()).is_err_and(|e| e.to_string().contains("T_END")));
    }

    #[test]
    fn never_panics_on_any_bytes() {
        let mut rng = fastrand::Rng::with_seed(11);
        let alphabet = b"{}[]:,\"\\u0123456789abcdefxXpP.eE+-tfnrulsIiNa \0\xff";
        for _ in 0..20_000 {
            let len = rng.usize(0..24);
            let s: Vec<u8> = (0..len).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            let _ = decode(&s);
        }
    }
}
