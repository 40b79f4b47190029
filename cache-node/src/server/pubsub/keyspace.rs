//! Keyspace notifications: `notify-keyspace-events` flags (Redis's letters) and the
//! publication of `__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>` messages.

use std::sync::atomic::Ordering::Relaxed;

use super::Hub;
use crate::server::state::Server;

/// Event classes and channel kinds, as `notify-keyspace-events` letters select them.
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// `A`: every class except key misses and new keys.
    pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Letters of the classes `A` does not stand for, in the order Redis prints them.
const CLASS_LETTERS: &[(char, u32)] = &[
    ('g', class::GENERIC),
    ('$', class::STRING),
    ('l', class::LIST),
    ('s', class::SET),
    ('h', class::HASH),
    ('z', class::ZSET),
    ('x', class::EXPIRED),
    ('e', class::EVICTED),
    ('t', class::STREAM),
    ('d', class::MODULE),
    ('n', class::NEW),
];

/// Parses a `notify-keyspace-events` value.
pub fn parse_flags(s: &str) -> Result<u32, String> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => class::ALL,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            'm' => class::KEY_MISS,
            c => CLASS_LETTERS
                .iter()
                .find(|(l, _)| *l == c)
                .map(|(_, f)| *f)
                .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?,
        };
    }
    Ok(flags)
}

/// The canonical text CONFIG GET shows for `flags`. Redis prints `A` alone when every
/// class is on and so drops `n` from the text (not from the flags); we keep `An`, since
/// our configuration is stored as its text and would otherwise lose new-key events.
pub fn format_flags(flags: u32) -> String {
    let mut s = String::new();
    if flags & class::ALL == class::ALL {
        s.push('A');
        if flags & class::NEW != 0 {
            s.push('n');
        }
    } else {
        s.extend(CLASS_LETTERS.iter().filter(|(_, f)| flags & f != 0).map(|(l, _)| *l));
    }
    for (l, f) in [('K', class::KEYSPACE), ('E', class::KEYEVENT), ('m', class::KEY_MISS)] {
        if flags & f != 0 {
            s.push(l);
        }
    }
    s
}

/// Whether events of `class` are published at all: one relaxed load.
#[inline]
pub fn enabled(hub: &Hub, class: u32) -> bool {
    hub.notify_flags.load(Relaxed) & class != 0
}

/// Publishes `event` on `key` of `db` if `class` is enabled (the hook eviction and
/// expiry call; commands go through commands/keyspace_events.rs).
pub fn notify_keyspace_event(srv: &Server, class: u32, event: &str, db: usize, key: &[u8]) {
    notify(&srv.pubsub, class, event, db, key);
}

/// As `notify_keyspace_event`, for callers that hold only the hub.
pub fn notify(hub: &Hub, class: u32, event: &str, db: usize, key: &[u8]) {
    let flags = hub.notify_flags.load(Relaxed);
    if flags & class == 0 || !hub.has_plain_subscribers() {
        return;
    }
    if flags & class::KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(key);
        hub.publish(&ch, event.as_bytes());
    }
    if flags & class::KEYEVENT != 0 {
        hub.publish(format!("__keyevent@{db}__:{event}").as_bytes(), key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_like_redis() {
        for (input, canonical) in [("KEA", "AKE"), ("Kgx", "gxK"), ("g$lshzxetdmnKE", "AnKEm"), ("K", "K"), ("", ""), ("AAm", "Am"), ("El", "lE")] {
            let f = parse_flags(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(format_flags(f), canonical, "{input}");
        }
        assert!(parse_flags("X").is_err());
        assert!(parse_flags("Kq").is_err());
    }
}
