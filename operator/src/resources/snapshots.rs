//! Snapshot objects of a cluster: the claim holding the files, the CronJob of scheduled
//! snapshots, the Job of a manual one, the Job deleting a snapshot's files, and the init
//! container restoring a shard's data. Every container runs `cache-node snapshot ...`.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, KeyToPath, ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, SecretKeySelector, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::BuildError;
use super::meta::ClusterMeta;
use super::names;
use super::statefulset::NODE_USER;
use crate::api::{CacheCluster, CacheClusterSpec, S3Destination, SnapshotDestination, SnapshotTrigger, SnapshotsSpec};

const SNAPSHOTS_VOLUME: &str = "snapshots";
const PASSWORD_VOLUME: &str = "auth";
const PASSWORD_FILE: &str = "password";
const TMP_VOLUME: &str = "tmp";
/// Retries of a snapshot Job. With restartPolicy OnFailure only the failed shard's
/// container runs again, so a shard already saved is not taken twice.
pub const SNAPSHOT_BACKOFF_LIMIT: i32 = 2;
/// Jobs kept by the CronJob; the controller has turned them into CacheSnapshots by then.
const JOBS_HISTORY: i32 = 3;
/// How late a scheduled snapshot may start when no backupWindow bounds it.
const DEFAULT_STARTING_DEADLINE: i64 = 3600;

/// The daily window a scheduled snapshot must start in (UTC), in minutes of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupWindow {
    pub start: u32,
    /// Minutes from start to end (the window may cross midnight).
    pub length: u32,
}

/// Parses ElastiCache's `hh:mm-hh:mm`; windows shorter than an hour are refused, as
/// ElastiCache does, so a slow scheduler does not skip every day's snapshot.
pub fn parse_backup_window(text: &str) -> Result<BackupWindow, String> {
    let minutes = |hm: &str| -> Option<u32> {
        let (h, m) = hm.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60 && hm.len() == 5).then_some(h * 60 + m)
    };
    let bad = || format!("snapshots.backupWindow {text:?} is not hh:mm-hh:mm (UTC)");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let (start, end) = (minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?);
    let length = (end + 24 * 60 - start) % (24 * 60);
    if length < 60 {
        return Err(format!("snapshots.backupWindow {text:?} must be at least 60 minutes long"));
    }
    Ok(BackupWindow { start, length })
}

/// (schedule, timeZone, startingDeadlineSeconds) of the CronJob. A backup window
/// starts the Job at the window's start in UTC, and the deadline keeps a late start
/// inside the window.
pub fn schedule_of(s: &SnapshotsSpec) -> Result<(String, Option<String>, i64), BuildError> {
    match &s.backup_window {
        Some(w) => {
            let w = parse_backup_window(w).map_err(BuildError::BadSnapshots)?;
            Ok((format!("{} {} * * *", w.start % 60, w.start / 60), Some("Etc/UTC".into()), i64::from(w.length) * 60))
        }
        None => Ok((s.schedule.clone(), s.time_zone.clone(), DEFAULT_STARTING_DEADLINE)),
    }
}

/// Where a destination's files are, as a location URL: `pvc://claim` or
/// `s3://bucket[/prefix]`.
pub fn destination_location(cluster: &str, d: &SnapshotDestination) -> String {
    match &d.s3 {
        Some(s3) => match s3.prefix.as_deref().map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
            Some(p) => format!("s3://{}/{p}", s3.bucket),
            None => format!("s3://{}", s3.bucket),
        },
        None => format!("pvc://{}", names::snapshots_claim(cluster)),
    }
}

/// A location URL as `cache-node snapshot` reads it, and the claim to mount for it:
/// `pvc://claim/rest` is `/snapshots/rest` with the claim mounted at /snapshots.
pub fn node_path(location: &str) -> Result<(String, Option<String>), BuildError> {
    if location.starts_with("s3://") {
        return Ok((location.to_string(), None));
    }
    let rest = location.strip_prefix("pvc://").ok_or_else(|| BuildError::BadSnapshots(format!("location {location:?} is neither pvc:// nor s3://")))?;
    let (claim, path) = rest.split_once('/').unwrap_or((rest, ""));
    if claim.is_empty() || path.split('/').any(|p| p == "..") {
        return Err(BuildError::BadSnapshots(format!("location {location:?} names no claim or leaves it")));
    }
    let dir = if path.is_empty() { names::SNAPSHOT_DIR.to_string() } else { format!("{}/{}", names::SNAPSHOT_DIR, path.trim_end_matches('/')) };
    Ok((dir, Some(claim.to_string())))
}

