//! Pub/sub: SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE, their UNSUBSCRIBE forms, PUBLISH,
//! SPUBLISH and PUBSUB introspection, byte for byte as redis-server 7.0 answers (the
//! transcripts were recorded from it), in RESP2 and RESP3; fan-out to many subscribers;
//! subscriptions dropped with their connection and kept when it moves between workers.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use std::time::Duration;

/// A message as a RESP2 (`*`) or RESP3 (`>`) frame.
fn message(head: char, channel: &str, payload: &str) -> String {
    format!("{head}3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n", channel.len(), payload.len())
}

fn pmessage(head: char, pattern: &str, channel: &str, payload: &str) -> String {
    format!("{head}4\r\n$8\r\npmessage\r\n${}\r\n{pattern}\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n", pattern.len(), channel.len(), payload.len())
}

fn smessage(head: char, channel: &str, payload: &str) -> String {
    format!("{head}3\r\n$8\r\nsmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n", channel.len(), payload.len())
}

/// A subscribe/unsubscribe confirmation.
fn confirm(head: char, verb: &str, name: &str, n: usize) -> String {
    format!("{head}3\r\n${}\r\n{verb}\r\n${}\r\n{name}\r\n:{n}\r\n", verb.len(), name.len())
}

const CONTEXT_ERR: &str = "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

#[test]
fn resp2_subscribed_mode_as_redis() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    // One pipelined transcript, recorded from redis-server 7.0.15.
    let cmds = [
        "SUBSCRIBE x y",
        "PING",
        "PING a",
        "GET x",
        "UNSUBSCRIBE",
        "UNSUBSCRIBE",
        "SSUBSCRIBE s",
        "PSUBSCRIBE p*",
        "SUBSCRIBE z",
        "PUBLISH z hi",
        "PUNSUBSCRIBE q",
        "SUNSUBSCRIBE",
        "PING",
        "RESET",
        "PING",
    ];
    let mut req = Vec::new();
    for c in cmds {
        let a: Vec<&[u8]> = c.split(' ').map(str::as_bytes).collect();
        req.extend(resp(&a));
    }
    let want = b"*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\ny\r\n:2\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$1\r\na\r\n-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\ny\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:0\r\n*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nz\r\n:2\r\n-ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n*3\r\n$12\r\npunsubscribe\r\n$1\r\nq\r\n:2\r\n*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n+RESET\r\n+PONG\r\n";
    // UNSUBSCRIBE with no argument goes through a hash set: y and x may come either way.
    r.send(&req);
    let got = String::from_utf8(r.read_exact_len(want.len())).unwrap();
    let swapped =
        String::from_utf8_lossy(want).replacen("$1\r\ny\r\n:1", "$1\r\nX\r\n:1", 1).replacen("$1\r\nx\r\n:0", "$1\r\ny\r\n:0", 1).replacen("X", "x", 1);
    assert!(got == String::from_utf8_lossy(want) || got == swapped, "{got:?}");

    // Subscribed mode allows only its commands; a wrong arity is reported first.
    rt(&mut r, "SUBSCRIBE c", confirm('*', "subscribe", "c", 1));
    err(&mut r, &["SET", "k", "v"], &format!("ERR Can't execute 'set': {CONTEXT_ERR}"));
    err(&mut r, &["CLIENT", "ID"], &format!("ERR Can't execute 'client': {CONTEXT_ERR}"));
    err(&mut r, &["GET"], "ERR wrong number of arguments for 'get' command");
    err(&mut r, &["PING", "a", "b"], "ERR wrong number of arguments for 'ping' command");
    err(&mut r, &["NOSUCH"], "ERR unknown command 'NOSUCH', with args beginning with: ");
    // Leaving with UNSUBSCRIBE ends subscribed mode.
    rt(&mut r, "UNSUBSCRIBE c", confirm('*', "unsubscribe", "c", 0));
    rt(&mut r, "PING", "+PONG\r\n");
    rt(&mut r, "UNSUBSCRIBE nope", confirm('*', "unsubscribe", "nope", 0));
    rt(&mut r, "PUNSUBSCRIBE", "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n");
    rt(&mut r, "SUNSUBSCRIBE", "*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n");
    rt(&mut r, "QUIT", OK);
    assert!(r.is_closed());
}

