//! The manifest written next to every snapshot: enough to list, verify and restore it
//! without reading the RDB, and to restore it into another topology later (the slot
//! ranges it holds).

use serde::{Deserialize, Serialize};

use super::BackupError;
use crate::persist::rdb::Checksum;
use crate::persist::snapshot_cli::Summary;

/// The `format` field; readers refuse others.
pub const FORMAT: &str = "cachefleet.dev/snapshot/v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    /// The snapshot's name; its RDB is `<name>.rdb` beside this `<name>.json`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// Hash slots the data belongs to (the whole range outside cluster mode).
    pub slots: Vec<(u16, u16)>,
    /// Unix seconds and RFC 3339 (UTC) of the moment the snapshot was taken.
    pub created_unix: i64,
    pub created: String,
    /// The node it was taken from, and that node's role then.
    pub source: String,
    pub source_role: String,
    pub engine: String,
    pub engine_version: String,
    pub rdb_version: u32,
    pub keys: u64,
    pub keys_with_expiry: u64,
    pub bytes: u64,
    /// The RDB's own CRC64 trailer, hex; empty when the source wrote none.
    pub crc64: String,
    /// Where the source's replication stream stood at the snapshot.
    pub repl_id: String,
    pub repl_offset: u64,
}

impl Manifest {
    pub fn rdb_file(&self) -> String {
        format!("{}.rdb", self.name)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn from_json(text: &str, path: &str) -> Result<Manifest, BackupError> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| BackupError::Manifest { path: path.into(), error: e.to_string() })?;
        if m.format != FORMAT {
            return Err(BackupError::Manifest { path: path.into(), error: format!("unknown format {:?} (this cache-node reads {FORMAT:?})", m.format) });
        }
        if m.name.is_empty() || m.name.contains(['/', '\\']) || m.name.starts_with('.') {
            return Err(BackupError::Manifest { path: path.into(), error: format!("bad snapshot name {:?}", m.name) });
        }
        Ok(m)
    }

    /// Checks a scanned RDB against this manifest.
    pub fn check(&self, s: &Summary) -> Result<(), BackupError> {
        let mismatch = |what: &str, want: String, got: String| Err(BackupError::Mismatch(format!("{what}: manifest says {want}, the file has {got}")));
        if s.bytes != self.bytes {
            return mismatch("size", self.bytes.to_string(), s.bytes.to_string());
        }
        if s.keys() != self.keys {
            return mismatch("keys", self.keys.to_string(), s.keys().to_string());
        }
        let crc = crc_text(s.checksum.as_ref());
        if crc != self.crc64 {
            return mismatch("CRC64", self.crc64.clone(), crc);
        }
        Ok(())
    }
}

pub fn crc_text(c: Option<&Checksum>) -> String {
    match c {
        Some(Checksum::Verified(v)) => format!("{v:016x}"),
        _ => String::new(),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `YYYYMMDD-HHMMSS`, for snapshot names that sort by time.
pub fn stamp(unix: i64) -> String {
    rfc3339(unix).replace(['-', ':'], "").replace('T', "-").trim_end_matches('Z').to_string()
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            name: "sessions-0-20261127-184500".into(),
            cluster: Some("sessions".into()),
            shard: Some(0),
            slots: vec![(0, 16383)],
            created_unix: 1_795_805_100,
            created: rfc3339(1_795_805_100),
            source: "10.0.0.7:6379".into(),
            source_role: "replica".into(),
            engine: "cache-node".into(),
            engine_version: "0.1.0".into(),
            rdb_version: 10,
            keys: 3,
            keys_with_expiry: 1,
            bytes: 120,
            crc64: "00000000deadbeef".into(),
            repl_id: "a".repeat(40),
            repl_offset: 7,
        }
    }

    #[test]
    fn manifests_round_trip_and_refuse_what_they_do_not_know() {
        let m = sample();
        assert_eq!(Manifest::from_json(&m.to_json(), "m.json").unwrap(), m);
        assert!(m.to_json().contains("\"sourceRole\": \"replica\""));
        let other = m.to_json().replace(FORMAT, "something/v9");
        assert!(Manifest::from_json(&other, "m.json").unwrap_err().to_string().contains("unknown format"));
        let escape = m.to_json().replace("sessions-0-20261127-184500", "../etc");
        assert!(Manifest::from_json(&escape, "m.json").is_err());
        assert!(Manifest::from_json("{", "m.json").is_err());
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_805_100), "2026-11-27T18:45:00Z");
        assert_eq!(stamp(1_795_805_100), "20261127-184500");
    }
}
