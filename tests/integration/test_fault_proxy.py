"""Network faults between pgrouter and a real node (issue 16, item 13), made by tests/faultproxy.py,
a TCP proxy the node's config points at, the real node behind it:

- latency: a node behind 200 ms +- 50 ms shows it in SHOW NODES (latency_ms >= 150), is not
  marked unhealthy (health.timeout is well above it), and least-busy sends most concurrent reads
  to the fast replica;
- blackhole (the kernel still completes the handshake, nothing answers): the health checks time
  out and the node is unhealthy within 3 s, reads go elsewhere meanwhile, and once the path heals
  the node is healthy again and takes reads; a statement in flight on it when the path
  blackholes ends with 08006 naming the node within about a second of the node being marked
  unhealthy (not after its 30 s), the session goes on elsewhere, and the node serves again once
  the path heals;
- reset (RST on every connection) in the middle of a large result: the client gets an error
  naming the node (SQLSTATE class 08), pgrouter lives, and a new client's statement works;
- slicing into 1-byte chunks: simple and extended queries, a pgbench-like SELECT by key, a
  transaction and a large row all work unchanged (pgrouter reassembles what it relays).
"""
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from conftest import free_port, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import faultproxy  # noqa: E402


@pytest.fixture
def proxy_factory():
    """FaultProxy(free port -> 127.0.0.1:target) in threads; all stopped (threads joined,
    sockets closed) at teardown. Tests ask for it before pgrouter_factory, so pgrouter stops
    first and never sees its node's path vanish."""
    made = []

    def make(target_port):
        p = faultproxy.FaultProxy(free_port(), "127.0.0.1", target_port)
        made.append(p)
        return p

    yield make
    stuck = [t for p in made for t in p.stop()]
    assert not stuck, f"fault proxy threads still running after stop: {stuck}"


def config(port, nodes, health, routing="", pool="max_size: 10, acquire_timeout: 8s"):
    """nodes: (id, port) pairs."""
    lines = "\n".join(f"  - {{id: {n}, host: 127.0.0.1, port: {p}}}" for n, p in nodes)
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: scram-sha-256
  users: [{{name: app, password: app}}, {{name: admin, password: admin}}]
