//! GEOSEARCH, GEOSEARCHSTORE and the older GEORADIUS family. The search covers the
//! geohash cell around the centre and its eight neighbours at a step chosen from the
//! radius, each cell being one score range of the sorted set, visited in Redis's order
//! so that unsorted replies come out in the same order as Redis's.

use super::hash::{self, Hash};
use super::{args, lonlat, reply_coord, reply_distance, unit};
use crate::commands::zsets::{as_zset, float_arg, store_result};
use crate::commands::{CmdError, CmdResult, Ctx};
use crate::store::zset::{ScoreRange, ZSet};

#[derive(Clone, Copy)]
enum Shape {
    Circle { radius: f64 },
    Rect { width: f64, height: f64 },
}

struct Area {
    lon: f64,
    lat: f64,
    shape: Shape,
    /// Metres per unit of the request.
    to_m: f64,
}

fn rad_deg(r: f64) -> f64 {
    r / (std::f64::consts::PI / 180.0)
}

/// Distance when only the latitude differs (the exact formula Redis's shortcut uses).
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    hash::EARTH_RADIUS_M * (lat2.to_radians() - lat1.to_radians()).abs()
}

/// Redis's distance: like `hash::distance` but with its shortcut for equal longitudes,
/// which rounds differently.
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((lon2.to_radians() - lon1.to_radians()) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    hash::distance(lon1, lat1, lon2, lat2)
}

impl Area {
    /// [min_lon, min_lat, max_lon, max_lat] of the shape.
    fn bounds(&self) -> [f64; 4] {
        let (h, w) = match self.shape {
            Shape::Circle { radius } => (radius, radius),
            Shape::Rect { width, height } => (height / 2.0, width / 2.0),
        };
        let (h, w) = (h * self.to_m, w * self.to_m);
        let lat_delta = rad_deg(h / hash::EARTH_RADIUS_M);
        let lon_top = rad_deg(w / hash::EARTH_RADIUS_M / (self.lat + lat_delta).to_radians().cos());
        let lon_bottom = rad_deg(w / hash::EARTH_RADIUS_M / (self.lat - lat_delta).to_radians().cos());
        let d = if self.lat < 0.0 { lon_bottom } else { lon_top };
        [self.lon - d, self.lat - lat_delta, self.lon + d, self.lat + lat_delta]
    }

    /// The nine cells to scan: centre, N, S, E, W, NE, NW, SE, SW (zero = skipped).
    fn cells(&self) -> [Hash; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius_m = match self.shape {
            Shape::Circle { radius } => radius,
            Shape::Rect { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
        } * self.to_m;
        let mut step = hash::estimate_step(radius_m, self.lat);
        let mut centre = hash::encode(self.lon, self.lat, step).unwrap_or_default();
        let mut n = neighbours(centre);
        let (north, south, east, west) = (hash::decode(n[0]), hash::decode(n[1]), hash::decode(n[2]), hash::decode(n[3]));
        // Near a cell edge the estimated step may not cover the whole shape: go one up.
        if step > 1 && (north.1.1 < max_lat || south.1.0 > min_lat || east.0.1 < max_lon || west.0.0 > min_lon) {
            step -= 1;
            centre = hash::encode(self.lon, self.lat, step).unwrap_or_default();
            n = neighbours(centre);
        }
        let (lon, lat) = hash::decode(centre);
        let zero = Hash::default();
        let [mut no, mut so, mut ea, mut we, mut ne, mut nw, mut se, mut sw] = n;
        // Cells that cannot hold a match are skipped.
        if step >= 2 {
            if lat.0 < min_lat {
                (so, sw, se) = (zero, zero, zero);
            }
            if lat.1 > max_lat {
                (no, ne, nw) = (zero, zero, zero);
            }
            if lon.0 < min_lon {
                (we, sw, nw) = (zero, zero, zero);
            }
            if lon.1 > max_lon {
                (ea, se, ne) = (zero, zero, zero);
            }
        }
        [centre, no, so, ea, we, ne, nw, se, sw]
    }

    /// The distance (in metres) of a member inside the shape, None outside.
    fn distance_if_within(&self, x: f64, y: f64) -> Option<f64> {
        match self.shape {
            Shape::Circle { radius } => {
                let d = distance(self.lon, self.lat, x, y);
                (d <= radius * self.to_m).then_some(d)
            }
            Shape::Rect { width, height } => {
                if lat_distance(y, self.lat) > height * self.to_m / 2.0 {
                    return None;
                }
                if distance(x, y, self.lon, y) > width * self.to_m / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, x, y))
            }
        }
    }
}

