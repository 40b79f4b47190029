//! MessagePack as lua-cmsgpack 0.4 (Redis 7.0's `cmsgpack`) writes and reads it: the
//! byte-level encoders, and a decoder that builds values through a `Builder` (Lua
//! tables for scripts, plain trees for tests and fuzzing).
//!
//! Its quirks are Redis's: numbers are doubles, written as the smallest integer when
//! they hold one and as float32 when that is exact; uint64 above 2^63 reads back
//! negative; bin, ext and fixext are "bad data format"; strings are written with the
//! str8/16/32 headers. Nesting is bounded as in Redis, by the 8000 values a Lua C
//! function may keep on its stack.

use super::lib_args::{LibError, MAX_C_STACK, c_to_i64};

pub fn put_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

pub fn put_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xc3 } else { 0xc2 });
}

/// A Lua number: an integer encoding when it holds an int64 exactly, else a float.
pub fn put_number(out: &mut Vec<u8>, n: f64) {
    if !n.is_infinite() && c_to_i64(n) as f64 == n {
        put_int(out, c_to_i64(n));
    } else {
        put_float(out, n);
    }
}

/// The smallest integer encoding of `n`.
pub fn put_int(out: &mut Vec<u8>, n: i64) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        0x1_0000_0000.. => {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        -32..=-1 => out.push(n as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// float32 when it holds `d` exactly (infinities too, NaN never), else float64.
pub fn put_float(out: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if f64::from(f) == d {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    match len {
        0..=31 => out.push(0xa0 | len as u8),
        32..=0xff => out.extend_from_slice(&[0xd9, len as u8]),
        0x100..=0xffff => {
            out.push(0xda);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdb);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(s);
}

fn put_header(out: &mut Vec<u8>, n: usize, fix: u8, h16: u8, h32: u8) {
    match n {
        0..=15 => out.push(fix | n as u8),
        16..=0xffff => {
            out.push(h16);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(h32);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

pub fn put_array_header(out: &mut Vec<u8>, n: usize) {
    put_header(out, n, 0x90, 0xdc, 0xdd);
}

pub fn put_map_header(out: &mut Vec<u8>, n: usize) {
    put_header(out, n, 0x80, 0xde, 0xdf);
}

/// Why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("Missing bytes in input.")]
    MissingBytes,
    #[error("Bad data format in input.")]
    BadFormat,
    /// Redis's Lua C stack is full (the text names the check that failed).
    #[error("stack overflow ({0})")]
    StackOverflow(&'static str),
}

impl From<DecodeError> for LibError {
    fn from(e: DecodeError) -> Self {
        LibError::Located(e.to_string())
    }
}

/// A value that is not a table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Nil,
    Bool(bool),
    Num(f64),
    Str(&'a [u8]),
}

/// Builds decoded values.
pub trait Builder {
    type Value;
    type Error: From<DecodeError>;
    fn scalar(&mut self, s: Scalar<'_>) -> Result<Self::Value, Self::Error>;
    fn table(&mut self) -> Result<Self::Value, Self::Error>;
    /// `t[key] = value` as `lua_settable` does it (a nil or NaN key is an error).
    fn set(&mut self, t: &Self::Value, key: Self::Value, value: Self::Value) -> Result<(), Self::Error>;
}

/// A position in the input.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Cursor { buf, pos: pos.min(buf.len()) }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.left() < n {
            return Err(DecodeError::MissingBytes);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

const TOO_MANY: &str = "too many return values at once; use unpack_one or unpack_limit instead.";

/// Decodes one value; `top` is how many slots Redis's C stack holds at this point
/// (values already returned, open tables and their pending keys).
pub fn decode<B: Builder>(b: &mut B, cur: &mut Cursor<'_>, top: usize) -> Result<B::Value, B::Error> {
    if cur.left() == 0 {
        return Err(DecodeError::MissingBytes.into());
    }
    if top + 1 > MAX_C_STACK {
        return Err(DecodeError::StackOverflow(TOO_MANY).into());
    }
    let tag = cur.take(1)?[0];
    let num = |n: f64| Scalar::Num(n);
    let scalar = match tag {
        0x00..=0x7f => num(f64::from(tag)),
        0xe0..=0xff => num(f64::from(tag as i8)),
        0xc0 => Scalar::Nil,
        0xc2 => Scalar::Bool(false),
        0xc3 => Scalar::Bool(true),
        0xcc => num(cur.be(1)? as f64),
        0xcd => num(cur.be(2)? as f64),
        0xce => num(cur.be(4)? as f64),
        // Pushed as a signed lua_Integer: the top half reads back negative.
        0xcf => num(cur.be(8)? as i64 as f64),
        0xd0 => num(f64::from(cur.be(1)? as u8 as i8)),
        0xd1 => num(f64::from(cur.be(2)? as u16 as i16)),
        0xd2 => num(f64::from(cur.be(4)? as u32 as i32)),
        0xd3 => num(cur.be(8)? as i64 as f64),
        0xca => num(f64::from(f32::from_bits(cur.be(4)? as u32))),
        0xcb => num(f64::from_bits(cur.be(8)?)),
        0xa0..=0xbf => Scalar::Str(cur.take(usize::from(tag & 0x1f))?),
        0xd9..=0xdb => {
            let len = cur.be(1 << (tag - 0xd9))? as usize;
            Scalar::Str(cur.take(len)?)
        }
        0x90..=0x9f => return array(b, cur, top, usize::from(tag & 0x0f)),
        0xdc | 0xdd => {
            let len = cur.be(2 << (tag - 0xdc))? as usize;
            return array(b, cur, top, len);
        }
        0x80..=0x8f => return map(b, cur, top, usize::from(tag & 0x0f)),
        0xde | 0xdf => {
            let len = cur.be(2 << (tag - 0xde))? as usize;
            return map(b, cur, top, len);
        }
        _ => return Err(DecodeError::BadFormat.into()),
    };
    b.scalar(scalar)
}

fn array<B: Builder>(b: &mut B, cur: &mut Cursor<'_>, top: usize, len: usize) -> Result<B::Value, B::Error> {
    let t = b.table()?;
    if top + 2 > MAX_C_STACK {
        return Err(DecodeError::StackOverflow("in function mp_decode_to_lua_array").into());
    }
    for i in 1..=len {
        let key = b.scalar(Scalar::Num(i as f64))?;
        let v = decode(b, cur, top + 2)?;
        b.set(&t, key, v)?;
    }
    Ok(t)
}

fn map<B: Builder>(b: &mut B, cur: &mut Cursor<'_>, top: usize, len: usize) -> Result<B::Value, B::Error> {
    let t = b.table()?;
    for _ in 0..len {
        let k = decode(b, cur, top + 1)?;
        let v = decode(b, cur, top + 2)?;
        b.set(&t, k, v)?;
    }
    Ok(t)
}

/// What `unpack`, `unpack_one` and `unpack_limit` return besides the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// `unpack` (and `unpack_limit(s, 0)`): the values only.
    None,
    /// Where the next value starts, -1 at the end.
    Offset(i64),
}

/// lua-cmsgpack's `mp_unpack_full`: up to `limit` values from `offset` (0 and 0: all
/// values, no offset returned), each handed to `emit` as soon as it is complete (a
/// caller holding thousands of Lua values at once would run out of references).
/// `base` is the number of the call's arguments left on Redis's stack. Argument errors
/// come first, with its texts. Returns how many values were emitted.
pub fn unpack<B: Builder>(
    b: &mut B,
    input: &[u8],
    limit: i64,
    offset: i64,
    base: usize,
    mut emit: impl FnMut(&mut B, B::Value) -> Result<(), B::Error>,
) -> Result<(usize, Next), B::Error>
where
    B::Error: From<LibError>,
{
    let len = input.len();
    if offset < 0 || limit < 0 {
        // Redis prints the input's length where it means the limit.
        return Err(LibError::Located(format!("Invalid request to unpack with offset of {} and limit of {}.", offset as i32, len as i32)).into());
    }
    if offset as u64 > len as u64 {
        return Err(LibError::Located(format!("Start offset {} greater than input length {}.", offset as i32, len as i32)).into());
    }
    let all = limit == 0 && offset == 0;
    let limit = if all { i64::from(i32::MAX) } else { limit };
    let mut cur = Cursor::new(input, offset as usize);
    let mut count = 0usize;
    while cur.left() > 0 && (count as i64) < limit {
        let v = decode(b, &mut cur, base + count)?;
        emit(b, v)?;
        count += 1;
    }
    if all {
        return Ok((count, Next::None));
    }
    if base + count + 1 > MAX_C_STACK {
        return Err(DecodeError::StackOverflow("in function mp_unpack_full").into());
    }
    let next = if cur.left() == 0 { -1 } else { cur.pos() as i64 };
    Ok((count, Next::Offset(next)))
}

/// A decoded value as plain data (tests and fuzzing).
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Nil,
    Bool(bool),
    Num(f64),
    Str(Vec<u8>),
    /// Entries in the order they were set.
    Table(Vec<(Tree, Tree)>),
}

/// Builds `Tree`s; tables are filled once complete (a tree has no shared references).
#[derive(Default)]
pub struct TreeBuilder {
    open: Vec<Vec<(Tree, Tree)>>,
}

/// A `TreeBuilder` value: a leaf, or the index of an open table.
#[derive(Debug)]
pub enum Slot {
    Leaf(Tree),
    Open(usize),
}

impl TreeBuilder {
    pub fn finish(&mut self, s: Slot) -> Tree {
        match s {
            Slot::Leaf(t) => t,
            Slot::Open(i) => Tree::Table(std::mem::take(&mut self.open[i])),
        }
    }
}

impl Builder for TreeBuilder {
    type Value = Slot;
    type Error = LibError;

    fn scalar(&mut self, s: Scalar<'_>) -> Result<Slot, LibError> {
        Ok(Slot::Leaf(match s {
            Scalar::Nil => Tree::Nil,
            Scalar::Bool(b) => Tree::Bool(b),
            Scalar::Num(n) => Tree::Num(n),
            Scalar::Str(s) => Tree::Str(s.to_vec()),
        }))
    }

    fn table(&mut self) -> Result<Slot, LibError> {
        self.open.push(Vec::new());
        Ok(Slot::Open(self.open.len() - 1))
    }

    fn set(&mut self, t: &Slot, key: Slot, value: Slot) -> Result<(), LibError> {
        let (key, value) = (self.finish(key), self.finish(value));
        match key {
            Tree::Nil => return Err(LibError::Bare("table index is nil".into())),
            Tree::Num(n) if n.is_nan() => return Err(LibError::Bare("table index is NaN".into())),
            _ => {}
        }
        if let Slot::Open(i) = t {
            self.open[*i].push((key, value));
        }
        Ok(())
    }
}

/// Decodes a whole input as `cmsgpack.unpack` does, into trees.
pub fn unpack_trees(input: &[u8]) -> Result<Vec<Tree>, LibError> {
    let mut b = TreeBuilder::default();
    let mut values = Vec::new();
    unpack(&mut b, input, 0, 0, 1, |b, v| {
        values.push(b.finish(v));
        Ok(())
    })?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripting::lib_args::TWO_63;

    fn int(n: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_int(&mut out, n);
        out
    }

    fn number(n: f64) -> Vec<u8> {
        let mut out = Vec::new();
        put_number(&mut out, n);
        out
    }

    #[test]
    fn integers_take_the_smallest_encoding() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xcc, 0x80]),
            (255, &[0xcc, 0xff]),
            (256, &[0xcd, 0x01, 0x00]),
            (65535, &[0xcd, 0xff, 0xff]),
            (65536, &[0xce, 0, 1, 0, 0]),
            (4_294_967_295, &[0xce, 0xff, 0xff, 0xff, 0xff]),
            (4_294_967_296, &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
            (i64::MAX, &[0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            (-1, &[0xff]),
            (-32, &[0xe0]),
            (-33, &[0xd0, 0xdf]),
            (-128, &[0xd0, 0x80]),
            (-129, &[0xd1, 0xff, 0x7f]),
            (-32768, &[0xd1, 0x80, 0x00]),
            (-32769, &[0xd2, 0xff, 0xff, 0x7f, 0xff]),
            (-2_147_483_648, &[0xd2, 0x80, 0, 0, 0]),
            (-2_147_483_649, &[0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]),
            (i64::MIN, &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for &(n, bytes) in cases {
            assert_eq!(int(n), bytes, "{n}");
            assert_eq!(unpack_trees(bytes), Ok(vec![Tree::Num(n as f64)]), "{n}");
        }
    }

    #[test]
    fn floats_are_float32_when_exact() {
        assert_eq!(number(0.5), [0xca, 0x3f, 0, 0, 0]);
        assert_eq!(number(f64::INFINITY), [0xca, 0x7f, 0x80, 0, 0]);
        assert_eq!(number(0.1)[0], 0xcb);
        assert_eq!(number(f64::NAN)[0], 0xcb);
        // 2^63 holds no int64: a float, and float32 holds it.
        assert_eq!(number(TWO_63), [0xca, 0x5f, 0, 0, 0]);
        assert_eq!(number(-TWO_63)[0], 0xd3);
        assert_eq!(number(-0.0), [0x00]);
        for d in [0.5, 0.1, -1.5e300, 3.25] {
            assert_eq!(unpack_trees(&number(d)), Ok(vec![Tree::Num(d)]));
        }
    }

    #[test]
    fn strings_and_headers() {
        for (len, head) in
            [(0usize, vec![0xa0]), (31, vec![0xbf]), (32, vec![0xd9, 32]), (255, vec![0xd9, 255]), (256, vec![0xda, 1, 0]), (65536, vec![0xdb, 0, 1, 0, 0])]
        {
            let s = vec![b'x'; len];
            let mut out = Vec::new();
            put_str(&mut out, &s);
            assert_eq!(out[..head.len()], head[..], "{len}");
            assert_eq!(unpack_trees(&out), Ok(vec![Tree::Str(s)]));
        }
        let mut out = Vec::new();
        put_array_header(&mut out, 15);
        put_array_header(&mut out, 16);
        put_map_header(&mut out, 65536);
        assert_eq!(out, [0x9f, 0xdc, 0, 16, 0xdf, 0, 1, 0, 0]);
    }

    #[test]
    fn decoding_quirks() {
        // uint64 above i64::MAX reads back negative, as Redis pushes it.
        assert_eq!(unpack_trees(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Ok(vec![Tree::Num(-1.0)]));
        assert_eq!(unpack_trees(&[0xd9, 1, b'a', 0xc3, 0xc0]), Ok(vec![Tree::Str(b"a".to_vec()), Tree::Bool(true), Tree::Nil]));
        for bad in [&[0xc1][..], &[0xc4, 1, b'a'], &[0xd4, 1, 1], &[0xc7, 0, 0]] {
            assert_eq!(unpack_trees(bad), Err(LibError::Located("Bad data format in input.".into())));
        }
        assert_eq!(unpack_trees(&[0x81, 0xc0, 0x01]), Err(LibError::Bare("table index is nil".into())));
        assert_eq!(unpack_trees(&[0x81, 0xca, 0x7f, 0xc0, 0, 0, 1]), Err(LibError::Bare("table index is NaN".into())));
        assert_eq!(unpack_trees(&[0x92, 0x01, 0x02]), Ok(vec![Tree::Table(vec![(Tree::Num(1.0), Tree::Num(1.0)), (Tree::Num(2.0), Tree::Num(2.0))])]));
    }

    #[test]
    fn truncated_input_is_missing_bytes() {
        let mut full = Vec::new();
        put_array_header(&mut full, 3);
        put_str(&mut full, b"hello world, this is longer than 31");
        put_int(&mut full, -70000);
        put_float(&mut full, 0.1);
        for cut in 1..full.len() {
            assert_eq!(unpack_trees(&full[..cut]), Err(LibError::Located("Missing bytes in input.".into())), "cut at {cut}");
        }
        assert!(unpack_trees(&full).is_ok());
        // A header claiming 4G elements costs nothing up front.
        assert!(unpack_trees(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
    }

    #[test]
    fn offsets_and_limits() {
        let input = [0x01, 0x02, 0x03];
        let mut b = TreeBuilder::default();
        let mut run = |limit, offset| unpack(&mut b, &input, limit, offset, 1, |_, _| Ok(()));
        assert_eq!(run(1, 0), Ok((1, Next::Offset(1))));
        assert_eq!(run(5, 1), Ok((2, Next::Offset(-1))));
        assert_eq!(run(0, 1), Ok((0, Next::Offset(1))));
        assert_eq!(run(0, 0), Ok((3, Next::None)));
        assert_eq!(run(-1, 0), Err(LibError::Located("Invalid request to unpack with offset of 0 and limit of 3.".into())));
        assert_eq!(run(1, 4), Err(LibError::Located("Start offset 4 greater than input length 3.".into())));
    }

    #[test]
    fn the_c_stack_bounds_values_and_nesting() {
        // 7999 values fit beside the one argument; the 8000th does not.
        assert_eq!(unpack_trees(&[0x01; 7999]).map(|v| v.len()), Ok(7999));
        assert_eq!(unpack_trees(&[0x01; 8000]), Err(LibError::Located(format!("stack overflow ({TOO_MANY})"))));
        // Each array level holds two slots (the table and the index being filled).
        // (Deep recursion: the script thread has a large stack; give the test one too.)
        let deep = |n: usize| [vec![0x91; n], vec![0x01]].concat();
        let run = move || {
            assert!(unpack_trees(&deep(3998)).is_ok());
            assert!(matches!(unpack_trees(&deep(4000)), Err(LibError::Located(m)) if m.starts_with("stack overflow")));
        };
        std::thread::Builder::new().stack_size(64 << 20).spawn(run).unwrap().join().unwrap();
    }
}
