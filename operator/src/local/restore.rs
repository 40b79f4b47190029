//! `spec.restoreFrom` for a local cluster: before a node first starts, its data
//! directory gets `cache-node snapshot restore --if-empty` of its shard's file, as the
//! init container of every pod does on Kubernetes. Every node of the shard is seeded, not
//! only the one expected to become primary: whichever the brain picks then holds the data.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::snapshots::Destination;
use crate::api::RestoreSpec;
use crate::resources::names;

/// Where the snapshot to restore is: shard i's files are `<prefix>-shard-<i>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub prefix: String,
    /// `--s3-endpoint` / `--s3-region` for a bucket.
    pub flags: Vec<String>,
}

/// Resolves `restoreFrom` locally. `location` may be what status.json records for a
/// local snapshot (a path), `pvc://CLAIM/NAME` (the directory `<root>/CLAIM/NAME`) or
/// `s3://...`; `snapshot` is a snapshot name, looked for in this cluster's destination,
/// then in every claim directory under the snapshot root.
pub fn source(spec: &RestoreSpec, destination: &Destination, root: &Path) -> Result<Source, String> {
    let s3_flags = || match destination {
        Destination::S3 { .. } => destination.flags(),
        Destination::Dir(_) => Vec::new(),
    };
    if let Some(location) = spec.location.as_deref() {
        if location.starts_with("s3://") {
            return Ok(Source { prefix: location.to_string(), flags: s3_flags() });
        }
        if let Some(rest) = location.strip_prefix("pvc://") {
            if rest.split('/').any(|p| p == ".." || p.is_empty()) {
                return Err(format!("restoreFrom.location {location:?} is not pvc://CLAIM/NAME"));
            }
            return Ok(Source { prefix: root.join(rest).display().to_string(), flags: Vec::new() });
        }
        if Path::new(location).is_absolute() {
            return Ok(Source { prefix: location.to_string(), flags: Vec::new() });
        }
        return Err(format!("restoreFrom.location {location:?} is neither an absolute path, pvc://CLAIM/NAME nor s3://BUCKET/PATH"));
    }
    let Some(name) = spec.snapshot.as_deref() else { return Err("restoreFrom needs snapshot or location".into()) };
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(format!("restoreFrom.snapshot {name:?} is not a snapshot name"));
    }
    match destination {
        Destination::S3 { .. } => Ok(Source { prefix: destination.location(name), flags: s3_flags() }),
        Destination::Dir(own) => {
            let first = names::snapshot_file(name, 0) + ".json";
            let mut dirs: Vec<PathBuf> = vec![own.clone()];
            if let Ok(entries) = std::fs::read_dir(root) {
                let mut others: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir() && p != own).collect();
                others.sort();
                dirs.extend(others);
            }
            dirs.iter()
                .find(|d| d.join(&first).is_file())
                .map(|d| Source { prefix: d.join(name).display().to_string(), flags: Vec::new() })
                .ok_or_else(|| format!("snapshot {name} is not in {} (looked for {first} in each directory)", root.display()))
        }
    }
}

/// Restores shard `shard`'s file into `dir` unless it already holds data. Blocking: it
/// runs before the node starts.
pub fn restore_node(binary: &Path, source: &Source, shard: i32, dir: &Path) -> Result<String, String> {
    let from = format!("{}-shard-{shard}", source.prefix);
    let out = Command::new(binary)
        .args(["snapshot", "restore", "--if-empty"])
        .arg(format!("--from={from}"))
        .arg("--to")
        .arg(dir)
        .args(&source.flags)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("restoring {from}: {}", err.trim().trim_start_matches("cache-node snapshot: ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(snapshot: Option<&str>, location: Option<&str>) -> RestoreSpec {
        RestoreSpec { snapshot: snapshot.map(str::to_string), location: location.map(str::to_string) }
    }

    #[test]
    fn locations_resolve_locally() {
        let root = Path::new("/d/snapshots");
        let dir = Destination::Dir(root.join("b-snapshots"));
        let got = source(&spec(None, Some("/elsewhere/a-snapshots/a-snapshots-20261127-184500")), &dir, root).unwrap();
        assert_eq!(got, Source { prefix: "/elsewhere/a-snapshots/a-snapshots-20261127-184500".into(), flags: vec![] });
        let got = source(&spec(None, Some("pvc://a-snapshots/a-snapshots-20261127-184500")), &dir, root).unwrap();
        assert_eq!(got.prefix, "/d/snapshots/a-snapshots/a-snapshots-20261127-184500");
        assert!(source(&spec(None, Some("pvc://a/../../etc")), &dir, root).is_err());
        assert!(source(&spec(None, Some("relative/path")), &dir, root).is_err());
        let s3 = Destination::S3 { url: "s3://bkt/p".into(), endpoint: Some("http://h:9000".into()), region: None };
        let got = source(&spec(None, Some("s3://bkt/p/a-snapshots-20261127-184500")), &s3, root).unwrap();
        assert_eq!(got, Source { prefix: "s3://bkt/p/a-snapshots-20261127-184500".into(), flags: vec!["--s3-endpoint=http://h:9000".into()] });
        let got = source(&spec(Some("a-snapshots-20261127-184500"), None), &s3, root).unwrap();
        assert_eq!(got.prefix, "s3://bkt/p/a-snapshots-20261127-184500");
        assert!(source(&spec(Some("../x"), None), &dir, root).is_err());
    }

    #[test]
    fn snapshot_names_are_found_under_the_snapshot_root() {
        let root = std::env::temp_dir().join(format!("cachefleet-restore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a-snapshots")).unwrap();
        std::fs::create_dir_all(root.join("b-snapshots")).unwrap();
        std::fs::write(root.join("a-snapshots/a-snapshots-20261127-184500-shard-0.json"), "{}").unwrap();
        let own = Destination::Dir(root.join("b-snapshots"));
        let got = source(&spec(Some("a-snapshots-20261127-184500"), None), &own, &root).unwrap();
        assert_eq!(got.prefix, root.join("a-snapshots/a-snapshots-20261127-184500").display().to_string());
        assert!(source(&spec(Some("a-snapshots-20261127-184600"), None), &own, &root).unwrap_err().contains("not in"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
