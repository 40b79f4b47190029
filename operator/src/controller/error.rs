//! Errors of a reconcile pass, one variant per stage, each with a fixed category for the
//! error metric's label.

use crate::nodes::NodeError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the CacheCluster has no {0}")]
    MissingMetadata(&'static str),
    #[error("Kubernetes API call failed while {stage}: {source}")]
    Kube {
        stage: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("probing node: {0}")]
    Node(#[from] NodeError),
}

impl Error {
    /// Low-cardinality label for `cachefleet_operator_reconcile_errors_total`.
    pub fn category(&self) -> &'static str {
        match self {
            Error::MissingMetadata(_) => "metadata",
            Error::Kube { .. } => "kube",
            Error::Node(_) => "node",
        }
    }
}

/// Attaches the stage to a kube error.
pub trait KubeStage<T> {
    fn stage(self, stage: &'static str) -> Result<T, Error>;
}

impl<T> KubeStage<T> for Result<T, kube::Error> {
    fn stage(self, stage: &'static str) -> Result<T, Error> {
        self.map_err(|source| Error::Kube { stage, source })
    }
}
