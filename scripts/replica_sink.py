#!/usr/bin/env python3
"""A replica that applies nothing: it syncs from a primary (Redis's replication protocol)
and reads and discards the stream, acknowledging its offset every second.

bench-replication.sh attaches two of these to measure what feeding replicas costs the
primary itself, as when the replicas run on other machines: on a small benchmark host real
replicas also take the primary's cores, and that competition is a different cost.

    replica_sink.py HOST PORT   # runs until killed; exits 1 when the link breaks
"""

import socket
import sys
import time


def command(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


class Link:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.buf = b""

    def fill(self):
        data = self.sock.recv(1 << 18)
        if not data:
            sys.exit("replica_sink: the primary closed the link")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def call(self, *args):
        self.sock.sendall(command(*args))
        reply = self.line()
        if reply.startswith(b"-"):
            sys.exit("replica_sink: %s: %s" % (args[0].decode(), reply.decode()))
        return reply


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    link = Link(host, port)
    link.call(b"PING")
    link.call(b"REPLCONF", b"listening-port", b"%d" % (20000 + port % 10000))
    link.call(b"REPLCONF", b"capa", b"psync2")
    reply = link.call(b"PSYNC", b"?", b"-1")
    if not reply.startswith(b"+FULLRESYNC"):
        sys.exit("replica_sink: unexpected PSYNC reply %r" % reply)
    offset = int(reply.split()[2])
    # The snapshot, as "$<len>\r\n<bytes>"; a primary still saving sends bare newlines.
    while True:
        while not has_line(link):
            link.fill()
        if link.buf.startswith(b"\n"):
            link.buf = link.buf[1:]
            continue
        header = link.line()
        break
    if not header.startswith(b"$"):
        sys.exit("replica_sink: unexpected snapshot header %r" % header)
    left = int(header[1:])
    while len(link.buf) < left:
        left -= len(link.buf)
        link.buf = b""
        link.fill()
    link.buf = link.buf[left:]
    offset += len(link.buf)
    link.buf = b""
    link.sock.sendall(command(b"REPLCONF", b"ACK", b"%d" % offset))
    last_ack = time.monotonic()
    # Wakes at least every half second, so an idle link still acknowledges.
    link.sock.settimeout(0.5)
    while True:
        try:
            n = len(link.sock.recv(1 << 18))
        except socket.timeout:
            n = -1
        if n == 0:
            sys.exit("replica_sink: the primary closed the link")
        offset += max(n, 0)
        now = time.monotonic()
        if now - last_ack >= 1:
            link.sock.sendall(command(b"REPLCONF", b"ACK", b"%d" % offset))
            last_ack = now


def has_line(link):
    return link.buf.startswith(b"\n") or b"\r\n" in link.buf


if __name__ == "__main__":
    main()
