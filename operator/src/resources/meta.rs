//! The metadata every object of a cluster shares: namespace, labels and the owner
//! reference that makes Kubernetes delete it with the cluster.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::Resource;

use super::BuildError;
use super::names;
use crate::api::CacheCluster;

/// Read once from the cluster, then stamped on every object.
#[derive(Clone, Debug)]
pub struct ClusterMeta {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    owner: OwnerReference,
}

impl ClusterMeta {
    pub fn new(cluster: &CacheCluster) -> Result<ClusterMeta, BuildError> {
        let name = cluster.metadata.name.clone().filter(|n| !n.is_empty()).ok_or(BuildError::MissingMetadata("name"))?;
        let namespace = cluster.metadata.namespace.clone().filter(|n| !n.is_empty()).ok_or(BuildError::MissingMetadata("namespace"))?;
        if cluster.metadata.uid.as_deref().is_none_or(str::is_empty) {
            return Err(BuildError::MissingMetadata("uid"));
        }
        let mut owner = cluster.controller_owner_ref(&()).ok_or(BuildError::MissingMetadata("uid"))?;
        // Foreground deletion of the cluster waits for its children.
        owner.block_owner_deletion = Some(true);
        Ok(ClusterMeta { name, namespace, labels: names::cluster_labels(cluster), owner })
    }

    /// Metadata of a cluster-wide object.
    pub fn object(&self, name: String) -> ObjectMeta {
        self.object_with(name, &[])
    }

    /// Metadata of one shard's object: the cluster labels plus the shard label.
    pub fn shard_object(&self, name: String, shard: i32) -> ObjectMeta {
        ObjectMeta { labels: Some(self.shard_labels(shard)), ..self.object(name) }
    }

    /// Metadata with extra labels on top of the cluster's.
    pub fn object_with(&self, name: String, extra_labels: &[(&str, &str)]) -> ObjectMeta {
        let mut labels = self.labels.clone();
        labels.extend(extra_labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }

    /// The cluster labels plus the shard label.
    pub fn shard_labels(&self, shard: i32) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.insert(names::LABEL_SHARD.to_string(), shard.to_string());
        labels
    }
}

/// A selector matching exactly these labels.
pub fn match_labels(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector { match_labels: Some(labels), ..LabelSelector::default() }
}
