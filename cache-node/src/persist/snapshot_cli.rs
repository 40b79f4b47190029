//! `cache-node snapshot inspect FILE` and `cache-node snapshot verify FILE`: read an RDB
//! file (ours or redis-server's) through the streaming reader, checksum included.
//! `save`, `restore`, `list` and `delete` manage backups (see `crate::backup`).
//!
//! Exit codes: 0 = read fine, 1 = the file is unreadable or corrupt (the error names the
//! byte offset), 2 = usage error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::rdb::{Checksum, RdbError, RdbReader, Record};

#[derive(Parser, Debug)]
#[command(name = "cache-node snapshot", about = "Take, restore, list, inspect and verify RDB snapshots (Redis 7.0 format)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print a summary: RDB version, aux fields, keys per database by type, keys with an
    /// expiry, size and checksum status.
    Inspect {
        /// The RDB file.
        file: PathBuf,
    },
    /// Read the whole file, checksum included: prints one "OK ..." line and exits 0, or
    /// the error with its byte offset and exits 1.
    Verify {
        /// The RDB file.
        file: PathBuf,
    },
    /// Copy a running node's data set into a directory as an RDB and its manifest,
    /// without touching the node's disk (it is fetched as a replica's full resync is).
    /// Prints the manifest.
    Save(crate::backup::cli::SaveArgs),
    /// Verify a snapshot against its manifest and place it in a data directory.
    Restore(crate::backup::cli::RestoreArgs),
    /// List the complete snapshots of a directory or s3://bucket/prefix, oldest first.
    List {
        at: String,
        #[command(flatten)]
        s3: crate::backup::cli::S3Args,
    },
    /// Delete one snapshot (its manifest first).
    Delete {
        at: String,
        name: String,
        #[command(flatten)]
        s3: crate::backup::cli::S3Args,
    },
}

/// Runs `cache-node snapshot ARGS...` (ARGS without the leading "snapshot").
pub fn main(args: &[std::ffi::OsString]) -> ExitCode {
    let argv = std::iter::once(std::ffi::OsString::from("cache-node snapshot")).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.cmd {
        Cmd::Inspect { file } => {
            let (summary, result) = scan(&file);
            print!("{}", summary.render(&file, result.as_ref().err()));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("cache-node snapshot: {}: {e}", file.display());
                    ExitCode::from(1)
                }
            }
        }
        Cmd::Save(a) => {
            let r = crate::backup::cli::save(&a);
            if let Some(path) = &a.termination_log {
                let msg = match &r {
                    Ok(m) => serde_json::to_string(m).unwrap_or_default(),
                    Err(e) => format!("error: {e}"),
                };
                crate::backup::cli::termination_message(path, &msg);
            }
            report(r.map(|m| m.to_json()))
        }
        Cmd::Restore(a) if a.if_empty => match crate::backup::cli::restore(&a) {
            Err(crate::backup::BackupError::AlreadyHasData(dir)) => {
                println!("{dir} already holds data; keeping it");
                ExitCode::SUCCESS
            }
            r => report(r.map(|m| format!("restored {} ({} keys, {} bytes) into {}\n", m.name, m.keys, m.bytes, a.to.display()))),
        },
        Cmd::Restore(a) => {
            report(crate::backup::cli::restore(&a).map(|m| format!("restored {} ({} keys, {} bytes) into {}\n", m.name, m.keys, m.bytes, a.to.display())))
        }
        Cmd::List { at, s3 } => report(crate::backup::cli::list(&at, &s3)),
        Cmd::Delete { at, name, s3 } => report(crate::backup::cli::delete(&at, &name, &s3).map(|()| format!("deleted {name}\n"))),
        Cmd::Verify { file } => match scan(&file) {
            (s, Ok(())) => {
                println!("OK {}: {}", file.display(), s.one_line());
                ExitCode::SUCCESS
            }
            (_, Err(e)) => {
                eprintln!("FAILED {}: {e}", file.display());
                ExitCode::from(1)
            }
        },
    }
}

/// Prints the output of a backup command, or its error (exit 1).
fn report(r: Result<String, crate::backup::BackupError>) -> ExitCode {
    match r {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cache-node snapshot: {e}");
            ExitCode::from(1)
        }
    }
}

/// What a pass over the file found.
#[derive(Default, Debug)]
pub struct Summary {
    pub version: u32,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Per database: keys by type name, and keys with an expiry.
    pub dbs: BTreeMap<u64, DbSummary>,
    pub bytes: u64,
    pub checksum: Option<Checksum>,
    pub skipped_empty: u64,
}