/// What the snapshot objects of one cluster are built from.
pub struct SnapshotBase<'a> {
    meta: ClusterMeta,
    spec: &'a CacheClusterSpec,
    snapshots: SnapshotsSpec,
    image: String,
}

impl<'a> SnapshotBase<'a> {
    pub fn new(cluster: &'a CacheCluster, default_image: &str) -> Result<SnapshotBase<'a>, BuildError> {
        let spec = &cluster.spec;
        // A cluster without snapshots settings can still be snapshotted by hand (or on
        // deletion): to the default destination, a claim of its own.
        let snapshots = spec.snapshots.clone().unwrap_or_default();
        let image = spec.image.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| default_image.to_string());
        Ok(SnapshotBase { meta: ClusterMeta::new(cluster)?, spec, snapshots, image })
    }

    pub fn location(&self) -> String {
        destination_location(&self.meta.name, &self.snapshots.destination)
    }

    pub fn destination(&self) -> &SnapshotDestination {
        &self.snapshots.destination
    }

    fn labels(&self, component: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut labels = self.meta.labels.clone();
        labels.insert(names::LABEL_NAME.into(), names::SNAPSHOT_APP_NAME.into());
        labels.insert(names::LABEL_COMPONENT.into(), component.into());
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        labels
    }

    /// The pod of a snapshot Job: one container per shard, each saving its shard under
    /// `<job name>-shard-<i>` (the Job's name comes from the downward API, so a CronJob's
    /// runs each get their own files).
    fn save_pod(&self, labels: BTreeMap<String, String>) -> Result<PodTemplateSpec, BuildError> {
        let (to, claim) = node_path(&self.location())?;
        let cluster = self.meta.name.as_str();
        let password = self.spec.auth.as_ref().and_then(|a| a.password_secret.as_ref());
        let containers = (0..self.spec.shards)
            .map(|shard| {
                let mut args: Vec<String> = vec![
                    "snapshot".into(),
                    "save".into(),
                    format!("--from={}:{}", names::shard_name(cluster, shard), names::RESP_PORT),
                    format!("--to={to}"),
                    format!("--cluster={cluster}"),
                    format!("--shard={shard}"),
                    format!("--name=$({})-shard-{shard}", names::JOB_NAME_ENV),
                    format!("--prefer-role={}", self.snapshots.source_role.as_str()),
                    format!("--termination-log={}", names::TERMINATION_LOG),
                ];
                if password.is_some() {
                    args.push(format!("--password-file={}/{PASSWORD_FILE}", names::PASSWORD_DIR));
                }
                args.extend(s3_flags(self.snapshots.destination.s3.as_ref()));
                let mut env = vec![EnvVar {
                    name: names::JOB_NAME_ENV.into(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector { field_path: format!("metadata.labels['{}']", names::LABEL_JOB_NAME), api_version: None }),
                        ..EnvVarSource::default()
                    }),
                    value: None,
                }];
                env.extend(s3_env(self.snapshots.destination.s3.as_ref()));
                let mut mounts = vec![VolumeMount { name: TMP_VOLUME.into(), mount_path: "/tmp".into(), ..VolumeMount::default() }];
                if claim.is_some() {
                    mounts.push(VolumeMount { name: SNAPSHOTS_VOLUME.into(), mount_path: names::SNAPSHOT_DIR.into(), ..VolumeMount::default() });
                }
                if password.is_some() {
                    mounts.push(VolumeMount {
                        name: PASSWORD_VOLUME.into(),
                        mount_path: names::PASSWORD_DIR.into(),
                        read_only: Some(true),
                        ..VolumeMount::default()
                    });
                }
                tool_container(names::snapshot_container(shard), &self.image, args, env, mounts)
            })
            .collect();
        let mut volumes = vec![Volume { name: TMP_VOLUME.into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() }];
        if let Some(claim) = claim {
            volumes.push(claim_volume(SNAPSHOTS_VOLUME, claim, false));
        }
        if let Some(secret) = password {
            volumes.push(Volume {
                name: PASSWORD_VOLUME.into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.name.clone()),
                    items: Some(vec![KeyToPath { key: secret.key.clone(), path: PASSWORD_FILE.into(), mode: None }]),
                    default_mode: Some(0o400),
                    optional: Some(false),
                }),
                ..Volume::default()
            });
        }
        Ok(tool_pod(labels, containers, volumes, "OnFailure"))
    }

    /// The claim of destination pvc, owned by the cluster.
    pub fn claim(&self) -> Option<PersistentVolumeClaim> {
        if self.snapshots.destination.s3.is_some() {
            return None;
        }
        let pvc = self.snapshots.destination.pvc.clone().unwrap_or_default();
        Some(PersistentVolumeClaim {
            metadata: self.meta.object_with(names::snapshots_claim(&self.meta.name), &[(names::LABEL_COMPONENT, names::COMPONENT_SNAPSHOT)]),
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                resources: Some(VolumeResourceRequirements { requests: Some(BTreeMap::from([("storage".to_string(), pvc.storage_size)])), limits: None }),
                storage_class_name: pvc.storage_class_name,
                ..PersistentVolumeClaimSpec::default()
            }),
            status: None,
        })
    }

    /// The CronJob of scheduled snapshots; None when snapshots are off.
    pub fn cron_job(&self) -> Result<Option<CronJob>, BuildError> {
        if self.spec.snapshots.as_ref().is_none_or(|s| !s.enabled) {
            return Ok(None);
        }
        let (schedule, time_zone, deadline) = schedule_of(&self.snapshots)?;
        let trigger = [(names::LABEL_TRIGGER, "Scheduled")];
        let labels = self.labels(names::COMPONENT_SNAPSHOT, &trigger);
        Ok(Some(CronJob {
            metadata: self.meta.object_with(names::snapshots_cron_job(&self.meta.name), &[(names::LABEL_COMPONENT, names::COMPONENT_SNAPSHOT)]),
            spec: Some(CronJobSpec {
                schedule,
                time_zone,
                starting_deadline_seconds: Some(deadline),
                // Two copies of one shard at once only double the load on its replica.
                concurrency_policy: Some("Forbid".into()),
                successful_jobs_history_limit: Some(JOBS_HISTORY),
                failed_jobs_history_limit: Some(JOBS_HISTORY),
                job_template: JobTemplateSpec {
                    metadata: Some(ObjectMeta { labels: Some(labels.clone()), ..ObjectMeta::default() }),
                    spec: Some(job_spec(self.save_pod(labels)?)),
                },
                ..CronJobSpec::default()
            }),
            status: None,
        }))
    }

    /// The Job of a manual snapshot, named after its CacheSnapshot and owned by it.
    pub fn manual_job(&self, snapshot: &str, owner: OwnerReference) -> Result<Job, BuildError> {
        let extra = [(names::LABEL_TRIGGER, "Manual"), (names::LABEL_SNAPSHOT, snapshot)];
        let labels = self.labels(names::COMPONENT_SNAPSHOT, &extra);
        Ok(Job {
            metadata: ObjectMeta {
                name: Some(snapshot.to_string()),
                namespace: Some(self.meta.namespace.clone()),
                labels: Some(labels.clone()),
                owner_references: Some(vec![owner]),
                ..ObjectMeta::default()
            },
            spec: Some(job_spec(self.save_pod(labels)?)),
            status: None,
        })
    }

    /// The init container (and its volumes) restoring shard `shard` from the snapshot
    /// at `prefix` (files `<prefix>-shard-<i>`). `--if-empty`: a pod that restarts with
    /// data keeps it instead of going back in time.
    pub fn restore_container(&self, prefix: &str, shard: i32, data_volume: &str) -> Result<(Container, Vec<Volume>), BuildError> {
        let (from, claim) = node_path(&names::snapshot_file(prefix, shard))?;
        let s3 = self.snapshots.destination.s3.as_ref();
        if from.starts_with("s3://") && s3.is_none() {
            return Err(BuildError::BadSnapshots("restoring from s3:// needs snapshots.destination.s3 (its endpoint and credentials are used)".into()));
        }
        let mut args: Vec<String> =
            vec!["snapshot".into(), "restore".into(), format!("--from={from}"), format!("--to={}", names::DATA_DIR), "--if-empty".into()];
        let mut env = Vec::new();
        if from.starts_with("s3://") {
            args.extend(s3_flags(s3));
            env.extend(s3_env(s3));
        }
        let mut mounts = vec![
            VolumeMount { name: data_volume.into(), mount_path: names::DATA_DIR.into(), ..VolumeMount::default() },
            VolumeMount { name: TMP_VOLUME.into(), mount_path: "/tmp".into(), ..VolumeMount::default() },
        ];
        let mut volumes = vec![Volume { name: TMP_VOLUME.into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() }];
        if let Some(claim) = claim {
            mounts.push(VolumeMount { name: SNAPSHOTS_VOLUME.into(), mount_path: names::SNAPSHOT_DIR.into(), read_only: Some(true), ..VolumeMount::default() });
            volumes.push(claim_volume(SNAPSHOTS_VOLUME, claim, true));
        }
        Ok((tool_container(names::RESTORE_CONTAINER.into(), &self.image, args, env, mounts), volumes))
    }
}

