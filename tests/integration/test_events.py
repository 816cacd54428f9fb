"""Node events and what the admin console and HTTP say about a node, against real nodes:
LISTEN pgrouter_events delivers all six events with the README's payloads (pool_stats at the
stats interval), one node_health event per real change however many reconnects fail, events a
command causes come after its reply as PostgreSQL orders its own NOTIFY, a client that stops
reading gets a bounded queue and an events_dropped count; SHOW NODES tells when
the last error happened and shows an unhealthy node's role, latency, lag and LSN as unknown;
/metrics prints numbers in their shortest exact form."""
import datetime
import decimal
import json
import socket
import struct
import time

import psycopg

from conftest import free_port
from test_admin import admin, admin_conn, by_id, http_get, wait_for

INTERVAL = 0.2  # health.interval, which is also the pool_stats interval


def config(cluster, port, http_port, nodes=("pg1", "pg2")):
    node_yaml = "\n".join(
        f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}" for n in nodes)
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
admin: {{http: '127.0.0.1:{http_port}'}}
pool: {{mode: transaction, max_size: 10, acquire_timeout: 5s}}
health: {{interval: 200ms, timeout: 1s, unhealthy_threshold: 2,
          backoff: {{initial: 200ms, max: 1s, jitter: 0.2}}}}
