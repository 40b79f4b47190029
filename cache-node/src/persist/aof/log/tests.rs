//! The write paths: connections writing their own appends (`write_through`), the writer
//! thread, both at a rewrite cut, and the per-thread relay of the durable offset.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::tests::TempDir;
use super::super::{AofConfig, CommandReader, Fsync, encode_command};
use super::AofLog;

fn cfg(dir: &Path, fsync: Fsync) -> AofConfig {
    AofConfig { dir: dir.to_path_buf(), dirname: "appendonlydir".into(), filename: "appendonly.aof".into(), fsync }
}

fn open(dir: &Path, fsync: Fsync) -> AofLog {
    AofLog::open(&cfg(dir, fsync), |_| Ok(())).unwrap()
}

fn cmd(args: &[&str]) -> Vec<u8> {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut out = Vec::new();
    encode_command(&argv, &mut out);
    out
}

fn incr(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("appendonlydir/appendonly.aof.{n}.incr.aof"))
}

/// Each command as "ARG ARG ...".
fn commands(path: &Path) -> Vec<String> {
    let mut r = CommandReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(c) = r.next().unwrap() {
        out.push(c.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" "));
    }
    out
}

fn len(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn wait(rt: &tokio::runtime::Runtime, log: &AofLog, offset: u64) {
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), log.wait_durable(offset)).await }).unwrap();
}

/// Polls `cond` every millisecond for at most 10 seconds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn under_everysec_and_no_the_caller_writes_its_appends_itself() {
    for policy in [Fsync::EverySec, Fsync::No] {
        let tmp = TempDir::new("through");
        let log = open(&tmp.0, policy);
        for i in 0..20 {
            let end = log.append(&cmd(&["SET", &format!("k{i}"), "v"]));
            assert!(log.write_through(end), "{policy:?}");
            // In the file on return: no waiting for another thread.
            assert_eq!(log.durable(), end);
            assert_eq!(len(&incr(&tmp.0, 1)), end, "{policy:?}");
        }
        log.close().unwrap();
        assert_eq!(commands(&incr(&tmp.0, 1)).len(), 20);
    }
}

#[test]
fn under_always_the_writer_thread_writes_and_fsyncs() {
    let tmp = TempDir::new("always");
    let log = open(&tmp.0, Fsync::Always);
    let end = log.append(&cmd(&["SET", "k", "v"]));
    // Not the caller's job: the fsync stays off the connection threads.
    assert!(!log.write_through(end) || log.durable() >= end);
    wait(&runtime(), &log, end);
    assert_eq!(len(&incr(&tmp.0, 1)), end);
    // A switch to everysec hands the writing back to the callers.
    log.set_fsync(Fsync::EverySec);
    let end = log.append(&cmd(&["SET", "k", "w"]));
    assert!(log.write_through(end));
    assert_eq!(len(&incr(&tmp.0, 1)), end);
    log.close().unwrap();
}

#[test]
fn appends_nobody_waits_for_are_written_by_the_writer_thread() {
    for policy in [Fsync::EverySec, Fsync::No] {
        let tmp = TempDir::new("leftovers");
        let log = open(&tmp.0, policy);
        // Like the expiry cron's DELs: appended, never waited for.
        let end = log.append(&cmd(&["DEL", "expired"]));
        eventually("the writer thread wrote the leftover", || len(&incr(&tmp.0, 1)) == end);
        eventually("it is published", || log.durable() == end);
        log.close().unwrap();
    }
}

#[test]
fn concurrent_writers_keep_commands_whole_and_ordered() {
    let tmp = TempDir::new("through-concurrent");
    let log = Arc::new(open(&tmp.0, Fsync::EverySec));
    let path = incr(&tmp.0, 1);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let log = Arc::clone(&log);
            let path = path.clone();
            std::thread::spawn(move || {
                for j in 0..300 {
                    let end = log.append(&cmd(&["RPUSH", &format!("t{t}"), &j.to_string(), &"x".repeat(j % 40)]));
                    if j % 3 == 0 {
                        // Another thread's write may have covered ours: true either way.
                        assert!(log.write_through(end));
                        assert!(len(&path) >= end);
                    }
                }
            })
        })
        .collect();
    for h in threads {
        h.join().unwrap();
    }
    Arc::into_inner(log).unwrap().close().unwrap();
    let mut next = [0usize; 6];
    for c in commands(&path) {
        let parts: Vec<&str> = c.split(' ').collect();
        let t: usize = parts[1][1..].parse().unwrap();
        let j: usize = parts[2].parse().unwrap();
        assert_eq!(j, next[t], "thread {t} out of order");
        next[t] += 1;
    }
    assert_eq!(next, [300; 6]);
}

