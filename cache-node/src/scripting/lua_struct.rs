//! The `struct` library (Roberto Ierusalimschy's struct 0.2 as Redis 7.0 ships it):
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, init])`, `struct.size(fmt)`.
//!
//! Format: `<` little / `>` big endian (default: the machine's, little), `!n` alignment,
//! `b B h H l L T i[n] I[n]` integers (`n` up to 32 bytes), `f d` floats, `s`
//! zero-terminated string, `c[n]` fixed-length string (`c0`: the whole string when
//! packing, the previous value's length when unpacking), `x` a zero byte, ` ` nothing.
//! Out-of-range numbers convert as the C code does on x86-64 (see lib_args.rs).

use mlua::{Lua, Table, Value};

use super::lib_args::{self, Args, LibError, MAX_C_STACK, c_to_i64, c_to_u64};

/// Largest `i`/`I` size.
const MAX_INT_SIZE: usize = 32;
/// `!` without a number: the strictest alignment of the C compiler (a double's).
const MAX_ALIGN: usize = 8;

/// Endianness and alignment, changed by the format's control options.
struct Header {
    big: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header { big: false, align: 1 }
    }
}

/// The format, read one option at a time. C stops at the first zero byte.
struct Format<'f> {
    fmt: &'f [u8],
    at: usize,
}

impl<'f> Format<'f> {
    fn new(fmt: &'f [u8]) -> Self {
        let end = fmt.iter().position(|&b| b == 0).unwrap_or(fmt.len());
        Format { fmt: &fmt[..end], at: 0 }
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.fmt.get(self.at).copied();
        self.at += 1;
        b
    }

    /// The number after an option, or `default`; fails before an `int` would overflow.
    fn num(&mut self, default: usize) -> Result<usize, LibError> {
        if !self.fmt.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(d) = self.fmt.get(self.at).filter(|b| b.is_ascii_digit()) {
            let d = i32::from(d - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(LibError::Located("integral size overflow".into()));
            }
            a = a * 10 + d;
            self.at += 1;
        }
        Ok(a as usize)
    }
}

/// Bytes an option takes (0 for strings `s` and the control options).
fn option_size(opt: u8, fmt: &mut Format<'_>) -> Result<usize, LibError> {
    Ok(match opt {
        b'b' | b'B' | b'x' => 1,
        b'h' | b'H' => 2,
        b'l' | b'L' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => fmt.num(1)?,
        b'i' | b'I' => {
            let size = fmt.num(4)?;
            if size > MAX_INT_SIZE {
                return Err(LibError::Located(format!("integral size {size} is larger than limit of {MAX_INT_SIZE}")));
            }
            size
        }
        _ => 0,
    })
}

/// Padding before an item of `size` bytes at `len` (the C arithmetic, also for sizes
/// that are not powers of two).
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

/// The control options; anything else is not an option at all.
fn control(opt: u8, fmt: &mut Format<'_>, h: &mut Header) -> Result<(), LibError> {
    match opt {
        b' ' => {}
        b'>' => h.big = true,
        b'<' => h.big = false,
        b'!' => {
            let a = fmt.num(MAX_ALIGN)?;
            if !a.is_power_of_two() {
                return Err(LibError::Located(format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
        }
        _ => {
            let mut msg = b"invalid format option '".to_vec();
            msg.push(opt);
            msg.push(b'\'');
            return Err(LibError::arg(1, msg));
        }
    }
    Ok(())
}

/// `size` bytes of the integer `n` (bytes past the eighth are zero, as in C).
fn put_integer(out: &mut Vec<u8>, n: f64, big: bool, size: usize) {
    let value = if n < 0.0 { c_to_i64(n) as u64 } else { c_to_u64(n) };
    let start = out.len();
    out.extend((0..size).map(|i| if i < 8 { (value >> (8 * i)) as u8 } else { 0 }));
    if big {
        out[start..].reverse();
    }
}

/// The integer in `bytes`: the last eight bytes that fit count, and the sign mask uses
/// the C shift (its count taken modulo 64).
fn get_integer(bytes: &[u8], big: bool, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: &u8| l = (l << 8) | u64::from(*b);
    if big {
        bytes.iter().for_each(&mut push);
    } else {
        bytes.iter().rev().for_each(&mut push);
    }
    if !signed {
        return l as f64;
    }
    let mask = u64::MAX.wrapping_shl((bytes.len() as u32).wrapping_mul(8).wrapping_sub(1));
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn pack(args: &Args<'_>) -> Result<Vec<u8>, LibError> {
    let fmt = args.string(1)?;
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let mut h = Header::default();
    let mut arg = 2;
    let mut out = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = option_size(opt, &mut fmt)?;
        let pad = padding(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                put_integer(&mut out, args.number(arg)?, h.big, size);
                arg += 1;
            }
            b'x' => out.push(0),
            b'f' => {
                let f = args.number(arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.big { f.to_be_bytes() } else { f.to_le_bytes() });
            }
            b'd' => {
                let d = args.number(arg)?;
                arg += 1;
                out.extend_from_slice(&if h.big { d.to_be_bytes() } else { d.to_le_bytes() });
            }
            b'c' | b's' => {
                let s = args.string(arg)?;
                let s = s.as_bytes();
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // C names the argument after the one it took (its index moved on).
                    return Err(LibError::arg(arg as i64, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(opt, &mut fmt, &mut h)?,
        }
    }
    Ok(out)
}

/// One unpacked value.
enum Item {
    Num(f64),
    Str(std::ops::Range<usize>),
}

fn unpack(args: &Args<'_>) -> Result<(Vec<Item>, usize), LibError> {
    let fmt = args.string(1)?;
    let data = args.string(2)?;
    let (fmt, data) = (fmt.as_bytes(), data.as_bytes());
    let ld = data.len();
    let init = args.opt_integer(3, 1)? as usize;
    if init == 0 {
        return Err(LibError::arg(3, "offset must be 1 or greater"));
    }
    let mut pos = init - 1;
    let mut fmt = Format::new(&fmt);
    let mut h = Header::default();
    let mut items: Vec<Item> = Vec::new();
    let too_short = || LibError::arg(2, "data string too short");
    while let Some(opt) = fmt.next() {
        let mut size = option_size(opt, &mut fmt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        // Room for this value and the final position on the C stack.
        if args.count.max(2) + items.len() + 2 > MAX_C_STACK {
            return Err(LibError::stack_overflow("too many results"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                items.push(Item::Num(get_integer(&data[pos..pos + size], h.big, opt.is_ascii_lowercase())));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or_default();
                items.push(Item::Num(f64::from(if h.big { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) })));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or_default();
                items.push(Item::Num(if h.big { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) }));
            }
            b'c' => {
                if size == 0 {
                    // The length is the previous value, if it is a number (or a string
                    // Lua reads as one); it is replaced by the string.
                    let prev = match items.last() {
                        Some(Item::Num(n)) => Some(*n),
                        Some(Item::Str(r)) => args
                            .lua
                            .coerce_number(mlua::Value::String(args.lua.create_string(&data[r.clone()]).map_err(|e| LibError::Bare(e.to_string()))?))
                            .ok()
                            .flatten(),
                        None => None,
                    };
                    let Some(prev) = prev else {
                        return Err(LibError::Located("format 'c0' needs a previous size".into()));
                    };
                    items.pop();
                    size = c_to_u64(prev) as usize;
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                items.push(Item::Str(pos..pos + size));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(LibError::Located("unfinished string in data".into()));
                };
                items.push(Item::Str(pos..pos + end));
                size = end + 1;
            }
            _ => control(opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    Ok((items, pos.wrapping_add(1)))
}

fn size(args: &Args<'_>) -> Result<usize, LibError> {
    let fmt = args.string(1)?;
    let fmt = fmt.as_bytes();
    let mut fmt = Format::new(&fmt);
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next() {
        let size = option_size(opt, &mut fmt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(LibError::arg(1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(LibError::arg(1, "option 'c0' has no fixed size"));
        }
        // Letters and digits that are no option are skipped here, unlike in pack.
        if !opt.is_ascii_alphanumeric() {
            control(opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos)
}

/// The library table scripts see.
/// A Lua failure (out of memory) inside a library function.
fn lua_err(e: mlua::Error) -> LibError {
    LibError::Bare(e.to_string())
}

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(move |lua, (n, a): (usize, Table)| {
            let mut args = Args::new(lua, n, a);
            args.nil_after = true;
            let r = pack(&args).and_then(|b| lua.create_string(&b).map(|s| (Value::String(s), 1)).map_err(lua_err));
            Ok(lib_args::answer(lua, r))
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(move |lua, (n, a): (usize, Table)| {
            let args = Args::new(lua, n, a);
            let run = || {
                let (items, next) = unpack(&args)?;
                let data = args.string(2)?;
                let data = data.as_bytes();
                let out = lua.create_table_with_capacity(items.len() + 1, 0).map_err(lua_err)?;
                for (i, item) in items.iter().enumerate() {
                    let v = match item {
                        Item::Num(n) => Value::Number(*n),
                        Item::Str(r) => Value::String(lua.create_string(&data[r.clone()]).map_err(lua_err)?),
                    };
                    out.raw_set(i + 1, v).map_err(lua_err)?;
                }
                out.raw_set(items.len() + 1, next as i64 as f64).map_err(lua_err)?;
                Ok((Value::Table(out), items.len() + 1))
            };
            Ok(lib_args::answer(lua, run()))
        })?,
    )?;
    t.set(
        "size",
        lua.create_function(|lua, (n, a): (usize, Table)| Ok(lib_args::answer(lua, size(&Args::new(lua, n, a)).map(|s| (Value::Number(s as i64 as f64), 1)))))?,
    )?;
    lib_args::wrap(lua, t, &["unpack"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Result<Vec<u8>, String> {
        let lua = Lua::new();
        lua.globals().set("struct", library(&lua).unwrap()).unwrap();
        match lua.load(src).eval::<mlua::Value>() {
            Ok(mlua::Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Ok(other) => Ok(format!("{other:?}").into_bytes()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn packs_integers_at_every_width_and_order() {
        assert_eq!(eval("return struct.pack('>i', 1)").unwrap(), [0, 0, 0, 1]);
        assert_eq!(eval("return struct.pack('<h', -2)").unwrap(), [0xfe, 0xff]);
        assert_eq!(eval("return struct.pack('bB', -1, 255)").unwrap(), [0xff, 0xff]);
        assert_eq!(eval("return struct.pack('>I3', 0x010203)").unwrap(), [1, 2, 3]);
        // Bytes past the eighth are zero, negative or not.
        assert_eq!(eval("return struct.pack('<i10', -1)").unwrap(), [[0xff; 8].as_slice(), &[0, 0]].concat());
        assert_eq!(eval("return struct.pack('>L', -1)").unwrap(), [0xff; 8]);
        assert_eq!(eval("return struct.pack('>L', 2^64)").unwrap(), [0; 8]);
        assert_eq!(eval("return struct.pack('i0', 7)").unwrap(), b"");
    }

    #[test]
    fn packs_floats_strings_and_padding() {
        assert_eq!(eval("return struct.pack('>d', 1e-300)").unwrap(), 1e-300f64.to_be_bytes());
        assert_eq!(eval("return struct.pack('<d', -0.0)").unwrap(), (-0.0f64).to_le_bytes());
        assert_eq!(eval("return struct.pack('>f', 0.1)").unwrap(), 0.1f32.to_be_bytes());
        assert_eq!(eval("return struct.pack('s c2 c0', 'ab', 'xyz', 'w')").unwrap(), b"ab\0xyw");
        assert_eq!(eval("return struct.pack('!4 b i', 1, 2)").unwrap(), [1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(eval("return struct.pack('!8 b i3', 1, 2)").unwrap(), [1, 0, 0, 2, 0, 0]);
        assert_eq!(eval("return struct.pack('b\\0b', 1, 2)").unwrap(), [1]);
    }

    #[test]
    fn unpacks_values_then_the_next_position() {
        let r = eval("local a, b, c, d = struct.unpack('>h <I2 s', '\\255\\254\\1\\0hi\\0') return a .. ' ' .. b .. ' ' .. c .. ' ' .. d").unwrap();
        assert_eq!(r, b"-2 1 hi 8");
        assert_eq!(eval("local a, b = struct.unpack('<i9', string.rep('\\255', 9)) return a .. ' ' .. b").unwrap(), b"-1 10");
        assert_eq!(eval("local a, b = struct.unpack('b c0', '\\3abcd') return a .. b").unwrap(), b"abc5");
        assert_eq!(eval("local a, b = struct.unpack('c1 c0', '2xyz') return a .. b").unwrap(), b"xy4");
        assert_eq!(eval("local a, b = struct.unpack('>d', struct.pack('>d', 1e-300)) return a == 1e-300").unwrap(), b"Boolean(true)");
        assert_eq!(eval("return struct.size('!4 b i d')").unwrap(), b"Integer(16)");
    }

    #[test]
    fn errors_carry_the_c_library_texts() {
        let err = |src: &str| eval(src).unwrap_err();
        assert!(err("return struct.pack('y')").contains("bad argument #1 to 'pack' (invalid format option 'y')"));
        assert!(err("return struct.pack('i33', 1)").contains("integral size 33 is larger than limit of 32"));
        assert!(err("return struct.pack('i99999999999', 1)").contains("integral size overflow"));
        assert!(err("return struct.pack('!3')").contains("alignment 3 is not a power of 2"));
        assert!(err("return struct.pack('>i', 'a')").contains("bad argument #2 to 'pack' (number expected, got string)"));
        assert!(err("return struct.pack('c5', 'ab')").contains("bad argument #3 to 'pack' (string too short)"));
        assert!(err("return struct.pack()").contains("bad argument #1 to 'pack' (string expected, got no value)"));
        assert!(err("return struct.unpack('i', 'ab')").contains("bad argument #2 to 'unpack' (data string too short)"));
        assert!(err("return struct.unpack('b', 'a', 0)").contains("bad argument #3 to 'unpack' (offset must be 1 or greater)"));
        assert!(err("return struct.unpack('c0', '1')").contains("format 'c0' needs a previous size"));
        assert!(err("return struct.unpack('s', 'abc')").contains("unfinished string in data"));
        assert!(err("return struct.size('s')").contains("bad argument #1 to 'size' (option 's' has no fixed size)"));
        assert!(err("return struct.size('c0')").contains("option 'c0' has no fixed size"));
        assert!(err("return struct.unpack(string.rep('b', 7998), string.rep('a', 7998))").contains("stack overflow (too many results)"));
        assert!(err("local p = struct.pack return p('y')").contains("to 'p'"));
        // pcall sees the C text, the option quoted as the raw byte it is.
        assert_eq!(eval("return select(2, pcall(struct.pack, '\\200'))").unwrap(), b"bad argument #1 to '?' (invalid format option '\xc8')");
    }

    #[test]
    fn padding_matches_the_c_arithmetic() {
        let h = Header { big: false, align: 8 };
        assert_eq!(padding(1, &h, b'i', 4), 3);
        assert_eq!(padding(1, &h, b'i', 3), 2);
        assert_eq!(padding(1, &h, b'c', 8), 0);
        assert_eq!(padding(3, &Header::default(), b'd', 8), 0);
        assert_eq!(get_integer(&[0xff; 12], true, true), -1.0);
        assert_eq!(get_integer(&[0x80], false, true), -128.0);
        assert_eq!(get_integer(&[], false, true), 0.0);
    }
}