#[derive(Default, Debug)]
pub struct DbSummary {
    pub by_type: BTreeMap<&'static str, u64>,
    pub expires: u64,
    /// The RESIZEDB hint the writer gave (keys, keys with expiry).
    pub hint: Option<(u64, u64)>,
}

impl DbSummary {
    pub fn keys(&self) -> u64 {
        self.by_type.values().sum()
    }
}

/// Reads the whole file; the summary holds whatever was read before an error.
pub fn scan(path: &Path) -> (Summary, Result<(), RdbError>) {
    match std::fs::File::open(path) {
        Ok(file) => scan_reader(BufReader::with_capacity(1 << 16, file)),
        Err(e) => (Summary::default(), Err(e.into())),
    }
}

/// Reads one RDB from `input`, consuming exactly its bytes (checksum included).
pub fn scan_reader(input: impl std::io::Read) -> (Summary, Result<(), RdbError>) {
    let mut s = Summary::default();
    let r = (|| {
        let mut r = RdbReader::new(input)?;
        s.version = r.version();
        let mut db = 0;
        let res = (|| {
            while let Some(rec) = r.next()? {
                match rec {
                    Record::Aux { key, value } => s.aux.push((key, value)),
                    Record::SelectDb(n) => {
                        db = n;
                        s.dbs.entry(db).or_default();
                    }
                    Record::ResizeDb { keys, expires } => s.dbs.entry(db).or_default().hint = Some((keys, expires)),
                    Record::Entry { value, expire_ms, .. } => {
                        let d = s.dbs.entry(db).or_default();
                        *d.by_type.entry(value.type_name()).or_default() += 1;
                        d.expires += u64::from(expire_ms.is_some());
                    }
                }
            }
            Ok(())
        })();
        s.bytes = r.offset();
        s.checksum = r.checksum();
        s.skipped_empty = r.skipped_empty();
        res
    })();
    (s, r)
}

impl Summary {
    pub fn keys(&self) -> u64 {
        self.dbs.values().map(DbSummary::keys).sum()
    }

    fn checksum_text(&self) -> String {
        match self.checksum {
            Some(Checksum::Verified(c)) => format!("verified ({c:#018x})"),
            Some(Checksum::NotComputed) => "not computed (written with rdbchecksum no)".into(),
            Some(Checksum::Absent) => "none (RDB version before 5)".into(),
            None => "not reached".into(),
        }
    }

    fn one_line(&self) -> String {
        let dbs = self.dbs.values().filter(|d| d.keys() > 0).count();
        format!(
            "RDB version {}, {} keys in {} database{}, {} bytes, checksum {}",
            self.version,
            self.keys(),
            dbs,
            if dbs == 1 { "" } else { "s" },
            self.bytes,
            self.checksum_text()
        )
    }

    pub fn render(&self, path: &Path, error: Option<&RdbError>) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "file:        {}", path.display());
        let _ = writeln!(o, "RDB version: {}", self.version);
        for (k, v) in &self.aux {
            let (k, v) = (String::from_utf8_lossy(k), String::from_utf8_lossy(v));
            let extra = match k.as_ref() {
                "ctime" => v.parse::<i64>().ok().map(|t| format!(" ({})", utc_date(t))),
                "used-mem" => v.parse::<u64>().ok().map(|b| format!(" ({})", human_bytes(b))),
                _ => None,
            };
            let _ = writeln!(o, "aux {k}: {v}{}", extra.unwrap_or_default());
        }
        for (db, d) in &self.dbs {
            let types: Vec<String> = d.by_type.iter().map(|(t, n)| format!("{t} {n}")).collect();
            let _ = write!(o, "db {db}: {} keys, {} with expiry", d.keys(), d.expires);
            if !types.is_empty() {
                let _ = write!(o, " ({})", types.join(", "));
            }
            o.push('\n');
        }
        let _ = writeln!(o, "total:       {} keys, {} with expiry", self.keys(), self.dbs.values().map(|d| d.expires).sum::<u64>());
        if self.skipped_empty > 0 {
            let _ = writeln!(o, "skipped:     {} empty collections", self.skipped_empty);
        }
        let _ = writeln!(o, "bytes:       {}", self.bytes);
        let status = match error {
            None => self.checksum_text(),
            Some(_) => format!("{} (reading stopped at an error)", self.checksum_text()),
        };
        let _ = writeln!(o, "checksum:    {status}");
        o
    }
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Unix seconds as "YYYY-MM-DD HH:MM:SS UTC" (days to civil date, proleptic Gregorian).
pub fn utc_date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date(1_764_257_445), "2025-11-27 15:30:45 UTC");
        assert_eq!(utc_date(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
