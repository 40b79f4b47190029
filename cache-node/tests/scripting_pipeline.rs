//! Pipelined scripts: a connection's consecutive EVAL / EVALSHA requests go to the
//! script thread together; their replies, errors the worker answers itself, and the
//! commands around them must come back exactly as redis-server 7.0 sends them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod redis_server;

use common::oracle::pipeline;
use common::*;
use redis_server::{RedisServer, temp_dir};

fn cmd(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn sha1(body: &str) -> String {
    sha1_smol::Sha1::from(body.as_bytes()).digest().to_string()
}

fn same_as_redis(cmds: &[Vec<Vec<u8>>], replies: usize) {
    let dir = temp_dir("scripting-pipeline");
    let redis = RedisServer::start(&dir, &[]);
    let node = Node::start(&[]);
    let want = pipeline(redis.port, cmds, replies);
    let got = pipeline(node.port, cmds, replies);
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
}

#[test]
fn a_pipeline_of_scripts_errors_and_commands_replies_in_order() {
    let body = "return redis.call('incr', KEYS[1])";
    let sha = sha1(body);
    let cmds = vec![
        // Not loaded yet: NOSCRIPT, then an EVAL of the same pipeline loads it.
        cmd(&["EVALSHA", &sha, "1", "n"]),
        cmd(&["EVAL", body, "1", "n"]),
        cmd(&["EVALSHA", &sha, "1", "n"]),
        // Errors the worker answers itself, between scripts that wait.
        cmd(&["EVAL", body, "-1"]),
        cmd(&["EVALSHA", "nosuch", "0"]),
        cmd(&["EVAL", body, "5", "n"]),
        cmd(&["EVALSHA", &sha, "1", "n"]),
        cmd(&["EVAL", "return redis.call('nosuchcommand')", "0"]),
        cmd(&["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "n"]),
        // A plain command sees every script before it.
        cmd(&["GET", "n"]),
        cmd(&["EVALSHA", &sha, "1", "n"]),
        cmd(&["CLIENT", "REPLY", "SKIP"]),
        cmd(&["EVALSHA", &sha, "1", "n"]),
        cmd(&["EVALSHA", &sha, "1", "n"]),
        cmd(&["SCRIPT", "FLUSH"]),
        cmd(&["EVALSHA", &sha, "1", "n"]),
        cmd(&["GET", "n"]),
    ];
    // CLIENT REPLY SKIP and the command after it send nothing.
    same_as_redis(&cmds, cmds.len() - 2);
}

#[test]
fn more_scripts_than_one_batch_holds_keep_their_order() {
    let body = "return redis.call('rpush', KEYS[1], ARGV[1])";
    let sha = sha1(body);
    let mut cmds = vec![cmd(&["SCRIPT", "LOAD", body])];
    for i in 0..300 {
        let i = i.to_string();
        if i.ends_with('7') {
            cmds.push(cmd(&["EVALSHA", &sha, "x"]));
        } else {
            cmds.push(cmd(&["EVALSHA", &sha, "1", "l", &i]));
        }
    }
    cmds.push(cmd(&["LRANGE", "l", "0", "-1"]));
    same_as_redis(&cmds, cmds.len());
}