/// N, S, E, W, NE, NW, SE, SW of a cell.
fn neighbours(h: Hash) -> [Hash; 8] {
    let at = |dx: i8, dy: i8| {
        let mut n = h;
        hash::move_x(&mut n, dx);
        hash::move_y(&mut n, dy);
        n
    };
    [at(0, 1), at(0, -1), at(1, 0), at(-1, 0), at(1, 1), at(-1, 1), at(1, -1), at(-1, -1)]
}

struct Point {
    member: Vec<u8>,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

/// Every member inside the area, in Redis's visiting order; stops at `limit` (ANY).
fn find(z: &ZSet, area: &Area, limit: usize) -> Vec<Point> {
    let cells = area.cells();
    let mut found = Vec::new();
    let mut last = 0;
    for (i, c) in cells.iter().enumerate() {
        if c.bits == 0 && c.step == 0 {
            continue;
        }
        // A huge radius can make neighbours equal: skip a repeat of the previous cell.
        if last != 0 && *c == cells[last] {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        let shift = 52 - 2 * u32::from(c.step);
        let min = (c.bits << shift) as f64;
        let max = ((c.bits + 1) << shift) as f64;
        let (lo, hi) = z.score_ranks(&ScoreRange { min, min_ex: false, max, max_ex: true });
        let mut stop = false;
        z.for_each(lo, hi, false, &mut |m, s| {
            if stop {
                return;
            }
            let (x, y) = hash::score_to_lonlat(s);
            if let Some(dist) = area.distance_if_within(x, y) {
                found.push(Point { member: m.to_vec(), score: s, dist, lon: x, lat: y });
                if limit > 0 && found.len() >= limit {
                    stop = true;
                }
            }
        });
        last = i;
    }
    found
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS / _RO: centre and radius are positional.
    RadiusCoords {
        store_ok: bool,
    },
    /// GEORADIUSBYMEMBER / _RO.
    RadiusMember {
        store_ok: bool,
    },
    Search {
        store: bool,
    },
}

fn not_decodable() -> CmdError {
    CmdError::other("ERR could not decode requested zset member")
}

/// Radius and unit (`ERR need numeric radius`, `ERR radius cannot be negative`).
fn radius(r: &[u8], u: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = float_arg(r).map_err(|_| CmdError::other("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::other("ERR radius cannot be negative"));
    }
    Ok((r, unit(u)?))
}

/// Every key a request may write: the GEOSEARCHSTORE destination, any STORE/STOREDIST
/// argument (over-approximated: locking an extra partition is harmless).
fn store_candidates<'a>(argv: &[&'a [u8]], form: Form) -> Vec<&'a [u8]> {
    match form {
        Form::Search { store: true } => vec![argv[1]],
        Form::Search { store: false } => Vec::new(),
        _ => argv.windows(2).filter(|w| args::is(w[0], "store") || args::is(w[0], "storedist")).map(|w| w[1]).collect(),
    }
}

/// What a search request asks for, and what it found (None: the key does not exist).
struct Plan<'a> {
    found: Option<Vec<Point>>,
    store_key: Option<&'a [u8]>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
}

