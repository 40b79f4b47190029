//! Publish/subscribe: the registry of who listens to what (channels, patterns, shard
//! channels), message fan-out, keyspace notifications (`keyspace.rs`) and the
//! per-connection side (`client.rs`: a client's subscriptions and its message queue).
//!
//! PUBLISH takes the registry's read lock only while it hands an `Arc`-shared message to
//! each receiver's queue and wakes its connection; the connection encodes queued messages
//! for its own protocol version. When nobody subscribes to anything, PUBLISH and keyspace
//! events cost one atomic load.

pub mod client;
pub mod keyspace;
pub mod output_limits;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::protocol::{Reply, RespVersion};
use crate::store::glob;

pub use client::ClientSubs;

/// The three kinds of subscription Redis 7.0 has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    /// Names of the confirmation pushes: (subscribe, unsubscribe).
    pub fn verbs(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Channel => (b"subscribe", b"unsubscribe"),
            Kind::Pattern => (b"psubscribe", b"punsubscribe"),
            Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

/// One delivered message, shared by every receiver of one publish: encoded once, as
/// RESP2 sends it. RESP3 sends the same bytes as a push, which differs only in the first
/// byte (`>` instead of `*`).
#[derive(Debug)]
pub struct Message(Vec<u8>);

impl Message {
    fn new(pattern: Option<&[u8]>, shard: bool, channel: &[u8], payload: &[u8]) -> Self {
        let mut r = Reply { buf: Vec::with_capacity(64 + channel.len() + payload.len() + pattern.map_or(0, <[u8]>::len)), version: RespVersion::Resp2 };
        match pattern {
            Some(p) => {
                r.array(4);
                r.bulk(b"pmessage");
                r.bulk(p);
            }
            None => {
                r.array(3);
                r.bulk(if shard { b"smessage" } else { b"message" });
            }
        }
        r.bulk(channel);
        r.bulk(payload);
        Message(r.buf)
    }

    /// Appends the message as Redis sends it: a push in RESP3, an array in RESP2.
    pub fn encode(&self, out: &mut Reply) {
        if out.is_resp3() {
            out.buf.push(b'>');
            out.buf.extend_from_slice(&self.0[1..]);
        } else {
            out.buf.extend_from_slice(&self.0);
        }
    }
}

/// A subscribed connection as publishers see it: a queue of messages and the wake-up
/// its connection task waits on.
#[derive(Debug, Default)]
pub struct Subscriber {
    queue: Mutex<Vec<Arc<Message>>>,
    pub notify: Notify,
}

impl Subscriber {
    fn deliver(&self, m: Arc<Message>) {
        self.queue.lock().push(m);
        self.notify.notify_one();
    }

    /// Encodes every queued message into `out`; returns how many there were. `scratch`
    /// (empty, kept by the caller) is swapped with the queue, so neither side allocates
    /// once both have grown to the usual burst.
    pub fn drain_into(&self, out: &mut Reply, scratch: &mut Vec<Arc<Message>>) -> usize {
        std::mem::swap(&mut *self.queue.lock(), scratch);
        for m in scratch.iter() {
            m.encode(out);
        }
        let n = scratch.len();
        scratch.clear();
        n
    }

    pub fn has_queued(&self) -> bool {
        !self.queue.lock().is_empty()
    }
}

type Subs = Vec<Arc<Subscriber>>;

#[derive(Debug, Default)]
struct Registry {
    channels: HashMap<Arc<[u8]>, Subs, foldhash::fast::RandomState>,
    patterns: HashMap<Arc<[u8]>, Subs, foldhash::fast::RandomState>,
    shard: HashMap<Arc<[u8]>, Subs, foldhash::fast::RandomState>,
}

impl Registry {
    fn map(&mut self, kind: Kind) -> &mut HashMap<Arc<[u8]>, Subs, foldhash::fast::RandomState> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

/// The server-wide pub/sub state.
#[derive(Debug, Default)]
pub struct Hub {
    reg: RwLock<Registry>,
    /// Channel and pattern subscriptions of all clients: PUBLISH skips the lock at 0.
    plain_subs: AtomicUsize,
    /// Shard-channel subscriptions of all clients.
    shard_subs: AtomicUsize,
    /// `notify-keyspace-events` as flag bits (0: off; see keyspace.rs).
    pub notify_flags: std::sync::atomic::AtomicU32,
    /// `client-output-buffer-limit`, per class.
    pub limits: output_limits::Limits,
    /// Clients closed for passing an output buffer limit.
    pub obuf_disconnections: AtomicU64,
}

impl Hub {
    /// Takes `notify-keyspace-events` and `client-output-buffer-limit` from `cfg`.
    pub fn load_config(&self, cfg: &crate::config::Config) {
        self.notify_flags.store(keyspace::parse_flags(cfg.str("notify-keyspace-events")).unwrap_or(0), Relaxed);
        self.limits.load(cfg.str("client-output-buffer-limit"));
    }

    /// Adds `sub` to `name`'s receivers. The caller (ClientSubs) knows it was not there.
    fn add(&self, kind: Kind, name: Arc<[u8]>, sub: &Arc<Subscriber>) {
        self.reg.write().map(kind).entry(name).or_default().push(sub.clone());
        self.counter(kind).fetch_add(1, Relaxed);
    }

    fn remove(&self, kind: Kind, name: &[u8], sub: &Arc<Subscriber>) {
        let mut reg = self.reg.write();
        let map = reg.map(kind);
        if let Some(subs) = map.get_mut(name) {
            if let Some(i) = subs.iter().position(|s| Arc::ptr_eq(s, sub)) {
                subs.swap_remove(i);
                self.counter(kind).fetch_sub(1, Relaxed);
            }
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    fn counter(&self, kind: Kind) -> &AtomicUsize {
        if kind == Kind::Shard { &self.shard_subs } else { &self.plain_subs }
    }

    /// PUBLISH: delivers to the channel's subscribers and to every matching pattern's;
    /// returns the number of deliveries.
    pub fn publish(&self, channel: &[u8], payload: &[u8]) -> usize {
        if self.plain_subs.load(Relaxed) == 0 {
            return 0;
        }
        let reg = self.reg.read();
        let mut n = 0;
        if let Some(subs) = reg.channels.get(channel) {
            let m = Arc::new(Message::new(None, false, channel, payload));
            for s in subs {
                s.deliver(m.clone());
            }
            n += subs.len();
        }
        for (pat, subs) in &reg.patterns {
            if glob::matches(pat, channel, false) {
                let m = Arc::new(Message::new(Some(pat), false, channel, payload));
                for s in subs {
                    s.deliver(m.clone());
                }
                n += subs.len();
            }
        }
        n
    }

    /// SPUBLISH: delivers to the shard channel's subscribers.
    pub fn spublish(&self, channel: &[u8], payload: &[u8]) -> usize {
        if self.shard_subs.load(Relaxed) == 0 {
            return 0;
        }
        let reg = self.reg.read();
        let Some(subs) = reg.shard.get(channel) else { return 0 };
        let m = Arc::new(Message::new(None, true, channel, payload));
        for s in subs {
            s.deliver(m.clone());
        }
        subs.len()
    }

    /// Whether anyone subscribes to a channel or pattern (keyspace events skip all work
    /// otherwise).
    pub fn has_plain_subscribers(&self) -> bool {
        self.plain_subs.load(Relaxed) > 0
    }

    /// Active channels (or shard channels) matching `pattern` (all when None).
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Arc<[u8]>> {
        let reg = self.reg.read();
        let map = if kind == Kind::Shard { &reg.shard } else { &reg.channels };
        map.keys().filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false))).cloned().collect()
    }

    /// Subscribers of each name (channels or shard channels).
    pub fn numsub(&self, kind: Kind, names: &[&[u8]]) -> Vec<usize> {
        let reg = self.reg.read();
        let map = if kind == Kind::Shard { &reg.shard } else { &reg.channels };
        names.iter().map(|n| map.get(*n).map_or(0, Vec::len)).collect()
    }

    /// Distinct channels, patterns and shard channels with at least one subscriber
    /// (INFO stats, PUBSUB NUMPAT).
    pub fn counts(&self) -> (usize, usize, usize) {
        let reg = self.reg.read();
        (reg.channels.len(), reg.patterns.len(), reg.shard.len())
    }
}

/// Encodes a subscribe/unsubscribe confirmation: `[verb, name|nil, count]`.
pub fn confirm(out: &mut Reply, verb: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(verb);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_out_counts_channel_and_pattern_receivers() {
        let hub = Hub::default();
        let a = Arc::new(Subscriber::default());
        let b = Arc::new(Subscriber::default());
        assert_eq!(hub.publish(b"news", b"x"), 0);
        hub.add(Kind::Channel, Arc::from(&b"news"[..]), &a);
        hub.add(Kind::Pattern, Arc::from(&b"n*"[..]), &a);
        hub.add(Kind::Pattern, Arc::from(&b"n*"[..]), &b);
        hub.add(Kind::Pattern, Arc::from(&b"x*"[..]), &b);
        assert_eq!(hub.publish(b"news", b"x"), 3);
        let mut out = Reply::new(RespVersion::Resp2);
        let mut scratch = Vec::new();
        assert_eq!(a.drain_into(&mut out, &mut scratch), 2);
        assert_eq!(b.drain_into(&mut out, &mut scratch), 1);
        assert_eq!(hub.counts(), (1, 2, 0));
        hub.remove(Kind::Pattern, b"n*", &a);
        hub.remove(Kind::Pattern, b"n*", &b);
        assert_eq!(hub.counts(), (1, 1, 0));
        assert_eq!(hub.numsub(Kind::Channel, &[b"news", b"none"]), vec![1, 0]);
    }

    #[test]
    fn message_shapes() {
        let m = Message::new(None, false, b"c", b"hi");
        let mut r2 = Reply::new(RespVersion::Resp2);
        m.encode(&mut r2);
        assert_eq!(r2.buf, b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n".to_vec());
        let mut r3 = Reply::new(RespVersion::Resp3);
        m.encode(&mut r3);
        assert_eq!(r3.buf, b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n".to_vec());
        let mut r = Reply::new(RespVersion::Resp3);
        Message::new(Some(b"c*"), false, b"cc", b"").encode(&mut r);
        assert_eq!(r.buf, b">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\ncc\r\n$0\r\n\r\n".to_vec());
    }
}
