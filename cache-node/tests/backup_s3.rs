//! Snapshots in an S3-compatible bucket: save, list, restore and delete against moto's
//! S3 server on loopback (scripts/test.sh installs it into target/py-tools; set
//! MOTO_SERVER to use another).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod persistence;
mod redis_server;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::*;
use persistence::{assert_same, dataset, start_in};
use redis_server::{Gen, temp_dir};

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return p.into();
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py-tools/venv/bin/moto_server");
    if local.exists() {
        return local;
    }
    PathBuf::from("moto_server")
}

/// One HTTP request on loopback; returns the status code.
fn http(port: u16, method: &str, path: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn start_moto() -> Moto {
    let port = free_port();
    let child = Command::new(moto_binary())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (scripts/test.sh installs it into target/py-tools)");
    let moto = Moto { child, port };
    assert!(wait_for(Duration::from_secs(30), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()), "moto_server did not start");
    assert_eq!(http(port, "PUT", "/backups"), 200, "creating the bucket");
    moto
}

fn snapshot(moto: &Moto, args: &[&str]) -> Output {
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    Command::new(bin())
        .arg("snapshot")
        .args(args)
        .args(["--s3-endpoint", &endpoint])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn snapshots_go_to_a_bucket_and_come_back() {
    let moto = start_moto();
    let node = Node::start(&[]);
    let mut c = node.client();
    let mut g = Gen(fastrand::Rng::with_seed(21));
    for i in 0..200 {
        let key = format!("k{i}").into_bytes();
        let kind = g.0.u8(..);
        // A few big values so the RDB spans several upload chunks of the client's buffer.
        g.model(kind, i % 10 == 0).store(&mut c, &key);
    }
    let want = dataset(&mut c, 1);
    let from = format!("127.0.0.1:{}", node.port);
    for name in ["first", "second"] {
        let out = snapshot(&moto, &["save", "--from", &from, "--to", "s3://backups/daily/", "--name", name, "--cluster", "c", "--shard", "1"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = snapshot(&moto, &["save", "--from", &from, "--to", "s3://backups/daily", "--name", "first"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    let listed = snapshot(&moto, &["list", "s3://backups/daily"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let names: Vec<String> = String::from_utf8_lossy(&listed.stdout).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
    assert_eq!(names, ["first", "second"]);

    let data = temp_dir("backup-s3-restore");
    let out = snapshot(&moto, &["restore", "--from", "s3://backups/daily/second", "--to", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let restored = start_in(&data, &[]);
    assert_same(&dataset(&mut restored.client(), 1), &want, "restored from the bucket");

    let out = snapshot(&moto, &["delete", "s3://backups/daily", "first"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed = snapshot(&moto, &["list", "s3://backups/daily"]);
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("second\t"), "{}", text(&listed));
    assert_eq!(http(moto.port, "GET", "/backups/daily/first.rdb"), 404, "the deleted snapshot's data is gone too");
    let out = snapshot(&moto, &["restore", "--from", "s3://backups/daily/first", "--to", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = snapshot(&moto, &["list", "s3://no-such-bucket"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
