//! Data on disk: persistence of each node, scheduled snapshots, and restoring from one.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Durability of each node's data.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.mode == 'none' || has(self.storageSize)").message("persistence needs storageSize when mode is rdb or aof"))]
// `self == oldSelf` on the optional field itself would not run when it is added or removed.
#[x_kube(validation = Rule::new("has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)").message("persistence.storageClassName is immutable"))]
pub struct PersistenceSpec {
    /// `none`: memory only. `rdb`: periodic snapshots on the node's volume (a restart
    /// loses what was written since the last one). `aof`: every write appended to a log,
    /// flushed every second (a restart loses at most about a second).
    #[serde(default)]
    pub mode: PersistenceMode,

    /// Size of each node's PersistentVolumeClaim. Cannot shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<Quantity>,

    /// StorageClass of the claims; the cluster's default class when empty. Cannot change
    /// after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// How a node keeps its data across restarts.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PersistenceMode {
    #[default]
    None,
    Rdb,
    Aof,
}

/// Scheduled backups.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.backupWindow) || !has(self.timeZone)").message("snapshots.backupWindow is in UTC and replaces schedule; timeZone applies to schedule only"))]
pub struct SnapshotsSpec {
    /// Take snapshots on the schedule.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Cron schedule (five fields) of automatic snapshots, or a macro such as `@daily`,
    /// in `timeZone` (UTC when unset). Ignored when `backupWindow` is set.
    #[serde(default = "daily")]
    #[schemars(regex(pattern = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$"))]
    pub schedule: String,

    /// Automatic snapshots kept; older ones are deleted. Manual snapshots are kept until
    /// deleted by hand.
    #[serde(default = "retain_default")]
    #[schemars(range(min = 1, max = 35))]
    pub retain: i32,

    /// Where snapshot files go.
    #[serde(default)]
    pub destination: SnapshotDestination,

    /// IANA time zone of `schedule`, e.g. `Europe/Paris` (the CronJob's timeZone). UTC
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$"))]
    pub time_zone: Option<String>,

    /// Which node of each shard is copied: a `replica` (default; the primary falls back
    /// when no replica answers, so writes never pay for the backup) or the `primary`.
    #[serde(default)]
    pub source_role: SnapshotSourceRole,

    /// Daily window, in ElastiCache's format `hh:mm-hh:mm` (UTC, at least 60 minutes),
    /// in which the snapshot must start; a snapshot that could not start inside it is
    /// skipped until the next day. Replaces `schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub backup_window: Option<String>,
}

impl Default for SnapshotsSpec {
    fn default() -> Self {
        SnapshotsSpec {
            enabled: yes(),
            schedule: daily(),
            retain: retain_default(),
            destination: SnapshotDestination::default(),
            time_zone: None,
            source_role: SnapshotSourceRole::default(),
            backup_window: None,
        }
    }
}

/// The node a snapshot is copied from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotSourceRole {
    #[default]
    Replica,
    Primary,
}

impl SnapshotSourceRole {
    /// The value of `cache-node snapshot save --prefer-role`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotSourceRole::Replica => "replica",
            SnapshotSourceRole::Primary => "primary",
        }
    }
}

/// Where snapshot files are stored: exactly one of pvc or s3.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.pvc) != has(self.s3)").message("snapshots.destination needs exactly one of pvc or s3"))]
pub struct SnapshotDestination {
    /// A PersistentVolumeClaim the operator creates for the cluster's snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PvcDestination>,
    /// An S3-compatible bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Destination>,
}

impl Default for SnapshotDestination {
    fn default() -> Self {
        SnapshotDestination { pvc: Some(PvcDestination::default()), s3: None }
    }
}

/// A claim holding snapshot files.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PvcDestination {
    /// Size of the claim.
    #[serde(default = "snapshot_size")]
    pub storage_size: Quantity,
    /// StorageClass of the claim; the cluster's default when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

impl Default for PvcDestination {
    fn default() -> Self {
        PvcDestination { storage_size: snapshot_size(), storage_class_name: None }
    }
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, GCS interoperability...).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S3Destination {
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Key prefix under which this cluster's snapshots are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Endpoint URL for services other than AWS S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://"))]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Secret with the keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    #[schemars(length(min = 1))]
    pub credentials_secret: String,
}

/// The data a new cluster starts with: exactly one of snapshot or location.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.snapshot) != has(self.location)").message("restoreFrom needs exactly one of snapshot or location"))]
pub struct RestoreSpec {
    /// Name of a completed CacheSnapshot in the cluster's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub snapshot: Option<String>,

    /// Files written outside this operator's bookkeeping, as the snapshot's path without
    /// the shard suffix: shard i is restored from `<location>-shard-<i>`. Either
    /// `s3://bucket/prefix/name` (read with the credentials of this cluster's
    /// snapshots.destination.s3) or `pvc://claim/name` (a claim in this namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^(s3|pvc)://[^/]+/.*[^/]$"))]
    pub location: Option<String>,
}

fn yes() -> bool {
    true
}
fn daily() -> String {
    "0 5 * * *".into()
}
fn retain_default() -> i32 {
    7
}
fn snapshot_size() -> Quantity {
    Quantity("10Gi".into())
}
