//! Scheduled snapshots of a local cluster: the driver fires `spec.snapshots.schedule`
//! itself (what the CronJob does on Kubernetes), runs `cache-node snapshot save` for
//! every shard, then keeps the newest `retain` snapshots with `cache-node snapshot
//! delete`. A run happens in a task of its own so probing and failover never wait for a
//! backup; a failed run is logged and the next tick tries again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::join_all;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::task::JoinHandle;

use super::schedule::{self, Cron};
use super::status::SnapshotEntry;
use crate::api::{S3Destination, SnapshotsSpec};
use crate::resources::names;
use crate::resources::snapshots::{destination_location, schedule_of};

/// Longest silence from a node during `snapshot save` (its `--timeout`).
const SAVE_SILENCE_SECONDS: u64 = 60;

/// Where a cluster's snapshot files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A directory: destination `pvc` maps to `<snapshot root>/<claim name>`, the way
    /// the claim holds them on Kubernetes.
    Dir(PathBuf),
    /// `s3://bucket[/prefix]`, with the endpoint and region of the spec. Credentials come
    /// from the driver's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): a
    /// credentialsSecret names a Kubernetes Secret, which a local cluster cannot read.
    S3 { url: String, endpoint: Option<String>, region: Option<String> },
}

impl Destination {
    pub fn of(cluster: &str, spec: &SnapshotsSpec, root: &Path) -> Destination {
        match &spec.destination.s3 {
            Some(s3) => Destination::s3(cluster, spec, s3),
            None => Destination::Dir(root.join(names::snapshots_claim(cluster))),
        }
    }

    fn s3(cluster: &str, spec: &SnapshotsSpec, s3: &S3Destination) -> Destination {
        Destination::S3 { url: destination_location(cluster, &spec.destination), endpoint: s3.endpoint.clone(), region: s3.region.clone() }
    }

    /// The `DEST` argument of `cache-node snapshot save --to` / `list` / `delete`.
    pub fn arg(&self) -> String {
        match self {
            Destination::Dir(d) => d.display().to_string(),
            Destination::S3 { url, .. } => url.clone(),
        }
    }

    /// `--s3-endpoint` / `--s3-region` when in a bucket.
    pub fn flags(&self) -> Vec<String> {
        match self {
            Destination::Dir(_) => Vec::new(),
            Destination::S3 { endpoint, region, .. } => {
                endpoint.iter().map(|e| format!("--s3-endpoint={e}")).chain(region.iter().map(|r| format!("--s3-region={r}"))).collect()
            }
        }
    }

    /// Where snapshot `name` is, as `restoreFrom.location` takes it (shard i is
    /// `<location>-shard-<i>`).
    pub fn location(&self, name: &str) -> String {
        match self {
            Destination::Dir(d) => d.join(name).display().to_string(),
            Destination::S3 { url, .. } => format!("{}/{name}", url.trim_end_matches('/')),
        }
    }
}

/// When runs happen.
#[derive(Clone, Debug)]
pub enum Trigger {
    Cron {
        cron: Cron,
        tz: TimeZone,
    },
    /// A fixed period (the hidden `--snapshot-every` flag, for tests that cannot wait
    /// for minutes).
    Every(Duration),
}

impl Trigger {
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        match self {
            Trigger::Cron { cron, tz } => cron.next_after(t, tz),
            Trigger::Every(d) => t.checked_add(*d).ok(),
        }
    }
}

/// What the spec asks of scheduled snapshots, checked.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cluster: String,
    pub shards: i32,
    pub trigger: Trigger,
    pub retain: usize,
    pub destination: Destination,
    pub prefer_role: &'static str,
}

impl Settings {
    /// None when the spec takes no scheduled snapshots. `every` overrides the schedule.
    pub fn new(cluster: &str, shards: i32, spec: Option<&SnapshotsSpec>, root: &Path, every: Option<Duration>) -> anyhow::Result<Option<Settings>> {
        let Some(spec) = spec.filter(|s| s.enabled) else { return Ok(None) };
        let (text, zone, _) = schedule_of(spec)?;
        // Parsed even when overridden, so a schedule the CronJob would refuse is refused here too.
        let cron = Cron::parse(&text)?;
        let tz = schedule::time_zone(zone.as_deref())?;
        let trigger = match every {
            Some(d) => Trigger::Every(d.max(Duration::from_secs(1))),
            None => Trigger::Cron { cron, tz },
        };
        Ok(Some(Settings {
            cluster: cluster.to_string(),
            shards,
            trigger,
            retain: usize::try_from(spec.retain).unwrap_or(1).max(1),
            destination: Destination::of(cluster, spec, root),
            prefer_role: spec.source_role.as_str(),
        }))
    }
}