shutdown: {{drain_timeout: 1s}}
log: {{level: info}}
nodes:
{node_yaml}
"""


class Listener:
    """An admin session that LISTENs on pgrouter_events and keeps every event it gets."""

    def __init__(self, port):
        self.conn = admin_conn(port)
        self.conn.prepare_threshold = None  # the console speaks the simple protocol only
        self.events = []
        self.conn.add_notify_handler(self._got)
        assert self.conn.execute("LISTEN pgrouter_events").statusmessage == "LISTEN"

    def _got(self, n):
        assert n.channel == "pgrouter_events"
        self.events.append((time.monotonic(), json.loads(n.payload)))

    def poll(self):
        self.conn.execute("SHOW VERSION")  # a round trip delivers what has arrived

    def of(self, kind, **match):
        return [e for _, e in self.events if e["event"] == kind and
                all(e.get(k) == v for k, v in match.items())]

    def wait(self, what, pred, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if pred():
                return
            time.sleep(0.05)
        raise AssertionError(f"no {what}; events: {[e for _, e in self.events][-30:]}")


def test_listen_delivers_all_six_events(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(3)
    port, http_port = free_port(), free_port()
    pgrouter_factory(config(cluster, port, http_port), port)
    wait_for("two healthy nodes", lambda: {i for i, r in by_id(admin(port, "SHOW NODES")).items()
                                           if r["state"] == "healthy"} == {"pg1", "pg2"})
    ev = Listener(port)
    quiet = admin_conn(port)  # not listening: gets nothing
    quiet.prepare_threshold = None
    quiet_got = []
    quiet.add_notify_handler(quiet_got.append)
    app = psycopg.connect(f"host=127.0.0.1 port={port} user=app dbname=app", autocommit=True)
    app_got = []
    app.add_notify_handler(app_got.append)
    try:
        # pool_stats, every interval, with every node's counters.
        t0 = time.monotonic()
        ev.wait("three pool_stats", lambda: len(ev.of("pool_stats")) >= 3)
        time.sleep(1.0)
        ev.poll()
        stats = [(t, e) for t, e in ev.events if e["event"] == "pool_stats"]
        span = stats[-1][0] - t0
        # Not faster than the interval (a little slack for delivery in bursts), and not stuck.
        assert 3 <= len(stats) <= span / INTERVAL + 3, (len(stats), span)
        for _, e in stats:
            assert [p["node"] for p in e["pools"]] == ["pg1", "pg2"], e
            for p in e["pools"]:
                assert set(p) == {"node", "total", "idle", "active", "connecting", "waiting",
                                  "max", "acquired", "timed_out", "connect_failures"}, p
                assert p["max"] == 10 and all(isinstance(v, int) for k, v in p.items()
                                              if k != "node"), p
        # A query shows in the counters.
        acquired = stats[-1][1]["pools"][0]["acquired"] + stats[-1][1]["pools"][1]["acquired"]
        app.execute("SELECT 1")
        ev.wait("the acquire counted", lambda: sum(
            p["acquired"] for p in ev.of("pool_stats")[-1]["pools"]) > acquired)

        # A killed node: its health connection goes (node_disconnected), then one node_health.
        cluster.fault("kill", "pg2")
        ev.wait("pg2 unhealthy", lambda: ev.of("node_health", node="pg2", to="unhealthy"))
        disc = ev.of("node_disconnected", node="pg2")
        assert disc and isinstance(disc[0].get("error"), str) and disc[0]["error"], disc
        h = ev.of("node_health", node="pg2")
        assert h[0]["from"] == "healthy" and h[0]["error"], h
        # Reconnects fail every 0.2-1 s for three seconds: still that one event.
        failures = admin(port, "SHOW NODES")[1]["consecutive_failures"]
        time.sleep(3.0)
        ev.poll()
        assert admin(port, "SHOW NODES")[1]["consecutive_failures"] >= failures + 3
        assert ev.of("node_health", node="pg2") == h, ev.of("node_health", node="pg2")
        assert not ev.of("node_health", to="reconnecting")

        # Back: node_connected, then unhealthy -> healthy.
        cluster.fault("restart", "pg2")
        ev.wait("pg2 healthy", lambda: ev.of("node_health", node="pg2", to="healthy"), 20)
        assert ev.of("node_health", node="pg2") == h + [{"event": "node_health", "node": "pg2",
                                                           "from": "unhealthy", "to": "healthy"}]
        assert ev.of("node_connected", node="pg2")
        assert not ev.of("node_health", node="pg1")  # nothing happened to pg1

        # Added and removed at runtime.
        assert admin(port, f"ADD NODE pg3 'host=127.0.0.1 port={cluster.port('pg3')}' "
                           "WEIGHT 3") == "ADD NODE"
        ev.wait("node_added", lambda: ev.of("node_added"))
        assert ev.of("node_added") == [{"event": "node_added", "node": "pg3", "host": "127.0.0.1",
                                        "port": cluster.port("pg3")}]
        ev.wait("pg3 in pool_stats", lambda: [p["node"] for p in ev.of("pool_stats")[-1][
            "pools"]] == ["pg1", "pg2", "pg3"])
        assert admin(port, "REMOVE NODE pg3") == "REMOVE NODE"
        ev.wait("node_removed", lambda: ev.of("node_removed"))
        assert ev.of("node_removed") == [{"event": "node_removed", "node": "pg3"}]
        assert ev.of("node_health", node="pg3")[-1]["to"] == "removed"
        # Every event is one of the six, and only listeners got any.
        assert {e["event"] for _, e in ev.events} == {
            "pool_stats", "node_disconnected", "node_health", "node_connected", "node_added",
            "node_removed"}
        quiet.execute("SHOW VERSION")
        app.execute("SELECT 1")
        assert quiet_got == [] and app_got == []
    finally:
        ev.conn.close()
        quiet.close()
        app.close()


# ---- the order of a command's reply and the events it causes, compared with PostgreSQL -----

def raw_connect(port, user, database):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    msgs = read_until_ready(s)
    assert msgs[-1][0] == "Z", msgs
    return s


def read_until_ready(s):
    """Messages (type, body) up to and including ReadyForQuery."""
    buf, msgs = b"", []
    while True:
        while len(buf) >= 5:
            t, n = chr(buf[0]), struct.unpack("!I", buf[1:5])[0]
            if len(buf) < 1 + n:
                break
            msgs.append((t, buf[5:1 + n]))
            buf = buf[1 + n:]
            if t == "Z":
                assert not buf, buf
                return msgs
        chunk = s.recv(65536)
        assert chunk, msgs
        buf += chunk


def query(s, sql):
    body = sql.encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!I", 4 + len(body)) + body)
    return read_until_ready(s)


def notification(body):
    pid, = struct.unpack("!i", body[:4])
    channel, payload = body[4:].split(b"\0")[:2]
    return channel.decode(), payload.decode()


def shape(msgs, skip_payload=lambda p: False):
    """The message types of a reply, notices left out, and notifications whose payload
    skip_payload accepts (events that merely happened to come then)."""
    out = []
    for t, b in msgs:
        if t == "N" or (t == "A" and skip_payload(notification(b)[1])):
            continue
        out.append(t)
    return out


def test_events_a_command_causes_follow_its_reply_as_in_postgresql(cluster_factory,
                                                                   pgrouter_factory):
    cluster = cluster_factory(2)
    port, http_port = free_port(), free_port()
    p = pgrouter_factory(config(cluster, port, http_port, nodes=("pg1",)), port)
    wait_for("pg1 healthy", lambda: admin(port, "SHOW NODES")[0]["state"] == "healthy")

    # PostgreSQL: a session that LISTENs and runs NOTIFY gets the notification after the
    # command's CommandComplete and before its ReadyForQuery.
    d = raw_connect(cluster.port("pg1"), "postgres", "app")
    query(d, "LISTEN ch")
    direct = query(d, "NOTIFY ch, 'p'")
    d.close()
    assert shape(direct) == ["C", "A", "Z"], direct

    # pgrouter: the node_added of an ADD NODE (and the node_removed a RELOAD starts) is
    # told in the same place, whatever periodic pool_stats come meanwhile.
    a = raw_connect(port, "admin", "pgrouter")
    assert shape(query(a, "LISTEN pgrouter_events")) == ["C", "Z"]
    stats = lambda payload: json.loads(payload)["event"] == "pool_stats"
    reply = query(a, f"ADD NODE pg2 'host=127.0.0.1 port={cluster.port('pg2')}'")
    assert shape(reply, stats) == ["C", "A", "Z"], reply
    a_msgs = [json.loads(notification(b)[1]) for t, b in reply if t == "A"]
    assert [e["event"] for e in a_msgs if e["event"] != "pool_stats"] == ["node_added"]
    c_at = [t for t, _ in reply].index("C")
    added_at = next(i for i, (t, b) in enumerate(reply) if t == "A" and
                    json.loads(notification(b)[1])["event"] == "node_added")
    assert c_at < added_at < len(reply) - 1
    assert reply[c_at][1] == b"ADD NODE\0"
    a.close()
    p.stop()


# ---- what SHOW NODES, /status and /metrics say about a failed node ----------------------------

def test_show_nodes_after_a_failure(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(2, replicas=1)
    port, http_port = free_port(), free_port()
    pgrouter_factory(config(cluster, port, http_port), port)
    wait_for("two healthy nodes", lambda: all(
        r["state"] == "healthy" for r in admin(port, "SHOW NODES")))
    pg2 = by_id(admin(port, "SHOW NODES"))["pg2"]
    assert pg2["role_reported"] == "replica" and pg2["latency_ms"] > 0 and pg2["lsn"]
    assert pg2["lag_s"] is not None and pg2["last_error"] is None
    assert pg2["last_error_at"] is None

    before = datetime.datetime.now(datetime.timezone.utc)
    cluster.fault("kill", "pg2")
    wait_for("pg2 unhealthy", lambda: by_id(admin(port, "SHOW NODES"))["pg2"]["state"] in
             ("unhealthy", "reconnecting"), timeout=5)
    pg2 = by_id(admin(port, "SHOW NODES"))["pg2"]
    # What the last good check saw is not shown as if current.
    assert pg2["role_reported"] is None and pg2["latency_ms"] is None, pg2
    assert pg2["lag_s"] is None and pg2["lsn"] is None, pg2
    assert pg2["role_configured"] == "auto"
    # The error and when it happened (a timestamptz, as PostgreSQL's own columns).
    assert pg2["last_error"], pg2
    at = pg2["last_error_at"]
    after = datetime.datetime.now(datetime.timezone.utc)
    assert isinstance(at, datetime.datetime) and at.tzinfo is not None, at
    assert before - datetime.timedelta(seconds=1) <= at <= after, (before, at, after)
    doc = json.loads(http_get(http_port, "/status")[2])
    st = {n["id"]: n for n in doc["nodes"]}["pg2"]
    assert st["role_reported"] is None and st["latency_ms"] is None and st["lag_s"] is None
    assert st["lsn"] is None and st["last_error"] and st["last_error_at"]
    metrics = http_get(http_port, "/metrics")[2]
    assert 'pgrouter_node_latency_seconds{node="pg2"}' not in metrics
    assert 'pgrouter_node_latency_seconds{node="pg1"}' in metrics
    # The healthy node keeps its values.
    pg1 = by_id(admin(port, "SHOW NODES"))["pg1"]
    assert pg1["role_reported"] == "primary" and pg1["latency_ms"] > 0 and pg1["lsn"]

    cluster.fault("restart", "pg2")
    wait_for("pg2 healthy", lambda: by_id(admin(port, "SHOW NODES"))["pg2"]["state"] ==
             "healthy", timeout=20)
    pg2 = by_id(admin(port, "SHOW NODES"))["pg2"]
    assert pg2["role_reported"] == "replica" and pg2["latency_ms"] > 0 and pg2["lsn"]
    # The error stays, with its time: it is from before the node came back.
    assert pg2["last_error"] and pg2["last_error_at"] <= datetime.datetime.now(
        datetime.timezone.utc)
    assert pg2["consecutive_failures"] == 0


def significant_digits(text):
    return len(decimal.Decimal(text).normalize().as_tuple().digits)


def test_metrics_numbers_are_shortest_exact(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(2)
    port, http_port = free_port(), free_port()
    pgrouter_factory(config(cluster, port, http_port), port)
    wait_for("two healthy nodes", lambda: all(
        r["state"] == "healthy" for r in admin(port, "SHOW NODES")))
    seen_fraction = False
    for _ in range(5):
        body = http_get(http_port, "/metrics")[2]
        for line in body.splitlines():
            if line.startswith("#") or not line:
                continue
            value = line.rsplit(" ", 1)[1]
            v = float(value)
            # Exact: reads back as the same double; shortest: no more digits than Python's
            # repr (itself the shortest round-trip form) needs.
            shortest = repr(v)
            assert significant_digits(value) <= significant_digits(shortest), (line, shortest)
            seen_fraction |= "latency" in line and "." in value
        time.sleep(INTERVAL)
    assert seen_fraction, body  # the latencies are fractions of a second: the check bit


class Stream:
    """Protocol messages read from a socket that may also carry notifications at any time."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def read(self, until, timeout):
        """Messages (type, body) until until(messages) holds or timeout passes."""
        msgs = []
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline and not until(msgs):
            while len(self.buf) >= 5 and not until(msgs):
                t, n = chr(self.buf[0]), struct.unpack("!I", self.buf[1:5])[0]
                if len(self.buf) < 1 + n:
                    break
                msgs.append((t, self.buf[5:1 + n]))
                self.buf = self.buf[1 + n:]
            if until(msgs):
                break
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            self.buf += chunk
        return msgs

    def query(self, sql, until=lambda msgs: any(t == "Z" for t, _ in msgs), timeout=10):
        body = sql.encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!I", 4 + len(body)) + body)
        return self.read(until, timeout)