admin: {{users: [admin]}}
pool: {{mode: transaction, {pool}}}
health: {{{health}}}
{routing}
shutdown: {{drain_timeout: 1s}}
log: {{level: info}}
nodes:
{lines}
"""


def connect(port, dbname="app", user="app", **kw):
    return psycopg.connect(f"host=127.0.0.1 port={port} user={user} password={user} "
                           f"dbname={dbname} connect_timeout=10", autocommit=True, **kw)


def nodes(port):
    with connect(port, "pgrouter", "admin") as a:
        cur = a.execute("SHOW NODES")
        names = [d.name for d in cur.description]
        return {r[names.index("id")]: dict(zip(names, r)) for r in cur.fetchall()}


def states(port):
    return {k: v["state"] for k, v in nodes(port).items()}


def all_healthy(port, timeout=20):
    wait_for("every node healthy", lambda: set(states(port).values()) == {"healthy"},
             timeout=timeout, retry_on=(psycopg.Error,))


# ---- latency -------------------------------------------------------------------------------

def test_latency_shown_not_unhealthy_least_busy_prefers_the_fast_replica(
        cluster_factory, proxy_factory, pgrouter_factory):
    cluster = cluster_factory(3, replicas=2)
    slow = proxy_factory(cluster.port("pg3"))
    slow.latency(0.2, jitter=0.05, direction="down")
    port = free_port()
    pgrouter_factory(config(
        port, [("pg1", cluster.port("pg1")), ("pg2", cluster.port("pg2")), ("pg3", slow.port)],
        # Checks every 300 ms; a 3 s timeout is far above the 250 ms at most the proxy adds.
        health="interval: 300ms, timeout: 3s, unhealthy_threshold: 2",
        routing="routing: {reads: replicas, balance: least-busy, max_replica_lag: 30s}"),
        port)
    all_healthy(port)

    # The health checks measure the delay: at or above ~150 ms, the jitter's low end.
    got = wait_for("pg3's latency >= 150 ms",
                   lambda: (lambda n: n["pg3"]["latency_ms"] is not None and
                            float(n["pg3"]["latency_ms"]) >= 150 and n)(nodes(port)),
                   timeout=10)
    assert float(got["pg2"]["latency_ms"]) < 100, got["pg2"]

    # Concurrent reads: pg3 holds each one for 150-250 ms, pg2 answers at once.
    p2, p3 = cluster.port("pg2"), cluster.port("pg3")
    seen = {p2: 0, p3: 0}
    errors = []
    lock = threading.Lock()
    down_seen = []

    def reader():
        try:
            with connect(port) as c:
                for _ in range(8):
                    (p,) = c.execute("SELECT inet_server_port()").fetchone()
                    with lock:
                        seen[p] = seen.get(p, 0) + 1
        except psycopg.Error as e:
            errors.append(e)

    def watch():
        # The whole time, pg3 stays healthy: the latency is no reason to mark it down.
        while any(t.is_alive() for t in threads):
            down_seen.extend(s for s in states(port).values() if s != "healthy")
            time.sleep(0.2)

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    w = threading.Thread(target=watch, daemon=True)
    w.start()
    for t in threads:
        t.join(25)
    w.join(5)
    assert not any(t.is_alive() for t in threads), "the reads did not finish within 25 s"
    assert not errors, errors
    assert not down_seen, down_seen
    assert sum(seen.values()) == 48 and set(seen) == {p2, p3}, seen
    print(f"reads: pg2 {seen[p2]}, pg3 {seen[p3]}; pg3 latency {got['pg3']['latency_ms']} ms")
    # Generous: least-busy sends at least twice as many reads to the fast replica.
    assert seen[p2] >= 2 * seen[p3], seen
    assert states(port)["pg3"] == "healthy"


# ---- blackhole -----------------------------------------------------------------------------

def test_blackholed_node_unhealthy_within_3s_reads_elsewhere_then_back(
        cluster_factory, proxy_factory, pgrouter_factory):
    cluster = cluster_factory(2, replicas=1)
    hole = proxy_factory(cluster.port("pg2"))
    port = free_port()
    pgrouter_factory(config(
        port, [("pg1", cluster.port("pg1")), ("pg2", hole.port)],
        # One check missed by 1 s, then a second (its reconnect never answered): about 2.3 s
        # at worst from the blackhole to unhealthy.
        health="interval: 300ms, timeout: 1s, unhealthy_threshold: 2, "
               "backoff: {initial: 200ms, max: 500ms}",
        routing="routing: {reads: replicas, balance: least-busy, max_replica_lag: 30s}",
        pool="max_size: 10, acquire_timeout: 8s, connect_timeout: 2s"),
        port)
    all_healthy(port)
    p1, p2 = cluster.port("pg1"), cluster.port("pg2")
    with connect(port) as c:
        assert c.execute("SELECT inet_server_port()").fetchone()[0] == p2

        accepted_before = hole.accepted
        hole.blackhole(True)
        t0 = time.monotonic()
        wait_for("pg2 unhealthy", lambda: states(port)["pg2"] in ("unhealthy", "reconnecting"),
                 timeout=6, step=0.05)
        took = time.monotonic() - t0
        print(f"pg2 unhealthy {took:.2f} s after the blackhole")
        assert took <= 3.0, f"pg2 was marked unhealthy {took:.2f} s after the blackhole"
        # The second failed check was a reconnect: the proxy accepted it (as a kernel would)
        # and never answered, and the health check's own timer ended it.
        assert hole.accepted > accepted_before, (hole.accepted, accepted_before)
        assert "timed out" in (nodes(port)["pg2"]["last_error"] or ""), nodes(port)["pg2"]
        assert states(port)["pg1"] == "healthy"

        # Meanwhile reads go to the primary, at once.
        for _ in range(5):
            t1 = time.monotonic()
            assert c.execute("SELECT inet_server_port()").fetchone()[0] == p1
            assert time.monotonic() - t1 < 2.0
        with connect(port) as d:
            assert d.execute("SELECT inet_server_port()").fetchone()[0] == p1

        hole.blackhole(False)
        wait_for("pg2 healthy again", lambda: states(port)["pg2"] == "healthy", timeout=15,
                 retry_on=(psycopg.Error,))
        wait_for("a read on pg2 again",
                 lambda: c.execute("SELECT inet_server_port()").fetchone()[0] == p2,
                 timeout=10)


def test_blackhole_mid_statement_ends_it_with_08006_when_the_node_turns_unhealthy(
        cluster_factory, proxy_factory, pgrouter_factory):
    """Issue 16, item 1, on the network path: a statement in flight on pg2 when the path to it
    starts dropping everything (both ways, the connections kept open: no RST, no FIN, as a
    dead link or a firewall does) ends with 08006 naming pg2 within about a second of pg2
    being marked unhealthy, not when the node's 30 s sleep would end."""
    cluster = cluster_factory(2, replicas=1)
    hole = proxy_factory(cluster.port("pg2"))
    port = free_port()
    pgrouter_factory(config(
        port, [("pg1", cluster.port("pg1")), ("pg2", hole.port)],
        # As in the blackhole test above: unhealthy about 2.3 s at worst after the blackhole.
        health="interval: 300ms, timeout: 1s, unhealthy_threshold: 2, "
               "backoff: {initial: 200ms, max: 500ms}",
        pool="max_size: 10, acquire_timeout: 8s, connect_timeout: 2s"),
        port)
    all_healthy(port)
    p1, p2 = cluster.port("pg1"), cluster.port("pg2")
    long_sql = "/* pgrouter: node=pg2 */ SELECT pg_sleep(30) AS pgr_blackhole_mid_statement"
    outcome = {}

    def run(c):
        try:
            c.execute(long_sql)
            outcome["result"] = "finished"
        except psycopg.Error as e:
            outcome["error"] = e
        outcome["ended"] = time.monotonic()

    c = connect(port)
    t = threading.Thread(target=run, args=(c,), daemon=True)
    try:
        t.start()
        with psycopg.connect(cluster.dsn("pg2"), autocommit=True) as d:
            wait_for("the statement running on pg2", lambda: d.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query = %s AND state = 'active'",
                (long_sql,)).fetchone()[0] == 1, timeout=10)
        assert not outcome, outcome

        hole.blackhole(True)
        t0 = time.monotonic()
        # When SHOW NODES first shows pg2 down (polled through pg1's side: the admin console
        # needs no node).
        wait_for("pg2 unhealthy", lambda: states(port)["pg2"] in ("unhealthy", "reconnecting"),
                 timeout=8, step=0.05)
        unhealthy_at = time.monotonic()
        print(f"pg2 unhealthy {unhealthy_at - t0:.2f} s after the blackhole")
        # Bounded well under the 30 s sleep: the health detection (about 2.3 s) and a second.
        t.join(max(0.0, t0 + 8.0 - time.monotonic()))
        assert not t.is_alive(), (
            f"the statement on pg2 still runs {time.monotonic() - t0:.1f} s after the blackhole "
            f"({time.monotonic() - unhealthy_at:.1f} s after pg2 was marked unhealthy)")
        e = outcome.get("error")
        assert e is not None, outcome
        assert e.sqlstate == "08006", (e.sqlstate, str(e))
        assert 'node "pg2"' in str(e), str(e)
        print(f"the statement ended {outcome['ended'] - t0:.2f} s after the blackhole: {e}")
        # Within about a second of pg2 being marked unhealthy (SHOW NODES is polled every
        # 50 ms, so the statement may end a little before the poll sees it).
        assert outcome["ended"] - unhealthy_at < 1.5, outcome["ended"] - unhealthy_at
        assert outcome["ended"] - t0 < 6.0, outcome["ended"] - t0
        assert nodes(port)["pg2"]["state"] in ("unhealthy", "reconnecting")

        # The session goes on, on the other node (reads go to the primary meanwhile), and so
        # does a new one; a statement hinted to pg2 fails at once with 08006.
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert c.execute("SELECT inet_server_port()").fetchone()[0] == p1
        with connect(port) as n:
            assert n.execute("SELECT inet_server_port()").fetchone()[0] == p1
        t1 = time.monotonic()
        with pytest.raises(psycopg.errors.ConnectionFailure) as hinted:
            c.execute("/* pgrouter: node=pg2 */ SELECT 1")
        assert 'node "pg2"' in str(hinted.value) and time.monotonic() - t1 < 1.0

        # The path heals: pg2 is healthy again and serves the same session.
        hole.blackhole(False)
        wait_for("pg2 healthy again", lambda: states(port)["pg2"] == "healthy", timeout=15,
                 retry_on=(psycopg.Error,))
        wait_for("a statement on pg2 again", lambda: c.execute(
            "/* pgrouter: node=pg2 */ SELECT inet_server_port()").fetchone()[0] == p2,
            timeout=10, retry_on=(psycopg.errors.ConnectionFailure,))
    finally:
        hole.blackhole(False)
        t.join(35)
        c.close()