/// A scheduled snapshot's name: the CronJob's name and the UTC second it was taken
/// (`<cluster>-snapshots-YYYYMMDD-HHMMSS`), so names sort by time.
pub fn snapshot_name(cluster: &str, unix: i64) -> String {
    format!("{}-{}", names::snapshots_cron_job(cluster), cache_node::backup::manifest::stamp(unix))
}

/// The snapshot and shard of a file listed in the destination, when it is one of this
/// cluster's scheduled snapshots (others sharing the destination are left alone).
pub fn parse_file_name(cluster: &str, file: &str) -> Option<(String, i32)> {
    let (snapshot, shard) = file.rsplit_once("-shard-")?;
    let shard: i32 = shard.parse().ok()?;
    let stamp = snapshot.strip_prefix(&names::snapshots_cron_job(cluster))?.strip_prefix('-')?;
    let well_formed = stamp.len() == 15 && stamp.char_indices().all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() });
    (well_formed && shard >= 0).then(|| (snapshot.to_string(), shard))
}

/// One listed file: `cache-node snapshot list` prints name, created, keys, bytes, ...
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub file: String,
    pub created: String,
    pub keys: u64,
    pub bytes: u64,
}

pub fn parse_list(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let number = |i: usize, unit: &str| f.get(i).and_then(|s| s.strip_suffix(unit)).and_then(|s| s.trim().parse::<u64>().ok());
            Some(Listed { file: f.first()?.to_string(), created: f.get(1)?.to_string(), keys: number(2, " keys")?, bytes: number(3, " bytes")? })
        })
        .collect()
}

/// Groups listed files into this cluster's snapshots, oldest first; a snapshot is
/// complete when it has a file for every shard.
pub fn group(cluster: &str, shards: i32, listed: &[Listed], destination: &Destination) -> (Vec<SnapshotEntry>, Vec<String>) {
    let mut by_name: std::collections::BTreeMap<String, (Vec<i32>, SnapshotEntry)> = std::collections::BTreeMap::new();
    for l in listed {
        let Some((name, shard)) = parse_file_name(cluster, &l.file) else { continue };
        let entry = by_name.entry(name.clone()).or_insert_with(|| {
            (Vec::new(), SnapshotEntry { location: destination.location(&name), name, time: l.created.clone(), shards: 0, keys: 0, bytes: 0 })
        });
        entry.0.push(shard);
        entry.1.shards += 1;
        entry.1.keys += l.keys;
        entry.1.bytes += l.bytes;
        if l.created < entry.1.time {
            entry.1.time = l.created.clone();
        }
    }
    let mut complete = Vec::new();
    let mut incomplete = Vec::new();
    for (name, (mut got, entry)) in by_name {
        got.sort_unstable();
        got.dedup();
        if got == (0..shards).collect::<Vec<_>>() { complete.push(entry) } else { incomplete.push(name) }
    }
    (complete, incomplete)
}

/// The snapshots retention deletes: all but the newest `retain` (names sort by time).
pub fn expired(complete: &[SnapshotEntry], retain: usize) -> Vec<String> {
    let mut names: Vec<&String> = complete.iter().map(|e| &e.name).collect();
    names.sort();
    let excess = names.len().saturating_sub(retain);
    names.into_iter().take(excess).cloned().collect()
}

/// What one run did.
#[derive(Debug, Default)]
pub struct Report {
    /// The snapshot taken (None for a listing only), with its keys and bytes.
    pub taken: Option<(String, u64, u64)>,
    pub errors: Vec<String>,
    /// The complete snapshots kept after retention, oldest first; None when the
    /// destination could not be listed.
    pub kept: Option<Vec<SnapshotEntry>>,
    pub deleted: Vec<String>,
}

