//! `cache-node snapshot save|restore|list|delete`.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::BackupError;
use super::manifest::{self, FORMAT, Manifest};
use super::pull::{Prefer, Source, pick_source, pull};
use super::store::{Location, S3Options, Store, sync_dir};
use crate::persist::snapshot_cli::scan;

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// The nodes of the shard to copy: HOST:PORT[,HOST:PORT...]; a host may resolve to
    /// several nodes (a headless Service). One of them is chosen by --prefer-role.
    #[arg(long, value_name = "HOST:PORT")]
    pub from: String,
    /// Which node to copy: a replica (default, so the primary never pays for the
    /// backup; the primary when no replica answers), the primary, or any.
    #[arg(long, value_enum, default_value = "replica")]
    pub prefer_role: Prefer,
    /// Also write the manifest (or the error) to this file, compact: a Kubernetes
    /// container's termination message (/dev/termination-log).
    #[arg(long, value_name = "FILE")]
    pub termination_log: Option<PathBuf>,
    /// Where the snapshot goes: a directory (created if missing) or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub to: String,
    /// Snapshot name (default: [<cluster>-<shard>-]<UTC time>).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub shard: Option<u32>,
    /// ACL user for AUTH (the password comes from --password-file or REDISCLI_AUTH).
    #[arg(long)]
    pub user: Option<String>,
    /// File holding the source's password (a mounted Secret).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Longest silence from the source, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    #[command(flatten)]
    pub s3: S3Args,
}

/// S3-compatible storage settings (credentials: the AWS environment variables).
#[derive(Args, Debug, Default)]
pub struct S3Args {
    /// S3 endpoint URL for S3-compatible stores (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region (default: AWS_REGION).
    #[arg(long)]
    pub s3_region: Option<String>,
}

impl S3Args {
    fn options(&self) -> S3Options {
        S3Options { endpoint: self.s3_endpoint.clone(), region: self.s3_region.clone() }
    }
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The snapshot: DIR/NAME or s3://bucket/prefix/NAME (or its .json manifest).
    #[arg(long, value_name = "SNAPSHOT")]
    pub from: String,
    /// Data directory to restore into.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// File name the node loads at start-up (its `dbfilename`).
    #[arg(long, default_value = "dump.rdb")]
    pub dbfilename: String,
    /// Do nothing when the directory already holds data (a snapshot or an AOF): a node
    /// that restarts keeps what it has instead of going back to the snapshot.
    #[arg(long)]
    pub if_empty: bool,
    #[command(flatten)]
    pub s3: S3Args,
}

fn password(file: Option<&Path>) -> Result<Option<String>, BackupError> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| BackupError::Usage(format!("reading {}: {e}", f.display())))?;
        return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
    }
    Ok(std::env::var("REDISCLI_AUTH").ok().filter(|p| !p.is_empty()))
}

fn valid_name(name: &str) -> Result<(), BackupError> {
    let ok = !name.is_empty() && !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(BackupError::Usage(format!("bad snapshot name {name:?} (letters, digits, '-', '_', '.')"))) }
}

