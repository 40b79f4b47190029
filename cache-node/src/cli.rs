//! Command line: `cache-node [CONFIG_FILE] [--config FILE] [--<param> value...]`.
//! Every configuration parameter is also a `--name value` flag (as with redis-server);
//! flags override the config file.

use clap::{Arg, ArgAction, Command};

use crate::config::{Config, PARAMS, file};

fn command() -> Command {
    let mut cmd = Command::new("cache-node")
        .version(env!("CARGO_PKG_VERSION"))
        .about("cachefleet cache node: a multi-threaded, Redis-protocol compatible cache server")
        .arg(Arg::new("config-file").value_name("CONFIG_FILE").help("configuration file in redis.conf syntax").index(1))
        .arg(Arg::new("config").long("config").value_name("FILE").help("configuration file in redis.conf syntax"));
    for p in PARAMS {
        let mut a = Arg::new(p.name).long(p.name).value_name("VALUE").help(p.help).action(ArgAction::Append).num_args(1..);
        for alias in p.aliases {
            a = a.alias(*alias);
        }
        cmd = cmd.arg(a);
    }
    cmd
}

/// Parses the command line (and the config file it names) into a configuration.
pub fn parse<I, T>(args: I) -> anyhow::Result<Config>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let m = command().try_get_matches_from(args)?;
    let mut cfg = Config::default();
    let path = m.get_one::<String>("config").or_else(|| m.get_one::<String>("config-file"));
    if let Some(path) = path {
        file::load(std::path::Path::new(path), &mut cfg)?;
    }
    for p in PARAMS {
        // A flag given twice: the last one wins, as with redis-server.
        if let Some(last) = m.get_occurrences::<String>(p.name).and_then(|mut o| o.next_back()) {
            let v: Vec<&str> = last.map(String::as_str).collect();
            cfg.set_initial(p.name, &v.join(" ")).map_err(|e| anyhow::anyhow!("--{}: {e}", p.name))?;
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let c = parse(["cache-node", "--port", "7001", "--bind", "127.0.0.1", "::1", "--save", "", "--io-threads", "1"]).unwrap();
        assert_eq!(c.port(), 7001);
        assert_eq!(c.bind(), vec!["127.0.0.1", "::1"]);
        assert_eq!(c.threads(), 1);
        assert!(parse(["cache-node", "--port", "abc"]).is_err());
        assert_eq!(parse(["cache-node", "--port", "1", "--port", "2"]).unwrap().port(), 2);
        assert!(parse(["cache-node", "--nosuch", "1"]).is_err());
    }
}