/// One run: save every shard (when `take` names the snapshot), then apply retention.
pub async fn run(binary: PathBuf, settings: Settings, take: Option<(String, Vec<String>)>) -> Report {
    let mut report = Report::default();
    // Listing a directory that does not exist yet would fail: the first run creates it.
    if let Destination::Dir(d) = &settings.destination
        && let Err(e) = std::fs::create_dir_all(d)
    {
        report.errors.push(format!("creating {}: {e}", d.display()));
        return report;
    }
    if let Some((name, sources)) = take {
        let saves = sources.iter().enumerate().map(|(shard, from)| save(&binary, &settings, &name, shard, from));
        let results = join_all(saves).await;
        let (mut keys, mut bytes) = (0, 0);
        for (shard, r) in results.into_iter().enumerate() {
            match r {
                Ok(m) => {
                    keys += m.keys;
                    bytes += m.bytes;
                }
                Err(e) => report.errors.push(format!("shard {shard} to {}: {e}", settings.destination.arg())),
            }
        }
        if report.errors.is_empty() {
            report.taken = Some((name, keys, bytes));
        }
        // A snapshot with a shard missing is removed below with the other incomplete ones.
    }
    let listed = match cache_node_cmd(&binary, &settings.destination, &["list".into(), settings.destination.arg()]).await {
        Ok(text) => parse_list(&text),
        Err(e) => {
            report.errors.push(format!("listing {}: {e}", settings.destination.arg()));
            return report;
        }
    };
    let (complete, incomplete) = group(&settings.cluster, settings.shards, &listed, &settings.destination);
    let old = expired(&complete, settings.retain);
    for name in incomplete.iter().chain(old.iter()) {
        for shard in 0..settings.shards {
            let file = names::snapshot_file(name, shard);
            if !listed.iter().any(|l| l.file == file) {
                continue;
            }
            let args = vec!["delete".into(), settings.destination.arg(), file.clone()];
            if let Err(e) = cache_node_cmd(&binary, &settings.destination, &args).await {
                report.errors.push(format!("deleting {file}: {e}"));
            }
        }
        report.deleted.push(name.clone());
    }
    report.kept = Some(complete.into_iter().filter(|e| !old.contains(&e.name)).collect());
    report
}

async fn save(binary: &Path, settings: &Settings, name: &str, shard: usize, from: &str) -> Result<cache_node::backup::manifest::Manifest, String> {
    let args = vec![
        "save".into(),
        format!("--from={from}"),
        format!("--to={}", settings.destination.arg()),
        format!("--cluster={}", settings.cluster),
        format!("--shard={shard}"),
        format!("--name={}", names::snapshot_file(name, i32::try_from(shard).unwrap_or(i32::MAX))),
        format!("--prefer-role={}", settings.prefer_role),
        format!("--timeout={SAVE_SILENCE_SECONDS}"),
    ];
    let out = cache_node_cmd(binary, &settings.destination, &args).await?;
    serde_json::from_str(&out).map_err(|e| format!("unexpected output of snapshot save ({e}): {}", out.trim()))
}

/// Runs `cache-node snapshot ARGS...`; its stdout, or its stderr as the error.
async fn cache_node_cmd(binary: &Path, destination: &Destination, args: &[String]) -> Result<String, String> {
    let out = tokio::process::Command::new(binary)
        .arg("snapshot")
        .args(args)
        .args(destination.flags())
        .stdin(std::process::Stdio::null())
        // A driver that stops mid-run leaves no copy running behind it.
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.trim().trim_start_matches("cache-node snapshot: ");
        Err(if err.is_empty() { format!("exited with {}", out.status) } else { err.to_string() })
    }
}

/// The driver's view of scheduled snapshots between ticks.
pub struct Scheduler {
    binary: PathBuf,
    settings: Option<Settings>,
    next_due: Option<Timestamp>,
    running: Option<(Option<String>, JoinHandle<Report>)>,
    /// List the destination (and apply retention) at the next chance: at start-up, so
    /// status.json shows what a previous run left, and after a run that could not list.
    refresh: bool,
    pub kept: Vec<SnapshotEntry>,
    pub taken: u64,
    pub failed: u64,
    pub last_error: Option<String>,
}

impl Scheduler {
    pub fn new(binary: PathBuf, settings: Option<Settings>) -> Scheduler {
        let refresh = settings.is_some();
        Scheduler { binary, settings, next_due: None, running: None, refresh, kept: Vec::new(), taken: 0, failed: 0, last_error: None }
    }

    /// Takes new settings after an edit of the cluster file; the schedule starts over.
    pub fn reconfigure(&mut self, settings: Option<Settings>) {
        if let Some(s) = &settings {
            tracing::info!(destination = %s.destination.arg(), retain = s.retain, "scheduled snapshots configured");
        } else if self.settings.is_some() {
            tracing::info!("scheduled snapshots turned off");
        }
        self.refresh = settings.is_some();
        self.settings = settings;
        self.next_due = None;
    }

