//! crds/ and the chart's crds/ folder must hold exactly what `cachefleet-operator crdgen`
//! prints; regenerate with `cargo run -p cachefleet-operator -- crdgen --dir crds` (and
//! `--dir charts/cachefleet/crds`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cachefleet_operator::crdgen;
use std::path::Path;

fn check_dir(dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut expected: Vec<String> = Vec::new();
    for crd in crdgen::crds() {
        let name = crdgen::file_name(&crd);
        let path = root.join(&name);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let generated = crdgen::to_yaml(&crd).unwrap();
        assert!(on_disk == generated, "{} differs from the generated CRD; run: cargo run -p cachefleet-operator -- crdgen --dir {dir}", path.display());
        expected.push(name);
    }
    let mut present: Vec<String> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".yaml")).collect();
    present.sort();
    expected.sort();
    assert_eq!(present, expected, "{dir} holds a CRD file the operator no longer generates");
}

#[test]
fn checked_in_crds_match_crdgen() {
    check_dir("crds");
}

#[test]
fn chart_crds_match_crdgen() {
    check_dir("charts/cachefleet/crds");
}

#[test]
fn crdgen_prints_every_crd_as_one_stream() {
    let all = crdgen::all_yaml().unwrap();
    for name in ["cacheclusters.cachefleet.dev", "cachesnapshots.cachefleet.dev", "cacheusers.cachefleet.dev"] {
        assert!(all.contains(&format!("name: {name}")), "{name} missing");
    }
    assert_eq!(all.matches("kind: CustomResourceDefinition").count(), 3);
}
