"""What pgrouter answers, delays or ends itself looks exactly as PostgreSQL's own answer: the
command tags of a held transaction, the end of a session the server terminates, a first packet
that is not a startup packet, a cancel that reaches a statement still waiting for a pooled
connection. Every case runs the same steps against the node directly and through pgrouter."""
import os
import signal
import socket
import struct
import threading
import time

import psycopg
import pytest

from conftest import free_port, wait_port


def config(cluster, port, mode="transaction", max_size=4):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
pool: {{mode: {mode}, max_size: {max_size}, acquire_timeout: 20s}}
health: {{interval: 300ms, timeout: 1s}}
log: {{level: info}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port("pg1")}}}
"""


def dsn(port, user="app", dbname="app"):
    return f"host=127.0.0.1 port={port} user={user} dbname={dbname}"


def wait_served(port, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn(port), autocommit=True, connect_timeout=2) as c:
                c.execute("SELECT 1")
                return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_for(what, fn, timeout=15.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.fixture
def node(cluster_factory):
    c = cluster_factory(1)
    with psycopg.connect(c.dsn("pg1"), autocommit=True) as d:
        d.execute("CREATE TABLE fid (id int, v text)")
        d.execute("GRANT ALL ON fid TO app")
    return c


def start(pgrouter_factory, node, mode="transaction", max_size=4):
    port = free_port()
    p = pgrouter_factory(config(node, port, mode=mode, max_size=max_size), port)
    wait_served(port)
    return p


# ---- 5. a first packet that is not a startup packet ----------------------------------------

def first_packet(port, data):
    """Send data as the first bytes of a connection; every byte the server sends back until
    it closes (or 5 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        got = b""
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    return got, "closed"
                got += b
        except socket.timeout:
            return got, "open"
        except ConnectionResetError:
            return got, "reset"


def startup(params, version=196608):
    body = struct.pack("!i", version) + b"".join(
        k.encode() + b"\0" + v.encode() + b"\0" for k, v in params) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


NOT_STARTUP = {
    "terminate": b"X\x00\x00\x00\x04",
    "length_4": b"\x00\x00\x00\x04\x00\x00\x00\x00",
    "too_long": struct.pack("!i", 10_001 + 4) + b"\x00" * 64,
    "huge": struct.pack("!i", 1 << 30),
}


def test_a_first_packet_that_is_not_startup_closes_silently(node, pgrouter_factory):
    p = start(pgrouter_factory, node)
    for name, data in NOT_STARTUP.items():
        direct = first_packet(node.port("pg1"), data)
        via = first_packet(p.port, data)
        assert direct[0] == b"" and direct[1] in ("closed", "reset"), (name, direct)
        assert via == (b"", "closed"), (name, via)
    assert "invalid length of startup packet" in p.log_text()
    # Other startup errors keep their FATAL, as PostgreSQL's.
    for data in (startup([("database", "app")]), startup([("user", "app")], version=1234 << 16 | 5681)):
        direct, via = first_packet(node.port("pg1"), data), first_packet(p.port, data)
        assert direct[0][:1] == b"E" and via[0][:1] == b"E", (direct, via)
        for got in (direct[0], via[0]):
            assert b"SFATAL\0" in got
        sqlstate = lambda b: b.split(b"\0C")[1][:5]
        assert sqlstate(via[0]) == sqlstate(direct[0])
    # And pgrouter still serves.
    wait_served(p.port)
