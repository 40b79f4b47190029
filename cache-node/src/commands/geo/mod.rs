//! Geospatial commands, on sorted sets whose scores are 52-bit geohashes (`hash.rs`):
//! GEOADD, GEOPOS, GEODIST, GEOHASH here, the area searches in `search.rs`.

mod hash;
mod search;

use super::args;
use super::scope::{self, ScopeKeys};
use super::spec::{CommandSpec, acl, cmd, flag};
use super::zsets::as_zset;
use super::{CmdError, CmdResult, Ctx};
use crate::protocol::Reply;

const R: u32 = acl::READ | acl::GEO | acl::SLOW;
const W: u32 = acl::WRITE | acl::GEO | acl::SLOW;
const DENY: u32 = flag::WRITE | flag::DENYOOM;

/// A geo-family entry with Redis 7.0's summary and first version.
const fn geo(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "geo", summary, since, ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    geo("Add one or more geospatial items in the geospatial index represented using a sorted set", "3.2.0", cmd("geoadd", -5, DENY, W, (1, 1, 1), geoadd)),
    geo("Returns the distance between two members of a geospatial index", "3.2.0", cmd("geodist", -4, flag::READONLY, R, (1, 1, 1), geodist)),
    geo("Returns members of a geospatial index as standard geohash strings", "3.2.0", cmd("geohash", -2, flag::READONLY, R, (1, 1, 1), geohash)),
    geo("Returns longitude and latitude of members of a geospatial index", "3.2.0", cmd("geopos", -2, flag::READONLY, R, (1, 1, 1), geopos)),
    geo("Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", "6.2.0", cmd("geosearch", -7, flag::READONLY, R, (1, 1, 1), search::geosearch)),
    geo("Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", "6.2.0", cmd("geosearchstore", -8, DENY, W, (1, 2, 1), search::geosearchstore)),
    geo("Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", "3.2.0", CommandSpec { scope: ScopeKeys::Custom(scope::store_keys), ..cmd("georadius", -6, DENY | flag::MOVABLE_KEYS, W, (1, 1, 1), search::georadius) }),
    geo("Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", "3.2.0", CommandSpec { scope: ScopeKeys::Custom(scope::store_keys), ..cmd("georadiusbymember", -5, DENY | flag::MOVABLE_KEYS, W, (1, 1, 1), search::georadiusbymember) }),
    geo("A read-only variant for GEORADIUS", "3.2.10", cmd("georadius_ro", -6, flag::READONLY, R, (1, 1, 1), search::georadius_ro)),
    geo("A read-only variant for GEORADIUSBYMEMBER", "3.2.10", cmd("georadiusbymember_ro", -5, flag::READONLY, R, (1, 1, 1), search::georadiusbymember_ro)),
];

/// A coordinate as Redis prints one (`%.17Lf` with trailing zeros removed): a bulk
/// string in RESP2, a double in RESP3.
pub(crate) fn reply_coord(out: &mut Reply, d: f64) {
    let s = format!("{d:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    let s = if s == "-0" { "0" } else { s };
    if out.is_resp3() {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

/// A distance as Redis prints one: `%.4f`, always a bulk string.
pub(crate) fn reply_distance(out: &mut Reply, d: f64) {
    out.bulk(format!("{d:.4}").as_bytes());
}

/// Metres per unit (`ERR unsupported unit provided. please use M, KM, FT, MI`).
pub(crate) fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    match () {
        _ if args::is(arg, "m") => Ok(1.0),
        _ if args::is(arg, "km") => Ok(1000.0),
        _ if args::is(arg, "ft") => Ok(0.3048),
        _ if args::is(arg, "mi") => Ok(1609.34),
        _ => Err(CmdError::other("ERR unsupported unit provided. please use M, KM, FT, MI")),
    }
}

/// A longitude, latitude pair, validated against the geohash limits.
pub(crate) fn lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let x = super::zsets::float_arg(lon)?;
    let y = super::zsets::float_arg(lat)?;
    if !(hash::LON_MIN..=hash::LON_MAX).contains(&x) || !(hash::LAT_MIN..=hash::LAT_MAX).contains(&y) {
        return Err(CmdError::other(format!("ERR invalid longitude,latitude pair {x:.6},{y:.6}")));
    }
    Ok((x, y))
}

/// GEOADD key [NX | XX] [CH] longitude latitude member [...]: a ZADD of geohash scores.
fn geoadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut first = 2;
    let (mut nx, mut xx) = (false, false);
    while first < argv.len() {
        match argv[first] {
            a if args::is(a, "nx") => nx = true,
            a if args::is(a, "xx") => xx = true,
            a if args::is(a, "ch") => {}
            _ => break,
        }
        first += 1;
    }
    let triples = &argv[first..];
    if !triples.len().is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    let mut scores = Vec::with_capacity(triples.len() / 3);
    for t in triples.chunks(3) {
        let (x, y) = lonlat(t[0], t[1])?;
        let score = hash::lonlat_to_score(x, y).ok_or_else(|| CmdError::other("ERR invalid longitude,latitude pair"))?;
        scores.push((score as u64).to_string());
    }
    let mut zargv: Vec<&[u8]> = Vec::with_capacity(first + scores.len() * 2);
    zargv.push(b"zadd");
    zargv.extend_from_slice(&argv[1..first]);
    for (t, s) in triples.chunks(3).zip(&scores) {
        zargv.push(s.as_bytes());
        zargv.push(t[2]);
    }
    super::zsets::write::zadd(ctx, &zargv)
}

/// GEOPOS key [member ...]
fn geopos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let z = as_zset(p.get(argv[1], ctx.now_ms))?;
    let out = &mut *ctx.out;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => {
                let (x, y) = hash::score_to_lonlat(s);
                out.array(2);
                reply_coord(out, x);
                reply_coord(out, y);
            }
            None => out.null_array(),
        }
    }
    Ok(())
}

/// GEODIST key member1 member2 [M | KM | FT | MI]
fn geodist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let to_m = match argv.len() {
        5 => unit(argv[4])?,
        n if n > 5 => return Err(CmdError::Syntax),
        _ => 1.0,
    };
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let z = as_zset(p.get(argv[1], ctx.now_ms))?;
    match z.and_then(|z| Some((z.score(argv[2])?, z.score(argv[3])?))) {
        Some((a, b)) => {
            let (x1, y1) = hash::score_to_lonlat(a);
            let (x2, y2) = hash::score_to_lonlat(b);
            reply_distance(ctx.out, hash::distance(x1, y1, x2, y2) / to_m);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// GEOHASH key [member ...]
fn geohash(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut p = ctx.srv.keyspace.lock(ctx.db(), argv[1]);
    let z = as_zset(p.get(argv[1], ctx.now_ms))?;
    let out = &mut *ctx.out;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.bulk(hash::to_base32(s).as_bytes()),
            None => out.null(),
        }
    }
    Ok(())
}
