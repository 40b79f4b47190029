//! The driver loop: probe every node, let the topology brain plan each shard, carry the
//! steps out on local processes, restart what died, apply edits of the cluster file, and
//! keep status.json current.

use futures::future::join_all;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::probe::{Caller, Probe};
use super::process::{Launch, NodeProcess};
use super::restore;
use super::snapshots::{self, Scheduler};
use super::spec::{self, ConfigChange, LocalSpec};
use super::status::{self, FailoverEntry, NodeEntry, ShardEntry, SnapshotsEntry, StatusFile};
use crate::resources::names;
use crate::topology::{self, FailureDetector, NodeView, ReportedRole, Role, ShardPlan, ShardView, Step};

/// How often every node is probed.
pub const PROBE_PERIOD: Duration = Duration::from_millis(200);
/// Longest wait for one probe or command.
const CALL_TIMEOUT: Duration = Duration::from_millis(800);
/// Longest a node gets to exit after SHUTDOWN before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Longest a planned switchover may pause writes.
const SWITCHOVER_TIMEOUT_MS: u64 = 5_000;
/// Ports per shard: node `o` of shard `s` listens on base + s * PORTS_PER_SHARD + o.
const PORTS_PER_SHARD: u16 = 100;
/// Wait before trying a failed restore again (the node stays down meanwhile, as a pod
/// whose restore init container fails does).
const RESTORE_RETRY: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct Options {
    pub file: PathBuf,
    pub data_dir: PathBuf,
    pub node_binary: PathBuf,
    pub base_port: u16,
    pub host: String,
    /// Root of snapshot directories (destination pvc is `<root>/<cluster>-snapshots`).
    pub snapshot_root: PathBuf,
    /// Overrides the snapshot schedule with a fixed period (tests).
    pub snapshot_every: Option<Duration>,
}

struct Node {
    name: String,
    ordinal: i32,
    port: u16,
    dir: PathBuf,
    process: Option<NodeProcess>,
    labelled: Option<Role>,
    epoch: Option<u64>,
    detector: FailureDetector,
    probe: Option<Probe>,
    run_id: Option<String>,
    came_back_empty: bool,
    /// Settings generation it was started with; older than the driver's means it must roll.
    generation: u64,
    /// A labelled primary that died is restarted only once failover has moved the role
    /// away (or found no replica to move it to): restarted at once it would come back
    /// empty and its replicas would copy the empty data set.
    may_restart: bool,
    /// Seed its data directory from `restoreFrom` before it first starts.
    needs_restore: bool,
    restore_retry_at: Option<Instant>,
}

struct Shard {
    index: i32,
    epoch: u64,
    had_data: bool,
    nodes: Vec<Node>,
}

