//! The open log and its rewrite transitions against real files.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;

/// A directory under the system temp dir, removed at the end.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("cachefleet-aof-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn cfg(dir: &Path, fsync: Fsync) -> AofConfig {
    AofConfig { dir: dir.to_path_buf(), dirname: "appendonlydir".into(), filename: "appendonly.aof".into(), fsync }
}

fn no_base(_: &mut dyn std::io::Write) -> std::io::Result<()> {
    Ok(())
}

fn cmd(args: &[&str]) -> Vec<u8> {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut out = Vec::new();
    encode_command(&argv, &mut out);
    out
}

fn read_all(path: &Path) -> Vec<Vec<Vec<u8>>> {
    let mut r = CommandReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(c) = r.next().unwrap() {
        out.push(c);
    }
    out
}

fn strs(cmds: &[Vec<Vec<u8>>]) -> Vec<String> {
    cmds.iter().map(|c| c.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")).collect()
}

fn manifest_text(dir: &Path) -> String {
    fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn wait(log: &AofLog, offset: u64) {
    block_on(async { tokio::time::timeout(std::time::Duration::from_secs(10), log.wait_durable(offset)).await.unwrap() });
}

#[test]
fn the_log_and_a_rewrite_can_move_between_threads() {
    fn sync_send<T: Send + Sync>() {}
    fn send<T: Send>() {}
    sync_send::<AofLog>();
    send::<Rewrite>();
}

#[test]
fn open_creates_a_redis_layout() {
    let tmp = TempDir::new("layout");
    assert_eq!(load_plan(&cfg(&tmp.0, Fsync::EverySec)).unwrap(), None);
    let log = AofLog::open(&cfg(&tmp.0, Fsync::EverySec), no_base).unwrap();
    log.close().unwrap();
    assert_eq!(manifest_text(&tmp.0), "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
    let plan = load_plan(&cfg(&tmp.0, Fsync::EverySec)).unwrap().unwrap();
    let d = tmp.0.join("appendonlydir");
    assert_eq!(plan.base, Some(BaseFile { path: d.join("appendonly.aof.1.base.aof"), kind: BaseKind::Aof }));
    assert_eq!(plan.incrs, vec![d.join("appendonly.aof.1.incr.aof")]);

    // An RDB base is named .rdb.
    let tmp = TempDir::new("layout-rdb");
    let log = AofLog::open(&cfg(&tmp.0, Fsync::No), |w| w.write_all(b"REDIS0010\xff")).unwrap();
    drop(log);
    let plan = load_plan(&cfg(&tmp.0, Fsync::No)).unwrap().unwrap();
    assert_eq!(plan.base.unwrap().kind, BaseKind::Rdb);
    assert!(manifest_text(&tmp.0).starts_with("file appendonly.aof.1.base.rdb seq 1 type b\n"));
}

#[test]
fn appends_reach_the_file_under_every_policy() {
    for policy in [Fsync::Always, Fsync::EverySec, Fsync::No] {
        let tmp = TempDir::new("policy");
        let log = AofLog::open(&cfg(&tmp.0, policy), no_base).unwrap();
        let incr = tmp.0.join("appendonlydir/appendonly.aof.1.incr.aof");
        let mut expected = Vec::new();
        for i in 0..50 {
            let c = cmd(&["SET", &format!("k{i}"), "v"]);
            let end = log.append(&c);
            expected.push(format!("SET k{i} v"));
            if i % 10 == 9 {
                wait(&log, end);
                assert!(log.durable() >= end);
                // What is durable is in the file (under Always, also fsynced).
                assert_eq!(fs::metadata(&incr).unwrap().len(), end, "{policy:?}");
            }
        }
        assert_eq!(strs(&read_all(&incr)), expected, "{policy:?}");
        assert_eq!(log.last_write_error(), None);
        let stats = log.stats();
        assert_eq!(stats.current_size, fs::metadata(&incr).unwrap().len());
        log.set_fsync(Fsync::No);
        log.close().unwrap();
    }
}

#[test]
fn concurrent_appends_stay_whole_and_ordered() {
    let tmp = TempDir::new("concurrent");
    let log = Arc::new(AofLog::open(&cfg(&tmp.0, Fsync::Always), no_base).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..300)
                    .map(|j| {
                        let value = "x".repeat(j % 50);
                        let end = log.append(&cmd(&["RPUSH", &format!("t{t}"), &j.to_string(), &value]));
                        ((t, j), end)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ends: std::collections::HashMap<(usize, usize), u64> = threads.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let log = Arc::into_inner(log).unwrap();
    log.close().unwrap();

    let mut r = CommandReader::open(&tmp.0.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    let mut next = [0usize; 8];
    while let Some(c) = r.next().unwrap() {
        let t: usize = String::from_utf8_lossy(&c[1][1..]).parse().unwrap();
        let j: usize = String::from_utf8_lossy(&c[2]).parse().unwrap();
        assert_eq!(j, next[t], "thread {t} out of order");
        assert_eq!(c[3], "x".repeat(j % 50).into_bytes());
        // append() returned exactly where this command ends in the file.
        assert_eq!(ends[&(t, j)], r.offset());
        next[t] += 1;
    }
    assert_eq!(next, [300; 8]);
}

#[test]
fn rewrite_installs_the_new_base_and_keeps_the_incrs_since_the_cut() {
    let tmp = TempDir::new("rewrite");
    let c = cfg(&tmp.0, Fsync::EverySec);
    let d = tmp.0.join("appendonlydir");
    let log = AofLog::open(&c, no_base).unwrap();
    log.append(&cmd(&["SET", "a", "1"]));
    let rw = log.start_rewrite().unwrap();
    assert!(matches!(log.start_rewrite(), Err(AofError::RewriteInProgress)));
    assert!(log.stats().rewrite_in_progress);
    let end = log.append(&cmd(&["SET", "b", "2"]));
    wait(&log, end);
    // The state at the cut, as the lead would write it.
    fs::write(rw.base_path(), cmd(&["SET", "a", "1"])).unwrap();
    log.finish_rewrite(rw).unwrap();
    assert!(!log.stats().rewrite_in_progress);
    assert_eq!(manifest_text(&tmp.0), "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n");
    let end = log.append(&cmd(&["SET", "c", "3"]));
    wait(&log, end);
    let stats = log.stats();
    let size = |n: &str| fs::metadata(d.join(n)).unwrap().len();
    assert_eq!(stats.current_size, size("appendonly.aof.2.base.aof") + size("appendonly.aof.2.incr.aof"));
    assert_eq!(stats.base_size, size("appendonly.aof.2.base.aof") + size("appendonly.aof.2.incr.aof") - cmd(&["SET", "c", "3"]).len() as u64);
    log.close().unwrap();

    let plan = load_plan(&c).unwrap().unwrap();
    assert_eq!(strs(&read_all(&plan.base.unwrap().path)), ["SET a 1"]);
    assert_eq!(plan.incrs.len(), 1);
    assert_eq!(strs(&read_all(&plan.incrs[0])), ["SET b 2", "SET c 3"]);
    // The replaced files are gone, and no temp file is left.
    let mut names: Vec<String> = fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]);

    // Reopening appends to the last incr file.
    let log = AofLog::open(&c, no_base).unwrap();
    let end = log.append(&cmd(&["SET", "d", "4"]));
    wait(&log, end);
    log.close().unwrap();
    assert_eq!(strs(&read_all(&d.join("appendonly.aof.2.incr.aof"))), ["SET b 2", "SET c 3", "SET d 4"]);
}

#[test]
fn a_crash_or_an_abort_after_the_cut_leaves_every_write_loadable() {
    for abort in [false, true] {
        let tmp = TempDir::new("rewrite-crash");
        let c = cfg(&tmp.0, Fsync::Always);
        let log = AofLog::open(&c, no_base).unwrap();
        log.append(&cmd(&["SET", "a", "1"]));
        let rw = log.start_rewrite().unwrap();
        log.append(&cmd(&["SET", "b", "2"]));
        fs::write(rw.base_path(), b"partial").unwrap();
        if abort {
            log.abort_rewrite(rw);
            // Another rewrite may start; it gets the next incr file.
            let rw = log.start_rewrite().unwrap();
            log.append(&cmd(&["SET", "c", "3"]));
            std::mem::forget(rw);
        } else {
            // The process dies before finish_rewrite: nothing more happens to the set.
            std::mem::forget(rw);
        }
        log.close().unwrap();
        let plan = load_plan(&c).unwrap().unwrap();
        assert!(read_all(&plan.base.unwrap().path).is_empty());
        let replay: Vec<String> = plan.incrs.iter().flat_map(|p| strs(&read_all(p))).collect();
        if abort {
            assert_eq!(replay, ["SET a 1", "SET b 2", "SET c 3"]);
            assert_eq!(plan.incrs.len(), 3);
        } else {
            assert_eq!(replay, ["SET a 1", "SET b 2"]);
            assert_eq!(plan.incrs.len(), 2);
        }
        // Leftover temp files are cleared at the next open.
        let log = AofLog::open(&c, no_base).unwrap();
        log.close().unwrap();
        let temps =
            fs::read_dir(tmp.0.join("appendonlydir")).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("temp-")).count();
        assert_eq!(temps, 0);
    }
}

#[test]
fn open_fresh_replaces_the_set() {
    let tmp = TempDir::new("fresh");
    let c = cfg(&tmp.0, Fsync::No);
    let log = AofLog::open(&c, no_base).unwrap();
    log.append(&cmd(&["SET", "old", "1"]));
    log.close().unwrap();
    let log = AofLog::open_fresh(&c, |w| w.write_all(&cmd(&["SET", "now", "1"]))).unwrap();
    log.close().unwrap();
    assert_eq!(manifest_text(&tmp.0), "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n");
    let plan = load_plan(&c).unwrap().unwrap();
    assert_eq!(strs(&read_all(&plan.base.unwrap().path)), ["SET now 1"]);
    assert!(!tmp.0.join("appendonlydir/appendonly.aof.1.incr.aof").exists());
}

#[test]
fn load_plan_refuses_missing_files_and_upgrades_an_old_single_file() {
    let tmp = TempDir::new("plan");
    let c = cfg(&tmp.0, Fsync::No);
    let d = tmp.0.join("appendonlydir");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type i\n").unwrap();
    match load_plan(&c) {
        Err(AofError::MissingFile { path }) => assert_eq!(path, d.join("appendonly.aof.1.incr.aof")),
        other => panic!("{other:?}"),
    }
    fs::write(d.join("appendonly.aof.manifest"), "file x seq 1 type q\n").unwrap();
    assert!(matches!(load_plan(&c), Err(AofError::BadManifest { line: 1, .. })));

    let tmp = TempDir::new("upgrade");
    let c = cfg(&tmp.0, Fsync::No);
    fs::write(tmp.0.join("appendonly.aof"), cmd(&["SET", "k", "v"])).unwrap();
    let plan = load_plan(&c).unwrap().unwrap();
    let base = plan.base.clone().unwrap();
    assert_eq!(base.path, tmp.0.join("appendonlydir/appendonly.aof"));
    assert_eq!(base.kind, BaseKind::Aof);
    assert!(plan.incrs.is_empty());
    assert!(!tmp.0.join("appendonly.aof").exists());
    assert_eq!(manifest_text(&tmp.0), "file appendonly.aof seq 1 type b\n");
    // Then the log continues with base seq 1 and a first incr file.
    let log = AofLog::open(&c, no_base).unwrap();
    log.close().unwrap();
    assert_eq!(manifest_text(&tmp.0), "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
}

#[test]
fn only_the_last_file_may_be_truncated() {
    let tmp = TempDir::new("truncate");
    let c = cfg(&tmp.0, Fsync::No);
    let log = AofLog::open(&c, |w| w.write_all(&cmd(&["SET", "a", "1"]))).unwrap();
    let end = log.append(&cmd(&["SET", "b", "2"]));
    log.append(b"*3\r\n$3\r\nSET\r\n$1\r\nc");
    log.close().unwrap();
    let plan = load_plan(&c).unwrap().unwrap();
    let base = plan.base.clone().unwrap().path;
    let last = plan.incrs[0].clone();
    let mut r = CommandReader::open(&last).unwrap();
    r.next().unwrap();
    let valid_len = match r.next() {
        Err(AofError::Truncated { path, valid_len }) => {
            assert_eq!(path, last);
            valid_len
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(valid_len, end);
    match plan.truncate(&base, 3) {
        Err(e @ AofError::NotLastFile { .. }) => assert!(e.to_string().contains("appendonly.aof.1.base.aof")),
        other => panic!("{other:?}"),
    }
    plan.truncate(&last, valid_len).unwrap();
    assert_eq!(strs(&read_all(&last)), ["SET b 2"]);
}

#[test]
fn a_failing_write_is_reported_and_kept() {
    let tmp = TempDir::new("enospc");
    let c = cfg(&tmp.0, Fsync::EverySec);
    let d = tmp.0.join("appendonlydir");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type i\n").unwrap();
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    std::os::unix::fs::symlink("/dev/full", d.join("appendonly.aof.1.incr.aof")).unwrap();
    let log = AofLog::open(&c, no_base).unwrap();
    log.append(&cmd(&["SET", "a", "1"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.last_write_error().is_none() {
        assert!(std::time::Instant::now() < deadline, "no write error reported");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(log.last_write_error().as_deref(), Some("No space left on device"));
    assert_eq!(log.durable(), 0);
    assert!(log.stats().last_write_error.is_some());
    assert!(log.close().is_err());
}
