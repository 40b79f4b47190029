//! Where snapshots live: a directory (a PVC in Kubernetes). Each snapshot is two files,
//! `<name>.rdb` and `<name>.json` (its manifest). Both are written under temporary names,
//! flushed to disk and renamed into place, the manifest last, so a snapshot is listed
//! (through its manifest) only once it is complete; deletion removes the manifest first.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::backup::BackupError;
use crate::backup::manifest::Manifest;

#[derive(Clone, Debug)]
pub struct DirStore {
    pub dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirStore { dir: dir.into() }
    }

    /// A temporary path inside the store for an RDB being received (same filesystem,
    /// so publishing it is a rename).
    pub fn staging(&self, name: &str) -> Result<PathBuf, BackupError> {
        fs::create_dir_all(&self.dir)?;
        Ok(self.dir.join(format!(".{name}.rdb.part")))
    }

    /// Publishes a received RDB (at `staged`) and then its manifest.
    pub fn publish(&self, staged: &Path, m: &Manifest) -> Result<PathBuf, BackupError> {
        File::open(staged)?.sync_all()?;
        let rdb = self.dir.join(m.rdb_file());
        fs::rename(staged, &rdb)?;
        let json = self.manifest_path(&m.name);
        let part = self.dir.join(format!(".{}.json.part", m.name));
        {
            let mut f = File::create(&part)?;
            f.write_all(m.to_json().as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&part, &json)?;
        sync_dir(&self.dir);
        Ok(json)
    }

    pub fn manifest_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub fn read_manifest(&self, name: &str) -> Result<Manifest, BackupError> {
        let path = self.manifest_path(name);
        let text = fs::read_to_string(&path).map_err(|e| BackupError::Manifest { path: path.display().to_string(), error: e.to_string() })?;
        Manifest::from_json(&text, &path.display().to_string())
    }

    /// Every complete snapshot, oldest first. Unreadable manifests are reported, not
    /// skipped silently.
    pub fn list(&self) -> Result<Vec<Manifest>, BackupError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let text = fs::read_to_string(&path)?;
            out.push(Manifest::from_json(&text, &path.display().to_string())?);
        }
        out.sort_by(|a, b| (a.created_unix, &a.name).cmp(&(b.created_unix, &b.name)));
        Ok(out)
    }

    /// Removes a snapshot: the manifest first, so it stops being listed before its data goes.
    pub fn delete(&self, name: &str) -> Result<(), BackupError> {
        let m = self.read_manifest(name)?;
        fs::remove_file(self.manifest_path(name))?;
        match fs::remove_file(self.dir.join(m.rdb_file())) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        sync_dir(&self.dir);
        Ok(())
    }

    pub fn rdb_path(&self, m: &Manifest) -> PathBuf {
        self.dir.join(m.rdb_file())
    }
}

/// Makes renames in `dir` durable (best effort: not every filesystem allows it).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
