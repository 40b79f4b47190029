//! Redis's geohash: longitude and latitude each quantised to 26 bits over their range and
//! interleaved (latitude in the even bits) into a 52-bit integer, which is the member's
//! score. Distances are haversine on Redis's Earth radius.

/// Latitudes Web Mercator can represent; GEOADD refuses anything outside.
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LON_MIN: f64 = -180.0;
pub const LON_MAX: f64 = 180.0;
/// Bits per coordinate.
pub const STEP_MAX: u8 = 26;
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

/// A geohash of `step` bits per coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

/// Spreads the low 32 bits of `v` to the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `v` into 32 bits.
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Encodes within explicit ranges (GEOHASH uses -90..90 for latitude); None out of range.
pub fn encode_in(lon_range: (f64, f64), lat_range: (f64, f64), lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lon < lon_range.0 || lon > lon_range.1 || lat < lat_range.0 || lat > lat_range.1 {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_range.0) / (lat_range.1 - lat_range.0) * scale;
    let lon_off = (lon - lon_range.0) / (lon_range.1 - lon_range.0) * scale;
    Some(Hash { bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1), step })
}

/// Encodes WGS84 coordinates over Redis's ranges.
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    encode_in((LON_MIN, LON_MAX), (LAT_MIN, LAT_MAX), lon, lat, step)
}

/// The cell a hash stands for: ((lon_min, lon_max), (lat_min, lat_max)).
pub fn decode(h: Hash) -> ((f64, f64), (f64, f64)) {
    let lat_i = f64::from(squash(h.bits));
    let lon_i = f64::from(squash(h.bits >> 1));
    let scale = (1u64 << h.step) as f64;
    let lat_span = LAT_MAX - LAT_MIN;
    let lon_span = LON_MAX - LON_MIN;
    let lat = (LAT_MIN + (lat_i / scale) * lat_span, LAT_MIN + ((lat_i + 1.0) / scale) * lat_span);
    let lon = (LON_MIN + (lon_i / scale) * lon_span, LON_MIN + ((lon_i + 1.0) / scale) * lon_span);
    (lon, lat)
}

/// A double converted to a signed 64-bit integer as C does on x86-64 (`cvttsd2si`):
/// anything out of range becomes i64::MIN. Scores that are not geohashes (a plain ZADD
/// can store anything) then decode to the same place as in Redis.
pub fn c_i64(x: f64) -> i64 {
    const TWO63: f64 = 9223372036854775808.0;
    if x.is_nan() || !(-TWO63..TWO63).contains(&x) { i64::MIN } else { x as i64 }
}

/// A double converted to u64 as C compiles it on x86-64 (via the signed conversion).
pub fn c_u64(x: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    if x >= TWO63 { (c_i64(x - TWO63) as u64) ^ (1 << 63) } else { c_i64(x) as u64 }
}

/// The centre of a stored member's cell: (longitude, latitude).
pub fn score_to_lonlat(score: f64) -> (f64, f64) {
    let (lon, lat) = decode(Hash { bits: c_u64(score), step: STEP_MAX });
    let x = ((lon.0 + lon.1) / 2.0).clamp(LON_MIN, LON_MAX);
    let y = ((lat.0 + lat.1) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (x, y)
}

/// The score GEOADD stores for a position.
pub fn lonlat_to_score(lon: f64, lat: f64) -> Option<f64> {
    encode(lon, lat, STEP_MAX).map(|h| h.bits as f64)
}

/// Great-circle distance in metres.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lat1r, lon1r, lat2r, lon2r) = (lat1.to_radians(), lon1.to_radians(), lat2.to_radians(), lon2.to_radians());
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS_M * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// The 11-character base32 geohash GEOHASH prints (standard -90..90 latitude range).
pub fn to_base32(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = score_to_lonlat(score);
    let bits = encode_in((-180.0, 180.0), (-90.0, 90.0), lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    (0..11)
        .map(|i| {
            // 52 bits make ten characters; the eleventh is always '0', as in Redis.
            let idx = if i == 10 { 0 } else { (bits >> (52 - (i + 1) * 5)) & 0x1f };
            char::from(ALPHABET[idx as usize])
        })
        .collect()
}

/// Moves a hash one cell east (+1) or west (-1): the longitude bits are the odd ones.
pub fn move_x(h: &mut Hash, d: i8) {
    if d == 0 || h.step == 0 {
        return;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - u32::from(h.step) * 2);
    let x = if d > 0 { x.wrapping_add(zz + 1) } else { (x | zz).wrapping_sub(zz + 1) };
    let x = x & (0xaaaa_aaaa_aaaa_aaaa >> (64 - u32::from(h.step) * 2));
    h.bits = x | y;
}

/// Moves a hash one cell north (+1) or south (-1): the latitude bits are the even ones.
pub fn move_y(h: &mut Hash, d: i8) {
    if d == 0 || h.step == 0 {
        return;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - u32::from(h.step) * 2);
    let y = if d > 0 { y.wrapping_add(zz + 1) } else { (y | zz).wrapping_sub(zz + 1) };
    let y = y & (0x5555_5555_5555_5555 >> (64 - u32::from(h.step) * 2));
    h.bits = x | y;
}

/// The bit step whose cells are about `range_m` wide at latitude `lat`.
pub fn estimate_step(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2; // Make sure range is included in most of the base cases.
    // Cells get narrower towards the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_matches_redis() {
        let s = lonlat_to_score(13.361389, 38.115556).unwrap();
        assert_eq!(s, 3479099956230698.0);
        let (lon, lat) = score_to_lonlat(s);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(to_base32(s), "sqc8b49rny0");
        let c = lonlat_to_score(15.087269, 37.502669).unwrap();
        let (lon2, lat2) = score_to_lonlat(c);
        assert_eq!(format!("{:.4}", distance(lon, lat, lon2, lat2)), "166274.1516");
    }

    proptest::proptest! {
        #[test]
        fn a_position_decodes_inside_its_cell(lon in -180.0f64..180.0, lat in LAT_MIN..LAT_MAX, step in 1u8..=26) {
            let h = encode(lon, lat, step).unwrap();
            let (x, y) = decode(h);
            proptest::prop_assert!(x.0 <= lon + 1e-9 && lon <= x.1 + 1e-9, "{lon} not in {x:?}");
            proptest::prop_assert!(y.0 <= lat + 1e-9 && lat <= y.1 + 1e-9, "{lat} not in {y:?}");
            // Moving east then west (or north then south) comes back to the same cell.
            let mut m = h;
            move_x(&mut m, 1);
            move_x(&mut m, -1);
            move_y(&mut m, 1);
            move_y(&mut m, -1);
            proptest::prop_assert_eq!(m, h);
        }
    }

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 0xdead_beef, u32::MAX, 0x0300_0001] {
            assert_eq!(squash(spread(v)), v);
        }
    }
}
