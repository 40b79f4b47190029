//! Who may connect: passwords and ACL users, TLS, and network policy.

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Authentication of clients.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.passwordSecret) || (has(self.users) && size(self.users) > 0)").message("auth needs a passwordSecret, users, or both"))]
pub struct AuthSpec {
    /// Secret key holding the password of the default user (Redis's `requirepass`,
    /// ElastiCache's AUTH token). Changing the Secret's content rotates the password on
    /// every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretKeyRef>,

    /// Names of CacheUser resources in this namespace whose ACL users every node gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub users: Vec<String>,
}

/// A key of a Secret in the resource's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret.
    #[serde(default = "password_key")]
    #[schemars(length(min = 1))]
    pub key: String,
}

/// TLS on the client port.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.enabled || has(self.secretName) != has(self.issuerRef)").message("tls needs exactly one of secretName or issuerRef when enabled"))]
pub struct TlsSpec {
    /// Serve TLS only (clients must connect with TLS).
    #[serde(default)]
    pub enabled: bool,
    /// A kubernetes.io/tls Secret with tls.crt, tls.key and optionally ca.crt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// A cert-manager issuer that signs a certificate for the cluster's Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_ref: Option<IssuerRef>,
}

/// A cert-manager Issuer or ClusterIssuer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    #[schemars(length(min = 1))]
    pub name: String,
    /// `Issuer` (in the cluster's namespace) or `ClusterIssuer`.
    #[serde(default = "issuer_kind")]
    #[schemars(regex(pattern = r"^(Issuer|ClusterIssuer)$"))]
    pub kind: String,
    #[serde(default = "issuer_group")]
    pub group: String,
}

/// Which clients may reach the cache ports.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Create a NetworkPolicy for the cluster's pods.
    #[serde(default)]
    pub enabled: bool,
    /// Clients allowed on the cache port, as NetworkPolicy peers (pod and namespace
    /// selectors, IP blocks). The operator and the nodes of the cluster itself are always
    /// allowed. Empty means no client outside the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_clients: Vec<NetworkPolicyPeer>,
    /// Peers allowed to scrape the metrics port, in addition to allowedClients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_metrics_scrapers: Vec<NetworkPolicyPeer>,
}

fn password_key() -> String {
    "password".into()
}
fn issuer_kind() -> String {
    "Issuer".into()
}
fn issuer_group() -> String {
    "cert-manager.io".into()
}