#[test]
fn resp3_pushes_and_mixed_commands_as_redis() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    hello3(&mut r);
    rt(&mut r, "SUBSCRIBE x", confirm('>', "subscribe", "x", 1));
    rt(&mut r, "PING", "+PONG\r\n");
    // A message to itself comes before the reply to PUBLISH, as Redis appends it.
    rt(&mut r, "PUBLISH x hi", format!("{}:1\r\n", message('>', "x", "hi")));
    rt(&mut r, "SET a b", OK);
    rt(&mut r, "SSUBSCRIBE s", confirm('>', "ssubscribe", "s", 1));
    rt(&mut r, "SPUBLISH s m", format!("{}:1\r\n", smessage('>', "s", "m")));
    r.send(b"CLIENT INFO\r\n");
    let line = read_line(&mut r);
    assert!(line.starts_with('='), "{line}");
    let info = read_line(&mut r);
    assert!(info.contains(" flags=P ") && info.contains(" sub=1 psub=0 ssub=1 "), "{info}");
    let _ = r.read_exact_len(2);
    rt(&mut r, "UNSUBSCRIBE", confirm('>', "unsubscribe", "x", 0));
    rt(&mut r, "UNSUBSCRIBE", ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
    rt(&mut r, "PSUBSCRIBE x*", confirm('>', "psubscribe", "x*", 1));
    rt(&mut r, "PUBLISH xa 1", format!("{}:1\r\n", pmessage('>', "x*", "xa", "1")));
    // RESET leaves subscribed mode: nothing more arrives.
    rt(&mut r, "RESET", "+RESET\r\n");
    let mut p = node.raw();
    rt(&mut p, "PUBLISH xa 2", ":0\r\n");
    rt(&mut p, "SPUBLISH s 2", ":0\r\n");
    rt(&mut r, "PING", "+PONG\r\n");
    r.send(b"CLIENT INFO\r\n");
    let _len = read_line(&mut r);
    let info = read_line(&mut r);
    assert!(info.contains(" flags=N ") && info.contains(" sub=0 psub=0 ssub=0 "), "{info}");
}

#[test]
fn fan_out_to_fifty_subscribers_of_channels_patterns_and_shard_channels() {
    let node = Node::start(&[]);
    let n = 50;
    let mut subs: Vec<(Raw, char)> = Vec::new();
    for i in 0..n {
        let mut r = node.raw();
        let head = if i % 2 == 0 { '*' } else { '>' };
        if head == '>' {
            hello3(&mut r);
        }
        rt(&mut r, "SUBSCRIBE news", confirm(head, "subscribe", "news", 1));
        rt(&mut r, "PSUBSCRIBE n?ws", confirm(head, "psubscribe", "n?ws", 2));
        rt(&mut r, "SSUBSCRIBE shard", confirm(head, "ssubscribe", "shard", 1));
        subs.push((r, head));
    }
    let mut p = node.raw();
    for round in 0..20 {
        let payload = format!("m{round}");
        rt(&mut p, &format!("PUBLISH news {payload}"), format!(":{}\r\n", 2 * n));
        rt(&mut p, &format!("SPUBLISH shard {payload}"), format!(":{n}\r\n"));
        rt(&mut p, &format!("PUBLISH nows {payload}"), format!(":{n}\r\n"));
        rt(&mut p, "PUBLISH other x", ":0\r\n");
        for (r, head) in subs.iter_mut() {
            let want = [
                message(*head, "news", &payload),
                pmessage(*head, "n?ws", "news", &payload),
                smessage(*head, "shard", &payload),
                pmessage(*head, "n?ws", "nows", &payload),
            ]
            .concat();
            assert_eq!(String::from_utf8(r.read_exact_len(want.len())).unwrap(), want);
        }
    }
    rt(&mut p, "PUBSUB NUMSUB news", format!("*2\r\n$4\r\nnews\r\n:{n}\r\n"));
    // Every subscriber goes away: the registry is empty again.
    drop(subs);
    let mut c = node.client();
    assert!(wait_for(Duration::from_secs(5), || q::<Vec<redis::Value>>(&mut c, &["PUBSUB", "NUMSUB", "news"])[1] == redis::Value::Int(0)));
    rt(&mut p, "PUBLISH news x", ":0\r\n");
    rt(&mut p, "PUBSUB NUMPAT", ":0\r\n");
    rt(&mut p, "PUBSUB SHARDCHANNELS", "*0\r\n");
}

