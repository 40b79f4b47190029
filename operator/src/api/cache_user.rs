//! CacheUser: an ACL user that clusters listing it in auth.users get. Its controller
//! comes with ACL support in cache-node; the type is fixed now.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::SecretKeyRef;

/// A user of Redis's ACL system, like an ElastiCache user: a name, passwords and an
/// access string.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "cachefleet.dev",
    version = "v1alpha1",
    kind = "CacheUser",
    namespaced,
    doc = "An ACL user that CacheClusters listing it in spec.auth.users get.",
    status = "CacheUserStatus",
    shortname = "cuser",
    category = "cachefleet",
    printcolumn(name = "User", type_ = "string", json_path = ".spec.userName"),
    printcolumn(name = "Access", type_ = "string", json_path = ".spec.accessString"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("self.noPasswordRequired != has(self.passwordSecret)").message("set passwordSecret, or noPasswordRequired: true, but not both"))]
#[serde(rename_all = "camelCase")]
pub struct CacheUserSpec {
    /// The ACL user name clients authenticate as. Cannot change.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_.@-]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("userName is immutable"))]
    #[x_kube(validation = Rule::new("self != 'default'").message("the default user is configured by the cluster's auth.passwordSecret"))]
    pub user_name: String,
    /// Secret key holding the user's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretKeyRef>,
    /// Let the user in without a password.
    #[serde(default)]
    pub no_password_required: bool,
    /// Redis ACL rules, as after `ACL SETUSER name`, e.g. `on ~app:* +@read +@write -@dangerous`.
    #[serde(default = "access_default")]
    #[schemars(length(min = 1, max = 4096))]
    pub access_string: String,
}

/// Where a user has been applied.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheUserStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// CacheClusters that have this user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

fn access_default() -> String {
    "on ~* &* +@all".into()
}
