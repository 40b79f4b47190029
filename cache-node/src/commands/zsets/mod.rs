//! Sorted-set commands: writes (`write.rs`), point reads (`read.rs`), ranges
//! (`range.rs`), range removals and pops (`pop.rs`), random members and scans
//! (`sample.rs`) and the multi-key set operations (`setops.rs`). Score formatting lives
//! in `score.rs`.

mod blocking;
mod pop;
mod range;
mod read;
mod sample;
pub mod score;
mod setops;
pub(crate) mod write;

use super::CmdError;
use super::spec::{CommandSpec, acl, cmd, flag};
use crate::protocol::Reply;
use crate::store::zset::ZSet;
use crate::store::{Partition, Ttl, Value, ValueRef};

const R: u32 = acl::READ | acl::SORTEDSET;
const W: u32 = acl::WRITE | acl::SORTEDSET;
const RO: u32 = flag::READONLY;
const WR: u32 = flag::WRITE;
const DENY: u32 = flag::WRITE | flag::DENYOOM;
const MOVE: u32 = flag::MOVABLE_KEYS;

/// A sorted-set-family entry with Redis 7.0's summary and first version.
const fn zset(summary: &'static str, since: &'static str, spec: CommandSpec) -> CommandSpec {
    CommandSpec { group: "sorted-set", summary, since, ..spec }
}