#[test]
fn appends_after_a_rewrite_cut_go_to_the_new_file_whoever_writes_them() {
    for policy in [Fsync::EverySec, Fsync::Always, Fsync::No] {
        let tmp = TempDir::new("through-cut");
        let log = Arc::new(open(&tmp.0, policy));
        // Stands for the partition locks: the cut is taken with no append in progress.
        let cut_lock = Arc::new(parking_lot::RwLock::new(false));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (log, cut_lock) = (Arc::clone(&log), Arc::clone(&cut_lock));
                std::thread::spawn(move || {
                    let rt = runtime();
                    let mut after_cut = Vec::new();
                    // Until 50 commands went in after the cut.
                    for j in 0.. {
                        if after_cut.iter().filter(|&&a| a).count() == 50 {
                            break;
                        }
                        let (end, cut) = {
                            let cut = cut_lock.read();
                            (log.append(&cmd(&["SET", &format!("t{t}:{j}"), "v"])), *cut)
                        };
                        after_cut.push(cut);
                        wait(&rt, &log, end);
                    }
                    after_cut
                })
            })
            .collect();
        eventually("some appends are written", || log.durable() > 2000);
        let rw = {
            let mut cut = cut_lock.write();
            *cut = true;
            log.start_rewrite().unwrap()
        };
        let after: Vec<Vec<bool>> = threads.into_iter().map(|h| h.join().unwrap()).collect();
        std::mem::forget(rw);
        Arc::into_inner(log).unwrap().close().unwrap();
        let (old, new) = (commands(&incr(&tmp.0, 1)), commands(&incr(&tmp.0, 2)));
        assert!(!old.is_empty(), "{policy:?}: the cut came first");
        for (t, flags) in after.iter().enumerate() {
            for (j, &after_cut) in flags.iter().enumerate() {
                let c = format!("SET t{t}:{j} v");
                let file = if after_cut { &new } else { &old };
                assert!(file.contains(&c), "{policy:?}: {c} (after the cut: {after_cut}) in the wrong file");
            }
        }
        assert_eq!(old.len() + new.len(), after.iter().map(Vec::len).sum::<usize>());
        assert_eq!(new.len(), 200);
    }
}

#[test]
fn waiters_of_one_thread_all_wake_even_when_their_leader_goes_away() {
    let tmp = TempDir::new("relay");
    let log = Arc::new(open(&tmp.0, Fsync::Always));
    let rt = runtime();
    rt.block_on(async {
        let one = cmd(&["SET", "k", "v"]);
        let step = one.len() as u64;
        // Waiting for offsets not appended yet; the first one leads.
        let spawn_wait = |offset: u64| {
            let log = Arc::clone(&log);
            tokio::spawn(async move { log.wait_durable(offset).await })
        };
        let leader = spawn_wait(10 * step);
        tokio::task::yield_now().await;
        let followers: Vec<_> = (1..=5).map(|i| spawn_wait(i * step)).collect();
        let last = spawn_wait(8 * step);
        tokio::task::yield_now().await;
        // The leader goes (its connection was killed) before anything is durable.
        leader.abort();
        let _ = leader.await;
        for _ in 0..8 {
            log.append(&one);
        }
        for f in followers {
            tokio::time::timeout(Duration::from_secs(10), f).await.unwrap().unwrap();
        }
        tokio::time::timeout(Duration::from_secs(10), last).await.unwrap().unwrap();
    });
    // A waiter of another log on this thread is not held up by this log's leader.
    let other_dir = TempDir::new("relay-other");
    let other = Arc::new(open(&other_dir.0, Fsync::Always));
    rt.block_on(async {
        let far = {
            let log = Arc::clone(&log);
            tokio::spawn(async move { log.wait_durable(u64::MAX).await })
        };
        tokio::task::yield_now().await;
        let end = other.append(&cmd(&["SET", "k", "v"]));
        tokio::time::timeout(Duration::from_secs(10), other.wait_durable(end)).await.unwrap();
        far.abort();
    });
}
