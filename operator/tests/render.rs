//! `cachefleet-operator render`: the real binary on YAML files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cachefleet_operator::resources::BuildOptions;
use k8s_openapi::api::apps::v1::StatefulSet;

const BIN: &str = env!("CARGO_BIN_EXE_cachefleet-operator");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn render(args: &[&str]) -> Output {
    Command::new(BIN).arg("render").args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// (kind, name, namespace) of every document, in order.
fn objects(yaml: &str) -> Vec<(String, String, String)> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).unwrap();
    docs.iter()
        .map(|d| {
            assert!(d["apiVersion"].is_string(), "{d}");
            (
                d["kind"].as_str().unwrap().to_string(),
                d["metadata"]["name"].as_str().unwrap().to_string(),
                d["metadata"]["namespace"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn in_ns(ns: &str, list: &[(&str, &str)]) -> Vec<(String, String, String)> {
    list.iter().map(|(k, n)| (k.to_string(), n.to_string(), ns.to_string())).collect()
}

#[test]
fn minimal_cluster_renders_every_object_in_the_default_namespace() {
    let out = stdout(&render(&["-f", fixture("minimal.yaml").to_str().unwrap()]));
    assert_eq!(
        objects(&out),
        in_ns(
            "default",
            &[
                ("ConfigMap", "cache-config"),
                ("Service", "cache-primary"),
                ("Service", "cache-reader"),
                ("Service", "cache-metrics"),
                ("Service", "cache-0"),
                ("PodDisruptionBudget", "cache-0"),
                ("StatefulSet", "cache-0"),
            ]
        )
    );
    // The image released with this operator, when neither the spec nor --image names one.
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&out).unwrap();
    let sts: StatefulSet = serde_json::from_value(docs[6].clone()).unwrap();
    let image = sts.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert_eq!(image, format!("ghcr.io/cachefleet/cache-node:{}", cachefleet_operator::VERSION));
}

#[test]
fn full_cluster_renders_shards_policy_and_monitor_and_honours_flags() {
    let file = fixture("sessions.yaml");
    let with = stdout(&render(&["-f", file.to_str().unwrap(), "--image", "example/cache-node:9", "--service-monitor"]));
    let mut want = vec![
        ("ConfigMap", "sessions-config"),
        ("Service", "sessions-primary"),
        ("Service", "sessions-reader"),
        ("Service", "sessions"),
        ("Service", "sessions-metrics"),
    ];
    want.extend([("Service", "sessions-0"), ("Service", "sessions-1"), ("Service", "sessions-2")]);
    want.extend([("PodDisruptionBudget", "sessions-0"), ("PodDisruptionBudget", "sessions-1"), ("PodDisruptionBudget", "sessions-2")]);
    want.extend([("StatefulSet", "sessions-0"), ("StatefulSet", "sessions-1"), ("StatefulSet", "sessions-2")]);
    want.extend([("NetworkPolicy", "sessions"), ("ServiceMonitor", "sessions")]);
    assert_eq!(objects(&with), in_ns("prod", &want));
    assert!(with.contains("image: example/cache-node:9"));

    // Without --service-monitor the kind is taken as absent.
    let without = stdout(&render(&["-f", file.to_str().unwrap()]));
    assert_eq!(objects(&without), in_ns("prod", &want[..want.len() - 1]));
}

#[test]
fn rendered_objects_read_back_as_the_typed_objects_they_were() {
    // A value that YAML would otherwise read as another type (a shard label "0", a label
    // "true") must come back as the same string.
    let text = std::fs::read_to_string(fixture("sessions.yaml")).unwrap();
    let opts = BuildOptions { default_image: "example/cache-node:9".into(), service_monitor_supported: true };
    let out = cachefleet_operator::cli::render(&text, &opts).unwrap();
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&out).unwrap();
    let sts: Vec<StatefulSet> = docs.iter().filter(|d| d["kind"] == "StatefulSet").map(|d| serde_json::from_value(d.clone()).unwrap()).collect();
    let mut cluster: cachefleet_operator::api::CacheCluster = serde_saphyr::from_str(&text).unwrap();
    cluster.metadata.uid = Some(cachefleet_operator::cli::PLACEHOLDER_UID.into());
    let built = cachefleet_operator::resources::build(&cluster, &opts).unwrap();
    assert_eq!(sts, built.shards.iter().map(|s| s.stateful_set.clone()).collect::<Vec<_>>());
}

/// The whole output for one full spec, reviewed and checked in: any change to what the
/// operator creates shows up in review as a diff of this file. Regenerate with
/// `cargo run -p cachefleet-operator -- render -f operator/tests/fixtures/sessions.yaml --image example/cache-node:9 --service-monitor > operator/tests/fixtures/sessions.rendered.yaml`.
#[test]
fn full_cluster_output_matches_the_reviewed_snapshot() {
    let out = stdout(&render(&["-f", fixture("sessions.yaml").to_str().unwrap(), "--image", "example/cache-node:9", "--service-monitor"]));
    let want = std::fs::read_to_string(fixture("sessions.rendered.yaml")).unwrap();
    assert!(out == want, "render output differs from tests/fixtures/sessions.rendered.yaml; review the change and regenerate it (command in this test's doc)");
}

#[test]
fn reads_standard_input() {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["render", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(fixture("memcached.yaml")).unwrap()).unwrap();
    let out = stdout(&child.wait_with_output().unwrap());
    let kinds: Vec<(String, String)> = objects(&out).into_iter().map(|(k, n, _)| (k, n)).collect();
    assert!(kinds.contains(&("Service".into(), "pages".into())) && !kinds.iter().any(|(_, n)| n == "pages-primary"), "{kinds:?}");
}

#[test]
fn bad_input_exits_non_zero_with_a_readable_message() {
    let dir = std::env::temp_dir().join(format!("cachefleet-render-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        ("unbalanced.yaml", b"spec: [1, 2\n", "unclosed bracket"),
        ("configmap.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "expected apiVersion cachefleet.dev/v1alpha1 and kind CacheCluster"),
        ("engine.yaml", b"apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {name: x}\nspec: {engine: mongo}\n", "unknown variant `mongo`"),
        ("noname.yaml", b"apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {}\nspec: {}\n", "has no name"),
        (
            "memory.yaml",
            b"apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {name: x}\nspec: {resources: {limits: {memory: lots}}}\n",
            "\"lots\" is not a valid quantity",
        ),
        (
            "params.yaml",
            b"apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {name: x}\nspec: {parameters: {port: '1'}}\n",
            "parameter port is set by the operator",
        ),
        ("empty.yaml", b"", "the input is empty"),
        (
            "two.yaml",
            b"apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {name: a}\nspec: {}\n---\napiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {name: b}\nspec: {}\n",
            "holds 2 CacheClusters",
        ),
        ("others.yaml", b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "none of the 2 YAML documents is a CacheCluster"),
        ("binary.yaml", b"\x00\xff\xfe", "valid UTF-8"),
    ];
    for (name, content, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let out = render(&["-f", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout when failing");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: the message names the file: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let missing = dir.join("missing.yaml");
    let out = render(&["-f", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
    std::fs::remove_dir_all(&dir).unwrap();
}
