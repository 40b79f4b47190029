//! The examples/ a user copies from must stay valid as the API moves: each parses into
//! the operator's types, passes the CRD's CEL rules, and builds. (scripts/validate-k8s.sh
//! also checks them against the CRD schema and the built objects against Kubernetes'.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cachefleet_operator::api::CacheCluster;
use cachefleet_operator::controller::validate;
use cachefleet_operator::resources::{BuildOptions, build};
use kube::core::cel::validate_cel;
use std::path::Path;

fn examples() -> Vec<(String, CacheCluster)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for doc in docs.into_iter().filter(|d| d["kind"] == "CacheCluster") {
            let mut cluster: CacheCluster = serde_json::from_value(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            cluster.metadata.namespace.get_or_insert_with(|| "default".into());
            cluster.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), cluster));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_example_passes_the_cel_rules_and_builds() {
    let all = examples();
    assert!(all.len() >= 2, "examples/ should hold at least the replicated and production clusters");
    let opts = BuildOptions { default_image: "cache-node:test".into(), service_monitor_supported: true };
    for (file, cluster) in &all {
        validate_cel(cluster).unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let desired = build(cluster, &opts).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(desired.shards.len() as i32, cluster.spec.shards, "{file}");
    }
}

#[test]
fn the_replicated_production_and_snapshot_examples_run_today() {
    let all = examples();
    let find = |name: &str| &all.iter().find(|(f, _)| f == name).unwrap_or_else(|| panic!("examples/{name} missing")).1;
    for name in ["replicated.yaml", "production.yaml", "snapshots-s3.yaml", "restore.yaml"] {
        assert_eq!(validate::check(&find(name).spec), Ok(()), "{name}");
    }
    assert!(find("snapshots-s3.yaml").spec.snapshots.as_ref().is_some_and(|s| s.destination.s3.is_some()));
    assert!(find("restore.yaml").spec.restore_from.as_ref().is_some_and(|r| r.snapshot.is_some()));
}
