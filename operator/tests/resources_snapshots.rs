//! Snapshot objects: the CronJob and its pod (one container per shard), the claim, the
//! manual and delete Jobs, and the restore init container.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod resources_support;

use cachefleet_operator::resources::build_restoring;
use cachefleet_operator::resources::snapshots::{SnapshotBase, delete_job, parse_backup_window, schedule_of};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use resources_support::*;

fn cron(spec: &str) -> CronJob {
    desired(spec).snapshots_cron_job.expect("a CronJob")
}

fn job_pod(c: &CronJob) -> PodSpec {
    c.spec.as_ref().unwrap().job_template.spec.as_ref().unwrap().template.spec.clone().unwrap()
}

fn env_names(c: &Container) -> Vec<String> {
    c.env.iter().flatten().map(|e| e.name.clone()).collect()
}

#[test]
fn the_cron_job_saves_every_shard_from_its_headless_service_into_the_claim() {
    let c = cron("mode: cluster\nshards: 2\nsnapshots: {schedule: '15 3 * * *', retain: 3}");
    assert_eq!(c.metadata.name.as_deref(), Some("c-snapshots"));
    assert_eq!(c.metadata.owner_references.as_ref().unwrap()[0].uid, UID);
    let spec = c.spec.as_ref().unwrap();
    assert_eq!(spec.schedule, "15 3 * * *");
    assert_eq!(spec.time_zone, None);
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert!(spec.successful_jobs_history_limit.is_some() && spec.failed_jobs_history_limit.is_some());
    let job = spec.job_template.spec.as_ref().unwrap();
    assert_eq!(job.backoff_limit, Some(2));
    let pod = job_pod(&c);
    assert_eq!(pod.restart_policy.as_deref(), Some("OnFailure"));
    assert_eq!(pod.containers.len(), 2);
    for (i, container) in pod.containers.iter().enumerate() {
        assert_eq!(container.name, format!("shard-{i}"));
        assert_eq!(container.image.as_deref(), Some(IMAGE));
        let args = container.args.clone().unwrap();
        assert_eq!(
            args,
            vec![
                "snapshot".to_string(),
                "save".into(),
                format!("--from=c-{i}:6379"),
                "--to=/snapshots".into(),
                "--cluster=c".into(),
                format!("--shard={i}"),
                format!("--name=$(JOB_NAME)-shard-{i}"),
                "--prefer-role=replica".into(),
                "--termination-log=/dev/termination-log".into(),
            ]
        );
        let job_name = container.env.as_ref().unwrap().iter().find(|e| e.name == "JOB_NAME").unwrap();
        assert_eq!(job_name.value_from.as_ref().unwrap().field_ref.as_ref().unwrap().field_path, "metadata.labels['batch.kubernetes.io/job-name']");
        assert!(container.volume_mounts.as_ref().unwrap().iter().any(|m| m.mount_path == "/snapshots"));
    }
    let claim_volume = pod.volumes.as_ref().unwrap().iter().find_map(|v| v.persistent_volume_claim.as_ref()).unwrap();
    assert_eq!(claim_volume.claim_name, "c-snapshots");
    let labels = pod_labels(&c);
    assert_eq!(labels.get("app.kubernetes.io/name").map(String::as_str), Some("cachefleet-snapshot"));
    assert_eq!(labels.get("cachefleet.dev/cluster").map(String::as_str), Some("c"));

    let claim = desired("snapshots: {destination: {pvc: {storageSize: 5Gi, storageClassName: slow}}}").snapshots_claim.unwrap();
    assert_eq!(claim.metadata.name.as_deref(), Some("c-snapshots"));
    let claim_spec = claim.spec.unwrap();
    assert_eq!(claim_spec.storage_class_name.as_deref(), Some("slow"));
    assert_eq!(claim_spec.resources.unwrap().requests.unwrap()["storage"].0, "5Gi");
}

fn pod_labels(c: &CronJob) -> std::collections::BTreeMap<String, String> {
    c.spec.as_ref().unwrap().job_template.spec.as_ref().unwrap().template.metadata.clone().unwrap().labels.unwrap()
}