#[test]
fn pubsub_introspection_info_and_client_list() {
    let node = Node::start(&[]);
    let mut a = node.raw();
    let mut b = node.raw();
    rt(&mut a, "SUBSCRIBE ch1 ch2 x", [confirm('*', "subscribe", "ch1", 1), confirm('*', "subscribe", "ch2", 2), confirm('*', "subscribe", "x", 3)].concat());
    rt(&mut a, "PSUBSCRIBE c* c*", [confirm('*', "psubscribe", "c*", 4), confirm('*', "psubscribe", "c*", 4)].concat());
    rt(&mut b, "SUBSCRIBE ch1", confirm('*', "subscribe", "ch1", 1));
    rt(&mut b, "PSUBSCRIBE c* d*", [confirm('*', "psubscribe", "c*", 2), confirm('*', "psubscribe", "d*", 3)].concat());
    rt(&mut b, "SSUBSCRIBE s1 s2", [confirm('*', "ssubscribe", "s1", 1), confirm('*', "ssubscribe", "s2", 2)].concat());
    let mut c = node.client();
    let mut chans: Vec<String> = q(&mut c, &["PUBSUB", "CHANNELS"]);
    chans.sort();
    assert_eq!(chans, ["ch1", "ch2", "x"]);
    let mut chans: Vec<String> = q(&mut c, &["PUBSUB", "CHANNELS", "ch*"]);
    chans.sort();
    assert_eq!(chans, ["ch1", "ch2"]);
    let mut shard: Vec<String> = q(&mut c, &["PUBSUB", "SHARDCHANNELS"]);
    shard.sort();
    assert_eq!(shard, ["s1", "s2"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["PUBSUB", "SHARDCHANNELS", "*2"]), ["s2"]);
    let mut r = node.raw();
    rt(&mut r, "PUBSUB NUMSUB ch1 ch2 none", "*6\r\n$3\r\nch1\r\n:2\r\n$3\r\nch2\r\n:1\r\n$4\r\nnone\r\n:0\r\n");
    rt(&mut r, "PUBSUB NUMSUB", "*0\r\n");
    rt(&mut r, "PUBSUB SHARDNUMSUB s1 ch1", "*4\r\n$2\r\ns1\r\n:1\r\n$3\r\nch1\r\n:0\r\n");
    rt(&mut r, "PUBSUB NUMPAT", ":2\r\n");
    rt(&mut r, "PUBLISH ch1 hello", ":4\r\n");
    // Errors, as Redis words them.
    err(&mut r, &["PUBSUB", "CHANNELS", "a", "b"], "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.");
    err(&mut r, &["PUBSUB", "NUMPAT", "x"], "ERR wrong number of arguments for 'pubsub|numpat' command");
    err(&mut r, &["PUBSUB", "NOPE"], "ERR unknown subcommand 'NOPE'. Try PUBSUB HELP.");
    err(&mut r, &["PUBLISH", "a"], "ERR wrong number of arguments for 'publish' command");
    err(&mut r, &["SUBSCRIBE"], "ERR wrong number of arguments for 'subscribe' command");
    err(&mut r, &["SSUBSCRIBE"], "ERR wrong number of arguments for 'ssubscribe' command");
    let help: Vec<String> = q(&mut c, &["PUBSUB", "HELP"]);
    assert_eq!(help.len(), 14);
    assert_eq!(help[0], "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    // INFO stats counts distinct channels, patterns and shard channels.
    let info: String = q(&mut c, &["INFO", "stats"]);
    assert_eq!(info_field(&info, "pubsub_channels").as_deref(), Some("3"));
    assert_eq!(info_field(&info, "pubsub_patterns").as_deref(), Some("2"));
    assert_eq!(info_field(&info, "pubsubshard_channels").as_deref(), Some("2"));
    // CLIENT LIST: counts, the P flag and TYPE pubsub.
    let list: String = q(&mut c, &["CLIENT", "LIST", "TYPE", "pubsub"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines.iter().any(|l| l.contains(" flags=P ") && l.contains(" sub=3 psub=1 ssub=0 ")), "{list}");
    assert!(lines.iter().any(|l| l.contains(" flags=P ") && l.contains(" sub=1 psub=2 ssub=2 ")), "{list}");
    let normal: String = q(&mut c, &["CLIENT", "LIST", "TYPE", "normal"]);
    assert_eq!(normal.lines().count(), 2, "{normal}");
    // CLIENT KILL TYPE pubsub closes both subscribers and drops all their subscriptions.
    assert_eq!(q::<i64>(&mut c, &["CLIENT", "KILL", "TYPE", "pubsub"]), 2);
    assert!(a.is_closed() && b.is_closed());
    assert!(wait_for(Duration::from_secs(5), || {
        let info: String = q(&mut c, &["INFO", "stats"]);
        ["pubsub_channels", "pubsub_patterns", "pubsubshard_channels"].iter().all(|f| info_field(&info, f).as_deref() == Some("0"))
    }));
    rt(&mut r, "PUBLISH ch1 hello", ":0\r\n");
}

#[test]
fn command_info_matches_redis() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    // COMMAND INFO lines of redis-server 7.0.15 (flags, keys, categories).
    for (cmd, want) in [
        (
            "publish",
            "*10\r\n$7\r\npublish\r\n:3\r\n*4\r\n+pubsub\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@pubsub\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n",
        ),
        (
            "subscribe",
            "*10\r\n$9\r\nsubscribe\r\n:-2\r\n*4\r\n+pubsub\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@pubsub\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n",
        ),
    ] {
        r.send(&resp(&[b"COMMAND", b"INFO", cmd.as_bytes()]));
        let got = String::from_utf8(r.read_exact_len(4 + want.len())).unwrap();
        assert_eq!(got, format!("*1\r\n{want}"));
    }
    let mut c = node.client();
    let info: Vec<redis::Value> = q(&mut c, &["COMMAND", "INFO", "ssubscribe"]);
    let text = format!("{info:?}");
    assert!(text.contains("not_key"), "{text}");
}

#[test]
fn subscriptions_survive_a_move_between_workers() {
    // Round-robin placement puts the subscribers on both workers; turning adaptive
    // placement on then packs them onto one, moving half of them.
    let node = Node::start(&["--hz", "50"]);
    let mut subs: Vec<Raw> = (0..6).map(|_| node.raw()).collect();
    for (i, r) in subs.iter_mut().enumerate() {
        rt(r, &format!("CLIENT SETNAME sub{i}"), OK);
        rt(r, "SUBSCRIBE moving", confirm('*', "subscribe", "moving", 1));
    }
    let mut c = node.client();
    let threads = |c: &mut redis::Connection| -> Vec<String> {
        let list: String = q(c, &["CLIENT", "LIST", "TYPE", "pubsub"]);
        let mut t: Vec<String> = list.lines().filter_map(|l| l.split(' ').find_map(|kv| kv.strip_prefix("io-thread=")).map(str::to_string)).collect();
        t.sort();
        t.dedup();
        t
    };
    assert_eq!(threads(&mut c).len(), 2);
    let _: () = q(&mut c, &["CONFIG", "SET", "adaptive-threads", "yes"]);
    let mut p = node.raw();
    let mut round = 0;
    // A subscriber moves when it wakes up for a message, so keep publishing.
    let packed = wait_for(Duration::from_secs(30), || {
        round += 1;
        let payload = format!("r{round}");
        rt(&mut p, &format!("PUBLISH moving {payload}"), ":6\r\n");
        for r in subs.iter_mut() {
            let want = message('*', "moving", &payload);
            assert_eq!(String::from_utf8(r.read_exact_len(want.len())).unwrap(), want);
        }
        threads(&mut c).len() == 1
    });
    assert!(packed, "subscribers never packed onto one worker");
    for i in 0..5 {
        rt(&mut p, &format!("PUBLISH moving after{i}"), ":6\r\n");
    }
    for r in subs.iter_mut() {
        let want: String = (0..5).map(|i| message('*', "moving", &format!("after{i}"))).collect();
        assert_eq!(String::from_utf8(r.read_exact_len(want.len())).unwrap(), want);
        rt(r, "PING", "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    }
}

#[test]
fn publish_reaches_the_subscribers_of_replicas() {
    let primary = Node::start(&[]);
    let port = primary.port.to_string();
    let replica = Node::start(&["--replicaof", "127.0.0.1", &port]);
    let mut rc = replica.client();
    assert!(
        wait_for(Duration::from_secs(30), || {
            let info: String = q(&mut rc, &["INFO", "replication"]);
            info_field(&info, "master_link_status").as_deref() == Some("up")
        }),
        "the replica never synced"
    );
    let mut sub = replica.raw();
    rt(&mut sub, "SUBSCRIBE relayed", confirm('*', "subscribe", "relayed", 1));
    let mut p = primary.raw();
    // Nobody subscribes on the primary itself.
    rt(&mut p, "PUBLISH relayed hello", ":0\r\n");
    let want = message('*', "relayed", "hello");
    assert_eq!(String::from_utf8(sub.read_exact_len(want.len())).unwrap(), want);
}

#[test]
fn resp3_subscriber_receives_messages_while_blocked() {
    let node = Node::start(&[]);
    let mut r = node.raw();
    hello3(&mut r);
    rt(&mut r, "SUBSCRIBE news", confirm('>', "subscribe", "news", 1));
    r.send(&resp(&[b"BLPOP", b"queue", b"0"]));
    let mut p = node.raw();
    // Wait until the client is blocked, so the message goes out during the wait.
    let mut c = node.client();
    assert!(wait_for(Duration::from_secs(5), || info_field(&q::<String>(&mut c, &["INFO", "clients"]), "blocked_clients").as_deref() == Some("1")));
    rt(&mut p, "PUBLISH news during", ":1\r\n");
    let want = message('>', "news", "during");
    assert_eq!(String::from_utf8(r.read_exact_len(want.len())).unwrap(), want);
    rt(&mut p, "LPUSH queue item", ":1\r\n");
    let want = "*2\r\n$5\r\nqueue\r\n$4\r\nitem\r\n";
    assert_eq!(String::from_utf8(r.read_exact_len(want.len())).unwrap(), want);
}
