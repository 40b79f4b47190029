//! Short scripts run inline on the worker that received them (scripting/inline.rs):
//! after a first run on the script thread, a script with a fast history runs on each
//! worker's own VM, counted in INFO stats `eval_inline_runs`; the script cache stays one
//! cache; scripts stay atomic; an inline run that passes its budget before writing moves
//! to the script thread, where BUSY and SCRIPT KILL reach it from every worker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

fn stat(c: &mut redis::Connection, name: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info_field(&info, name).unwrap_or_else(|| panic!("no {name} in INFO stats")).parse().unwrap()
}

fn inline_runs(c: &mut redis::Connection) -> u64 {
    stat(c, "eval_inline_runs")
}

/// Runs started on a worker: those that ended there and those moved to the script thread.
/// A run preempted for longer than the budget before its first write moves (correctly),
/// so on a loaded machine a count of inline runs alone is not exact.
fn offered(c: &mut redis::Connection) -> u64 {
    inline_runs(c) + stat(c, "eval_inline_moved")
}

fn load(c: &mut redis::Connection, body: &str) -> String {
    q(c, &["SCRIPT", "LOAD", body])
}

/// Two workers that take connections in turn, and connections named `name-i` on each:
/// returns them grouped by worker (at least `per_worker` on each).
fn start_two_workers(extra: &[&str]) -> Node {
    let mut args = vec!["--threads", "2", "--adaptive-threads", "no"];
    args.extend_from_slice(extra);
    Node::start(&args)
}

fn io_thread(admin: &mut redis::Connection, name: &str) -> String {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(admin).unwrap();
    list.lines()
        .find(|l| l.split(' ').any(|kv| kv == format!("name={name}")))
        .and_then(|l| l.split(' ').find_map(|kv| kv.strip_prefix("io-thread=")).map(str::to_string))
        .unwrap_or_else(|| panic!("{name} not in CLIENT LIST: {list}"))
}

/// `n` connections on each of the two workers.
fn clients_per_worker(node: &Node, admin: &mut redis::Connection, n: usize) -> [Vec<redis::Connection>; 2] {
    let mut by: [Vec<redis::Connection>; 2] = [Vec::new(), Vec::new()];
    let mut first = None;
    for i in 0..8 * n {
        if by.iter().all(|v| v.len() >= n) {
            break;
        }
        let mut c = node.client();
        let name = format!("w-{i}");
        let _: () = q(&mut c, &["CLIENT", "SETNAME", &name]);
        let t = io_thread(admin, &name);
        let first = first.get_or_insert_with(|| t.clone());
        let side = usize::from(*first != t);
        if by[side].len() < n {
            by[side].push(c);
        }
    }
    assert!(by.iter().all(|v| v.len() >= n), "connections did not land on both workers");
    by
}