/// The Job deleting snapshot `snapshot`'s files (shards 0..shards) at `location` with the
/// destination recorded when it was taken. Owned by the CacheSnapshot, whose finalizer
/// waits for it.
pub fn delete_job(
    namespace: &str,
    snapshot: &str,
    location: &str,
    shards: &[i32],
    s3: Option<&S3Destination>,
    image: &str,
    owner: OwnerReference,
) -> Result<Job, BuildError> {
    let (at, claim) = node_path(location)?;
    // One shell-free container per file: the image has no shell to loop with.
    let containers = shards
        .iter()
        .map(|&shard| {
            let mut args = vec!["snapshot".into(), "delete".into(), at.clone(), names::snapshot_file(snapshot, shard)];
            args.extend(s3_flags(s3));
            let mounts =
                claim.iter().map(|_| VolumeMount { name: SNAPSHOTS_VOLUME.into(), mount_path: names::SNAPSHOT_DIR.into(), ..VolumeMount::default() }).collect();
            tool_container(names::snapshot_container(shard), image, args, s3_env(s3), mounts)
        })
        .collect();
    let labels = BTreeMap::from([
        (names::LABEL_NAME.to_string(), names::SNAPSHOT_APP_NAME.to_string()),
        (names::LABEL_COMPONENT.to_string(), names::COMPONENT_SNAPSHOT_DELETE.to_string()),
        (names::LABEL_MANAGED_BY.to_string(), names::FIELD_MANAGER.to_string()),
        (names::LABEL_SNAPSHOT.to_string(), snapshot.to_string()),
    ]);
    let volumes = claim.map(|c| vec![claim_volume(SNAPSHOTS_VOLUME, c, false)]).unwrap_or_default();
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(names::snapshot_delete_job(snapshot)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels.clone()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(job_spec(tool_pod(labels, containers, volumes, "OnFailure"))),
        status: None,
    })
}