/// Parses the request against the source set (Redis checks some options against it) and
/// runs the search; distances come back in the request's unit.
fn plan<'a>(z: Option<&ZSet>, argv: &[&'a [u8]], form: Form) -> Result<Plan<'a>, CmdError> {
    let mut area = Area { lon: 0.0, lat: 0.0, shape: Shape::Circle { radius: 0.0 }, to_m: 1.0 };
    let base = match form {
        Form::RadiusCoords { .. } => {
            (area.lon, area.lat) = lonlat(argv[2], argv[3])?;
            let (r, u) = radius(argv[4], argv[5])?;
            (area.shape, area.to_m) = (Shape::Circle { radius: r }, u);
            6
        }
        Form::RadiusMember { .. } => {
            if let Some(z) = z {
                let s = z.score(argv[2]).ok_or_else(not_decodable)?;
                (area.lon, area.lat) = hash::score_to_lonlat(s);
                let (r, u) = radius(argv[3], argv[4])?;
                (area.shape, area.to_m) = (Shape::Circle { radius: r }, u);
            }
            5
        }
        Form::Search { store } => {
            if store {
                3
            } else {
                2
            }
        }
    };
    let is_search = matches!(form, Form::Search { .. });
    let can_store = matches!(form, Form::RadiusCoords { store_ok: true } | Form::RadiusMember { store_ok: true });
    let mut store_key: Option<&[u8]> = if form == (Form::Search { store: true }) { Some(argv[1]) } else { None };
    let (mut withdist, mut withhash, mut withcoord, mut any, mut storedist) = (false, false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort: Option<bool> = None; // Some(true) = ascending
    let mut count: i64 = 0;
    let rest = &argv[base.min(argv.len())..];
    let mut i = 0;
    while i < rest.len() {
        let a = rest[i];
        let left = rest.len() - i - 1;
        if args::is(a, "withdist") {
            withdist = true;
        } else if args::is(a, "withhash") {
            withhash = true;
        } else if args::is(a, "withcoord") {
            withcoord = true;
        } else if args::is(a, "any") {
            any = true;
        } else if args::is(a, "asc") {
            sort = Some(true);
        } else if args::is(a, "desc") {
            sort = Some(false);
        } else if args::is(a, "count") && left >= 1 {
            count = args::int(rest[i + 1])?;
            if count <= 0 {
                return Err(CmdError::other("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (args::is(a, "store") || args::is(a, "storedist")) && left >= 1 && can_store {
            store_key = Some(rest[i + 1]);
            storedist = args::is(a, "storedist");
            i += 1;
        } else if args::is(a, "storedist") && form == (Form::Search { store: true }) {
            storedist = true;
        } else if args::is(a, "frommember") && left >= 1 && is_search && !fromloc {
            if let Some(z) = z {
                let s = z.score(rest[i + 1]).ok_or_else(not_decodable)?;
                (area.lon, area.lat) = hash::score_to_lonlat(s);
            }
            frommember = true;
            i += 1;
        } else if args::is(a, "fromlonlat") && left >= 2 && is_search && !frommember {
            (area.lon, area.lat) = lonlat(rest[i + 1], rest[i + 2])?;
            fromloc = true;
            i += 2;
        } else if args::is(a, "byradius") && left >= 2 && is_search && !bybox {
            let (r, u) = radius(rest[i + 1], rest[i + 2])?;
            (area.shape, area.to_m) = (Shape::Circle { radius: r }, u);
            byradius = true;
            i += 2;
        } else if args::is(a, "bybox") && left >= 3 && is_search && !byradius {
            let w = float_arg(rest[i + 1]).map_err(|_| CmdError::other("ERR need numeric width"))?;
            let h = float_arg(rest[i + 2]).map_err(|_| CmdError::other("ERR need numeric height"))?;
            if h < 0.0 || w < 0.0 {
                return Err(CmdError::other("ERR height or width cannot be negative"));
            }
            area.to_m = unit(rest[i + 3])?;
            area.shape = Shape::Rect { width: w, height: h };
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let name = String::from_utf8_lossy(argv[0]).into_owned();
    if store_key.is_some() && (withdist || withhash || withcoord) {
        let what = if form == (Form::Search { store: true }) { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(CmdError::other(format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")));
    }
    if is_search && !(frommember || fromloc) {
        return Err(CmdError::other(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")));
    }
    if is_search && !(byradius || bybox) {
        return Err(CmdError::other(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")));
    }
    if any && count == 0 {
        return Err(CmdError::other("ERR the ANY argument requires COUNT argument"));
    }
    let Some(z) = z else {
        return Ok(Plan { found: None, store_key, storedist, withdist, withhash, withcoord });
    };
    if count != 0 && sort.is_none() && !any {
        sort = Some(true);
    }
    let limit = if any { count as usize } else { 0 };
    let mut found = find(z, &area, limit);
    if let Some(asc) = sort {
        found.sort_by(|a, b| if asc { a.dist.total_cmp(&b.dist) } else { b.dist.total_cmp(&a.dist) });
    }
    let n = if count == 0 { found.len() } else { found.len().min(count as usize) };
    found.truncate(n);
    for p in &mut found {
        p.dist /= area.to_m;
    }
    Ok(Plan { found: Some(found), store_key, storedist, withdist, withhash, withcoord })
}

/// Redis's `georadiusGeneric`: the same argument order, checks and replies.
fn search_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], form: Form) -> CmdResult {
    let src_idx = if form == (Form::Search { store: true }) { 2 } else { 1 };
    let src = argv[src_idx];
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut l = ctx.srv.keyspace.lock_keys(db, std::iter::once(src).chain(store_candidates(argv, form)));
    let plan = plan(as_zset(l.part(db, src).get(src, now))?, argv, form)?;
    let Plan { found, store_key, storedist, withdist, withhash, withcoord } = plan;
    let Some(found) = found else {
        match store_key {
            Some(dst) => {
                let removed = l.part(db, dst).remove(dst, now);
                drop(l);
                ctx.dirty(u64::from(removed));
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    let n = found.len();
    match store_key {
        None => {
            drop(l);
            let out = &mut *ctx.out;
            let extra = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
            out.array(n);
            for p in &found {
                if extra > 0 {
                    out.array(extra + 1);
                }
                out.bulk(&p.member);
                if withdist {
                    reply_distance(out, p.dist);
                }
                if withhash {
                    out.int(hash::c_i64(p.score));
                }
                if withcoord {
                    out.array(2);
                    reply_coord(out, p.lon);
                    reply_coord(out, p.lat);
                }
            }
        }
        Some(dst) => {
            let mut result = ZSet::for_size(n, found.iter().map(|p| p.member.len()).max().unwrap_or(0));
            for p in &found {
                result.insert(&p.member, if storedist { p.dist } else { p.score });
            }
            let p = l.part(db, dst);
            let existed = p.contains(dst, now);
            store_result(p, dst, result, now);
            drop(l);
            ctx.dirty(if n > 0 { n as u64 } else { u64::from(existed) });
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// GEOSEARCH key FROMMEMBER m | FROMLONLAT lon lat  BYRADIUS r unit | BYBOX w h unit
/// [ASC | DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
pub fn geosearch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Form::Search { store: false })
}

/// GEOSEARCHSTORE dst src ... [STOREDIST]
pub fn geosearchstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Form::Search { store: true })
}

/// GEORADIUS key lon lat radius unit [options] [STORE key | STOREDIST key]
pub fn georadius(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Form::RadiusCoords { store_ok: true })
}

pub fn georadius_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Form::RadiusCoords { store_ok: false })
}

/// GEORADIUSBYMEMBER key member radius unit [options] [STORE key | STOREDIST key]
pub fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Form::RadiusMember { store_ok: true })
}

pub fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Form::RadiusMember { store_ok: false })
}
