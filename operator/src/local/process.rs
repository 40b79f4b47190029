//! cache-node processes the local driver starts, remembered by PID so that only they are
//! ever stopped.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot prepare {path}: {source}")]
    Prepare {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How to start one node.
#[derive(Clone, Debug)]
pub struct Launch {
    pub binary: PathBuf,
    /// node.conf written for this node.
    pub config: PathBuf,
    pub host: String,
    pub port: u16,
    /// The node's data directory (its snapshot and append-only files live here).
    pub dir: PathBuf,
    /// Extra `--name value` flags that override the file.
    pub flags: Vec<(String, String)>,
}

/// A running cache-node child.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
}

impl NodeProcess {
    /// Starts a node; its output is appended to `node.log` in its directory.
    pub fn start(launch: &Launch) -> Result<NodeProcess, ProcessError> {
        std::fs::create_dir_all(&launch.dir).map_err(|source| ProcessError::Prepare { path: launch.dir.clone(), source })?;
        let log_path = launch.dir.join("node.log");
        let log = open_log(&log_path)?;
        let log_err = log.try_clone().map_err(|source| ProcessError::Prepare { path: log_path.clone(), source })?;
        let mut cmd = Command::new(&launch.binary);
        cmd.arg(&launch.config)
            .args(["--port", &launch.port.to_string()])
            .args(["--bind", &launch.host])
            .arg("--dir")
            .arg(&launch.dir)
            // The admin HTTP port is per host; one per local node would collide.
            .args(["--admin-port", "0"]);
        for (name, value) in &launch.flags {
            cmd.arg(format!("--{name}")).arg(value);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|source| ProcessError::Spawn { binary: launch.binary.clone(), source })?;
        Ok(NodeProcess { child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it still runs; reaps it when it has exited.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `grace` for it to exit (after a SHUTDOWN sent by the caller), then
    /// kills it.
    pub fn stop(mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    /// A driver that exits for any reason leaves no node behind.
    fn drop(&mut self) {
        if self.alive() {
            self.kill();
        }
    }
}

fn open_log(path: &Path) -> Result<File, ProcessError> {
    OpenOptions::new().create(true).append(true).open(path).map_err(|source| ProcessError::Prepare { path: path.to_path_buf(), source })
}

/// The cache-node binary: the one given, else `cache-node` beside this executable.
pub fn find_node_binary(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return if path.is_file() { Ok(path.to_path_buf()) } else { Err(format!("--node-binary {} is not a file", path.display())) };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this executable: {e}"))?;
    let beside = exe.parent().map(|dir| dir.join("cache-node"));
    match beside {
        Some(path) if path.is_file() => Ok(path),
        _ => Err(format!("no cache-node binary next to {}; build it (cargo build -p cache-node) or pass --node-binary PATH", exe.display())),
    }
}