fn job_spec(template: PodTemplateSpec) -> JobSpec {
    JobSpec { backoff_limit: Some(SNAPSHOT_BACKOFF_LIMIT), template, ..JobSpec::default() }
}

fn claim_volume(name: &str, claim: String, read_only: bool) -> Volume {
    Volume {
        name: name.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim, read_only: read_only.then_some(true) }),
        ..Volume::default()
    }
}

fn s3_flags(s3: Option<&S3Destination>) -> Vec<String> {
    let Some(s3) = s3 else { return Vec::new() };
    let mut flags = Vec::new();
    flags.extend(s3.endpoint.as_ref().map(|e| format!("--s3-endpoint={e}")));
    flags.extend(s3.region.as_ref().map(|r| format!("--s3-region={r}")));
    flags
}

/// The AWS credentials from the destination's Secret, never copied into an object.
fn s3_env(s3: Option<&S3Destination>) -> Vec<EnvVar> {
    let Some(s3) = s3 else { return Vec::new() };
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .into_iter()
        .map(|key| EnvVar {
            name: key.into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector { name: s3.credentials_secret.clone(), key: key.into(), optional: Some(false) }),
                ..EnvVarSource::default()
            }),
            value: None,
        })
        .collect()
}

fn tool_container(name: String, image: &str, args: Vec<String>, env: Vec<EnvVar>, mounts: Vec<VolumeMount>) -> Container {
    Container {
        name,
        image: Some(image.to_string()),
        args: Some(args),
        env: (!env.is_empty()).then_some(env),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        termination_message_path: Some(names::TERMINATION_LOG.into()),
        termination_message_policy: Some("File".into()),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(NODE_USER),
            run_as_group: Some(NODE_USER),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
            seccomp_profile: Some(super::statefulset::runtime_default_seccomp()),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

fn tool_pod(labels: BTreeMap<String, String>, containers: Vec<Container>, volumes: Vec<Volume>, restart: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels), ..ObjectMeta::default() }),
        spec: Some(PodSpec {
            containers,
            volumes: (!volumes.is_empty()).then_some(volumes),
            restart_policy: Some(restart.into()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(super::statefulset::node_pod_security()),
            ..PodSpec::default()
        }),
    }
}

/// Label value of a trigger.
pub fn trigger_label(t: SnapshotTrigger) -> &'static str {
    match t {
        SnapshotTrigger::Manual => "Manual",
        SnapshotTrigger::Scheduled => "Scheduled",
    }
}
