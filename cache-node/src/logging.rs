//! Structured logs with tracing. The Redis log levels map onto tracing levels
//! (debug/verbose -> debug, notice -> info, warning -> warn, nothing -> off) and can be
//! changed at run time with CONFIG SET loglevel.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::reload;

use crate::config::Config;

pub type LevelHook = Box<dyn Fn(&str) + Send + Sync>;

fn filter(level: &str) -> EnvFilter {
    let l = match level {
        "debug" | "verbose" => "debug",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    };
    EnvFilter::new(format!("cache_node={l},warn"))
}

pub fn init(cfg: &Config) -> anyhow::Result<LevelHook> {
    let (layer, handle) = reload::Layer::new(filter(cfg.str("loglevel")));
    let logfile = cfg.str("logfile").to_string();
    let json = cfg.str("logformat") == "json";
    let writer: Box<dyn Fn() -> Box<dyn std::io::Write> + Send + Sync> = if logfile.is_empty() {
        Box::new(|| Box::new(std::io::stdout()))
    } else {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(&logfile)?;
        let f = std::sync::Arc::new(f);
        Box::new(move || Box::new(FileWriter(f.clone())))
    };
    let fmt = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer);
    if json {
        tracing_subscriber::registry().with(layer).with(fmt.json()).try_init()?;
    } else {
        tracing_subscriber::registry().with(layer).with(fmt).try_init()?;
    }
    Ok(Box::new(move |level: &str| {
        let _ = handle.reload(filter(level));
    }))
}

struct FileWriter(std::sync::Arc<std::fs::File>);

impl std::io::Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        (&*self.0).flush()
    }
}