    /// Where snapshots go; None when the cluster takes none.
    pub fn destination(&self) -> Option<String> {
        self.settings.as_ref().map(|s| s.destination.arg())
    }

    pub fn next_due(&self) -> Option<Timestamp> {
        self.next_due
    }

    /// The snapshot being taken, if any.
    pub fn in_progress(&self) -> Option<&str> {
        self.running.as_ref().and_then(|(n, _)| n.as_deref())
    }

    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// Collects a finished run, and starts one when due. `sources` gives, per shard, the
    /// `--from` list of its nodes.
    pub async fn poll(&mut self, now: Timestamp, sources: impl FnOnce() -> Vec<String>) {
        if self.running.as_ref().is_some_and(|(_, h)| h.is_finished())
            && let Some((_, handle)) = self.running.take()
        {
            match handle.await {
                Ok(report) => self.collect(report),
                Err(e) => {
                    self.failed += 1;
                    self.last_error = Some(format!("the snapshot task failed: {e}"));
                    tracing::error!(error = %e, "the snapshot task failed; the next tick tries again");
                }
            }
        }
        let Some(settings) = self.settings.clone() else { return };
        let Some(due) = self.next_due else {
            self.next_due = settings.trigger.next_after(now);
            match self.next_due {
                Some(t) => tracing::info!(next = %t, "next scheduled snapshot"),
                None => tracing::warn!("the snapshot schedule never fires"),
            }
            return self.start_refresh(settings);
        };
        if now < due {
            return self.start_refresh(settings);
        }
        self.next_due = settings.trigger.next_after(now);
        if self.running.is_some() {
            tracing::warn!(next = ?self.next_due.map(|t| t.to_string()), "the previous snapshot is still running; skipping this tick");
            return;
        }
        let name = snapshot_name(&settings.cluster, now.as_second());
        tracing::info!(snapshot = %name, destination = %settings.destination.arg(), "taking a scheduled snapshot");
        let task = run(self.binary.clone(), settings, Some((name.clone(), sources())));
        self.running = Some((Some(name), tokio::spawn(task)));
        self.refresh = false;
    }

    fn start_refresh(&mut self, settings: Settings) {
        if self.refresh && self.running.is_none() {
            self.refresh = false;
            self.running = Some((None, tokio::spawn(run(self.binary.clone(), settings, None))));
        }
    }

    fn collect(&mut self, report: Report) {
        if let Some((name, keys, bytes)) = &report.taken {
            self.taken += 1;
            let location = self.settings.as_ref().map(|s| s.destination.location(name)).unwrap_or_default();
            tracing::info!(snapshot = %name, keys, bytes, %location, "snapshot taken");
        }
        for name in &report.deleted {
            tracing::info!(snapshot = %name, "snapshot deleted (retention)");
        }
        if report.errors.is_empty() {
            self.last_error = None;
        } else {
            self.failed += 1;
            let text = report.errors.join("; ");
            tracing::error!(error = %text, "scheduled snapshot failed; the next tick tries again");
            self.last_error = Some(text);
        }
        match report.kept {
            Some(kept) => self.kept = kept,
            None => self.refresh = true,
        }
    }

