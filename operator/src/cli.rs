//! Command line of `cachefleet-operator`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::api::CacheCluster;
use crate::crdgen;
use crate::resources::{self, BuildOptions, names};

#[derive(Parser, Debug)]
#[command(name = "cachefleet-operator", version, about = "cachefleet control plane: runs CacheCluster resources on Kubernetes")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controller (in a cluster, or against the current kubeconfig).
    Run(crate::run::RunArgs),
    /// Print every CRD as YAML, or write one file per CRD into a directory.
    Crdgen {
        /// Write `<name>.yaml` files here instead of printing.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run a whole cluster on this machine: cache-node processes on loopback ports, with
    /// failover, restarts and live edits of the file. No Kubernetes needed.
    Local(crate::local::LocalArgs),
    /// Print the objects the operator would create for a CacheCluster, as YAML.
    ///
    /// One document per object, in creation order. Needs no Kubernetes cluster: for
    /// review, diffs and GitOps previews. Exits 1 with a message on a bad file.
    Render {
        /// CacheCluster YAML file (`-` reads standard input).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// cache-node image for a spec that names none.
        #[arg(long, value_name = "IMG")]
        image: Option<String>,
        /// Include the ServiceMonitor (as when the Prometheus Operator's CRDs exist).
        #[arg(long)]
        service_monitor: bool,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?.block_on(crate::run::run(args)),
        Command::Local(args) => crate::local::run(args),
        Command::Crdgen { dir: None } => write_stdout(&crdgen::all_yaml()?),
        Command::Crdgen { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for crd in crdgen::crds() {
                let path = dir.join(crdgen::file_name(&crd));
                std::fs::write(&path, crdgen::to_yaml(&crd)?).with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
        Command::Render { file, image, service_monitor } => {
            let text = read_input(&file)?;
            let opts = BuildOptions { default_image: image.unwrap_or_else(names::default_cache_node_image), service_monitor_supported: service_monitor };
            write_stdout(&render(&text, &opts).with_context(|| format!("rendering {}", file.display()))?)
        }
    }
}

/// Stands in for the uid the API server would assign, so owner references can be built.
pub const PLACEHOLDER_UID: &str = "00000000-0000-0000-0000-000000000000";

/// The desired objects of the CacheCluster in `yaml`, as a multi-document YAML stream.
/// A missing namespace becomes `default` and a missing uid a placeholder, as for an
/// object not yet created.
pub fn render(yaml: &str, opts: &BuildOptions) -> anyhow::Result<String> {
    let mut cluster = parse_cache_cluster(yaml)?;
    let meta = &mut cluster.metadata;
    if meta.namespace.as_deref().is_none_or(str::is_empty) {
        meta.namespace = Some("default".to_string());
    }
    if meta.uid.as_deref().is_none_or(str::is_empty) {
        meta.uid = Some(PLACEHOLDER_UID.to_string());
    }
    let desired = resources::build(&cluster, opts)?;
    Ok(resources::render::to_yaml_stream(&desired)?)
}

/// Finds the one CacheCluster in the input, which may also hold other objects (a Secret
/// beside it, as in examples/production.yaml). A single document is checked for its
/// apiVersion and kind first, so a wrong file gets a message about that rather than
/// about whichever field fails to match, and is then parsed from the text, so errors
/// point at the line.
pub(crate) fn parse_cache_cluster(yaml: &str) -> anyhow::Result<CacheCluster> {
    use kube::Resource;
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).context("not valid YAML")?;
    let (want_version, want_kind) = (CacheCluster::api_version(&()), CacheCluster::kind(&()));
    let field = |doc: &serde_json::Value, name: &str| doc.get(name).and_then(serde_json::Value::as_str).unwrap_or("(none)").to_string();
    let is_cluster = |doc: &serde_json::Value| field(doc, "apiVersion") == want_version && field(doc, "kind") == want_kind;
    match documents.as_slice() {
        [] => anyhow::bail!("the input is empty: expected a CacheCluster"),
        [one] if !is_cluster(one) => anyhow::bail!(
            "expected apiVersion {want_version} and kind {want_kind}, found apiVersion {} and kind {}",
            field(one, "apiVersion"),
            field(one, "kind")
        ),
        [_] => serde_saphyr::from_str(yaml).context("not a valid CacheCluster"),
        many => {
            let clusters: Vec<(usize, &serde_json::Value)> = many.iter().enumerate().filter(|(_, d)| is_cluster(d)).collect();
            match clusters.as_slice() {
                [] => anyhow::bail!("none of the {} YAML documents is a CacheCluster", many.len()),
                [(i, doc)] => serde_json::from_value((*doc).clone()).with_context(|| format!("document {} is not a valid CacheCluster", i + 1)),
                more => anyhow::bail!("the input holds {} CacheClusters: render one at a time", more.len()),
            }
        }
    }
}

fn read_input(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("reading standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
