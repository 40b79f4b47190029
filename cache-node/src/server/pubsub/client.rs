//! One connection's subscriptions. Dropping them (the connection ends, however it ends)
//! removes the client from every channel and pattern; moving the connection to another
//! worker moves them with its session.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::{Hub, Kind, Subscriber};
use crate::server::clients::ClientInfo;

type Names = HashSet<Arc<[u8]>, foldhash::fast::RandomState>;

#[derive(Debug)]
pub struct ClientSubs {
    hub: Arc<Hub>,
    info: Arc<ClientInfo>,
    pub sub: Arc<Subscriber>,
    channels: Names,
    patterns: Names,
    shard: Names,
    /// Swapped with the message queue when it is drained (see `Subscriber::drain_into`).
    scratch: Vec<Arc<super::Message>>,
}

impl ClientSubs {
    pub fn new(hub: Arc<Hub>, info: Arc<ClientInfo>) -> Self {
        ClientSubs { hub, info, sub: Arc::default(), channels: Names::default(), patterns: Names::default(), shard: Names::default(), scratch: Vec::new() }
    }

    fn set(&mut self, kind: Kind) -> &mut Names {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    fn sync_info(&self, kind: Kind) {
        let n = match kind {
            Kind::Channel => self.channels.len(),
            Kind::Pattern => self.patterns.len(),
            Kind::Shard => self.shard.len(),
        };
        self.info.subscriptions[kind as usize].store(n, Relaxed);
    }

    /// Encodes the messages waiting for this client into `out`.
    pub fn drain_into(&mut self, out: &mut crate::protocol::Reply) -> usize {
        self.sub.drain_into(out, &mut self.scratch)
    }

    /// Subscribes; false when the client already was.
    pub fn subscribe(&mut self, kind: Kind, name: &[u8]) -> bool {
        if self.set(kind).contains(name) {
            return false;
        }
        let name: Arc<[u8]> = Arc::from(name);
        self.set(kind).insert(name.clone());
        self.hub.add(kind, name, &self.sub);
        self.sync_info(kind);
        true
    }

    /// Unsubscribes; false when the client was not subscribed.
    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8]) -> bool {
        if !self.set(kind).remove(name) {
            return false;
        }
        self.hub.remove(kind, name, &self.sub);
        self.sync_info(kind);
        true
    }

    /// Everything subscribed to of one kind (UNSUBSCRIBE with no argument).
    pub fn names(&self, kind: Kind) -> Vec<Arc<[u8]>> {
        match kind {
            Kind::Channel => self.channels.iter().cloned().collect(),
            Kind::Pattern => self.patterns.iter().cloned().collect(),
            Kind::Shard => self.shard.iter().cloned().collect(),
        }
    }

    /// The count Redis puts in a confirmation: channels + patterns, or shard channels.
    pub fn count(&self, kind: Kind) -> usize {
        if kind == Kind::Shard { self.shard.len() } else { self.channels.len() + self.patterns.len() }
    }

    /// Subscriptions of every kind: subscribed mode while above zero.
    pub fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }
}

impl Drop for ClientSubs {
    fn drop(&mut self) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in self.names(kind) {
                self.hub.remove(kind, &name, &self.sub);
            }
            self.info.subscriptions[kind as usize].store(0, Relaxed);
        }
    }
}