pub struct Driver {
    opts: Options,
    spec: LocalSpec,
    spec_text: String,
    generation: u64,
    shards: Vec<Shard>,
    caller: Caller,
    started: Instant,
    last_failover: Option<FailoverEntry>,
    printed_endpoints: bool,
    snapshots: Scheduler,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Driver {
    pub fn new(opts: Options) -> anyhow::Result<Driver> {
        let spec_text = std::fs::read_to_string(&opts.file).map_err(|e| anyhow::anyhow!("reading {}: {e}", opts.file.display()))?;
        let spec = spec::load(&spec_text)?;
        std::fs::create_dir_all(&opts.data_dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", opts.data_dir.display()))?;
        let mut opts = opts;
        // Absolute, so the locations recorded in status.json work from anywhere.
        std::fs::create_dir_all(&opts.snapshot_root).map_err(|e| anyhow::anyhow!("creating {}: {e}", opts.snapshot_root.display()))?;
        opts.snapshot_root = std::fs::canonicalize(&opts.snapshot_root).map_err(|e| anyhow::anyhow!("resolving {}: {e}", opts.snapshot_root.display()))?;
        let settings = snapshots::Settings::new(&spec.name, spec.shards, spec.snapshots.as_ref(), &opts.snapshot_root, opts.snapshot_every)?;
        if let Some(s) = &settings {
            tracing::info!(destination = %s.destination.arg(), retain = s.retain, "scheduled snapshots configured");
        }
        if spec.snapshots.as_ref().and_then(|s| s.destination.s3.as_ref()).is_some() {
            tracing::info!("snapshots.destination.s3.credentialsSecret is a Kubernetes Secret: locally, the AWS_* variables of this process are used");
        }
        let scheduler = Scheduler::new(opts.node_binary.clone(), settings);
        let mut driver = Driver {
            opts,
            spec,
            spec_text,
            generation: 0,
            shards: Vec::new(),
            caller: Caller { timeout: CALL_TIMEOUT },
            started: Instant::now(),
            last_failover: None,
            printed_endpoints: false,
            snapshots: scheduler,
        };
        driver.write_conf()?;
        let restoring = driver.spec.restore_from.is_some();
        for index in 0..driver.spec.shards {
            let mut shard = Shard { index, epoch: 0, had_data: false, nodes: Vec::new() };
            for ordinal in 0..=i32::try_from(driver.spec.replicas).unwrap_or(0) {
                let mut node = driver.new_node(index, ordinal)?;
                node.needs_restore = restoring;
                shard.nodes.push(node);
            }
            driver.shards.push(shard);
        }
        Ok(driver)
    }

    fn conf_path(&self) -> PathBuf {
        self.opts.data_dir.join("node.conf")
    }

    fn status_path(&self) -> PathBuf {
        self.opts.data_dir.join("status.json")
    }

    fn write_conf(&self) -> anyhow::Result<()> {
        let path = self.conf_path();
        let tmp = path.with_extension("conf.tmp");
        std::fs::write(&tmp, &self.spec.conf_text).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
    }

    fn new_node(&self, shard: i32, ordinal: i32) -> anyhow::Result<Node> {
        let offset = u16::try_from(shard).ok().and_then(|s| s.checked_mul(PORTS_PER_SHARD)).and_then(|s| u16::try_from(ordinal).ok().map(|o| s + o));
        let port = offset
            .filter(|_| ordinal < i32::from(PORTS_PER_SHARD))
            .and_then(|o| self.opts.base_port.checked_add(o))
            .ok_or_else(|| anyhow::anyhow!("no port left for shard {shard} node {ordinal} above --base-port {}", self.opts.base_port))?;
        let name = names::pod_name(&self.spec.name, shard, ordinal);
        let dir = self.opts.data_dir.join(&name);
        Ok(Node {
            name,
            ordinal,
            port,
            dir,
            process: None,
            labelled: None,
            epoch: None,
            detector: FailureDetector::default(),
            probe: None,
            run_id: None,
            came_back_empty: false,
            generation: self.generation,
            may_restart: true,
            needs_restore: false,
            restore_retry_at: None,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn launch(&self, node: &Node) -> Launch {
        Launch {
            binary: self.opts.node_binary.clone(),
            config: self.conf_path(),
            host: self.opts.host.clone(),
            port: node.port,
            dir: node.dir.clone(),
            flags: Vec::new(),
        }
    }

    /// One pass: processes, probes, plans, changes, status.
    pub async fn tick(&mut self) {
        self.reload_if_changed().await;
        self.start_missing();
        self.probe_all().await;
        for i in 0..self.shards.len() {
            let settled = self.reconcile_shard(i).await;
            if settled {
                self.change_shard(i).await;
            }
        }
        self.poll_snapshots().await;
        self.write_status();
    }

    async fn poll_snapshots(&mut self) {
        let host = &self.opts.host;
        // Every node of a shard is a candidate: `snapshot save` asks each for its role.
        let shards = &self.shards;
        let sources = || shards.iter().map(|s| s.nodes.iter().map(|n| format!("{host}:{}", n.port)).collect::<Vec<_>>().join(",")).collect();
        self.snapshots.poll(jiff::Timestamp::now(), sources).await;
    }

    /// Seeds a node's empty data directory from `restoreFrom` (blocking: nothing of the
    /// node runs yet). An error is logged by the caller and tried again after RESTORE_RETRY.
    fn restore_before_start(&self, shard: i32, node: &Node) -> Result<(), String> {
        let Some(spec) = &self.spec.restore_from else { return Ok(()) };
        let root = &self.opts.snapshot_root;
        let destination = match self.spec.snapshots.as_ref() {
            Some(s) => snapshots::Destination::of(&self.spec.name, s, root),
            None => snapshots::Destination::of(&self.spec.name, &crate::api::SnapshotsSpec::default(), root),
        };
        let source = restore::source(spec, &destination, root)?;
        let said = restore::restore_node(&self.opts.node_binary, &source, shard, &node.dir)?;
        tracing::info!(node = %node.name, from = %source.prefix, result = %said, "restored");
        Ok(())
    }

    fn start_missing(&mut self) {
        let launches: Vec<(usize, usize, Launch)> = self
            .shards
            .iter()
            .enumerate()
            .flat_map(|(s, shard)| shard.nodes.iter().enumerate().map(move |(n, node)| (s, n, node)))
            .filter_map(|(s, n, node)| {
                let running = node.process.as_ref().is_some();
                (!running && node.may_restart).then(|| (s, n, self.launch(node)))
            })
            .collect();
        let generation = self.generation;
        for (s, n, launch) in launches {
            let restored = match self.shards.get(s).and_then(|sh| sh.nodes.get(n).map(|node| (sh.index, node))) {
                Some((index, node)) if node.needs_restore => {
                    if node.restore_retry_at.is_some_and(|t| Instant::now() < t) {
                        continue;
                    }
                    Some(self.restore_before_start(index, node))
                }
                _ => None,
            };
            let Some(node) = self.shards.get_mut(s).and_then(|sh| sh.nodes.get_mut(n)) else { continue };
            match restored {
                Some(Err(e)) => {
                    tracing::error!(node = %node.name, error = %e, "cannot restore the node's data; it stays down and the restore is tried again");
                    node.restore_retry_at = Some(Instant::now() + RESTORE_RETRY);
                    continue;
                }
                Some(Ok(())) => node.needs_restore = false,
                None => {}
            }
            match NodeProcess::start(&launch) {
                Ok(p) => {
                    tracing::info!(node = %node.name, pid = p.pid(), port = node.port, "started node");
                    node.process = Some(p);
                    node.generation = generation;
                }
                Err(e) => tracing::error!(node = %node.name, error = %e, "cannot start node"),
            }
        }
    }

    async fn probe_all(&mut self) {
        // Reap exits first: a dead process is known for certain, before any probe.
        let failover_enabled = self.spec.failover_enabled;
        for shard in &mut self.shards {
            let alone = shard.nodes.len() == 1;
            for node in &mut shard.nodes {
                if let Some(p) = node.process.as_mut()
                    && !p.alive()
                {
                    tracing::warn!(node = %node.name, pid = p.pid(), "node process exited");
                    node.process = None;
                    node.may_restart = node.labelled != Some(Role::Primary) || !failover_enabled || alone;
                }
            }
        }
        let host = self.opts.host.clone();
        let caller = self.caller.clone();
        let targets: Vec<u16> = self.shards.iter().flat_map(|s| s.nodes.iter().map(|n| n.port)).collect();
        let results = join_all(targets.iter().map(|port| caller.probe(&host, *port))).await;
        let now = self.now_ms();
        let mut results = results.into_iter();
        for shard in &mut self.shards {
            for node in &mut shard.nodes {
                let Some(result) = results.next() else { break };
                match result {
                    Ok(p) => {
                        node.detector.record(now, true);
                        let restarted = node.run_id.as_ref().is_some_and(|old| *old != p.run_id);
                        let empty = p.replication.keys == 0 && p.replication.offset <= 0;
                        if restarted && empty && shard.had_data {
                            tracing::warn!(node = %node.name, "node came back empty after a restart");
                            node.came_back_empty = true;
                        }
                        if !empty {
                            node.came_back_empty = false;
                        }
                        shard.had_data |= !empty;
                        node.run_id = Some(p.run_id.clone());
                        node.probe = Some(p);
                    }
                    Err(e) => {
                        if node.probe.is_some() {
                            tracing::warn!(node = %node.name, error = %e, "probe failed");
                        }
                        node.detector.record(now, false);
                        node.probe = None;
                    }
                }
            }
        }
    }

    fn view(&self, node: &Node) -> NodeView {
        NodeView {
            name: node.name.clone(),
            ordinal: node.ordinal,
            host: self.opts.host.clone(),
            port: node.port,
            labelled: node.labelled,
            reported: node.probe.as_ref().map(|p| p.role.clone()),
            replication: node.probe.as_ref().map(|p| p.replication.clone()),
            zone: None,
            ready: node.probe.is_some(),
            came_back_empty: node.came_back_empty,
            epoch: node.epoch,
        }
    }

    fn shard_view(&self, shard: &Shard) -> ShardView {
        let nodes: Vec<NodeView> = shard.nodes.iter().map(|n| self.view(n)).collect();
        let detection = u64::try_from(self.spec.detection.as_millis()).unwrap_or(u64::MAX);
        let now = self.now_ms();
        let primary_failed = shard.nodes.iter().any(|n| n.labelled == Some(Role::Primary) && n.detector.failed(now, detection));
        ShardView { nodes, epoch: shard.epoch, primary_failed, failover_enabled: self.spec.failover_enabled, had_data: shard.had_data }
    }

    /// Plans and runs one shard's role steps; true when it needed none (settled).
    async fn reconcile_shard(&mut self, i: usize) -> bool {
        let Some(shard) = self.shards.get(i) else { return false };
        let view = self.shard_view(shard);
        let plan = topology::plan(&view);
        if view.primary_failed && plan.failover.is_none() {
            // Nothing to promote: bring the old primary back rather than leave the shard down.
            if let Some(shard) = self.shards.get_mut(i) {
                for n in shard.nodes.iter_mut().filter(|n| n.labelled == Some(Role::Primary) && n.process.is_none() && !n.may_restart) {
                    tracing::warn!(node = %n.name, "primary failed and no replica is fit to take over; restarting it");
                    n.may_restart = true;
                }
            }
        }
        if plan.steps.is_empty() {
            return plan.primary.as_ref().is_some_and(|p| view.nodes.iter().any(|n| n.name == *p && n.reports_primary()));
        }
        self.execute(i, &view, plan).await;
        false
    }

    async fn execute(&mut self, i: usize, view: &ShardView, plan: ShardPlan) {
        let index = self.shards.get(i).map_or(0, |s| s.index);
        if let Some(f) = &plan.failover {
            tracing::warn!(shard = index, from = %f.from, to = %f.to, reason = %f.reason, epoch = plan.epoch, "failing over");
        }
        let mut blocked: BTreeSet<String> = BTreeSet::new();
        let host = self.opts.host.clone();
        for step in &plan.steps {
            let Some(node_name) = step.node().map(str::to_string) else { continue };
            if blocked.contains(&node_name) {
                continue;
            }
            let port = view.nodes.iter().find(|n| n.name == node_name).map(|n| n.port);
            let result = match (step, port) {
                (Step::Label { role, .. }, _) => {
                    if let Some(node) = self.node_mut(i, &node_name) {
                        node.labelled = Some(*role);
                        node.epoch = (*role == Role::Primary).then_some(plan.epoch);
                        if *role == Role::Replica && node.process.is_none() {
                            // A dead old primary, relieved of its role, may now return.
                            node.may_restart = true;
                        }
                    }
                    Ok(())
                }
                (Step::Promote { .. }, Some(port)) => self.caller.replicaof(&host, port, None).await,
                (Step::ReplicateFrom { primary_host, primary_port, .. }, Some(port)) => {
                    self.caller.replicaof(&host, port, Some((primary_host, *primary_port))).await
                }
                (Step::Demote { primary_host, primary_port, .. }, Some(port)) => {
                    match self.caller.replicaof(&host, port, Some((primary_host, *primary_port))).await {
                        Ok(()) => self.caller.kill_clients(&host, port).await,
                        Err(e) => Err(e),
                    }
                }
                _ => continue,
            };
            match result {
                Ok(()) => tracing::info!(shard = index, ?step, "step done"),
                Err(e) => {
                    tracing::warn!(shard = index, ?step, error = %e, "step failed");
                    blocked.insert(node_name);
                }
            }
        }
        let Some(shard) = self.shards.get_mut(i) else { return };
        if let Some(f) = plan.failover {
            if blocked.contains(&f.to) {
                return;
            }
            shard.epoch = plan.epoch;
            let now = self.started.elapsed().as_millis();
            let since = shard.nodes.iter().find(|n| n.name == f.from).and_then(|n| n.detector.failing_since_ms());
            let duration_ms = since.map_or(0, |s| u64::try_from(now).unwrap_or(u64::MAX).saturating_sub(s));
            tracing::warn!(shard = index, from = %f.from, to = %f.to, duration_ms, epoch = plan.epoch, "failover done");
            self.last_failover = Some(FailoverEntry { shard: index, from: f.from, to: f.to, reason: f.reason, duration_ms, at_unix_ms: unix_ms() });
        } else if plan.epoch > shard.epoch {
            shard.epoch = plan.epoch;
        }
    }

    fn node_mut(&mut self, i: usize, name: &str) -> Option<&mut Node> {
        self.shards.get_mut(i)?.nodes.iter_mut().find(|n| n.name == name)
    }

    /// Planned changes on a settled shard: scaling first, then a rolling restart.
    async fn change_shard(&mut self, i: usize) {
        let Some(shard) = self.shards.get(i) else { return };
        let view = self.shard_view(shard);
        let Some(primary) = topology::choose_primary(&view.nodes).cloned() else { return };
        if let Some(step) = topology::next_scale_step(&view.nodes, &primary, self.spec.replicas) {
            self.run_change(i, &view, step).await;
            return;
        }
        let generation = self.generation;
        let stale: BTreeSet<String> = shard.nodes.iter().filter(|n| n.generation < generation).map(|n| n.name.clone()).collect();
        if stale.is_empty() {
            return;
        }
        if let Some(step) = topology::next_roll_step(&view.nodes, &primary, &|n: &str| stale.contains(n)) {
            self.run_change(i, &view, step).await;
        }
    }

    async fn run_change(&mut self, i: usize, view: &ShardView, step: Step) {
        let index = self.shards.get(i).map_or(0, |s| s.index);
        tracing::info!(shard = index, ?step, "planned change");
        let host = self.opts.host.clone();
        match step {
            Step::AddReplica { ordinal } => match self.new_node(index, ordinal) {
                Ok(node) => {
                    if let Some(shard) = self.shards.get_mut(i) {
                        shard.nodes.push(node);
                    }
                }
                Err(e) => tracing::error!(shard = index, error = %e, "cannot add a replica"),
            },
            Step::RemoveReplica { node } => {
                let Some(shard) = self.shards.get_mut(i) else { return };
                let Some(pos) = shard.nodes.iter().position(|n| n.name == node) else { return };
                let removed = shard.nodes.remove(pos);
                self.stop_node(removed).await;
            }
            Step::Restart { node } => {
                let Some(shard) = self.shards.get_mut(i) else { return };
                let Some(n) = shard.nodes.iter_mut().find(|n| n.name == node) else { return };
                let process = n.process.take();
                n.may_restart = true;
                n.detector.reset();
                let port = n.port;
                if let Some(p) = process {
                    self.caller.shutdown(&host, port).await;
                    stop_process(p).await;
                }
                // start_missing brings it back with the current settings on the next pass.
            }
            Step::Switchover { from, to } => self.switch_over(i, view, &from, &to).await,
            other => tracing::warn!(shard = index, step = ?other, "not a planned change"),
        }
    }

    async fn switch_over(&mut self, i: usize, view: &ShardView, from: &str, to: &str) {
        let index = self.shards.get(i).map_or(0, |s| s.index);
        let host = self.opts.host.clone();
        let (Some(from_port), Some(to_port)) =
            (view.nodes.iter().find(|n| n.name == from).map(|n| n.port), view.nodes.iter().find(|n| n.name == to).map(|n| n.port))
        else {
            return;
        };
        let started = Instant::now();
        if let Err(e) = self.caller.failover_to(&host, from_port, (&host, to_port), SWITCHOVER_TIMEOUT_MS).await {
            tracing::warn!(shard = index, from, to, error = %e, "switchover refused");
            return;
        }
        // FAILOVER answers at once; the handover completes when the target reports primary.
        let deadline = started + Duration::from_millis(SWITCHOVER_TIMEOUT_MS + 2_000);
        let mut done = false;
        while Instant::now() < deadline {
            if let Ok(p) = self.caller.probe(&host, to_port).await
                && matches!(p.role, ReportedRole::Primary { .. })
            {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !done {
            tracing::warn!(shard = index, from, to, "switchover did not complete in time; the next pass plans again");
            return;
        }
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The old primary is a replica now: its clients reconnect to the new one.
        if let Err(e) = self.caller.kill_clients(&host, from_port).await {
            tracing::warn!(node = from, error = %e, "closing client connections failed");
        }
        let Some(shard) = self.shards.get_mut(i) else { return };
        shard.epoch += 1;
        let epoch = shard.epoch;
        for n in &mut shard.nodes {
            if n.name == to {
                n.labelled = Some(Role::Primary);
                n.epoch = Some(epoch);
            } else if n.name == from {
                n.labelled = Some(Role::Replica);
                n.epoch = None;
            }
        }
        tracing::info!(shard = index, from, to, duration_ms, epoch, "switchover done");
        self.last_failover = Some(FailoverEntry {
            shard: index,
            from: from.to_string(),
            to: to.to_string(),
            reason: "planned switchover".into(),
            duration_ms,
            at_unix_ms: unix_ms(),
        });
    }

    async fn stop_node(&self, mut node: Node) {
        if let Some(p) = node.process.take() {
            self.caller.shutdown(&self.opts.host, node.port).await;
            tracing::info!(node = %node.name, pid = p.pid(), "stopping node");
            stop_process(p).await;
        }
    }

    /// Applies an edit of the cluster file: live settings with CONFIG SET on every node,
    /// others by a rolling restart; replica count through the scale steps.
    async fn reload_if_changed(&mut self) {
        let Ok(text) = std::fs::read_to_string(&self.opts.file) else { return };
        if text == self.spec_text {
            return;
        }
        self.spec_text = text.clone();
        let new = match spec::load(&text) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(file = %self.opts.file.display(), error = %format!("{e:#}"), "the edited cluster file is invalid; keeping the running settings");
                return;
            }
        };
        if new.name != self.spec.name || new.shards != self.spec.shards {
            tracing::error!("the cluster's name and shard count cannot change while it runs; keeping the running settings");
            return;
        }
        let change = spec::diff(&self.spec.settings, &new.settings);
        tracing::info!(replicas = new.replicas, ?change, "cluster file changed");
        if new.snapshots != self.spec.snapshots {
            match snapshots::Settings::new(&new.name, new.shards, new.snapshots.as_ref(), &self.opts.snapshot_root, self.opts.snapshot_every) {
                Ok(settings) => self.snapshots.reconfigure(settings),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "the edited snapshots settings are invalid; keeping the running ones"),
            }
        }
        self.spec = new;
        if let Err(e) = self.write_conf() {
            tracing::error!(error = %e, "cannot write node.conf");
        }
        match change {
            ConfigChange::None => {}
            ConfigChange::Live(settings) => {
                let host = self.opts.host.clone();
                let ports: Vec<u16> = self.shards.iter().flat_map(|s| s.nodes.iter().map(|n| n.port)).collect();
                for port in ports {
                    for (name, value) in &settings {
                        if let Err(e) = self.caller.config_set(&host, port, name, value).await {
                            tracing::warn!(port, name, error = %e, "CONFIG SET failed; the node takes the setting at its next restart");
                        }
                    }
                }
            }
            ConfigChange::Roll(keys) => {
                tracing::info!(?keys, "settings need a restart: rolling one node at a time");
                self.generation += 1;
            }
        }
    }

    fn write_status(&mut self) {
        let host = &self.opts.host;
        let shards = self
            .shards
            .iter()
            .map(|s| {
                let primary = s.nodes.iter().find(|n| n.labelled == Some(Role::Primary));
                let primary_view = primary.map(|p| self.view(p));
                ShardEntry {
                    index: s.index,
                    epoch: s.epoch,
                    primary: primary.map(|p| format!("{host}:{}", p.port)),
                    nodes: s
                        .nodes
                        .iter()
                        .map(|n| {
                            let v = self.view(n);
                            let in_sync = match (&primary_view, n.labelled) {
                                (Some(p), Some(Role::Replica)) => v.in_sync_with(p),
                                (_, Some(Role::Primary)) => v.reports_primary(),
                                _ => false,
                            };
                            NodeEntry {
                                name: n.name.clone(),
                                address: format!("{host}:{}", n.port),
                                role: n.labelled.map(|r| match r {
                                    Role::Primary => names::ROLE_PRIMARY.to_string(),
                                    Role::Replica => names::ROLE_REPLICA.to_string(),
                                }),
                                pid: n.process.as_ref().map(NodeProcess::pid),
                                up: v.reachable(),
                                in_sync,
                                offset: v.offset().unwrap_or(0),
                            }
                        })
                        .collect(),
                }
            })
            .collect::<Vec<_>>();
        let sched = &self.snapshots;
        let snapshots = sched.destination().map(|destination| SnapshotsEntry {
            destination,
            kept: sched.kept.clone(),
            taken: sched.taken,
            failed: sched.failed,
            next: sched.next_due().map(|t| t.to_string()),
            in_progress: sched.in_progress().map(str::to_string),
            busy: sched.busy(),
            last_error: sched.last_error.clone(),
        });
        let status = StatusFile { cluster: self.spec.name.clone(), shards, last_failover: self.last_failover.clone(), snapshots };
        if !self.printed_endpoints && status.shards.iter().all(|s| s.nodes.iter().all(|n| n.in_sync)) {
            self.printed_endpoints = true;
            for s in &status.shards {
                for n in &s.nodes {
                    println!("shard {} {:<8} {} ({})", s.index, n.role.as_deref().unwrap_or("-"), n.address, n.name);
                }
            }
            println!("status: {}", self.status_path().display());
        }
        if let Err(e) = status::write_atomic(&self.status_path(), &status) {
            tracing::warn!(error = %e, "cannot write status.json");
        }
    }

    /// Stops every node this driver started.
    pub async fn shutdown(&mut self) {
        self.snapshots.abort();
        let nodes: Vec<Node> = self.shards.iter_mut().flat_map(|s| s.nodes.drain(..)).collect();
        join_all(nodes.into_iter().map(|n| self.stop_node(n))).await;
    }
}

async fn stop_process(mut p: NodeProcess) {
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline && p.alive() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if p.alive() {
        tracing::warn!(pid = p.pid(), "node did not exit after SHUTDOWN; killing it");
        p.kill();
    }
}
