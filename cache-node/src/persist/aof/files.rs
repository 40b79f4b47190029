//! The directory layout, the manifest on disk, and what start-up loads.
//!
//! `<dir>/<dirname>/` holds `<filename>.<seq>.base.{rdb,aof}`, `<filename>.<seq>.incr.aof`
//! and `<filename>.manifest`: Redis 7.0's multi-part layout, so either server reads the
//! other's files. The manifest is the only source of truth about which files count; it
//! is replaced atomically (temp file, fsync, rename, directory fsync).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::error::AofError;
use super::manifest::{FileKind, Manifest, ManifestEntry};
use super::{AofConfig, BaseFile, BaseKind, LoadPlan};

/// Where each file of the set lives and how it is named.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// `<dir>`: where a pre-7.0 single `appendonly.aof` sits.
    pub root: PathBuf,
    /// `<dir>/<dirname>`.
    pub dir: PathBuf,
    pub filename: String,
}

impl Layout {
    pub fn new(cfg: &AofConfig) -> Layout {
        Layout { root: cfg.dir.clone(), dir: cfg.dir.join(&cfg.dirname), filename: cfg.filename.clone() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.filename))
    }

    fn temp_manifest_path(&self) -> PathBuf {
        self.dir.join(format!("temp-{}.manifest", self.filename))
    }

    pub fn base_name(&self, seq: i64, kind: BaseKind) -> String {
        let ext = match kind {
            BaseKind::Rdb => "rdb",
            BaseKind::Aof => "aof",
        };
        format!("{}.{seq}.base.{ext}", self.filename)
    }

    pub fn incr_name(&self, seq: i64) -> String {
        format!("{}.{seq}.incr.aof", self.filename)
    }

    /// A base being written; the `temp-` prefix marks it as not part of the set.
    pub fn temp_base_path(&self, tag: u64) -> PathBuf {
        self.dir.join(format!("temp-rewriteaof-{}-{tag}.aof", std::process::id()))
    }

    /// The manifest, or None when the directory or the manifest is missing.
    pub fn read_manifest(&self) -> Result<Option<Manifest>, AofError> {
        let path = self.manifest_path();
        match fs::read(&path) {
            Ok(text) => Manifest::parse(&text).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AofError::io("read", path, e)),
        }
    }

    /// Replaces the manifest atomically: a crash leaves either the old or the new one.
    pub fn write_manifest(&self, m: &Manifest) -> Result<(), AofError> {
        let tmp = self.temp_manifest_path();
        let mut f = File::create(&tmp).map_err(|e| AofError::io("create", &tmp, e))?;
        f.write_all(&m.format()).map_err(|e| AofError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| AofError::io("fsync", &tmp, e))?;
        drop(f);
        let path = self.manifest_path();
        fs::rename(&tmp, &path).map_err(|e| AofError::io("rename", &path, e))?;
        fsync_dir(&self.dir)
    }

    pub fn create_dir(&self) -> Result<(), AofError> {
        fs::create_dir_all(&self.dir).map_err(|e| AofError::io("create directory", &self.dir, e))
    }

    /// Redis < 7 kept one `<dir>/<filename>`; Redis 7 moves it into the directory as the
    /// base of a new set on start-up, under the same conditions as here.
    fn upgrade_single_file(&self) -> Result<(), AofError> {
        let old = self.root.join(&self.filename);
        if !old.is_file() {
            return Ok(());
        }
        let manifest = if self.dir.is_dir() { self.read_manifest()?.unwrap_or_default() } else { Manifest::default() };
        let names_old_file =
            manifest.incrs.is_empty() && manifest.base.as_ref().is_some_and(|b| b.name == self.filename) && !self.path(&self.filename).exists();
        if !(manifest.is_empty() || names_old_file) {
            return Ok(());
        }
        self.create_dir()?;
        let upgraded = Manifest { base: Some(ManifestEntry { name: self.filename.clone(), seq: 1, kind: FileKind::Base }), ..manifest };
        self.write_manifest(&upgraded)?;
        let new = self.path(&self.filename);
        fs::rename(&old, &new).map_err(|e| AofError::io("move the old append-only file to", new, e))?;
        fsync_dir(&self.root)?;
        tracing::info!(file = %old.display(), dir = %self.dir.display(), "moved an old-style append-only file into the AOF directory");
        Ok(())
    }
}

pub(crate) fn fsync_dir(dir: &Path) -> Result<(), AofError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| AofError::io("fsync directory", dir, e))
}

/// Rdb when the file starts with Redis's RDB magic.
pub(crate) fn sniff_base(path: &Path) -> Result<BaseKind, AofError> {
    let mut magic = [0u8; 5];
    let mut f = File::open(path).map_err(|e| AofError::io("open", path, e))?;
    let mut got = 0;
    while got < magic.len() {
        match f.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AofError::io("read", path, e)),
        }
    }
    Ok(if got == 5 && &magic == b"REDIS" { BaseKind::Rdb } else { BaseKind::Aof })
}

/// What start-up must replay, in order, from the manifest (see `super::load_plan`).
pub fn load_plan(cfg: &AofConfig) -> Result<Option<LoadPlan>, AofError> {
    let layout = Layout::new(cfg);
    layout.upgrade_single_file()?;
    if !layout.dir.is_dir() {
        return Ok(None);
    }
    let Some(manifest) = layout.read_manifest()? else { return Ok(None) };
    if manifest.is_empty() {
        return Ok(None);
    }
    // Every listed file must be there: a missing one would silently lose writes.
    let existing = |e: &ManifestEntry| {
        let path = layout.path(&e.name);
        match fs::metadata(&path) {
            Ok(_) => Ok(path),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(AofError::MissingFile { path }),
            Err(err) => Err(AofError::io("stat", path, err)),
        }
    };
    let base = match &manifest.base {
        Some(e) => {
            let path = existing(e)?;
            Some(BaseFile { kind: sniff_base(&path)?, path })
        }
        None => None,
    };
    let incrs = manifest.incrs.iter().map(existing).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(LoadPlan { base, incrs }))
}

/// Cuts `path` to `valid_len` bytes and syncs it (for `aof-load-truncated yes`; see
/// `LoadPlan::truncate`, which first checks that the file is the last of the set).
pub fn truncate_file(path: &Path, valid_len: u64) -> Result<(), AofError> {
    let f = OpenOptions::new().write(true).open(path).map_err(|e| AofError::io("open", path, e))?;
    f.set_len(valid_len).map_err(|e| AofError::io("truncate", path, e))?;
    f.sync_all().map_err(|e| AofError::io("fsync", path, e))
}

impl LoadPlan {
    /// The file whose tail `aof-load-truncated` may drop: the last one loaded.
    pub fn last_file(&self) -> Option<&Path> {
        self.incrs.last().map(PathBuf::as_path).or(self.base.as_ref().map(|b| b.path.as_path()))
    }

    /// `truncate_file`, refused (naming the file and offset) unless `path` is the last
    /// file of the set, as Redis refuses it.
    pub fn truncate(&self, path: &Path, valid_len: u64) -> Result<(), AofError> {
        if self.last_file() != Some(path) {
            return Err(AofError::NotLastFile { path: path.to_path_buf(), valid_len });
        }
        truncate_file(path, valid_len)
    }

    /// Total bytes of the files to load (Redis's loading progress and aof_current_size).
    pub fn total_size(&self) -> u64 {
        self.base.iter().map(|b| b.path.as_path()).chain(self.incrs.iter().map(PathBuf::as_path)).filter_map(|p| fs::metadata(p).ok()).map(|m| m.len()).sum()
    }
}
