//! The `bit` library (LuaBitOp's API): 32-bit operations on Lua numbers.

use mlua::{Lua, Table, Variadic};

/// LuaBitOp's number normalisation: round to the nearest integer (ties to even), then
/// keep the low 32 bits as a signed value.
pub fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    let r = x.round_ties_even() % 4_294_967_296.0;
    (r as i64) as u32 as i32
}

fn tohex(x: f64, n: Option<f64>) -> String {
    let v = tobit(x) as u32;
    let n = n.map_or(8, tobit);
    let (upper, width) = if n < 0 { (true, n.unsigned_abs().min(8)) } else { (false, (n as u32).min(8)) };
    let masked = if width >= 8 { v } else { v & ((1u32 << (4 * width)) - 1) };
    if upper { format!("{masked:0w$X}", w = width as usize) } else { format!("{masked:0w$x}", w = width as usize) }
}

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary = |f: fn(i32) -> i32| move |_: &Lua, x: f64| Ok(f(tobit(x)) as f64);
    let fold = |f: fn(i32, i32) -> i32| move |_: &Lua, xs: Variadic<f64>| Ok(xs.iter().map(|&x| tobit(x)).reduce(f).unwrap_or(0) as f64);
    let shift = |f: fn(i32, u32) -> i32| move |_: &Lua, (x, n): (f64, f64)| Ok(f(tobit(x), (tobit(n) & 31) as u32) as f64);
    t.set("tobit", lua.create_function(unary(|x| x))?)?;
    t.set("bnot", lua.create_function(unary(|x| !x))?)?;
    t.set("bswap", lua.create_function(unary(i32::swap_bytes))?)?;
    t.set("band", lua.create_function(fold(|a, b| a & b))?)?;
    t.set("bor", lua.create_function(fold(|a, b| a | b))?)?;
    t.set("bxor", lua.create_function(fold(|a, b| a ^ b))?)?;
    t.set("lshift", lua.create_function(shift(|x, n| ((x as u32) << n) as i32))?)?;
    t.set("rshift", lua.create_function(shift(|x, n| ((x as u32) >> n) as i32))?)?;
    t.set("arshift", lua.create_function(shift(|x, n| x >> n))?)?;
    t.set("rol", lua.create_function(shift(|x, n| (x as u32).rotate_left(n) as i32))?)?;
    t.set("ror", lua.create_function(shift(|x, n| (x as u32).rotate_right(n) as i32))?)?;
    t.set("tohex", lua.create_function(|_, (x, n): (f64, Option<f64>)| Ok(tohex(x, n)))?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitop_semantics() {
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(2_147_483_648.0), -2_147_483_648);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tohex(255.0, None), "000000ff");
        assert_eq!(tohex(255.0, Some(-4.0)), "00FF");
        assert_eq!(tohex(-1.0, Some(2.0)), "ff");
        let lua = Lua::new();
        lua.globals().set("bit", library(&lua).unwrap()).unwrap();
        let v: Vec<f64> = lua.load("return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(5, 1), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-16, 2), bit.rol(0x80000000, 1), bit.bnot(0)}").eval().unwrap();
        assert_eq!(v, vec![15.0, 7.0, 4.0, -2_147_483_648.0, 15.0, -4.0, 1.0, -1.0]);
    }
}
