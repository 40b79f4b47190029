//! Validation the CRD schema cannot do: what this build of cache-node supports, and the
//! values of parameters (the schema checks their names and shapes). Pure.

use crate::api::{CacheClusterSpec, Engine, Mode, check_parameters};
use crate::resources::snapshots::parse_backup_window;

/// Why a spec cannot be carried out; reported in the Ready condition. The cluster waits
/// for the spec to change instead of retrying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// CamelCase reason of the Ready condition.
    pub reason: &'static str,
    pub message: String,
}

/// Features the API accepts but cache-node cannot do yet. A cluster asking for one is not
/// created: running it without the feature (say, without persistence) would silently
/// break what the user relies on.
pub fn unsupported_features(spec: &CacheClusterSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if spec.engine == Engine::Memcached {
        out.push("engine memcached");
    }
    if spec.mode == Mode::Cluster && spec.engine == Engine::Redis {
        out.push("mode cluster");
    }
    if spec.tls.as_ref().is_some_and(|t| t.enabled) {
        out.push("tls");
    }
    if spec.auth.as_ref().is_some_and(|a| !a.users.is_empty()) {
        out.push("auth.users (ACL)");
    }
    out
}

pub fn check(spec: &CacheClusterSpec) -> Result<(), Invalid> {
    let unsupported = unsupported_features(spec);
    if !unsupported.is_empty() {
        return Err(Invalid {
            reason: "Unsupported",
            message: format!("this version of cache-node does not support {} yet; remove it from the spec to create the cluster", unsupported.join(", ")),
        });
    }
    check_parameters(&spec.parameters).map_err(|errors| Invalid { reason: "InvalidParameters", message: errors.join("; ") })?;
    if let Some(window) = spec.snapshots.as_ref().and_then(|s| s.backup_window.as_deref()) {
        parse_backup_window(window).map_err(|message| Invalid { reason: "InvalidSnapshots", message })?;
    }
    let restoring_from_s3 = spec.restore_from.as_ref().and_then(|r| r.location.as_deref()).is_some_and(|l| l.starts_with("s3://"));
    if restoring_from_s3 && spec.snapshots.as_ref().is_none_or(|s| s.destination.s3.is_none()) {
        return Err(Invalid {
            reason: "InvalidSnapshots",
            message: "restoreFrom.location is in S3: set snapshots.destination.s3 (its endpoint and credentials are used to read it)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> CacheClusterSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn a_plain_replicated_redis_cluster_is_supported() {
        assert_eq!(check(&spec("replicasPerShard: 2\nparameters: {timeout: '300'}")), Ok(()));
        assert_eq!(check(&spec("auth: {passwordSecret: {name: pw}}")), Ok(()));
        assert_eq!(check(&spec("persistence: {mode: none}\nsnapshots: {enabled: false}\ntls: {enabled: false}")), Ok(()));
    }

    #[test]
    fn features_the_node_lacks_are_named() {
        let e = check(&spec("mode: cluster\nshards: 3\npersistence: {mode: aof, storageSize: 1Gi}\ntls: {enabled: true, secretName: t}")).unwrap_err();
        assert_eq!(e.reason, "Unsupported");
        assert!(e.message.contains("mode cluster, tls"), "{}", e.message);
        assert_eq!(check(&spec("persistence: {mode: aof, storageSize: 1Gi}")), Ok(()));
        assert_eq!(check(&spec("snapshots: {retain: 3}\nrestoreFrom: {snapshot: nightly}")), Ok(()));
        assert_eq!(check(&spec("engine: memcached\nreplicasPerShard: 0")).unwrap_err().reason, "Unsupported");
    }

    #[test]
    fn short_backup_windows_and_s3_restores_without_credentials_are_refused() {
        let e = check(&spec("snapshots: {backupWindow: '23:30-00:10'}")).unwrap_err();
        assert_eq!(e.reason, "InvalidSnapshots");
        assert!(e.message.contains("60 minutes"), "{}", e.message);
        assert_eq!(check(&spec("snapshots: {backupWindow: '23:30-00:30'}")), Ok(()));
        let e = check(&spec("restoreFrom: {location: 's3://b/p/nightly'}")).unwrap_err();
        assert!(e.message.contains("snapshots.destination.s3"), "{}", e.message);
        assert_eq!(
            check(&spec("restoreFrom: {location: 's3://b/p/nightly'}\nsnapshots: {enabled: false, destination: {s3: {bucket: bkt, credentialsSecret: s3}}}")),
            Ok(())
        );
    }

    #[test]
    fn bad_parameter_values_are_refused_with_the_node_s_reason() {
        let e = check(&spec("parameters: {hz: '9999'}")).unwrap_err();
        assert_eq!(e.reason, "InvalidParameters");
        assert!(e.message.contains("hz"), "{}", e.message);
    }
}
