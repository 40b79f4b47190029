//! Snapshots in an S3-compatible bucket (AWS S3, MinIO, Ceph...) through `object_store`.
//! Objects are `<prefix>/<name>.rdb` and `<prefix>/<name>.json`; an object PUT is
//! atomic, and the manifest goes up only after the RDB's upload completed. The RDB goes
//! up in parts (multipart upload), so a snapshot of any size streams from disk.
//!
//! Credentials, region and endpoint come from the usual AWS environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`...), overridden by `--s3-endpoint` / `--s3-region`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use super::S3Options;
use crate::backup::BackupError;
use crate::backup::manifest::Manifest;

/// Bytes per upload part and per download request.
const CHUNK: usize = 8 << 20;

pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    rt: tokio::runtime::Runtime,
}

fn s3_error(e: object_store::Error) -> BackupError {
    BackupError::Io(std::io::Error::other(e.to_string()))
}

impl S3Store {
    pub fn open(bucket: &str, prefix: &str, opts: &S3Options) -> Result<S3Store, BackupError> {
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let endpoint = opts.endpoint.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok()).filter(|e| !e.is_empty());
        if let Some(e) = endpoint {
            // A custom endpoint (MinIO...) is addressed by path, and may be plain HTTP
            // inside a cluster.
            b = b.with_allow_http(e.starts_with("http://")).with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        let region = opts.region.clone().or_else(|| std::env::var("AWS_REGION").ok()).filter(|r| !r.is_empty());
        if let Some(r) = region {
            b = b.with_region(r);
        }
        let store = b.build().map_err(|e| BackupError::Usage(format!("S3 store s3://{bucket}/{prefix}: {e}")))?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(S3Store { store: Arc::new(store), prefix: prefix.to_string(), url: format!("s3://{bucket}/{prefix}"), rt })
    }

    fn path(&self, file: &str) -> ObjPath {
        if self.prefix.is_empty() { ObjPath::from(file) } else { ObjPath::from(format!("{}/{file}", self.prefix)) }
    }

    pub fn publish(&self, staged: &Path, m: &Manifest) -> Result<String, BackupError> {
        let rdb = self.path(&m.rdb_file());
        let mut file = std::fs::File::open(staged)?;
        self.rt.block_on(async {
            let upload = self.store.put_multipart(&rdb).await.map_err(s3_error)?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, CHUNK);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(4).await.map_err(s3_error)?;
                w.write(&buf[..n]);
            }
            w.finish().await.map_err(s3_error)?;
            let json = self.path(&format!("{}.json", m.name));
            self.store.put(&json, PutPayload::from(m.to_json().into_bytes())).await.map_err(s3_error)?;
            Ok::<_, BackupError>(())
        })?;
        Ok(format!("{}/{}.json", self.url.trim_end_matches('/'), m.name))
    }

    pub fn exists(&self, name: &str) -> Result<bool, BackupError> {
        let json = self.path(&format!("{name}.json"));
        match self.rt.block_on(self.store.head(&json)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(s3_error(e)),
        }
    }

    pub fn read_manifest(&self, name: &str) -> Result<Manifest, BackupError> {
        let json = self.path(&format!("{name}.json"));
        let where_ = format!("{}/{name}.json", self.url.trim_end_matches('/'));
        let bytes = self
            .rt
            .block_on(async { self.store.get(&json).await?.bytes().await })
            .map_err(|e| BackupError::Manifest { path: where_.clone(), error: e.to_string() })?;
        Manifest::from_json(&String::from_utf8_lossy(&bytes), &where_)
    }

    pub fn fetch_rdb(&self, m: &Manifest, to: &Path) -> Result<(), BackupError> {
        let rdb = self.path(&m.rdb_file());
        let mut out = std::io::BufWriter::new(std::fs::File::create(to)?);
        self.rt.block_on(async {
            let size = self.store.head(&rdb).await.map_err(s3_error)?.size;
            let mut at = 0u64;
            while at < size {
                let end = (at + CHUNK as u64).min(size);
                let bytes = self.store.get_range(&rdb, at..end).await.map_err(s3_error)?;
                out.write_all(&bytes)?;
                at = end;
            }
            Ok::<_, BackupError>(())
        })?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(())
    }

    pub fn list(&self) -> Result<Vec<Manifest>, BackupError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjPath::from(self.prefix.as_str()));
        let listed = self.rt.block_on(self.store.list_with_delimiter(prefix.as_ref())).map_err(s3_error)?;
        let mut out = Vec::new();
        for o in listed.objects {
            let Some(name) = o.location.filename().and_then(|f| f.strip_suffix(".json")) else { continue };
            out.push(self.read_manifest(name)?);
        }
        out.sort_by(|a, b| (a.created_unix, &a.name).cmp(&(b.created_unix, &b.name)));
        Ok(out)
    }

    pub fn delete(&self, name: &str) -> Result<(), BackupError> {
        let m = self.read_manifest(name)?;
        self.rt
            .block_on(async {
                self.store.delete(&self.path(&format!("{name}.json"))).await?;
                match self.store.delete(&self.path(&m.rdb_file())).await {
                    Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .map_err(s3_error)
    }
}
