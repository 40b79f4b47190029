//! redis.conf syntax: one directive per line, `name arg...`, `#` comments, arguments
//! quoted like inline commands. Directives that take several words (bind, save) may
//! repeat; the values are joined. CONFIG REWRITE edits the file in place, keeping
//! comments and unknown lines and updating or appending the parameters it knows.

use std::path::Path;

use thiserror::Error;

use super::{Config, params};
use crate::protocol::inline::split_args;

#[derive(Debug, Error)]
pub enum FileError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file line {line}: {reason}")]
    Bad { line: usize, reason: String },
}

/// Parses config text into (name, value) pairs in file order.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, FileError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let args = split_args(trimmed.as_bytes()).ok_or(FileError::Bad {
            line: i + 1,
            reason: "unbalanced quotes".into(),
        })?;
        let mut args = args
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned());
        let Some(name) = args.next() else { continue };
        let name = name.to_ascii_lowercase();
        let rest: Vec<String> = args.collect();
        let Some(param) = params::find(&name) else {
            return Err(FileError::Bad {
                line: i + 1,
                reason: format!("Bad directive or wrong number of arguments: '{name}'"),
            });
        };
        let value = match param.kind {
            params::Kind::Words => rest.join(" "),
            _ if rest.len() == 1 => rest.into_iter().next().unwrap_or_default(),
            _ => {
                return Err(FileError::Bad {
                    line: i + 1,
                    reason: format!("wrong number of arguments for '{name}'"),
                });
            }
        };
        // Repeated multi-word directives accumulate (e.g. several `save` lines).
        if let (params::Kind::Words, Some(prev)) =
            (param.kind, out.iter_mut().find(|(n, _)| n == param.name))
        {
            if !value.is_empty() {
                prev.1 = format!("{} {value}", prev.1).trim().to_string();
            }
            continue;
        }
        out.push((param.name.to_string(), value));
    }
    Ok(out)
}

pub fn load(path: &Path, cfg: &mut Config) -> Result<(), FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    for (name, value) in parse(&text)? {
        cfg.set_initial(&name, &value).map_err(|e| FileError::Bad {
            line: 0,
            reason: e.to_string(),
        })?;
    }
    cfg.file = Some(path.to_path_buf());
    Ok(())
}

fn quote(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\')
    {
        v.to_string()
    } else {
        let mut s = String::from("\"");
        for c in v.chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                c => s.push(c),
            }
        }
        s.push('"');
        s
    }
}

fn directive(name: &str, value: &str) -> String {
    match params::find(name).map(|p| p.kind) {
        Some(params::Kind::Words) if !value.is_empty() => format!("{name} {value}"),
        _ => format!("{name} {}", quote(value)),
    }
}

/// The new text of a config file: lines of known parameters are replaced by their
/// current value (first occurrence kept, repeats dropped), other lines are kept, and
/// non-default parameters missing from the file are appended.
pub fn rewrite(old: &str, cfg: &Config) -> String {
    let mut done: Vec<&str> = Vec::new();
    let mut out = String::new();
    for line in old.lines() {
        let first = split_args(line.trim().as_bytes())
            .and_then(|a| a.into_iter().next())
            .map(|a| String::from_utf8_lossy(&a).to_ascii_lowercase());
        let param = if line.trim_start().starts_with('#') {
            None
        } else {
            first.as_deref().and_then(params::find)
        };
        match param {
            Some(p) if done.contains(&p.name) => {}
            Some(p) => {
                done.push(p.name);
                out.push_str(&directive(p.name, cfg.str(p.name)));
                out.push('\n');
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let missing: Vec<_> = cfg
        .non_default()
        .into_iter()
        .filter(|(n, _)| !done.contains(n))
        .collect();
    if !missing.is_empty() {
        out.push_str("# Generated by CONFIG REWRITE\n");
        for (n, v) in missing {
            out.push_str(&directive(n, v));
            out.push('\n');
        }
    }
    out
}

/// Rewrites the file atomically: a temporary file in the same directory, then a rename.
pub fn rewrite_file(path: &Path, cfg: &Config) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = rewrite(&old, cfg);
    let tmp = path.with_extension("rewrite.tmp");
    std::fs::write(&tmp, new)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_conf() {
        let text = "# comment\nport 7000\nbind 127.0.0.1 ::1\nrequirepass \"p w\"\nsave \"\"\n\nmaxmemory 100mb\n";
        let pairs = parse(text).unwrap();
        assert_eq!(pairs[0], ("port".into(), "7000".into()));
        assert_eq!(pairs[1], ("bind".into(), "127.0.0.1 ::1".into()));
        assert_eq!(pairs[2], ("requirepass".into(), "p w".into()));
        let mut c = Config::default();
        for (n, v) in pairs {
            c.set_initial(&n, &v).unwrap();
        }
        assert_eq!(c.int("maxmemory"), 100 * 1024 * 1024);
        assert!(
            parse("nosuch 1\n")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(parse("port 1 2\n").is_err());
    }

    #[test]
    fn rewrite_keeps_comments_and_updates_values() {
        let mut c = Config::default();
        c.set_initial("port", "7000").unwrap();
        c.set_initial("timeout", "30").unwrap();
        c.set_initial("requirepass", "a b").unwrap();
        let out = rewrite("# mine\nport 6000\nport 6001\nunknown stays\n", &c);
        assert!(
            out.starts_with("# mine\nport 7000\nunknown stays\n"),
            "{out}"
        );
        assert!(out.contains("timeout 30\n") && out.contains("requirepass \"a b\"\n"));
        let reparsed = parse(&out.replace("unknown stays\n", "")).unwrap();
        assert!(reparsed.contains(&("requirepass".into(), "a b".into())));
    }
}
