//! Sorted-set commands against the reference: every script below runs on cache-node and
//! on a throwaway `redis-server` 7.0 (installed by scripts/test.sh), over RESP2 and
//! RESP3, and each reply must match byte for byte. Random replies and end-to-end
//! patterns are in `zsets_patterns.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod zsets_oracle;

use zsets_oracle::same_as_redis;

#[test]
fn zadd_options_and_errors() {
    same_as_redis(
        "
        ZADD z 1 a 2 b 3 c
        ZADD z 1 a 5 b 0.1 d
        ZADD z CH 1 a 6 b 7 e
        ZADD z NX 100 a 8 f
        ZADD z XX 100 a 9 nope
        ZADD z XX CH 100 a 100 b
        ZADD z GT 50 a 200 b
        ZADD z GT CH 50 a 200 b
        ZADD z LT CH 1 a 300 b
        ZADD z INCR 2.5 a
        ZADD z INCR -inf a
        ZADD z INCR +inf a
        ZADD z XX INCR 1 missing
        ZADD z NX INCR 1 a
        ZADD z GT INCR -1 b
        ZADD z LT INCR -1 b
        ZADD z INCR 0 b
        ZADD z nx xx 1 a
        ZADD z gt lt 1 a
        ZADD z gt nx 1 a
        ZADD z lt nx 1 a
        ZADD z incr 1 a 2 b
        ZADD z 1
        ZADD z 1 a 2
        ZADD z CH
        ZADD z abc a
        ZADD z 1 a nan b
        ZADD z 1 a NaN b
        ZADD z inf a -inf b +inf c
        ZADD z 1e400 a
        ZADD z -0 zero
        ZRANGE z 0 -1 WITHSCORES
        ZADD fresh XX 1 a
        ZADD fresh XX INCR 1 a
        EXISTS fresh
        ZADD fresh GT 5 a
        ZADD fresh LT 7 b
        ZRANGE fresh 0 -1 WITHSCORES
        ZINCRBY fresh 2 a
        ZINCRBY fresh 0.1 a
        ZINCRBY fresh 1e300 n
        ZINCRBY fresh abc a
        ZADD inf 0 x inf y
        ZINCRBY inf -inf y
        ZSCORE inf y
        ZADD z
        SET s x
        ZADD s 1 a
        ZINCRBY s 1 a
        ZADD s XX 1 a
        GET s
        OBJECT ENCODING s
        ",
    );
}

