//! Geo commands against the reference redis-server (see `zsets_oracle`): scores,
//! positions, hashes, distances and every search form, byte for byte over RESP2 and
//! RESP3, including the order of unsorted search results.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod zsets_oracle;

use zsets_oracle::same_as_redis;

#[test]
fn add_pos_dist_hash() {
    same_as_redis(
        "
        GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        ZRANGE Sicily 0 -1 WITHSCORES
        GEOADD Sicily NX 13.361389 38.115556 Palermo 12.758489 38.788135 edge1
        GEOADD Sicily XX CH 13.5 38.2 Palermo 1 1 nope
        GEOADD Sicily CH NX 1 1 nope
        GEOADD Sicily NX XX 1 1 x
        GEOADD Sicily GT 1 1 x
        GEOADD Sicily 1 1
        GEOADD Sicily 1 1 a 2
        GEOADD Sicily 181 10 x
        GEOADD Sicily 10 85.06 x
        GEOADD Sicily -180 -85.05112878 corner 180 85.05112878 corner2 0 0 origin
        GEOADD Sicily abc 10 x
        GEOADD Sicily 10 nan x
        GEOPOS Sicily Palermo Catania nope corner corner2 origin
        GEOPOS Sicily
        GEOPOS nokey a b
        GEODIST Sicily Palermo Catania
        GEODIST Sicily Palermo Catania km
        GEODIST Sicily Palermo Catania MI
        GEODIST Sicily Palermo Catania ft
        GEODIST Sicily Palermo Catania m
        GEODIST Sicily Palermo Catania yards
        GEODIST Sicily Palermo Catania km extra
        GEODIST Sicily Palermo nope
        GEODIST nokey a b
        GEODIST Sicily corner corner2
        GEODIST Sicily Palermo Palermo
        GEOHASH Sicily Palermo Catania nope corner corner2 origin
        GEOHASH Sicily
        GEOHASH nokey a
        SET s x
        GEOADD s 1 1 a
        GEOPOS s a
        GEODIST s a b
        GEOHASH s a
        GEOSEARCH s FROMLONLAT 0 0 BYRADIUS 1 km
        GEORADIUS s 0 0 1 km
        ",
    );
}

/// A few hundred places around Sicily, the poles and the antimeridian.
fn places() -> String {
    let mut cmd = String::from("GEOADD pts");
    for i in 0..300 {
        let lon = 12.0 + f64::from(i % 20) * 0.173 + f64::from(i) * 0.0011;
        let lat = 36.5 + f64::from(i / 20) * 0.151 - f64::from(i % 7) * 0.013;
        cmd += &format!(" {lon:.6} {lat:.6} p{i}");
    }
    for (i, (lon, lat)) in [(179.9, 10.0), (-179.9, 10.0), (0.0, 84.9), (90.0, -84.9), (-0.001, 0.001)].iter().enumerate() {
        cmd += &format!(" {lon} {lat} far{i}");
    }
    cmd + "\n"
}

