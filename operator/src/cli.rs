//! Command line of `cachefleet-operator`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::crdgen;

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
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?.block_on(crate::run::run(args)),
        Command::Crdgen { dir: None } => {
            write_stdout(&crdgen::all_yaml()?)
        }
        Command::Crdgen { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for crd in crdgen::crds() {
                let path = dir.join(crdgen::file_name(&crd));
                std::fs::write(&path, crdgen::to_yaml(&crd)?).with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
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
