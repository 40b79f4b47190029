//! INCRBYFLOAT and HINCRBYFLOAT against a real redis-server: the same random sequence of
//! increments, stored texts and bad numbers sent to both, every reply compared. Redis
//! adds in 80-bit long double and prints `%.17Lf`; equal replies mean equal arithmetic,
//! reading and printing, down to the last digit and the error texts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use common::*;
use redis_server::{RedisServer, temp_dir};

/// A number's text, as users and programs write them, plus the awkward cases.
fn number(rng: &mut fastrand::Rng) -> String {
    let sign = if rng.bool() { "-" } else { "" };
    match rng.u8(0..12) {
        0 => ["0.1", "0.2", "0.3", "1.1", "2.2", "10.5", "5.0e3", "0.01", "99.99", "1e-5"][rng.usize(0..10)].to_string(),
        1 => format!("{sign}{}", rng.i32(-1000..1000)),
        2 => format!("{sign}{}.{}", rng.u32(0..100_000), rng.u32(0..100_000)),
        3 => {
            // Up to 25 digits with the point anywhere.
            let digits: String = (0..rng.usize(1..26)).map(|_| char::from(b'0' + rng.u8(0..10))).collect();
            let at = rng.usize(0..=digits.len());
            format!("{sign}{}.{}", &digits[..at], &digits[at..])
        }
        4 => format!("{sign}{}e{}", rng.u32(1..1000), rng.i32(-30..30)),
        5 => format!("{sign}{}.{}e{}", rng.u32(0..10), rng.u64(0..u64::MAX), rng.i32(-25..25)),
        6 => format!("{sign}0x{:x}.{:x}p{}", rng.u32(..), rng.u32(..), rng.i32(-70..70)),
        7 => format!("{sign}1e{}", rng.i32(300..400)),
        8 => format!("{sign}{}e-{}", rng.u32(1..10), rng.u32(18..25)),
        9 => format!("{sign}0x1p-{}", rng.u32(1..80)),
        10 => ["inf", "-inf", "nan", "abc", "", "1e", "0x", " 1", "1 ", "1e5000", "1e-5000", "1.2e4932", "+.5", "1.", "0x1P3"][rng.usize(0..15)].to_string(),
        _ => format!("{sign}{}", rng.f64() * 10f64.powi(rng.i32(-20..20))),
    }
}

fn query(c: &mut redis::Connection, args: &[String]) -> String {
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a);
    }
    match cmd.query::<redis::Value>(c) {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn incrbyfloat_and_hincrbyfloat_reply_as_redis_server_does() {
    let seed = std::env::var("FLOAT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    println!("FLOAT_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let node = Node::start(&[]);
    let redis = RedisServer::start(&temp_dir("floats"), &[]);
    let (mut a, mut b) = (node.client(), redis.client());
    let mut compared = 0;
    let mut agreed_numbers = 0;
    for _ in 0..3000 {
        let key = format!("k{}", rng.u8(0..4));
        let args: Vec<String> = match rng.u8(0..10) {
            0 => vec!["SET".into(), key, number(&mut rng)],
            1 => vec!["HSET".into(), "h".into(), key, number(&mut rng)],
            2..=4 => vec!["HINCRBYFLOAT".into(), "h".into(), key, number(&mut rng)],
            _ => vec!["INCRBYFLOAT".into(), key, number(&mut rng)],
        };
        let (ours, theirs) = (query(&mut a, &args), query(&mut b, &args));
        assert_eq!(ours, theirs, "{args:?} (FLOAT_SEED={seed})");
        compared += 1;
        agreed_numbers += usize::from(ours.starts_with("bulk-string"));
    }
    // The stored texts agree too.
    for k in 0..4 {
        for read in [vec!["GET".to_string(), format!("k{k}")], vec!["HGET".to_string(), "h".to_string(), format!("k{k}")]] {
            assert_eq!(query(&mut a, &read), query(&mut b, &read));
        }
    }
    // The sequence must exercise real sums, not only errors.
    assert!(agreed_numbers > compared / 3, "{agreed_numbers} numeric replies of {compared}");
}

#[test]
fn everyday_sums_print_as_redis_prints_them() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut incr = |k: &str, by: &str| -> String { redis::cmd("INCRBYFLOAT").arg(k).arg(by).query(&mut c).unwrap() };
    assert_eq!(incr("a", "0.1"), "0.1");
    assert_eq!(incr("a", "0.2"), "0.3");
    assert_eq!(incr("b", "10.6"), "10.6");
    assert_eq!(incr("b", "5.0e3"), "5010.60000000000000009");
    assert_eq!(incr("c", "1e17"), "100000000000000000");
    assert_eq!(incr("c", "1.5"), "100000000000000001.5");
    assert_eq!(incr("d", "0.10000000000000001"), "0.10000000000000001");
    assert_eq!(incr("e", "0x1.8p1"), "3");
    let mut c = node.client();
    let h: String = redis::cmd("HINCRBYFLOAT").arg("h").arg("f").arg("0.1").query(&mut c).unwrap();
    assert_eq!(h, "0.1");
    let h: String = redis::cmd("HINCRBYFLOAT").arg("h").arg("f").arg("0.2").query(&mut c).unwrap();
    assert_eq!(h, "0.3");
}