# ---- reset ---------------------------------------------------------------------------------

def reset_mid_result(cluster_factory, proxy_factory, pgrouter_factory):
    """A client reads 20 MB of rows from pg1, throttled to 2 MB/s by the proxy; after 1.5 s
    every connection through the proxy is reset. Returns (how the client's statement ended,
    the router, its port)."""
    cluster = cluster_factory(1)
    px = proxy_factory(cluster.port("pg1"))
    port = free_port()
    router = pgrouter_factory(config(
        port, [("pg1", px.port)],
        health="interval: 300ms, timeout: 2s, unhealthy_threshold: 2, "
               "backoff: {initial: 200ms, max: 500ms}"), port)
    all_healthy(port)
    px.bandwidth(2_000_000, direction="down")
    outcome = {}
    started = threading.Event()

    def big():
        try:
            with connect(port) as c:
                started.set()
                cur = c.cursor()
                cur.execute("SELECT repeat('x', 1000) FROM generate_series(1, 20000)")
                outcome["rows"] = len(cur.fetchall())
        except psycopg.Error as e:
            outcome["error"] = e
        except Exception as e:  # noqa: BLE001 (any other end is a failure, reported below)
            outcome["other"] = e

    t = threading.Thread(target=big, daemon=True)
    t.start()
    assert started.wait(10)
    time.sleep(1.5)
    assert not outcome, f"the result was not streaming when the reset came: {outcome}"
    assert px.forwarded["down"] > 500_000, px.forwarded  # well into the rows
    assert px.reset() >= 1
    t.join(15)
    assert not t.is_alive(), "the client still waits 15 s after the reset"
    assert "error" in outcome, outcome
    px.clear()
    return outcome["error"], router, port