#[test]
fn reads_and_counts() {
    same_as_redis(
        "
        ZADD z 1 a 2 b 3 c 0.1 d 1e20 e 123456789012345678 f -5 g 1.5e-5 h
        ZSCORE z a
        ZSCORE z d
        ZSCORE z e
        ZSCORE z f
        ZSCORE z h
        ZSCORE z nope
        ZSCORE nokey a
        ZMSCORE z a nope d
        ZMSCORE nokey a b
        ZCARD z
        ZCARD nokey
        ZCOUNT z -inf +inf
        ZCOUNT z 1 3
        ZCOUNT z (1 3
        ZCOUNT z (1 (3
        ZCOUNT z 3 1
        ZCOUNT z (1 (1
        ZCOUNT z 1 1
        ZCOUNT z abc 1
        ZCOUNT z 1 (abc
        ZCOUNT z ((1 2
        ZCOUNT z nan 1
        ZCOUNT nokey 0 1
        ZCOUNT z -inf (-inf
        ZRANK z a
        ZRANK z g
        ZRANK z nope
        ZRANK nokey a
        ZREVRANK z a
        ZREVRANK z e
        ZREVRANK z nope
        ZADD lex 0 a 0 b 0 c 0 d 0 e 0 f 0 g
        ZLEXCOUNT lex - +
        ZLEXCOUNT lex [b [d
        ZLEXCOUNT lex (b (d
        ZLEXCOUNT lex (b [d
        ZLEXCOUNT lex [d [b
        ZLEXCOUNT lex + -
        ZLEXCOUNT lex - (c
        ZLEXCOUNT lex [c +
        ZLEXCOUNT lex [ +
        ZLEXCOUNT lex b d
        ZLEXCOUNT lex [a +a
        ZLEXCOUNT lex -- +
        ZLEXCOUNT nokey - +
        SET s x
        ZSCORE s a
        ZMSCORE s a
        ZCARD s
        ZCOUNT s 0 1
        ZCOUNT s x 1
        ZLEXCOUNT s - +
        ZRANK s a
        ZREVRANK s a
        ",
    );
}

#[test]
fn ranges() {
    same_as_redis(
        "
        ZADD z 1 a 2 b 3 c 4 d 5 e 0.1 f inf g -inf h
        ZRANGE z 0 -1
        ZRANGE z 0 -1 WITHSCORES
        ZRANGE z 2 3 withscores
        ZRANGE z -2 -1
        ZRANGE z -100 100
        ZRANGE z 5 2
        ZRANGE z 100 200
        ZRANGE z -1 -2
        ZRANGE z 0 -1 REV WITHSCORES
        ZRANGE z 0 1 REV
        ZRANGE z a 1
        ZRANGE z 0 1 LIMIT 0 1
        ZRANGE z 0 1 LIMIT 0
        ZRANGE z 0 1 FOO
        ZRANGE z (1 5 BYSCORE
        ZRANGE z 1 5 BYSCORE WITHSCORES
        ZRANGE z 5 1 BYSCORE REV WITHSCORES
        ZRANGE z 1 5 BYSCORE REV
        ZRANGE z -inf +inf BYSCORE LIMIT 2 3
        ZRANGE z -inf +inf BYSCORE LIMIT 2 -1
        ZRANGE z -inf +inf BYSCORE LIMIT -1 3
        ZRANGE z -inf +inf BYSCORE LIMIT 100 3
        ZRANGE z -inf +inf BYSCORE LIMIT 1 0
        ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES
        ZRANGE z x 1 BYSCORE
        ZRANGE z 1 5 BYSCORE BYLEX
        ZRANGE z 1 5 BYSCORE REV REV
        ZRANGE z 1 5 BYSCORE LIMIT a 1
        ZRANGE z 1 5 BYSCORE LIMIT 1 a
        ZRANGE z 1 5 BYSCORE LIMIT 1 1 LIMIT 0 5
        ZRANGE z - + BYLEX WITHSCORES
        ZRANGE z - + BYLEX
        ZRANGE z 1 5 BYLEX
        ZRANGE nokey 0 -1
        ZRANGE nokey 0 -1 WITHSCORES
        ZRANGE nokey a b
        ZREVRANGE z 0 2 WITHSCORES
        ZREVRANGE z -3 -1
        ZREVRANGE z 0 -1 REV
        ZREVRANGE z 0 -1 BYSCORE
        ZREVRANGE z 0 -1 LIMIT 0 1
        ZRANGEBYSCORE z 1 3
        ZRANGEBYSCORE z (1 (3 WITHSCORES
        ZRANGEBYSCORE z -inf +inf LIMIT 1 2 WITHSCORES
        ZRANGEBYSCORE z 3 1
        ZRANGEBYSCORE z 1 3 BYSCORE
        ZRANGEBYSCORE z 1 3 REV
        ZRANGEBYSCORE z 1 3 LIMIT 1
        ZRANGEBYSCORE z a 3
        ZREVRANGEBYSCORE z 3 1 WITHSCORES
        ZREVRANGEBYSCORE z +inf -inf LIMIT 0 3
        ZREVRANGEBYSCORE z (3 (1
        ZREVRANGEBYSCORE z 1 3
        ZADD lex 0 a 0 b 0 c 0 d 0 e 0 f 0 g
        ZRANGEBYLEX lex - +
        ZRANGEBYLEX lex [b (e
        ZRANGEBYLEX lex - + LIMIT 2 2
        ZRANGEBYLEX lex - + LIMIT 2 -5
        ZRANGEBYLEX lex - + WITHSCORES
        ZRANGEBYLEX lex a b
        ZREVRANGEBYLEX lex + -
        ZREVRANGEBYLEX lex (e [b
        ZREVRANGEBYLEX lex + - LIMIT 1 2
        ZREVRANGEBYLEX lex [b [e
        ZRANGE lex (e [b BYLEX REV
        ZRANGE lex [b (e BYLEX LIMIT 1 1
        SET s x
        ZRANGE s 0 -1
        ZRANGE s a b
        ZRANGEBYSCORE s 0 1
        ZRANGEBYLEX s - +
        ZREVRANGE s 0 1
        ",
    );
}

#[test]
fn range_store_and_removals() {
    same_as_redis(
        "
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZRANGESTORE dst z 1 3
        ZRANGE dst 0 -1 WITHSCORES
        OBJECT ENCODING dst
        ZRANGESTORE dst z 3 1 BYSCORE REV LIMIT 0 2
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst z [b [d BYLEX
        ZRANGESTORE dst z 0 -1 WITHSCORES
        ZRANGESTORE dst z 10 20
        EXISTS dst
        ZRANGESTORE dst nokey 0 -1
        SET str x
        ZRANGESTORE str z 0 0
        TYPE str
        ZRANGESTORE dst str 0 0
        ZRANGESTORE dst z a 1
        ZRANGESTORE dst z 0 1 LIMIT 0 1
        ZREMRANGEBYRANK z 0 0
        ZREMRANGEBYRANK z -1 -1
        ZREMRANGEBYRANK z 5 10
        ZREMRANGEBYRANK z a 1
        ZRANGE z 0 -1
        ZREMRANGEBYRANK z 0 -1
        EXISTS z
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZREMRANGEBYSCORE z (1 3
        ZREMRANGEBYSCORE z x 3
        ZREMRANGEBYSCORE z 10 20
        ZREMRANGEBYSCORE z -inf +inf
        EXISTS z
        ZADD lex 0 a 0 b 0 c 0 d
        ZREMRANGEBYLEX lex [b (d
        ZREMRANGEBYLEX lex b d
        ZREMRANGEBYLEX lex - +
        EXISTS lex
        ZREMRANGEBYRANK nokey 0 1
        ZREMRANGEBYSCORE nokey 0 1
        ZREMRANGEBYLEX nokey - +
        ZREMRANGEBYRANK str 0 1
        ZREMRANGEBYSCORE str 0 1
        ZREMRANGEBYLEX str - +
        ZADD r 1 a 2 b 3 c
        ZREM r a nope
        ZREM r nope
        ZREM r b c a
        EXISTS r
        ZREM nokey a
        ZREM str a
        ",
    );
}

#[test]
fn pops() {
    same_as_redis(
        "
        ZADD z 1 a 2 b 3 c 4 d 5 e 6 f
        ZPOPMIN z
        ZPOPMAX z
        ZPOPMIN z 2
        ZPOPMAX z 1
        ZPOPMIN z 0
        ZPOPMIN z -1
        ZPOPMIN z abc
        ZPOPMIN z 1 2
        ZPOPMAX z 10
        EXISTS z
        ZPOPMIN nokey
        ZPOPMIN nokey 3
        SET s x
        ZPOPMIN s
        ZPOPMIN s 0
        ZPOPMAX s 2
        ZADD a 1 x 2 y
        ZADD b 3 p 4 q 5 r
        ZMPOP 2 nokey b MIN
        ZMPOP 2 nokey b MAX COUNT 5
        ZMPOP 2 nokey b MAX
        EXISTS b
        ZMPOP 3 nokey b a max count 1
        ZMPOP 1 nokey MIN
        ZMPOP 0 a MIN
        ZMPOP -1 a MIN
        ZMPOP x a MIN
        ZMPOP 2 a MIN
        ZMPOP 1 a foo
        ZMPOP 1 a MIN COUNT 0
        ZMPOP 1 a MIN COUNT -1
        ZMPOP 1 a MIN COUNT x
        ZMPOP 1 a MIN COUNT 1 COUNT 2
        ZMPOP 1 a MIN COUNT
        ZMPOP 1 a MIN FOO
        ZMPOP 2 nokey s MIN
        ZMPOP 2 a s MIN
        ZMPOP 1 a MIN COUNT 9
        ",
    );
}

#[test]
fn set_operations() {
    same_as_redis(
        "
        ZADD a 1 x 2 y 3 z
        ZADD b 10 y 20 z 30 w
        ZADD c 100 z 0.5 v
        ZUNION 2 a b
        ZUNION 2 a b WITHSCORES
        ZUNION 3 a b c WITHSCORES
        ZUNION 2 a b WEIGHTS 2 0.5 WITHSCORES
        ZUNION 2 a b AGGREGATE MIN WITHSCORES
        ZUNION 2 a b AGGREGATE max WITHSCORES
        ZUNION 2 a b WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES
        ZUNION 2 a nokey WITHSCORES
        ZUNION 1 nokey
        ZINTER 2 a b WITHSCORES
        ZINTER 3 a b c WITHSCORES
        ZINTER 2 a b AGGREGATE MAX WEIGHTS 3 1 WITHSCORES
        ZINTER 2 a nokey
        ZDIFF 2 a b WITHSCORES
        ZDIFF 3 b a c
        ZDIFF 1 a WITHSCORES
        ZDIFF 2 nokey a
        ZDIFF 2 a b WEIGHTS 1 1
        ZDIFF 2 a b AGGREGATE SUM
        ZUNION 0 a
        ZUNION -1 a
        ZUNION x a
        ZUNION 3 a b
        ZUNION 2 a b WEIGHTS 1
        ZUNION 2 a b WEIGHTS 1 x
        ZUNION 2 a b AGGREGATE avg
        ZUNION 2 a b AGGREGATE
        ZUNION 2 a b FOO
        ZUNION 2 a b LIMIT 1
        ZADD inf 0 x inf y
        ZADD ninf 0 x -inf y
        ZUNION 2 inf ninf WITHSCORES
        ZINTER 2 inf ninf WITHSCORES
        ZUNION 1 inf WEIGHTS 0 WITHSCORES
        ZUNIONSTORE dst 2 a b
        ZRANGE dst 0 -1 WITHSCORES
        OBJECT ENCODING dst
        ZINTERSTORE dst 2 a b WEIGHTS 2 3
        ZRANGE dst 0 -1 WITHSCORES
        ZDIFFSTORE dst 2 a b
        ZRANGE dst 0 -1 WITHSCORES
        ZINTERSTORE dst 2 a nokey
        EXISTS dst
        ZUNIONSTORE a 2 a b
        ZRANGE a 0 -1 WITHSCORES
        ZUNIONSTORE dst 2 a b WITHSCORES
        ZUNIONSTORE dst 0 a
        ZINTERCARD 2 a b
        ZINTERCARD 3 a b c
        ZINTERCARD 2 a b LIMIT 1
        ZINTERCARD 2 a b LIMIT 0
        ZINTERCARD 2 a b LIMIT -1
        ZINTERCARD 2 a b LIMIT x
        ZINTERCARD 2 a b WEIGHTS 1 1
        ZINTERCARD 0 a
        ZINTERCARD 2 a nokey
        SET s x
        ZUNION 2 a s
        ZINTER 2 s a
        ZUNIONSTORE dst 2 a s
        ZINTERCARD 2 a s
        ZDIFF 2 s a
        ZUNIONSTORE s 1 a
        TYPE s
        ",
    );
}

#[test]
fn encodings_and_scan() {
    let long = "x".repeat(65);
    let mut script = String::from("ZADD small 1 a 2 b\nOBJECT ENCODING small\n");
    script += &format!("ZADD big 1 a 2 {long}\nOBJECT ENCODING big\nZRANGE big 0 -1 WITHSCORES\nZREM big {long}\nOBJECT ENCODING big\n");
    let members: Vec<String> = (0..129).map(|i| format!("{} m{i}", i % 7)).collect();
    script += &format!("ZADD many {}\nOBJECT ENCODING many\nZREM many m0\nOBJECT ENCODING many\n", members.join(" "));
    script += &format!("ZADD edge {}\nOBJECT ENCODING edge\nZADD edge 9 m128\nOBJECT ENCODING edge\n", members[..128].join(" "));
    script += "ZRANGE edge 60 70 WITHSCORES\nZRANGEBYSCORE edge (2 3 LIMIT 3 5\nZRANK edge m100\nZREVRANK edge m100\nZCOUNT edge 1 (4\n";
    script += "ZRANGESTORE st edge 0 127\nOBJECT ENCODING st\nZRANGESTORE st edge 0 128\nOBJECT ENCODING st\n";
    script += "ZUNIONSTORE u 1 small\nOBJECT ENCODING u\nZUNIONSTORE u 2 small edge\nOBJECT ENCODING u\n";
    script += &format!("ZADD rep {}\nOBJECT ENCODING rep\n", (0..200).map(|i| format!("{i} same")).collect::<Vec<_>>().join(" "));
    // ZSCAN of a compact set returns everything at once, scores as the listpack has them.
    script += "ZADD sc 1 a 0.1 b 123456789012345678 c -0 d 1e300 e inf f\nZSCAN sc 0\nZSCAN sc 0 MATCH b*\nZSCAN sc 0 COUNT 1\nZSCAN sc 0 COUNT 0\nZSCAN sc 0 MATCH\nZSCAN sc 0 FOO 1\nZSCAN sc x\nZSCAN sc -1\nZSCAN sc 18446744073709551616\nZSCAN nokey 0\nZSCAN nokey 0 FOO\nSET s x\nZSCAN s 0\n";
    same_as_redis(&script);
}

#[test]
fn wrongtype_the_other_way_and_arity() {
    same_as_redis(
        "
        ZADD z 1 a
        GET z
        APPEND z x
        INCR z
        TYPE z
        OBJECT ENCODING z
        ZADD z
        ZSCORE z
        ZCARD
        ZRANGE z 0
        ZRANGESTORE d z 0
        ZRANK z
        ZPOPMIN
        ZRANDMEMBER
        ZSCAN z
        ZUNION 1
        ZUNIONSTORE d 1
        ZINTERCARD 1
        ZMPOP 1 z
        ZREMRANGEBYRANK z 0
        ",
    );
}

#[test]
fn randmember_errors_match() {
    same_as_redis(
        "
        ZADD z 1 a 2 b 3 c
        ZRANDMEMBER nokey
        ZRANDMEMBER nokey 5
        ZRANDMEMBER nokey 5 WITHSCORES
        ZRANDMEMBER z 0
        ZRANDMEMBER z 0 WITHSCORES
        ZRANDMEMBER z 3 WITHSCORES
        ZRANDMEMBER z 10
        ZRANDMEMBER z x
        ZRANDMEMBER z 1 foo
        ZRANDMEMBER z 1 WITHSCORES x
        ZRANDMEMBER z -9223372036854775808
        ZRANDMEMBER z 4611686018427387904 WITHSCORES
        ZRANDMEMBER z -4611686018427387904 WITHSCORES
        SET s x
        ZRANDMEMBER s
        ZRANDMEMBER s 1
        ",
    );
}

#[test]
fn large_sets_match_redis() {
    // Scores repeat (ties order by member) and the set is past the compact limit.
    let members: Vec<String> = (0..300).map(|i| format!("{} m{:03}", (i * 37) % 50, (i * 7919) % 1000)).collect();
    let mut script =
        format!("ZADD z {}\nOBJECT ENCODING z\nZADD lex {}\n", members.join(" "), (0..200).map(|i| format!("0 w{i}")).collect::<Vec<_>>().join(" "));
    script += "
        ZRANGE z 0 20 WITHSCORES
        ZRANGE z -20 -1 WITHSCORES
        ZRANGE z 100 110 REV WITHSCORES
        ZRANGE z (10 20 BYSCORE LIMIT 5 10 WITHSCORES
        ZRANGE z 30 (20 BYSCORE REV LIMIT 2 7 WITHSCORES
        ZRANGEBYSCORE z 7 7
        ZCOUNT z (5 45
        ZRANK z m500
        ZREVRANK z m500
        ZSCORE z m999
        ZRANGEBYLEX lex [w1 (w2
        ZREVRANGEBYLEX lex (w5 [w3 LIMIT 3 4
        ZLEXCOUNT lex [w10 [w19
        ZREMRANGEBYLEX lex [w10 [w19
        ZLEXCOUNT lex - +
        ZREMRANGEBYRANK z 10 19
        ZREMRANGEBYSCORE z (40 45
        ZRANGE z 0 -1 WITHSCORES
        ZPOPMIN z 3
        ZPOPMAX z 3
        ZMPOP 1 z MAX COUNT 2
        ZINCRBY z 100 m123
        ZADD z GT CH 1 m456 100 m789
        ZRANGE z -5 -1 WITHSCORES
        ZRANGESTORE small z 0 9
        OBJECT ENCODING small
        ZUNIONSTORE u 2 z small WEIGHTS 1 2 AGGREGATE MAX
        ZRANGE u 0 9 WITHSCORES
        ZINTER 2 z small WITHSCORES
        ZDIFF 2 z small
        ZINTERCARD 2 z small LIMIT 4
        ZREM z m000 m001 m002
        ZCARD z
        ZADD f 1 a
        ZADD f .5 b 5. c +5 d 1E3 e -.5e-3 g 1e-400 h
        ZADD f 1e-310 i
        ZSCORE f i
        ZRANGE f 0 -1 WITHSCORES
        ZCOUNT f 1e400 +inf
        ZCOUNT f -1e400 (1
    ";
    same_as_redis(&script);
}

/// A deterministic pseudo-random script (xorshift) over a few keys, crossing the
/// encoding boundary both ways, compared command by command.
#[test]
fn random_commands_match_redis() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut script = String::new();
    for _ in 0..3000 {
        let key = ["a", "b", "c"][next(3) as usize];
        let member = |r: u64| if r.is_multiple_of(50) { format!("long{}", "x".repeat(64)) } else { format!("m{}", r % 180) };
        let score = |r: u64| match r % 6 {
            0 => "-inf".to_string(),
            1 => format!("{}", (r % 9) as i64 - 4),
            2 => format!("{}.25", r % 100),
            3 => format!("-{}e-3", r % 1000),
            _ => format!("{}", r % 40),
        };
        let lex = |r: u64| match r % 5 {
            0 => "-".to_string(),
            1 => "+".to_string(),
            2 => format!("[m{}", r % 180),
            _ => format!("(m{}", r % 180),
        };
        let (r1, r2, r3) = (next(1 << 20), next(1 << 20), next(1 << 20));
        let line = match next(22) {
            0..=5 => format!("ZADD {key} {} {} {} {}", score(r1), member(r2), score(r3), member(r1 ^ r3)),
            6 => format!("ZADD {key} GT CH {} {}", score(r1), member(r2)),
            7 => format!("ZINCRBY {key} {} {}", score(r1), member(r2)),
            8 => format!("ZREM {key} {} {}", member(r1), member(r2)),
            9 => format!("ZRANGE {key} {} {} WITHSCORES", r1 % 200, (r2 % 400) as i64 - 200),
            10 => format!("ZRANGE {key} {} {} BYSCORE LIMIT {} {} WITHSCORES", score(r1), score(r2), r3 % 5, (r1 % 7) as i64 - 1),
            11 => format!("ZRANGE {key} {} {} BYSCORE REV WITHSCORES", score(r1), score(r2)),
            // Lex ranges: on `l` every score is 0; on `p` scores differ but the set stays
            // compact, where Redis's answer is still deterministic.
            12 => match r3 % 6 {
                0 => format!("ZADD l 0 {} 0 {}", member(r1), member(r2)),
                1 => format!("ZADD p {} m{} {} m{}", score(r1), r2 % 120, score(r3), r1 % 120),
                2 => format!("ZRANGE {} {} {} BYLEX LIMIT {} {}", ["l", "p"][((r2 >> 5) % 2) as usize], lex(r1), lex(r2), r3 % 3, (r1 % 9) as i64 - 1),
                3 => format!("ZRANGE {} {} {} BYLEX REV", ["l", "p"][((r2 >> 5) % 2) as usize], lex(r1), lex(r2)),
                4 => format!("ZLEXCOUNT {} {} {}", ["l", "p"][((r2 >> 5) % 2) as usize], lex(r1), lex(r2)),
                _ => format!("ZREMRANGEBYLEX {} {} {}", ["l", "p"][((r2 >> 5) % 2) as usize], lex(r1), lex(r2)),
            },
            13 => format!("ZCOUNT {key} ({} {}", score(r1), score(r2)),
            14 => format!("ZRANK {key} {}", member(r1)),
            15 => format!("ZREVRANK {key} {}", member(r1)),
            16 => format!("ZREMRANGEBYSCORE {key} {} ({}", score(r1), score(r2)),
            17 => format!("ZREMRANGEBYRANK {key} {} {}", r1 % 20, r1 % 20 + r2 % 5),
            18 => format!("ZPOPMIN {key} {}", r1 % 4),
            19 => {
                format!("ZUNIONSTORE {key} 2 {key} {} WEIGHTS 1 0.5 AGGREGATE {}", ["a", "b", "c"][(r1 % 3) as usize], ["SUM", "MIN", "MAX"][(r2 % 3) as usize])
            }
            20 => format!("ZINTER 2 {key} {} WITHSCORES", ["a", "b", "c"][(r1 % 3) as usize]),
            _ => format!("OBJECT ENCODING {key}"),
        };
        script += &line;
        script.push('\n');
    }
    for key in ["a", "b", "c", "l", "p"] {
        script += &format!("ZRANGE {key} 0 -1 WITHSCORES\nOBJECT ENCODING {key}\n");
    }
    same_as_redis(&script);
}

#[test]
fn plain_sets_are_inputs_of_set_operations_with_score_one() {
    same_as_redis(
        "SADD s a b c
         ZADD z 2 b 3 d
         ZUNION 2 s z WITHSCORES
         ZINTER 2 s z WITHSCORES
         ZDIFF 2 s z WITHSCORES
         ZINTERCARD 2 s z
         ZUNIONSTORE d 2 s z WEIGHTS 2 1 AGGREGATE MAX
         ZRANGE d 0 -1 WITHSCORES
         ZDIFFSTORE d2 2 z s
         ZRANGE d2 0 -1 WITHSCORES
         SET str x
         ZUNION 2 s str",
    );
}
