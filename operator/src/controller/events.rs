//! Kubernetes Events on a CacheCluster, for what a person should see in `kubectl
//! describe`. Behind a trait so reconcile tests can assert them.

use futures::future::BoxFuture;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::api::CacheCluster;

/// One event: a CamelCase reason, the action, and a note for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub note: String,
}

pub trait EventSink: Send + Sync {
    fn publish<'a>(&'a self, cluster: &'a CacheCluster, event: ClusterEvent) -> BoxFuture<'a, ()>;
}

/// Publishes through the events.k8s.io API. A failure to record an event is logged, never
/// fails a reconcile.
pub struct KubeEvents {
    recorder: Recorder,
}

impl KubeEvents {
    pub fn new(client: kube::Client) -> KubeEvents {
        let reporter = Reporter { controller: crate::resources::names::FIELD_MANAGER.into(), instance: std::env::var("POD_NAME").ok() };
        KubeEvents { recorder: Recorder::new(client, reporter) }
    }
}

impl EventSink for KubeEvents {
    fn publish<'a>(&'a self, cluster: &'a CacheCluster, event: ClusterEvent) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let ev = Event {
                type_: if event.warning { EventType::Warning } else { EventType::Normal },
                reason: event.reason.into(),
                note: Some(event.note),
                action: event.action.into(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&ev, &cluster.object_ref(&())).await {
                tracing::warn!(error = %e, "could not record an event");
            }
        })
    }
}