def test_a_session_that_does_not_read_gets_a_bounded_queue(cluster_factory, pgrouter_factory):
    """A listening client that stops reading: its events wait in a bounded queue, the oldest
    dropped; when it reads again it gets an events_dropped count, then the events kept, in
    order. Its own commands are answered meanwhile, and other sessions too."""
    cluster = cluster_factory(1)
    port, http_port = free_port(), free_port()
    # pool_stats every 2 ms, each ~9 kB (pg1 and 49 nodes nothing listens for).
    cfg = config(cluster, port, http_port, nodes=("pg1",)).replace(
        "health: {interval: 200ms", "health: {interval: 2ms") + "".join(
        f"  - {{id: dead{i}, host: 127.0.0.1, port: 1}}\n" for i in range(49))
    pgrouter_factory(cfg, port)
    wait_for("pg1 healthy", lambda: admin(port, "SHOW NODES")[0]["state"] == "healthy")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    params = b"user\0admin\0database\0pgrouter\0\0"
    s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    read_until_ready(s)
    st = Stream(s)
    assert [t for t, _ in st.query("LISTEN pgrouter_events")][-2:] == ["C", "Z"]
    # Not reading for 3 s: megabytes of pool_stats, far past what the socket takes and past
    # the queue's bound (1000 events, 1 MB).
    time.sleep(3.0)
    assert admin(port, "SHOW VERSION")  # the loop serves others meanwhile

    seen = {"Z": False, "dropped": False, "after": 0, "n": 0}

    def enough(msgs):  # looks at the messages it has not seen yet only
        for t, b in msgs[seen["n"]:]:
            if t == "Z":
                seen["Z"] = True
            elif t == "A" and b"events_dropped" in b:
                seen["dropped"] = True
            elif t == "A" and seen["dropped"]:
                seen["after"] += 1
        seen["n"] = len(msgs)
        return seen["Z"] and seen["after"] > 50

    msgs = st.query("SHOW VERSION", until=enough, timeout=20)
    s.close()
    kinds = [t for t, _ in msgs]
    assert "Z" in kinds and kinds.count("C") == 1, kinds[:10]  # SHOW VERSION was answered
    events = [json.loads(notification(b)[1]) for t, b in msgs if t == "A"]
    dropped = [e for e in events if e["event"] == "events_dropped"]
    assert len(dropped) == 1 and dropped[0]["count"] > 0, (len(events), len(msgs), st.buf[:20])
    assert all(e["event"] in ("pool_stats", "events_dropped") for e in events)