def test_reset_mid_result_ends_the_statement_pgrouter_lives(cluster_factory, proxy_factory,
                                                            pgrouter_factory):
    e, router, port = reset_mid_result(cluster_factory, proxy_factory, pgrouter_factory)
    assert isinstance(e, psycopg.OperationalError), repr(e)
    assert router.proc.poll() is None, "pgrouter exited"
    # Part of a DataRow had gone to the client: nothing may follow it (an ErrorResponse there
    # would be read as the rest of the row, maybe as row data), so the client's connection
    # ends as when PostgreSQL dies mid-row, and pgrouter's log names the node. (A reset that
    # lands on a message boundary, about 1 in 1,000, gets 08006 naming the node instead.)
    assert "server closed the connection unexpectedly" in str(e) or "pg1" in str(e), str(e)
    log = router.log_text()
    assert ("its server connection to node pg1 ended in the middle of a message" in log or
            'server connection to node "pg1" was lost' in log), log[-2000:]
    # The next statement of a new client works, at once: the reset pooled and health
    # connections are not reused.
    with connect(port) as c:
        assert c.execute("SELECT count(*) FROM generate_series(1, 20000)").fetchone() == (20000,)
        assert c.execute("SELECT repeat('x', 1000) FROM generate_series(1, 2000)"
                         ).fetchall()[-1] == ("x" * 1000,)
    assert states(port)["pg1"] == "healthy"
    assert router.proc.poll() is None