#[rustfmt::skip] // one command per line reads as a table
pub static COMMANDS: &[CommandSpec] = &[
    zset("Add one or more members to a sorted set, or update its score if it already exists", "1.2.0", cmd("zadd", -4, DENY | flag::FAST, W | acl::FAST, (1, 1, 1), write::zadd)),
    zset("Increment the score of a member in a sorted set", "1.2.0", cmd("zincrby", 4, DENY | flag::FAST, W | acl::FAST, (1, 1, 1), write::zincrby)),
    zset("Remove one or more members from a sorted set", "1.2.0", cmd("zrem", -3, WR | flag::FAST, W | acl::FAST, (1, 1, 1), write::zrem)),
    zset("Get the score associated with the given member in a sorted set", "1.2.0", cmd("zscore", 3, RO | flag::FAST, R | acl::FAST, (1, 1, 1), read::zscore)),
    zset("Get the score associated with the given members in a sorted set", "6.2.0", cmd("zmscore", -3, RO | flag::FAST, R | acl::FAST, (1, 1, 1), read::zmscore)),
    zset("Get the number of members in a sorted set", "1.2.0", cmd("zcard", 2, RO | flag::FAST, R | acl::FAST, (1, 1, 1), read::zcard)),
    zset("Count the members in a sorted set with scores within the given values", "2.0.0", cmd("zcount", 4, RO | flag::FAST, R | acl::FAST, (1, 1, 1), read::zcount)),
    zset("Count the number of members in a sorted set between a given lexicographical range", "2.8.9", cmd("zlexcount", 4, RO | flag::FAST, R | acl::FAST, (1, 1, 1), read::zlexcount)),
    zset("Return a range of members in a sorted set", "1.2.0", cmd("zrange", -4, RO, R | acl::SLOW, (1, 1, 1), range::zrange)),
    zset("Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0", cmd("zrevrange", -4, RO, R | acl::SLOW, (1, 1, 1), range::zrevrange)),
    zset("Return a range of members in a sorted set, by score", "1.0.5", cmd("zrangebyscore", -4, RO, R | acl::SLOW, (1, 1, 1), range::zrangebyscore)),
    zset("Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0", cmd("zrevrangebyscore", -4, RO, R | acl::SLOW, (1, 1, 1), range::zrevrangebyscore)),
    zset("Return a range of members in a sorted set, by lexicographical range", "2.8.9", cmd("zrangebylex", -4, RO, R | acl::SLOW, (1, 1, 1), range::zrangebylex)),
    zset("Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "2.8.9", cmd("zrevrangebylex", -4, RO, R | acl::SLOW, (1, 1, 1), range::zrevrangebylex)),
    zset("Store a range of members from sorted set into another key", "6.2.0", cmd("zrangestore", -5, DENY, W | acl::SLOW, (1, 2, 1), range::zrangestore)),
    zset("Determine the index of a member in a sorted set", "2.0.0", cmd("zrank", 3, RO | flag::FAST, R | acl::FAST, (1, 1, 1), read::zrank)),
    zset("Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0", cmd("zrevrank", 3, RO | flag::FAST, R | acl::FAST, (1, 1, 1), read::zrevrank)),
    zset("Remove all members in a sorted set within the given indexes", "2.0.0", cmd("zremrangebyrank", 4, WR, W | acl::SLOW, (1, 1, 1), pop::zremrangebyrank)),
    zset("Remove all members in a sorted set within the given scores", "1.2.0", cmd("zremrangebyscore", 4, WR, W | acl::SLOW, (1, 1, 1), pop::zremrangebyscore)),
    zset("Remove all members in a sorted set between the given lexicographical range", "2.8.9", cmd("zremrangebylex", 4, WR, W | acl::SLOW, (1, 1, 1), pop::zremrangebylex)),
    zset("Remove and return members with the lowest scores in a sorted set", "5.0.0", cmd("zpopmin", -2, WR | flag::FAST, W | acl::FAST, (1, 1, 1), pop::zpopmin)),
    zset("Remove and return members with the highest scores in a sorted set", "5.0.0", cmd("zpopmax", -2, WR | flag::FAST, W | acl::FAST, (1, 1, 1), pop::zpopmax)),
    zset("Remove and return members with scores in a sorted set", "7.0.0", CommandSpec { numkeys_at: Some(1), ..cmd("zmpop", -4, WR | MOVE, W | acl::SLOW, (0, 0, 0), pop::zmpop) }),
    zset("Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0", cmd("bzpopmin", -3, WR | flag::NOSCRIPT | flag::BLOCKING | flag::FAST, W | acl::FAST, (1, -2, 1), blocking::bzpopmin)),
    zset("Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0", cmd("bzpopmax", -3, WR | flag::NOSCRIPT | flag::BLOCKING | flag::FAST, W | acl::FAST, (1, -2, 1), blocking::bzpopmax)),
    zset("Remove and return members with scores in a sorted set or block until one is available", "7.0.0", CommandSpec { numkeys_at: Some(2), ..cmd("bzmpop", -5, WR | flag::BLOCKING | MOVE, W | acl::SLOW | acl::BLOCKING, (0, 0, 0), blocking::bzmpop) }),
    zset("Get one or multiple random elements from a sorted set", "6.2.0", cmd("zrandmember", -2, RO, R | acl::SLOW, (1, 1, 1), sample::zrandmember)),
    zset("Incrementally iterate sorted sets elements and associated scores", "2.8.0", cmd("zscan", -3, RO, R | acl::SLOW, (1, 1, 1), sample::zscan)),
    zset("Add multiple sorted sets", "6.2.0", CommandSpec { numkeys_at: Some(1), ..cmd("zunion", -3, RO | MOVE, R | acl::SLOW, (0, 0, 0), setops::zunion) }),
    zset("Intersect multiple sorted sets", "6.2.0", CommandSpec { numkeys_at: Some(1), ..cmd("zinter", -3, RO | MOVE, R | acl::SLOW, (0, 0, 0), setops::zinter) }),
    zset("Subtract multiple sorted sets", "6.2.0", CommandSpec { numkeys_at: Some(1), ..cmd("zdiff", -3, RO | MOVE, R | acl::SLOW, (0, 0, 0), setops::zdiff) }),
    zset("Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", CommandSpec { numkeys_at: Some(2), ..cmd("zunionstore", -4, DENY | MOVE, W | acl::SLOW, (1, 1, 1), setops::zunionstore) }),
    zset("Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", CommandSpec { numkeys_at: Some(2), ..cmd("zinterstore", -4, DENY | MOVE, W | acl::SLOW, (1, 1, 1), setops::zinterstore) }),
    zset("Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0", CommandSpec { numkeys_at: Some(2), ..cmd("zdiffstore", -4, DENY | MOVE, W | acl::SLOW, (1, 1, 1), setops::zdiffstore) }),
    zset("Intersect multiple sorted sets and return the cardinality of the result", "7.0.0", CommandSpec { numkeys_at: Some(1), ..cmd("zintercard", -3, RO | MOVE, R | acl::SLOW, (0, 0, 0), setops::zintercard) }),
];

/// The sorted set a read found, None for a missing key, WRONGTYPE for another type.
pub(crate) fn as_zset(v: Option<ValueRef<'_>>) -> Result<Option<&ZSet>, CmdError> {
    match v {
        None => Ok(None),
        Some(ValueRef::Obj(Value::ZSet(z))) => Ok(Some(z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The sorted set under `key` for an update (None when the key is absent). The type is
/// checked first so that a string under `key` is left exactly as it was.
pub(crate) fn zset_mut<'p>(p: &'p mut Partition, key: &[u8], now: i64) -> Result<Option<&'p mut ZSet>, CmdError> {
    match p.peek(key, now) {
        None => return Ok(None),
        Some(ValueRef::Obj(Value::ZSet(_))) => {}
        Some(_) => return Err(CmdError::WrongType),
    }
    match p.get_mut(key, now) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// A score, weight or increment argument (`ERR value is not a valid float`).
pub(crate) fn float_arg(arg: &[u8]) -> Result<f64, CmdError> {
    crate::store::zset::parse_score(arg).ok_or(CmdError::NotFloat)
}

/// Stores a command's result under `dst`, or deletes `dst` when the result is empty (as
/// Redis's *STORE commands do). The TTL is cleared.
pub(crate) fn store_result(p: &mut Partition, dst: &[u8], z: ZSet, now: i64) {
    if z.is_empty() {
        p.remove(dst, now);
    } else {
        p.set(dst, Value::ZSet(z), Ttl::Clear, now);
    }
}

/// Writes one element as a range reply wants it: the member, then (with scores) its
/// score; RESP3 wraps each member-score pair in an array of two.
pub(crate) fn reply_element(out: &mut Reply, member: &[u8], s: f64, withscores: bool) {
    if withscores {
        if out.is_resp3() {
            out.array(2);
        }
        out.bulk(member);
        score::reply(out, s);
    } else {
        out.bulk(member);
    }
}

/// The array header of a range reply of `n` elements.
pub(crate) fn reply_range_header(out: &mut Reply, n: usize, withscores: bool) {
    out.array(if withscores && !out.is_resp3() { 2 * n } else { n });
}
