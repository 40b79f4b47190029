#!/usr/bin/env python3
"""Failover chaos trials against `cachefleet-operator local` (see chaos-failover.sh).

Standard library only: a minimal RESP client, a writer thread, and the driver's
status.json to find the primary.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


class Resp:
    """One RESP connection: commands in, parsed replies out (errors raised)."""

    def __init__(self, addr, timeout=2.0):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=0.5)
        self.sock.settimeout(timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)


def read_status(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class Writer(threading.Thread):
    """SET k<i> i then WAIT 1 200, in order, through the primary status.json names."""

    def __init__(self, status_path):
        super().__init__(daemon=True)
        self.status_path = status_path
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []
        self.writes = []  # (time, address)
        self.failures = 0

    def run(self):
        conn, addr, i = None, None, 0
        while not self.stop.is_set():
            if conn is None:
                st = read_status(self.status_path)
                addr = st and st["shards"][0].get("primary")
                try:
                    conn = Resp(addr) if addr else None
                except OSError:
                    conn = None
                if conn is None:
                    time.sleep(0.01)
                    continue
            try:
                conn.call("SET", "k%d" % i, i)
                acks = conn.call("WAIT", 1, 200)
                with self.lock:
                    self.writes.append((time.monotonic(), addr))
                    if acks >= 1:
                        self.acked.append(i)
                i += 1
            except (OSError, RuntimeError, ConnectionError):
                with self.lock:
                    self.failures += 1
                try:
                    conn.close()
                except OSError:
                    pass
                conn = None
                time.sleep(0.005)

    def first_write_after(self, t, not_addr):
        with self.lock:
            for w, a in self.writes:
                if w > t and a != not_addr:
                    return w
        return None


def missing(addr, keys):
    conn = Resp(addr)
    lost = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        values = conn.call("MGET", *["k%d" % k for k in chunk])
        lost += sum(1 for k, v in zip(chunk, values) if v != str(k))
    conn.close()
    return lost


def wait_for(status_path, what, limit, done):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        st = read_status(status_path)
        if st and done(st):
            return st
        time.sleep(0.05)
    raise TimeoutError("timed out waiting for " + what)


def settled(n):
    return lambda st: len(st["shards"][0]["nodes"]) == n and all(x["in_sync"] and x.get("pid") for x in st["shards"][0]["nodes"])


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def cluster_yaml(detection, extra=""):
    failover = "  failover: {detectionSeconds: %d}\n" % detection if detection else ""
    return ("apiVersion: cachefleet.dev/v1alpha1\nkind: CacheCluster\nmetadata: {name: chaos}\n"
            "spec:\n  replicasPerShard: 2\n" + failover + extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--operator", required=True)
    ap.add_argument("--node-binary", required=True)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--base-port", type=int, default=23000)
    ap.add_argument("--detection", type=int, default=0, help="failover.detectionSeconds (0: the spec's default)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="chaos-failover.")
    spec = os.path.join(work, "cluster.yaml")
    status_path = os.path.join(work, "data", "status.json")
    with open(spec, "w") as f:
        f.write(cluster_yaml(args.detection))
    log = open(os.path.join(work, "driver.log"), "w")
    driver = subprocess.Popen([args.operator, "local", "-f", spec, "--data-dir", os.path.join(work, "data"),
                               "--node-binary", args.node_binary, "--base-port", str(args.base_port)],
                              stdout=subprocess.DEVNULL, stderr=log)
    writer = None
    ok = False
    try:
        wait_for(status_path, "the cluster", 30, settled(3))
        writer = Writer(status_path)
        writer.start()
        time.sleep(1)
        times, losses = [], []
        for trial in range(1, args.trials + 1):
            st = read_status(status_path)
            epoch = st["shards"][0]["epoch"]
            old_addr = st["shards"][0]["primary"]
            pid = next(n["pid"] for n in st["shards"][0]["nodes"] if n["role"] == "primary")
            with writer.lock:
                acked_before = list(writer.acked)
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            wait_for(status_path, "failover %d" % trial, 60, lambda s: s["shards"][0]["epoch"] > epoch)
            deadline = time.monotonic() + 30
            first = None
            while first is None and time.monotonic() < deadline:
                first = writer.first_write_after(killed, old_addr)
                time.sleep(0.01)
            if first is None:
                raise TimeoutError("no write after failover %d" % trial)
            took = first - killed
            st = wait_for(status_path, "rejoin after trial %d" % trial, 60, settled(3))
            lost = missing(st["shards"][0]["primary"], acked_before)
            times.append(took)
            losses.append(lost)
            print("trial %2d: kill to first write %6.0f ms, acknowledged writes lost %d (of %d)" % (trial, took * 1000, lost, len(acked_before)), flush=True)
        # A planned switchover: a setting that needs restarts rolls the nodes.
        with writer.lock:
            mark = len(writer.writes)
        epoch = read_status(status_path)["shards"][0]["epoch"]
        with open(spec + ".tmp", "w") as f:
            f.write(cluster_yaml(args.detection, "  parameters: {databases: '32'}\n"))
        os.rename(spec + ".tmp", spec)
        st = wait_for(status_path, "the roll", 120,
                      lambda s: s["shards"][0]["epoch"] > epoch and (s.get("last_failover") or {}).get("reason") == "planned switchover" and settled(3)(s))
        time.sleep(1)
        with writer.lock:
            during = [w for w, _ in writer.writes[mark:]]
        gap = max(b - a for a, b in zip(during, during[1:]))
        print()
        print("failover (kill -9 to first write on the new primary), %d trials: p50 %.0f ms, p99 %.0f ms, max %.0f ms"
              % (len(times), percentile(times, 50) * 1000, percentile(times, 99) * 1000, max(times) * 1000))
        print("acknowledged writes lost: total %d, per trial %s" % (sum(losses), losses))
        print("planned switchover: handover %d ms, longest pause between writes during the whole roll %.0f ms"
              % (st["last_failover"]["duration_ms"], gap * 1000))
        ok = sum(losses) == 0
    finally:
        if writer:
            writer.stop.set()
        pids = []
        st = read_status(status_path)
        if st:
            pids = [n["pid"] for s in st["shards"] for n in s["nodes"] if n.get("pid")]
        driver.send_signal(signal.SIGTERM)
        try:
            driver.wait(timeout=15)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        log.close()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept for inspection: " + work, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
