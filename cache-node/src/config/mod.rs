//! Configuration: defaults, the redis.conf-style file, `--name value` overrides and
//! CONFIG GET/SET/REWRITE all share one table (`params.rs`) and one value store.

pub mod file;
pub mod params;

use std::collections::BTreeMap;
use std::path::PathBuf;

use thiserror::Error;

pub use params::{PARAMS, Param};

#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("Unknown option or number of arguments for CONFIG SET - '{0}'")]
    Unknown(String),
    #[error("CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config")]
    Immutable { name: String },
    #[error("CONFIG SET failed (possibly related to argument '{name}') - {reason}")]
    Invalid { name: String, reason: String },
}

/// Current values of every parameter, as normalised strings, plus the file they came
/// from (for CONFIG REWRITE).
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    pub file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config { values: PARAMS.iter().map(|p| (p.name, p.default.to_string())).collect(), file: None }
    }
}

impl Config {
    /// Sets a parameter at start-up (file or command line): immutable ones allowed.
    pub fn set_initial(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let p = params::find(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        let v = params::normalise(p, value).map_err(|reason| ConfigError::Invalid { name: p.name.to_string(), reason })?;
        let v = self.merged(p.name, v);
        self.values.insert(p.name, v);
        Ok(())
    }

    /// CONFIG SET of several pairs: all are validated before any is applied.
    pub fn set_runtime(&mut self, pairs: &[(String, String)]) -> Result<Vec<&'static str>, ConfigError> {
        let mut staged = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let p = params::find(name).ok_or_else(|| ConfigError::Unknown(name.clone()))?;
            if !p.mutable {
                return Err(ConfigError::Immutable { name: p.name.to_string() });
            }
            let v = params::normalise(p, value).map_err(|reason| ConfigError::Invalid { name: p.name.to_string(), reason })?;
            if p.name == "dir" && !std::path::Path::new(&v).is_dir() {
                return Err(ConfigError::Invalid { name: p.name.to_string(), reason: "No such file or directory".into() });
            }
            let v = self.merged(p.name, v);
            staged.push((p.name, v));
        }
        let names = staged.iter().map(|(n, _)| *n).collect();
        for (n, v) in staged {
            self.values.insert(n, v);
        }
        Ok(names)
    }

    /// A value as stored: `client-output-buffer-limit` changes only the classes it names.
    fn merged(&self, name: &'static str, v: String) -> String {
        match (name, self.values.get(name)) {
            ("client-output-buffer-limit", Some(cur)) => crate::server::pubsub::output_limits::merge(cur, &v),
            _ => v,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        params::find(name).and_then(|p| self.values.get(p.name)).map(String::as_str)
    }

    fn get_or_default(&self, name: &'static str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn int(&self, name: &'static str) -> i64 {
        self.get_or_default(name).parse().unwrap_or(0)
    }

    pub fn bool(&self, name: &'static str) -> bool {
        self.get_or_default(name) == "yes"
    }

    pub fn str(&self, name: &'static str) -> &str {
        self.get_or_default(name)
    }

    /// (name, value) of every parameter whose name or alias matches the glob pattern.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for p in PARAMS {
            let v = self.values.get(p.name).cloned().unwrap_or_default();
            if crate::store::glob::matches(pattern, p.name.as_bytes(), true) {
                out.push((p.name, v.clone()));
            }
            for a in p.aliases {
                if crate::store::glob::matches(pattern, a.as_bytes(), true) {
                    out.push((a, v.clone()));
                }
            }
        }
        out
    }

    /// Parameters whose value differs from the default, in table order.
    pub fn non_default(&self) -> Vec<(&'static str, &str)> {
        PARAMS.iter().filter_map(|p| self.values.get(p.name).filter(|v| v.as_str() != p.default).map(|v| (p.name, v.as_str()))).collect()
    }

    pub fn port(&self) -> u16 {
        self.int("port") as u16
    }

    pub fn admin_port(&self) -> u16 {
        self.int("admin-port") as u16
    }

    /// Worker threads to run, resolving 0 to the number of CPUs.
    pub fn threads(&self) -> usize {
        match self.int("threads") {
            n if n > 0 => n as usize,
            _ => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }

    pub fn bind(&self) -> Vec<String> {
        self.str("bind").split_whitespace().map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_set_is_all_or_nothing() {
        let mut c = Config::default();
        let err = c.set_runtime(&[("timeout".into(), "5".into()), ("maxclients".into(), "abc".into())]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }));
        assert_eq!(c.int("timeout"), 0);
        assert_eq!(c.set_runtime(&[("timeout".into(), "5".into())]).unwrap(), vec!["timeout"]);
        assert_eq!(c.int("timeout"), 5);
        assert!(matches!(c.set_runtime(&[("port".into(), "1".into())]), Err(ConfigError::Immutable { .. })));
        assert!(matches!(c.set_runtime(&[("nope".into(), "1".into())]), Err(ConfigError::Unknown(_))));
    }

    #[test]
    fn glob_get() {
        let c = Config::default();
        let names: Vec<_> = c.matching(b"max*").into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"maxmemory") && names.contains(&"maxclients"));
    }
}