#[test]
fn a_fast_script_runs_inline_after_its_first_run() {
    let node = Node::start(&[]);
    let mut c = node.client();
    let sha = load(&mut c, "return redis.call('incr', KEYS[1])");
    assert_eq!(offered(&mut c), 0);
    // The first run goes to the script thread.
    assert_eq!(q::<i64>(&mut c, &["EVALSHA", &sha, "1", "n"]), 1);
    assert_eq!(offered(&mut c), 0);
    for i in 2..=11 {
        assert_eq!(q::<i64>(&mut c, &["EVALSHA", &sha, "1", "n"]), i);
    }
    assert_eq!(offered(&mut c), 10);
    // EVAL of a body: the same, once it has run.
    let mut raw = node.raw();
    exact(&mut raw, &["EVAL", "return {1, 'two', {3}}", "0"], "*3\r\n:1\r\n$3\r\ntwo\r\n*1\r\n:3\r\n");
    assert_eq!(offered(&mut c), 10);
    exact(&mut raw, &["EVAL", "return {1, 'two', {3}}", "0"], "*3\r\n:1\r\n$3\r\ntwo\r\n*1\r\n:3\r\n");
    assert_eq!(offered(&mut c), 11);
    // Replies and errors inline are those of the script thread, RESP2 and RESP3.
    exact(
        &mut raw,
        &["EVAL", "return redis.call('nope')", "0"],
        "-ERR Unknown Redis command called from script script: f01f0776df71cc5b400c2268135aa7f30dce2e53, on @user_script:1.\r\n",
    );
    exact(
        &mut raw,
        &["EVAL", "return redis.call('nope')", "0"],
        "-ERR Unknown Redis command called from script script: f01f0776df71cc5b400c2268135aa7f30dce2e53, on @user_script:1.\r\n",
    );
    let map = "redis.setresp(3) return redis.call('hgetall', KEYS[1])";
    let _: () = q(&mut c, &["HSET", "h", "f", "v"]);
    hello3(&mut raw);
    for _ in 0..2 {
        exact(&mut raw, &["EVAL", map, "1", "h"], "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
        exact(&mut raw, &["EVALSHA", &sha, "1", "n"], ":");
        assert_eq!(read_line(&mut raw).len(), 2);
    }
    assert_eq!(offered(&mut c), 15);
    // EVAL_RO refuses writes inline as on the script thread.
    for _ in 0..2 {
        err(
            &mut raw,
            &["EVAL_RO", "return redis.call('set', 'x', 1)", "0"],
            "ERR Write commands are not allowed from read-only scripts. script: d3e59a42ddbf0bf90f4688baf7dec06c274f4dfe, on @user_script:1.",
        );
    }
    // The commands scripts run inline are counted in commandstats.
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    assert!(info.contains("cmdstat_incr:calls=13,"), "{info}");
}

#[test]
fn a_loaded_script_runs_inline_on_every_worker_and_flush_reaches_them_all() {
    let node = start_two_workers(&[]);
    let mut admin = node.client();
    let [mut w0, mut w1] = clients_per_worker(&node, &mut admin, 1);
    let sha = load(&mut w0[0], "return redis.call('incr', KEYS[1])");
    assert_eq!(q::<i64>(&mut w1[0], &["EVALSHA", &sha, "1", "n"]), 1);
    let before = inline_runs(&mut admin);
    for c in [&mut w0[0], &mut w1[0]] {
        let at = inline_runs(c);
        for _ in 0..5 {
            let _: i64 = q(c, &["EVALSHA", &sha, "1", "n"]);
        }
        // This worker ran them (each one waited for its reply).
        assert_eq!(inline_runs(c), at + 5);
    }
    assert_eq!(inline_runs(&mut admin), before + 10);
    assert_eq!(q::<i64>(&mut admin, &["GET", "n"]), 11);
    let info: String = redis::cmd("INFO").arg("memory").query(&mut admin).unwrap();
    let lua: u64 = info_field(&info, "used_memory_lua").unwrap().parse().unwrap();
    assert!(lua > 0, "{info}");
    assert_eq!(info_field(&info, "number_of_cached_scripts").as_deref(), Some("1"));
    // SCRIPT FLUSH empties the cache for every worker's VM.
    let _: () = q(&mut w1[0], &["SCRIPT", "FLUSH"]);
    for c in [&mut w0[0], &mut w1[0]] {
        let e = redis::cmd("EVALSHA").arg(&sha).arg(1).arg("n").query::<i64>(c).unwrap_err();
        assert_eq!(format!("{} {}", e.code().unwrap(), e.detail().unwrap()), NOSCRIPT);
        assert_eq!(q::<Vec<i64>>(c, &["SCRIPT", "EXISTS", &sha]), vec![0]);
    }
    // Loaded again: a first run on the script thread, then inline again.
    assert_eq!(load(&mut w1[0], "return redis.call('incr', KEYS[1])"), sha);
    let at = inline_runs(&mut admin);
    assert_eq!(q::<i64>(&mut w0[0], &["EVALSHA", &sha, "1", "n"]), 12);
    assert_eq!(inline_runs(&mut admin), at);
    assert_eq!(q::<i64>(&mut w0[0], &["EVALSHA", &sha, "1", "n"]), 13);
    assert_eq!(q::<i64>(&mut w1[0], &["EVALSHA", &sha, "1", "n"]), 14);
    assert_eq!(inline_runs(&mut admin), at + 2);
}

#[test]
fn scripts_on_both_workers_never_overlap() {
    let node = start_two_workers(&[]);
    let mut admin = node.client();
    let [w0, w1] = clients_per_worker(&node, &mut admin, 2);
    // Read, work a while, write back: two overlapping runs would lose an increment.
    let body =
        "local v = tonumber(redis.call('get', KEYS[1]) or '0') local s = 0 for i = 1, 2000 do s = s + i end redis.call('set', KEYS[1], v + 1) return v + 1";
    let sha = load(&mut admin, body);
    let _: i64 = q(&mut admin, &["EVALSHA", &sha, "1", "c"]);
    let before = inline_runs(&mut admin);
    const ROUNDS: usize = 300;
    std::thread::scope(|s| {
        for mut c in w0.into_iter().chain(w1) {
            let sha = &sha;
            s.spawn(move || {
                for i in 0..ROUNDS {
                    if i % 3 == 0 {
                        // A pipeline: its scripts run inline one after the other.
                        let mut p = redis::pipe();
                        for _ in 0..5 {
                            p.cmd("EVALSHA").arg(sha).arg(1).arg("c");
                        }
                        let _: Vec<i64> = p.query(&mut c).unwrap();
                    } else {
                        let _: i64 = redis::cmd("EVALSHA").arg(sha).arg(1).arg("c").query(&mut c).unwrap();
                    }
                    let _: i64 = redis::cmd("INCR").arg("c").query(&mut c).unwrap();
                }
            });
        }
    });
    let per_client = ROUNDS / 3 * 5 + (ROUNDS - ROUNDS / 3) + ROUNDS;
    assert_eq!(q::<i64>(&mut admin, &["GET", "c"]), 1 + 4 * per_client as i64);
    let inline = inline_runs(&mut admin) - before;
    assert!(inline > 0, "no script ran inline");
}

/// A script that loops while `flag` says so, reading only: fast until the flag is set.
fn looping(tag: &str) -> String {
    format!("-- {tag}\nlocal n = 0 while redis.call('get', KEYS[1]) == 'loop' do n = n + 1 end return 'done'")
}

#[test]
fn an_inline_run_past_its_budget_moves_and_gets_busy_and_kill_from_every_worker() {
    let node = start_two_workers(&["--busy-reply-threshold", "100"]);
    let mut admin = node.client();
    let [mut w0, mut w1] = clients_per_worker(&node, &mut admin, 2);
    let fast = &load(&mut admin, "return 1");
    for _ in 0..2 {
        assert_eq!(q::<i64>(&mut w1[0], &["EVALSHA", fast, "0"]), 1);
    }
    for (round, killer_side) in [0usize, 1].into_iter().enumerate() {
        let body = looping(&format!("round {round}"));
        let sha = load(&mut admin, &body);
        // Two fast runs: the first on the script thread, the second inline.
        let at = inline_runs(&mut admin);
        for _ in 0..2 {
            assert_eq!(q::<String>(&mut w0[0], &["EVALSHA", &sha, "1", "flag"]), "done");
        }
        assert_eq!(inline_runs(&mut admin), at + 1);
        let moved = stat(&mut admin, "eval_inline_moved");
        let _: () = q(&mut admin, &["SET", "flag", "loop"]);
        let (runner, rest0) = w0.split_first_mut().unwrap();
        std::thread::scope(|s| {
            let sha = &sha;
            let h = s.spawn(move || {
                let e = redis::cmd("EVALSHA").arg(sha).arg(1).arg("flag").query::<String>(runner).unwrap_err();
                format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
            });
            // Another client of the runner's own worker and one of the other worker
            // both get BUSY: the run left that worker for the script thread.
            for c in [&mut rest0[0], &mut w1[0]] {
                let busy = wait_for(Duration::from_secs(20), || match redis::cmd("GET").arg("k").query::<Option<String>>(c) {
                    Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")) == BUSY,
                    Ok(_) => false,
                });
                assert!(busy, "never answered BUSY");
            }
            // A script sent meanwhile, even one that would run inline, gets BUSY too.
            let e = redis::cmd("EVALSHA").arg(fast).arg(0).query::<i64>(&mut w1[0]).unwrap_err();
            assert_eq!(format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")), BUSY);
            let killer = if killer_side == 0 { &mut rest0[0] } else { &mut w1[0] };
            let _: () = q(killer, &["SCRIPT", "KILL"]);
            let reply = h.join().unwrap();
            assert!(reply.starts_with("ERR Script killed by user with SCRIPT KILL... script: "), "{reply}");
        });
        assert_eq!(stat(&mut admin, "eval_inline_moved"), moved + 1);
        let _: () = q(&mut admin, &["DEL", "flag"]);
        assert_eq!(q::<String>(&mut w0[0], &["EVALSHA", &sha, "1", "flag"]), "done");
        // Everyone is served again.
        assert_eq!(q::<Option<String>>(&mut w1[0], &["GET", "k"]), None);
    }
}

#[test]
fn an_inline_run_that_wrote_finishes_where_it_is_and_shutdown_nosave_still_stops_the_server() {
    let mut node = start_two_workers(&["--busy-reply-threshold", "100"]);
    let mut admin = node.client();
    let [mut w0, mut w1] = clients_per_worker(&node, &mut admin, 1);
    // Writes, then loops while the flag says so: fast until the flag is set.
    let sha = load(&mut admin, "redis.call('incr', 'w') while redis.call('get', KEYS[1]) == 'loop' do end return 'done'");
    for _ in 0..2 {
        assert_eq!(q::<String>(&mut w0[0], &["EVALSHA", &sha, "1", "flag"]), "done");
    }
    assert_eq!(inline_runs(&mut admin), 1);
    let _: () = q(&mut admin, &["SET", "flag", "loop"]);
    let mut runner = w0.pop().unwrap();
    let sha2 = sha.clone();
    // The connection ends with the server.
    let h = std::thread::spawn(move || {
        let _ = redis::cmd("EVALSHA").arg(&sha2).arg(1).arg("flag").query::<redis::Value>(&mut runner);
    });
    let c = &mut w1[0];
    let busy = wait_for(Duration::from_secs(20), || match redis::cmd("GET").arg("k").query::<Option<String>>(c) {
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")) == BUSY,
        Ok(_) => false,
    });
    assert!(busy, "never answered BUSY");
    // It wrote, inline: it cannot be killed; the other worker still takes SHUTDOWN NOSAVE.
    let e = redis::cmd("SCRIPT").arg("KILL").query::<()>(c).unwrap_err();
    assert_eq!(
        format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
    );
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(c);
    assert!(wait_for(Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", node.port)).is_err()), "SHUTDOWN NOSAVE did not stop the server");
    assert!(node.wait_exit(Duration::from_secs(10)).is_some());
    h.join().unwrap();
}

#[test]
fn an_inline_run_that_published_is_not_run_twice() {
    let node = Node::start(&["--busy-reply-threshold", "100"]);
    let mut admin = node.client();
    let mut sub = node.raw();
    sub.send(&resp(&[b"SUBSCRIBE", b"ch"]));
    assert_eq!(read_line(&mut sub), "*3");
    for _ in 0..5 {
        read_line(&mut sub);
    }
    // Publishes, then loops while the flag says so (a data-dependent slow run).
    let sha =
        load(&mut admin, "redis.call('publish', 'ch', 'm') local i = 0 while redis.call('get', KEYS[1]) == 'loop' and i < 200000 do i = i + 1 end return i");
    let mut c = node.client();
    for _ in 0..2 {
        assert_eq!(q::<i64>(&mut c, &["EVALSHA", &sha, "1", "flag"]), 0);
    }
    let _: () = q(&mut admin, &["SET", "flag", "loop"]);
    assert_eq!(q::<i64>(&mut c, &["EVALSHA", &sha, "1", "flag"]), 200_000);
    // Both runs after the first start on the worker; the slow one published before it
    // looped, so it finishes there (it moves only if preempted before the publish).
    assert_eq!(offered(&mut admin), 2);
    // One message per run.
    let _: () = q(&mut admin, &["PUBLISH", "ch", "end"]);
    let mut got = Vec::new();
    while got.last().map(String::as_str) != Some("end") {
        assert_eq!(read_line(&mut sub), "*3");
        read_line(&mut sub);
        read_line(&mut sub);
        read_line(&mut sub);
        read_line(&mut sub);
        read_line(&mut sub);
        got.push(read_line(&mut sub));
    }
    assert_eq!(got, ["m", "m", "m", "end"]);
}