#[test]
fn searches_match_redis_including_unsorted_order() {
    let mut script = places();
    script += "
        GEOSEARCH pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km
        GEOSEARCH pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km ASC WITHDIST
        GEOSEARCH pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km DESC WITHCOORD WITHHASH WITHDIST
        GEOSEARCH pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km COUNT 5
        GEOSEARCH pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km COUNT 5 ANY
        GEOSEARCH pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km COUNT 5 DESC
        GEOSEARCH pts FROMLONLAT 13.361389 38.115556 BYRADIUS 400 km
        GEOSEARCH pts FROMLONLAT 14 37.5 BYRADIUS 3000 km
        GEOSEARCH pts FROMLONLAT 14 37.5 BYRADIUS 6000 mi ASC
        GEOSEARCH pts FROMLONLAT 13 37 BYRADIUS 0 m
        GEOSEARCH pts FROMLONLAT 13 37 BYRADIUS 10 ft
        GEOSEARCH pts FROMMEMBER p42 BYRADIUS 30 km WITHDIST
        GEOSEARCH pts FROMMEMBER p42 BYBOX 60 40 km
        GEOSEARCH pts FROMMEMBER p42 BYBOX 60 40 km ASC WITHDIST WITHCOORD
        GEOSEARCH pts FROMLONLAT 13 37.5 BYBOX 100 100 mi DESC COUNT 7 WITHHASH
        GEOSEARCH pts FROMLONLAT 179.95 10 BYRADIUS 100 km WITHDIST
        GEOSEARCH pts FROMLONLAT 0 84.95 BYRADIUS 100 km WITHDIST
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 km WITHCOORD
        GEOSEARCH pts FROMMEMBER nope BYRADIUS 1 km
        GEOSEARCH nokey FROMMEMBER nope BYRADIUS 1 km
        GEOSEARCH nokey FROMLONLAT 0 0 BYRADIUS 1 km
        GEOSEARCH pts FROMLONLAT 0 0 FROMMEMBER p1 BYRADIUS 1 km
        GEOSEARCH pts FROMMEMBER p1 FROMLONLAT 0 0 BYRADIUS 1 km
        GEOSEARCH pts BYRADIUS 1 km
        GEOSEARCH pts FROMLONLAT 0 0 WITHDIST
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 km BYBOX 1 1 km
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS -1 km
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS x km
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 parsecs
        GEOSEARCH pts FROMLONLAT 0 0 BYBOX -1 1 km
        GEOSEARCH pts FROMLONLAT 0 0 BYBOX x 1 km
        GEOSEARCH pts FROMLONLAT 0 0 BYBOX 1 x km
        GEOSEARCH pts FROMLONLAT 200 0 BYRADIUS 1 km
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 km COUNT 0
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 km COUNT x
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 km ANY
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 km STORE x
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 km STOREDIST
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS 1 km FOO
        GEOSEARCHSTORE dst pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km
        ZRANGE dst 0 -1 WITHSCORES
        OBJECT ENCODING dst
        GEOSEARCHSTORE dst pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km STOREDIST COUNT 3
        ZRANGE dst 0 -1 WITHSCORES
        GEOSEARCHSTORE dst pts FROMLONLAT 13.361389 38.115556 BYRADIUS 50 km WITHDIST
        GEOSEARCHSTORE dst pts FROMLONLAT 0 0 BYRADIUS 1 m
        EXISTS dst
        GEOSEARCHSTORE dst nokey FROMLONLAT 0 0 BYRADIUS 1 m
        GEOSEARCHSTORE big pts FROMLONLAT 14 37.5 BYRADIUS 3000 km
        OBJECT ENCODING big
        GEORADIUS pts 13.361389 38.115556 50 km
        GEORADIUS pts 13.361389 38.115556 50 km WITHDIST WITHCOORD ASC COUNT 4
        GEORADIUS pts 13.361389 38.115556 50 km STORE st
        ZRANGE st 0 -1 WITHSCORES
        GEORADIUS pts 13.361389 38.115556 50 km STOREDIST st DESC COUNT 2
        ZRANGE st 0 -1 WITHSCORES
        GEORADIUS pts 13.361389 38.115556 50 km STORE st WITHDIST
        GEORADIUS pts 13.361389 38.115556 50 km FROMLONLAT 1 1
        GEORADIUS pts 200 38 50 km
        GEORADIUS pts 13 38 x km
        GEORADIUS pts 13 38 50 lightyears
        GEORADIUS nokey 13 38 50 km
        GEORADIUS nokey 13 38 50 km STORE st
        EXISTS st
        GEORADIUS_RO pts 13.361389 38.115556 50 km
        GEORADIUS_RO pts 13.361389 38.115556 50 km STORE st
        GEORADIUSBYMEMBER pts p42 30 km
        GEORADIUSBYMEMBER pts p42 30 km WITHDIST DESC
        GEORADIUSBYMEMBER pts nope 30 km
        GEORADIUSBYMEMBER pts p42 x km
        GEORADIUSBYMEMBER nokey p42 x km
        GEORADIUSBYMEMBER nokey p42 30 km STORE st
        GEORADIUSBYMEMBER pts p42 30 km STORE st
        ZCARD st
        GEORADIUSBYMEMBER_RO pts p42 30 km
        GEORADIUSBYMEMBER_RO pts p42 30 km STOREDIST st
        GEOSEARCH pts FROMLONLAT 0 0 BYRADIUS inf km COUNT 3
        GEOSEARCH pts FROMLONLAT 13 37 BYBOX 0 0 m
        GEOSEARCH pts FROMLONLAT 13 37 BYRADIUS 0.000001 m
        ZADD weird 1.5 a 4503599627370495 b 0 c 1e20 d
        GEOPOS weird a b c d
        GEOHASH weird a b c d
        GEODIST weird a b
        GEOSEARCH weird FROMMEMBER b BYRADIUS 100 km WITHCOORD
    ";
    same_as_redis(&script);
}

