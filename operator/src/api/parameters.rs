//! The parameter group: node configuration a user may set. Names and value checks come
//! from cache-node's own parameter table, so the operator accepts exactly what the node
//! accepts, and refuses at apply time (CEL rules generated from the same table) what it
//! would refuse at start.

use cache_node::config::params::{self, Kind, PARAMS};
use schemars::{Schema, SchemaGenerator, json_schema};
use std::collections::BTreeMap;

/// Parameters the operator sets itself from other fields (ports, password, memory,
/// persistence, files): setting them by hand would break what the operator relies on.
pub const MANAGED_PARAMETERS: &[&str] = &[
    "bind",
    "port",
    "admin-port",
    "protected-mode",
    "requirepass",
    "dir",
    "dbfilename",
    "save",
    "appendonly",
    "logfile",
    "logformat",
    "pidfile",
    "daemonize",
    "maxmemory",
    "maxmemory-policy",
];

/// Most parameters one cluster may set (bounds the cost of the CEL rules).
const MAX_PARAMETERS: u32 = 64;

/// Names a user may set, in the node's table order.
pub fn allowed_parameters() -> Vec<&'static str> {
    PARAMS.iter().map(|p| p.name).filter(|n| !MANAGED_PARAMETERS.contains(n)).collect()
}

/// Checks names and values; returns one message per bad entry.
pub fn check_parameters(parameters: &BTreeMap<String, String>) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    for (name, value) in parameters {
        match params::find(name) {
            Some(p) if MANAGED_PARAMETERS.contains(&p.name) => {
                errors.push(format!("parameter {name} is set by the operator; use the CacheCluster field for it"))
            }
            Some(p) if p.name != name.as_str() => errors.push(format!("parameter {name}: write it as {}", p.name)),
            Some(p) => {
                if let Err(why) = params::normalise(p, value) {
                    errors.push(format!("parameter {name} {value:?}: {why}"));
                }
            }
            None => errors.push(format!("unknown parameter {name}")),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// CEL rule checking one parameter's value, or None when any text is accepted.
fn value_rule(name: &str, kind: Kind) -> Option<(String, String)> {
    let v = format!("self['{name}']");
    let (rule, what) = match kind {
        Kind::Int { min, max } => {
            (format!("{v}.matches('^-?[0-9]{{1,18}}$') && int({v}) >= {min} && int({v}) <= {max}"), format!("an integer from {min} to {max}"))
        }
        Kind::Memory { .. } => (format!("{v}.matches('^[0-9]{{1,15}}([kKmMgG][bB]?|[bB])?$')"), "a size such as 100mb or 4gb".to_string()),
        Kind::Bool => (format!("{v} in ['yes', 'no']"), "yes or no".to_string()),
        Kind::Enum(options) => {
            let list = options.iter().map(|o| format!("'{o}'")).collect::<Vec<_>>().join(", ");
            (format!("{v} in [{list}]"), format!("one of {}", options.join(", ")))
        }
        Kind::Str | Kind::Words => return None,
    };
    Some((format!("!('{name}' in self) || ({rule})"), format!("parameters.{name} must be {what}")))
}

/// Schema of `spec.parameters`: a string map whose names and values are checked by CEL.
pub fn parameters_schema(_: &mut SchemaGenerator) -> Schema {
    let allowed = allowed_parameters();
    let list = allowed.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let mut rules = vec![serde_json::json!({
        "rule": format!("self.all(k, k in [{list}])"),
        "message": format!("parameters accepts only: {}", allowed.join(", ")),
    })];
    for p in PARAMS.iter().filter(|p| allowed.contains(&p.name)) {
        if let Some((rule, message)) = value_rule(p.name, p.kind) {
            rules.push(serde_json::json!({ "rule": rule, "message": message }));
        }
    }
    json_schema!({
        "description": "Node configuration parameters (a parameter group), as in redis.conf: name to value. Only parameters the operator does not manage itself are accepted.",
        "type": "object",
        "maxProperties": MAX_PARAMETERS,
        "additionalProperties": { "type": "string", "maxLength": 1024 },
        "x-kubernetes-validations": rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn accepts_node_parameters_and_refuses_managed_unknown_and_bad_values() {
        assert_eq!(check_parameters(&map(&[("timeout", "300"), ("hz", "20"), ("maxmemory-samples", "10")])), Ok(()));
        let errors = check_parameters(&map(&[("port", "1"), ("nope", "1"), ("hz", "0"), ("IO-THREADS", "2"), ("proto-max-bulk-len", "1k")])).unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("port is set by the operator")), "{errors:?}");
        assert!(errors.iter().any(|e| e == "unknown parameter nope"), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("hz \"0\"")), "{errors:?}");
    }

    #[test]
    fn every_managed_name_is_a_node_parameter() {
        for name in MANAGED_PARAMETERS {
            assert!(params::find(name).is_some(), "{name} is not in cache-node's table");
        }
        assert!(allowed_parameters().contains(&"timeout"));
        assert!(!allowed_parameters().contains(&"port"));
    }
}
