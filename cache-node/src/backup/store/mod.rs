//! Where snapshots live: a directory (a PVC in Kubernetes) or an S3-compatible bucket.
//! Each snapshot is `<name>.rdb` plus its manifest `<name>.json`, written last: a
//! snapshot is listed only through its manifest, so a half-written one never is, and
//! deletion removes the manifest first.

pub mod dir;
#[cfg(feature = "s3")]
pub mod s3;

use std::path::{Path, PathBuf};

use super::BackupError;
use super::manifest::Manifest;
pub use dir::{DirStore, sync_dir};

/// A store location as given on the command line: a path, or `s3://bucket[/prefix]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Location {
    pub fn parse(s: &str) -> Result<Location, BackupError> {
        let Some(rest) = s.strip_prefix("s3://") else { return Ok(Location::Dir(PathBuf::from(s))) };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BackupError::Usage(format!("no bucket in {s:?} (s3://bucket/prefix)")));
        }
        Ok(Location::S3 { bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string() })
    }

    /// Splits `.../NAME[.json|.rdb]` into the store holding it and the snapshot name.
    pub fn parse_snapshot(s: &str) -> Result<(Location, String), BackupError> {
        let trimmed = s.trim_end_matches('/');
        let (parent, file) = trimmed.rsplit_once('/').unwrap_or((".", trimmed));
        let name = file.strip_suffix(".json").or_else(|| file.strip_suffix(".rdb")).unwrap_or(file);
        if name.is_empty() {
            return Err(BackupError::Usage(format!("no snapshot name in {s:?}")));
        }
        let parent = if parent.is_empty() { "/" } else { parent };
        if parent == "s3:/" {
            return Err(BackupError::Usage(format!("no snapshot name in {s:?} (s3://bucket/prefix/NAME)")));
        }
        let loc = Location::parse(parent)?;
        Ok((loc, name.to_string()))
    }
}

/// Options for S3-compatible stores (credentials come from the usual AWS variables).
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

pub enum Store {
    Dir(DirStore),
    #[cfg(feature = "s3")]
    S3(s3::S3Store),
}

impl Store {
    pub fn open(loc: &Location, opts: &S3Options) -> Result<Store, BackupError> {
        match loc {
            Location::Dir(d) => Ok(Store::Dir(DirStore::new(d))),
            #[cfg(feature = "s3")]
            Location::S3 { bucket, prefix } => Ok(Store::S3(s3::S3Store::open(bucket, prefix, opts)?)),
            #[cfg(not(feature = "s3"))]
            Location::S3 { .. } => {
                let _ = opts;
                Err(BackupError::Usage("this cache-node was built without S3 support".into()))
            }
        }
    }

    /// A local path to receive an RDB into before `publish`.
    pub fn staging(&self, name: &str) -> Result<PathBuf, BackupError> {
        match self {
            Store::Dir(d) => d.staging(name),
            #[cfg(feature = "s3")]
            Store::S3(_) => Ok(std::env::temp_dir().join(format!(".cachefleet-{}-{name}.rdb.part", std::process::id()))),
        }
    }

    /// Stores the RDB at `staged` and then its manifest; returns where it went.
    pub fn publish(&self, staged: &Path, m: &Manifest) -> Result<String, BackupError> {
        match self {
            Store::Dir(d) => d.publish(staged, m).map(|p| p.display().to_string()),
            #[cfg(feature = "s3")]
            Store::S3(s) => {
                let r = s.publish(staged, m);
                let _ = std::fs::remove_file(staged);
                r
            }
        }
    }

    pub fn exists(&self, name: &str) -> Result<bool, BackupError> {
        match self {
            Store::Dir(d) => Ok(d.manifest_path(name).exists()),
            #[cfg(feature = "s3")]
            Store::S3(s) => s.exists(name),
        }
    }

    pub fn read_manifest(&self, name: &str) -> Result<Manifest, BackupError> {
        match self {
            Store::Dir(d) => d.read_manifest(name),
            #[cfg(feature = "s3")]
            Store::S3(s) => s.read_manifest(name),
        }
    }

    /// Copies the snapshot's RDB to the local path `to`.
    pub fn fetch_rdb(&self, m: &Manifest, to: &Path) -> Result<(), BackupError> {
        match self {
            Store::Dir(d) => std::fs::copy(d.rdb_path(m), to).map(|_| ()).map_err(Into::into),
            #[cfg(feature = "s3")]
            Store::S3(s) => s.fetch_rdb(m, to),
        }
    }

    pub fn list(&self) -> Result<Vec<Manifest>, BackupError> {
        match self {
            Store::Dir(d) => d.list(),
            #[cfg(feature = "s3")]
            Store::S3(s) => s.list(),
        }
    }

    pub fn delete(&self, name: &str) -> Result<(), BackupError> {
        match self {
            Store::Dir(d) => d.delete(name),
            #[cfg(feature = "s3")]
            Store::S3(s) => s.delete(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(Location::parse("/backups").unwrap(), Location::Dir("/backups".into()));
        assert_eq!(Location::parse("s3://b/p/q/").unwrap(), Location::S3 { bucket: "b".into(), prefix: "p/q".into() });
        assert_eq!(Location::parse("s3://b").unwrap(), Location::S3 { bucket: "b".into(), prefix: String::new() });
        assert!(Location::parse("s3:///x").is_err());
        assert_eq!(Location::parse_snapshot("/backups/snap-1.json").unwrap(), (Location::Dir("/backups".into()), "snap-1".into()));
        assert_eq!(Location::parse_snapshot("snap-1").unwrap(), (Location::Dir(".".into()), "snap-1".into()));
        assert_eq!(Location::parse_snapshot("/snap-1.rdb").unwrap(), (Location::Dir("/".into()), "snap-1".into()));
        assert_eq!(Location::parse_snapshot("s3://b/daily/snap-1").unwrap(), (Location::S3 { bucket: "b".into(), prefix: "daily".into() }, "snap-1".into()));
        assert_eq!(Location::parse_snapshot("s3://b/snap-1").unwrap(), (Location::S3 { bucket: "b".into(), prefix: String::new() }, "snap-1".into()));
        assert!(Location::parse_snapshot("s3://b").is_err());
    }
}