/// Seeded random places all over the globe and random searches around them, compared
/// with redis-server (unsorted results included, so the cell order must match).
#[test]
fn random_searches_match_redis() {
    let state = std::cell::Cell::new(0x2545_F491_4F6C_DD1Du64);
    let next = |n: u64| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x % n
    };
    let coord = |lon_span: f64, lat_span: f64, lon0: f64, lat0: f64| {
        let lon = lon0 + (next(1_000_000) as f64 / 1_000_000.0 - 0.5) * lon_span;
        let lat = lat0 + (next(1_000_000) as f64 / 1_000_000.0 - 0.5) * lat_span;
        (lon.clamp(-180.0, 180.0), lat.clamp(-85.05, 85.05))
    };
    let mut script = String::from("GEOADD g");
    // Clusters around a few centres (one in each hemisphere, one on the antimeridian,
    // one near a pole) plus points anywhere.
    for (i, &(lon0, lat0, span)) in [(13.0, 38.0, 4.0), (-58.4, -34.6, 6.0), (179.5, -16.0, 3.0), (20.0, 78.0, 20.0), (0.0, 0.0, 360.0)].iter().enumerate() {
        for j in 0..80 {
            let (lon, lat) = coord(span, span.min(170.0) / 2.0, lon0, lat0);
            script += &format!(" {lon:.6} {lat:.6} c{i}p{j}");
        }
    }
    script.push('\n');
    for _ in 0..150 {
        let centre = next(5);
        let (lon0, lat0) = [(13.0, 38.0), (-58.4, -34.6), (179.5, -16.0), (20.0, 78.0), (0.0, 0.0)][centre as usize];
        let (lon, lat) = coord(3.0, 3.0, lon0, lat0);
        let unit = ["m", "km", "mi", "ft"][next(4) as usize];
        let scale = match unit {
            "m" => 1000.0,
            "ft" => 3000.0,
            _ => 1.0,
        };
        let r = (next(500) as f64 + 1.0) * scale;
        let opts = ["", " WITHDIST", " ASC WITHDIST", " DESC COUNT 5", " WITHHASH WITHCOORD", " COUNT 3 ANY"][next(6) as usize];
        let line = match next(4) {
            0 => format!("GEOSEARCH g FROMLONLAT {lon:.5} {lat:.5} BYRADIUS {r} {unit}{opts}"),
            1 => format!("GEOSEARCH g FROMLONLAT {lon:.5} {lat:.5} BYBOX {r} {} {unit}{opts}", r / 2.0),
            2 => format!("GEOSEARCH g FROMMEMBER c{centre}p{} BYRADIUS {r} {unit}{opts}", next(80)),
            _ => format!("GEORADIUS_RO g {lon:.5} {lat:.5} {r} {unit}{opts}"),
        };
        script += &line;
        script.push('\n');
    }
    same_as_redis(&script);
}