    /// Stops a run under way (its `cache-node` processes are killed with it).
    pub fn abort(&mut self) {
        if let Some((_, h)) = self.running.take() {
            h.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> SnapshotEntry {
        SnapshotEntry { name: name.into(), ..SnapshotEntry::default() }
    }

    #[test]
    fn names_sort_by_time_and_parse_back() {
        assert_eq!(snapshot_name("t", 1_795_805_100), "t-snapshots-20261127-184500");
        assert_eq!(parse_file_name("t", "t-snapshots-20261127-184500-shard-2"), Some(("t-snapshots-20261127-184500".into(), 2)));
        // Another cluster's snapshots, manual ones and stray files are not ours.
        assert_eq!(parse_file_name("t", "tt-snapshots-20261127-184500-shard-0"), None);
        assert_eq!(parse_file_name("t", "t-x-snapshots-20261127-184500-shard-0"), None);
        assert_eq!(parse_file_name("t-x", "t-snapshots-20261127-184500-shard-0"), None);
        assert_eq!(parse_file_name("t", "t-snapshots-manual-shard-0"), None);
        assert_eq!(parse_file_name("t", "t-snapshots-20261127-184500"), None);
        assert_eq!(parse_file_name("t", "t-snapshots-20261127-184500-shard-x"), None);
    }

    #[test]
    fn lists_group_into_complete_snapshots() {
        let text = "t-snapshots-20261127-184500-shard-0\t2026-11-27T18:45:00Z\t3 keys\t100 bytes\treplica\t127.0.0.1:7001\n\
                    t-snapshots-20261127-184500-shard-1\t2026-11-27T18:45:01Z\t4 keys\t110 bytes\treplica\t127.0.0.1:7101\n\
                    t-snapshots-20261127-184600-shard-1\t2026-11-27T18:46:00Z\t4 keys\t110 bytes\treplica\t127.0.0.1:7101\n\
                    other-20261127-184600-shard-0\t2026-11-27T18:46:00Z\t4 keys\t110 bytes\treplica\t127.0.0.1:7101\n\
                    garbage line\n";
        let listed = parse_list(text);
        assert_eq!(listed.len(), 4);
        let dest = Destination::Dir("/snap/t-snapshots".into());
        let (complete, incomplete) = group("t", 2, &listed, &dest);
        assert_eq!(
            complete,
            vec![SnapshotEntry {
                name: "t-snapshots-20261127-184500".into(),
                time: "2026-11-27T18:45:00Z".into(),
                shards: 2,
                keys: 7,
                bytes: 210,
                location: "/snap/t-snapshots/t-snapshots-20261127-184500".into(),
            }]
        );
        assert_eq!(incomplete, vec!["t-snapshots-20261127-184600".to_string()]);
    }

    #[test]
    fn retention_keeps_exactly_the_newest() {
        let all: Vec<SnapshotEntry> = ["t-snapshots-20261127-184700", "t-snapshots-20261127-184500", "t-snapshots-20261127-184600"].map(entry).into();
        assert_eq!(expired(&all, 2), vec!["t-snapshots-20261127-184500".to_string()]);
        assert_eq!(expired(&all, 1), vec!["t-snapshots-20261127-184500".to_string(), "t-snapshots-20261127-184600".to_string()]);
        assert!(expired(&all, 3).is_empty());
        assert!(expired(&all, 7).is_empty());
    }

    #[test]
    fn destinations_follow_the_spec() {
        let root = Path::new("/data/snapshots");
        let pvc = SnapshotsSpec::default();
        let d = Destination::of("t", &pvc, root);
        assert_eq!(d, Destination::Dir("/data/snapshots/t-snapshots".into()));
        assert!(d.flags().is_empty());
        let mut s3 = SnapshotsSpec::default();
        s3.destination.pvc = None;
        s3.destination.s3 = Some(S3Destination {
            bucket: "bkt".into(),
            prefix: Some("/daily/".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: Some("eu-west-1".into()),
            credentials_secret: "s3".into(),
        });
        let d = Destination::of("t", &s3, root);
        assert_eq!(d.arg(), "s3://bkt/daily");
        assert_eq!(d.flags(), vec!["--s3-endpoint=http://127.0.0.1:9000".to_string(), "--s3-region=eu-west-1".to_string()]);
        assert_eq!(d.location("t-snapshots-20261127-184500"), "s3://bkt/daily/t-snapshots-20261127-184500");
    }

    #[test]
    fn settings_refuse_bad_schedules_and_honour_windows() {
        let root = Path::new("/d");
        let spec = |yaml: &str| serde_saphyr::from_str::<SnapshotsSpec>(yaml).unwrap();
        assert!(Settings::new("t", 1, None, root, None).unwrap().is_none());
        assert!(Settings::new("t", 1, Some(&spec("enabled: false")), root, None).unwrap().is_none());
        assert!(Settings::new("t", 1, Some(&spec("schedule: '61 * * * *'")), root, None).is_err());
        assert!(Settings::new("t", 1, Some(&spec("timeZone: Nowhere/Land")), root, None).is_err());
        let s = Settings::new("t", 1, Some(&spec("backupWindow: '03:30-04:30'\nretain: 3")), root, None).unwrap().unwrap();
        assert_eq!(s.retain, 3);
        let after: Timestamp = "2026-11-27T12:00:00Z".parse().unwrap();
        assert_eq!(s.trigger.next_after(after).map(|t| t.to_string()).as_deref(), Some("2026-11-28T03:30:00Z"));
        let s = Settings::new("t", 1, Some(&spec("schedule: '* * * * *'")), root, Some(Duration::from_secs(2))).unwrap().unwrap();
        assert_eq!(s.trigger.next_after(after).map(|t| t.to_string()).as_deref(), Some("2026-11-27T12:00:02Z"));
    }
}