# ---- slicing -------------------------------------------------------------------------------

def test_one_byte_slices_change_nothing(cluster_factory, proxy_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    px = proxy_factory(cluster.port("pg1"))
    with psycopg.connect(cluster.dsn("pg1"), autocommit=True) as c:
        c.execute("CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int, "
                  "filler char(84))")
        c.execute("INSERT INTO accounts SELECT g, 1, g * 10, '' FROM generate_series(1, 1000) g")
        c.execute("GRANT ALL ON accounts TO PUBLIC")
    px.slicing(1, gap=0.0002)
    port = free_port()
    router = pgrouter_factory(config(
        port, [("pg1", px.port)],
        health="interval: 500ms, timeout: 5s, unhealthy_threshold: 3"), port)
    all_healthy(port, timeout=30)
    t0 = time.monotonic()
    with connect(port) as c:
        print(f"login {time.monotonic() - t0:.2f} s")
        # Simple protocol.
        cur = psycopg.ClientCursor(c)
        cur.execute("SELECT 1 AS a, 'two' AS b, NULL::int AS c; SELECT 42")
        assert cur.fetchall() == [(1, "two", None)]
        assert cur.nextset() and cur.fetchall() == [(42,)]
        # Extended protocol, a pgbench-like SELECT by key, unnamed and prepared.
        for aid in (1, 17, 500, 1000):
            assert c.execute("SELECT abalance FROM accounts WHERE aid = %s",
                             (aid,)).fetchone() == (aid * 10,)
            assert c.execute("SELECT abalance FROM accounts WHERE aid = %s", (aid,),
                             prepare=True).fetchone() == (aid * 10,)
        # A transaction with a write, and an error inside another.
        with c.transaction():
            c.execute("UPDATE accounts SET abalance = abalance + %s WHERE aid = %s", (5, 17))
            assert c.execute("SELECT abalance FROM accounts WHERE aid = 17").fetchone() == (175,)
        with pytest.raises(psycopg.errors.DivisionByZero):
            c.execute("SELECT 1 / 0")
        assert c.execute("SELECT 'still' || ' here'").fetchone() == ("still here",)
        # One row of 5 kB and many small rows, each byte its own segment.
        assert c.execute("SELECT repeat('y', 5000)").fetchone()[0] == "y" * 5000
        assert c.execute("SELECT sum(abalance), count(*) FROM accounts WHERE aid <= 50"
                         ).fetchone() == (sum(range(10, 510, 10)) + 5, 50)
    print(f"session {time.monotonic() - t0:.2f} s, {px.forwarded} bytes in {px.sends} sends")
    assert time.monotonic() - t0 < 25
    assert px.accepted >= 2  # the health connection and at least one pooled one
    # Every byte from the node went on alone.
    assert px.forwarded["down"] > 5000 and px.sends["down"] == px.forwarded["down"], (
        px.forwarded, px.sends)
    assert states(port)["pg1"] == "healthy"
    assert router.proc.poll() is None