#[test]
fn s3_destinations_take_credentials_from_the_secret_and_need_no_claim() {
    let d = desired(
        "snapshots: {sourceRole: primary, destination: {s3: {bucket: backups, prefix: /prod/c/, endpoint: 'http://minio:9000', region: eu, credentialsSecret: s3-creds}}}",
    );
    assert!(d.snapshots_claim.is_none());
    let pod = job_pod(d.snapshots_cron_job.as_ref().unwrap());
    let c = &pod.containers[0];
    let args = c.args.clone().unwrap();
    assert!(args.contains(&"--to=s3://backups/prod/c".to_string()), "{args:?}");
    assert!(args.contains(&"--prefer-role=primary".to_string()));
    assert!(args.contains(&"--s3-endpoint=http://minio:9000".to_string()) && args.contains(&"--s3-region=eu".to_string()));
    assert_eq!(env_names(c), vec!["JOB_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    let key = c.env.as_ref().unwrap()[1].value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!((key.name.as_str(), key.key.as_str()), ("s3-creds", "AWS_ACCESS_KEY_ID"));
    assert!(pod.volumes.unwrap().iter().all(|v| v.persistent_volume_claim.is_none()));
}

#[test]
fn with_auth_the_password_is_a_mounted_file_never_an_argument() {
    let pod = job_pod(&cron("auth: {passwordSecret: {name: pw, key: token}}\nsnapshots: {}"));
    let c = &pod.containers[0];
    assert!(c.args.as_ref().unwrap().contains(&"--password-file=/etc/cache-node-auth/password".to_string()));
    let secret = pod.volumes.as_ref().unwrap().iter().find_map(|v| v.secret.as_ref()).unwrap();
    assert_eq!(secret.secret_name.as_deref(), Some("pw"));
    assert_eq!(secret.items.as_ref().unwrap()[0].key, "token");
    assert!(c.volume_mounts.as_ref().unwrap().iter().any(|m| m.mount_path == "/etc/cache-node-auth" && m.read_only == Some(true)));
    let without = job_pod(&cron("snapshots: {}"));
    assert!(!without.containers[0].args.as_ref().unwrap().iter().any(|a| a.starts_with("--password-file")));
}

#[test]
fn a_backup_window_sets_the_schedule_to_its_start_in_utc_and_the_deadline_to_its_length() {
    let c = cron("snapshots: {schedule: '0 1 * * *', backupWindow: '23:30-01:00'}");
    let spec = c.spec.unwrap();
    assert_eq!(spec.schedule, "30 23 * * *");
    assert_eq!(spec.time_zone.as_deref(), Some("Etc/UTC"));
    assert_eq!(spec.starting_deadline_seconds, Some(90 * 60));
    assert_eq!(parse_backup_window("05:00-06:00").unwrap().length, 60);
    assert!(parse_backup_window("05:00-05:30").unwrap_err().contains("60 minutes"));
    assert!(parse_backup_window("5:00-06:00").is_err());
    assert!(parse_backup_window("25:00-06:00").is_err());
}

#[test]
fn the_time_zone_goes_to_the_cron_job_and_snapshots_off_means_no_cron_job() {
    let spec = cron("snapshots: {schedule: '@daily', timeZone: Europe/Paris}").spec.unwrap();
    assert_eq!((spec.schedule.as_str(), spec.time_zone.as_deref()), ("@daily", Some("Europe/Paris")));
    let s: cachefleet_operator::api::SnapshotsSpec = serde_saphyr::from_str("{}").unwrap();
    assert_eq!(schedule_of(&s).unwrap(), ("0 5 * * *".to_string(), None, 3600));
    let off = desired("snapshots: {enabled: false}");
    assert!(off.snapshots_cron_job.is_none() && off.snapshots_claim.is_none());
    assert!(desired("replicasPerShard: 1").snapshots_cron_job.is_none());
}

fn owner() -> OwnerReference {
    OwnerReference { api_version: "cachefleet.dev/v1alpha1".into(), kind: "CacheSnapshot".into(), name: "s".into(), uid: "u".into(), ..Default::default() }
}

#[test]
fn a_manual_job_is_named_after_its_snapshot_and_owned_by_it() {
    let cluster = cluster("snapshots: {enabled: false}");
    let job = SnapshotBase::new(&cluster, IMAGE).unwrap().manual_job("before-upgrade", owner()).unwrap();
    assert_eq!(job.metadata.name.as_deref(), Some("before-upgrade"));
    assert_eq!(job.metadata.owner_references.unwrap()[0].kind, "CacheSnapshot");
    let labels = job.metadata.labels.unwrap();
    assert_eq!(labels["cachefleet.dev/trigger"], "Manual");
    assert_eq!(labels["cachefleet.dev/snapshot"], "before-upgrade");
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert!(pod.containers[0].args.as_ref().unwrap().contains(&"--name=$(JOB_NAME)-shard-0".to_string()));
}

#[test]
fn the_delete_job_removes_each_shard_s_files_where_they_were_written() {
    let job = delete_job("ns", "nightly-1", "pvc://c-snapshots", &[0, 1], None, IMAGE, owner()).unwrap();
    assert_eq!(job.metadata.name.as_deref(), Some("nightly-1-delete"));
    let pod = job.spec.unwrap().template.spec.unwrap();
    let args: Vec<Vec<String>> = pod.containers.iter().map(|c| c.args.clone().unwrap()).collect();
    assert_eq!(args[1], vec!["snapshot", "delete", "/snapshots", "nightly-1-shard-1"]);
    assert_eq!(pod.volumes.unwrap()[0].persistent_volume_claim.as_ref().unwrap().claim_name, "c-snapshots");
    assert!(delete_job("ns", "n", "file:///etc", &[0], None, IMAGE, owner()).is_err());
    assert!(delete_job("ns", "n", "pvc://c/../x", &[0], None, IMAGE, owner()).is_err());
}

#[test]
fn only_a_restoring_cluster_gets_the_restore_init_container() {
    let plain = desired("mode: cluster\nshards: 2");
    assert!(plain.shards.iter().all(|s| s.stateful_set.spec.as_ref().unwrap().template.spec.as_ref().unwrap().init_containers.is_none()));

    let restored = desired("mode: cluster\nshards: 2\nrestoreFrom: {location: 'pvc://old-snapshots/nightly-7'}");
    for shard in &restored.shards {
        let pod = shard.stateful_set.spec.as_ref().unwrap().template.spec.clone().unwrap();
        let init = &pod.init_containers.unwrap()[0];
        assert_eq!(init.name, "restore");
        assert_eq!(
            init.args.clone().unwrap(),
            vec![
                "snapshot".to_string(),
                "restore".into(),
                format!("--from=/snapshots/nightly-7-shard-{}", shard.index),
                "--to=/data".into(),
                "--if-empty".into()
            ]
        );
        let claim = pod.volumes.unwrap().into_iter().find_map(|v| v.persistent_volume_claim).unwrap();
        assert_eq!((claim.claim_name.as_str(), claim.read_only), ("old-snapshots", Some(true)));
    }

    // A CacheSnapshot is resolved by the controller; unresolved, the builder says so.
    let by_name = cluster("restoreFrom: {snapshot: nightly-7}\nsnapshots: {destination: {s3: {bucket: b, credentialsSecret: s3}}}");
    assert_eq!(build(&by_name, &opts(false)).unwrap().restore_unresolved.as_deref(), Some("nightly-7"));
    let resolved = build_restoring(&by_name, &opts(false), Some("s3://b/c/nightly-7")).unwrap();
    assert!(resolved.restore_unresolved.is_none());
    let init = resolved.shards[0].stateful_set.spec.as_ref().unwrap().template.spec.as_ref().unwrap().init_containers.clone().unwrap();
    assert!(init[0].args.as_ref().unwrap().contains(&"--from=s3://b/c/nightly-7-shard-0".to_string()));
    assert_eq!(env_names(&init[0]), vec!["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
}