/// Takes a snapshot of `--from` into `--to`; returns its manifest.
pub fn save(a: &SaveArgs) -> Result<Manifest, BackupError> {
    let now = crate::server::state::now_ms() / 1000;
    let name = match &a.name {
        Some(n) => n.clone(),
        None => {
            let mut parts: Vec<String> = a.cluster.iter().cloned().collect();
            parts.extend(a.shard.map(|s| s.to_string()));
            parts.push(manifest::stamp(now));
            parts.join("-")
        }
    };
    valid_name(&name)?;
    let store = Store::open(&Location::parse(&a.to)?, &a.s3.options())?;
    if store.exists(&name)? {
        return Err(BackupError::Usage(format!("snapshot {name} already exists in {}", a.to)));
    }
    let mut src =
        Source { addr: a.from.clone(), user: a.user.clone(), password: password(a.password_file.as_deref())?, timeout: Duration::from_secs(a.timeout) };
    let (chosen, candidates) = pick_source(&src, &a.from, a.prefer_role)?;
    tracing::info!(source = %chosen, candidates = candidates.len(), "taking the snapshot");
    src.addr = chosen;
    let staged = store.staging(&name)?;
    let result = (|| {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&staged)?);
        let pulled = pull(&src, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?;
        Ok::<_, BackupError>(pulled)
    })();
    let pulled = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    let s = &pulled.summary;
    let m = Manifest {
        format: FORMAT.into(),
        name,
        cluster: a.cluster.clone(),
        shard: a.shard,
        slots: vec![(0, 16383)],
        created_unix: now,
        created: manifest::rfc3339(now),
        source: src.addr.clone(),
        source_role: pulled.role.clone(),
        engine: pulled.engine.clone(),
        engine_version: pulled.engine_version.clone(),
        rdb_version: s.version,
        keys: s.keys(),
        keys_with_expiry: s.dbs.values().map(|d| d.expires).sum(),
        bytes: s.bytes,
        crc64: manifest::crc_text(s.checksum.as_ref()),
        repl_id: pulled.repl_id.clone(),
        repl_offset: pulled.repl_offset,
    };
    store.publish(&staged, &m)?;
    Ok(m)
}

/// Copies a snapshot into a data directory after verifying it against its manifest;
/// the node's `dbfilename` appears only once the copy is complete and verified.
pub fn restore(a: &RestoreArgs) -> Result<Manifest, BackupError> {
    if a.if_empty && has_data(&a.to, &a.dbfilename) {
        return Err(BackupError::AlreadyHasData(a.to.display().to_string()));
    }
    let (loc, name) = Location::parse_snapshot(&a.from)?;
    let store = Store::open(&loc, &a.s3.options())?;
    let m = store.read_manifest(&name)?;
    if a.dbfilename.is_empty() || a.dbfilename.contains('/') {
        return Err(BackupError::Usage(format!("bad --dbfilename {:?}", a.dbfilename)));
    }
    std::fs::create_dir_all(&a.to)?;
    let part = a.to.join(format!(".{}.restore.part", a.dbfilename));
    if let Err(e) = store.fetch_rdb(&m, &part) {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    let (summary, result) = scan(&part);
    let checked = result.map_err(BackupError::from).and_then(|()| m.check(&summary));
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::File::open(&part)?.sync_all()?;
    std::fs::rename(&part, a.to.join(&a.dbfilename))?;
    sync_dir(&a.to);
    Ok(m)
}

/// Whether a data directory already holds a snapshot or an AOF.
fn has_data(dir: &Path, dbfilename: &str) -> bool {
    let aof = dir.join("appendonlydir");
    dir.join(dbfilename).exists() || std::fs::read_dir(aof).is_ok_and(|mut d| d.next().is_some())
}

/// Writes a Kubernetes termination message: at most 4096 bytes are kept there.
pub fn termination_message(path: &Path, text: &str) {
    let cut = text.char_indices().map(|(i, _)| i).take_while(|&i| i <= 4000).last().unwrap_or(0);
    let text = if text.len() > 4000 { &text[..cut] } else { text };
    if let Err(e) = std::fs::write(path, text) {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the termination message");
    }
}

/// One line per snapshot, oldest first.
pub fn list(at: &str, s3: &S3Args) -> Result<String, BackupError> {
    let mut out = String::new();
    for m in Store::open(&Location::parse(at)?, &s3.options())?.list()? {
        out.push_str(&format!("{}\t{}\t{} keys\t{} bytes\t{}\t{}\n", m.name, m.created, m.keys, m.bytes, m.source_role, m.source));
    }
    Ok(out)
}

pub fn delete(at: &str, name: &str, s3: &S3Args) -> Result<(), BackupError> {
    valid_name(name)?;
    Store::open(&Location::parse(at)?, &s3.options())?.delete(name)
}
