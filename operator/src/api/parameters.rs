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
    "masterauth",
    "masteruser",
    "replicaof",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "dir",
    "dbfilename",
    "save",
    "appendonly",
    "appendfilename",
    "appenddirname",
    "rdb-key-save-delay",
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

/// Units of memory values as the node reads them (`1k` = 1000, `1kb` = 1024): regex of the
/// suffix, its length, its multiplier, and the most digits before it that keep the byte
/// count inside CEL's int64.
const MEMORY_UNITS: [(&str, usize, u64, u32); 8] = [
    ("", 0, 1, 18),
    ("[bB]", 1, 1, 18),
    ("[kK]", 1, 1000, 15),
    ("[kK][bB]", 2, 1024, 15),
    ("[mM]", 1, 1000 * 1000, 12),
    ("[mM][bB]", 2, 1024 * 1024, 12),
    ("[gG]", 1, 1000 * 1000 * 1000, 9),
    ("[gG][bB]", 2, 1024 * 1024 * 1024, 9),
];

/// CEL rules checking one parameter's value (none when any text is accepted). A memory
/// value gets a syntax rule and one bounds rule per unit: one flat rule each keeps the
/// expressions shallow for the API server's CEL parser and cost estimator.
fn value_rules(name: &str, kind: Kind) -> Vec<(String, String)> {
    let v = format!("self['{name}']");
    let guard = |rule: String| format!("!('{name}' in self) || ({rule})");
    match kind {
        Kind::Int { min, max } => vec![(
            guard(format!("{v}.matches('^-?[0-9]{{1,18}}$') && int({v}) >= {min} && int({v}) <= {max}")),
            format!("parameters.{name} must be an integer from {min} to {max}"),
        )],
        Kind::Memory { min, max } => {
            let shapes = MEMORY_UNITS.iter().map(|(unit, _, _, digits)| format!("[0-9]{{1,{digits}}}{unit}")).collect::<Vec<_>>().join("|");
            let mut rules = vec![(guard(format!("{v}.matches('^({shapes})$')")), format!("parameters.{name} must be a size such as 100mb or 4gb"))];
            let upper = i64::try_from(max).ok();
            let range = match upper {
                Some(m) => format!("from {min} to {m} bytes"),
                None => format!("at least {min} bytes"),
            };
            for (unit, suffix, mult, digits) in MEMORY_UNITS {
                let number = if suffix == 0 { format!("int({v})") } else { format!("int({v}.substring(0, size({v}) - {suffix}))") };
                let bytes = format!("{number} * {mult}");
                let bounds = match upper {
                    Some(m) => format!("{bytes} >= {min} && {bytes} <= {m}"),
                    None => format!("{bytes} >= {min}"),
                };
                rules.push((guard(format!("!{v}.matches('^[0-9]{{1,{digits}}}{unit}$') || ({bounds})")), format!("parameters.{name} must be {range}")));
            }
            rules
        }
        Kind::Bool => vec![(guard(format!("{v} in ['yes', 'no']")), format!("parameters.{name} must be yes or no"))],
        Kind::Enum(options) => {
            let list = options.iter().map(|o| format!("'{o}'")).collect::<Vec<_>>().join(", ");
            vec![(guard(format!("{v} in [{list}]")), format!("parameters.{name} must be one of {}", options.join(", ")))]
        }
        // Free text for the node's table, with a grammar of its own.
        Kind::Str if name == "notify-keyspace-events" => {
            vec![(
                guard(format!("{v}.matches('^[KEg$lshzxetmdnA]*$')")),
                format!("parameters.{name} takes Redis's class letters (K E g $ l s h z x e t m d n A)"),
            )]
        }
        Kind::Words if name == "client-output-buffer-limit" => {
            let size = "[0-9]+([kKmMgG][bB]?)?";
            vec![(
                guard(format!("{v}.matches('^ *((normal|replica|slave|pubsub) +{size} +{size} +[0-9]+ *)*$')")),
                format!("parameters.{name} takes <class> <hard> <soft> <seconds> groups (class normal, replica or pubsub)"),
            )]
        }
        Kind::Str | Kind::Words => Vec::new(),
    }
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
        for (rule, message) in value_rules(p.name, p.kind) {
            rules.push(serde_json::json!({ "rule": rule, "message": message }));
        }
    }
    json_schema!({
        "description": "Node configuration parameters (a parameter group), as in redis.conf: name to value. Only parameters the operator does not manage itself are accepted.",
        "type": "object",
        "maxProperties": MAX_PARAMETERS,
        "additionalProperties": { "type": "string", "maxLength": 256 },
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
