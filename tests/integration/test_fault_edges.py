"""Fault edges (issue 16, item 1) with real nodes and tests/cluster.sh hang / resume:

- a node stopped with SIGSTOP (the kernel still acknowledges) is marked unhealthy by the health
  checker; at that moment every statement in flight on it ends with 08006 naming the node: as
  an ERROR on a session outside a transaction, which goes on (on another node), and as FATAL on
  one inside a transaction (the transaction is lost, as when a server connection breaks). Its
  server connections are closed, not returned to the pool; statements on the other nodes are
  untouched;
- a statement hinted to a node already known to be unhealthy fails at once (08006 naming it),
  not after pool.connect_timeout; once the node is resumed it serves again;
- pool.query_timeout (as PgBouncer's): a statement running longer ends the session with FATAL
  08P01 "query timeout" and its server connection is closed (the statement canceled); a shorter
  one is untouched;
- pool.idle_transaction_timeout (as PgBouncer's, with PostgreSQL's own words and 25P03): a
  client idle inside a transaction longer than that is disconnected, its server connection
  rolled back and returned clean to the pool (a max_size 1 pool serves the next client, which
  sees nothing of the rolled-back work); idle outside a transaction, or busy inside one, is not
  disconnected."""
import threading
import time

import psycopg
import pytest

from conftest import connect, free_port, show, wait_for

HEALTH_TIMEOUT = 1.5  # generous: a loaded machine must not mark the healthy nodes down


def config(cluster, port, nodes, pool="max_size: 4, connect_timeout: 5s, acquire_timeout: 8s",
           health=None):
    lines = "\n".join(f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}"
                      for n in nodes)
    health = health or (f"interval: 300ms, timeout: {int(HEALTH_TIMEOUT * 1000)}ms, "
                        "unhealthy_threshold: 2, backoff: {initial: 200ms, max: 500ms}")
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: scram-sha-256
  users: [{{name: app, password: app}}, {{name: admin, password: admin}}]
admin: {{users: [admin]}}
pool: {{mode: transaction, {pool}}}
health: {{{health}}}
shutdown: {{drain_timeout: 1s}}
log: {{level: info}}
nodes:
{lines}
"""


def by_node(port, what):
    return {r["node"] if "node" in r else r["id"]: r for r in show(port, what)}


class Background:
    """Run one statement on conn in a thread; remember how it ended and when."""

    def __init__(self, conn, sql):
        self.conn, self.sql = conn, sql
        self.error = None
        self.result = None
        self.took = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.t0 = time.monotonic()
        self.thread.start()

    def run(self):
        try:
            self.result = self.conn.execute(self.sql).fetchall()
        except psycopg.Error as e:
            self.error = e
        self.took = time.monotonic() - self.t0

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


def test_unhealthy_node_ends_its_statements_and_fails_fast(cluster_factory, pgrouter_factory):
    three = cluster_factory(3)
    port = free_port()
    pgrouter_factory(config(three, port, ["pg1", "pg2", "pg3"]), port)
    wait_for("all healthy",
             lambda: all(r["state"] == "healthy" for r in show(port, "NODES")))
    p1, p3 = three.port("pg1"), three.port("pg3")

    outside = connect(port)   # no transaction: gets an ERROR and goes on
    inside = connect(port)    # in a transaction on pg3: loses it, FATAL
    other = connect(port)     # a long statement on pg1: must not be touched
    longest = connect(port)   # a long statement on pg3: ended, and canceled there
    hinted = "/* pgrouter: node=pg3 */ SELECT pg_sleep(0), inet_server_port()"
    inside.execute("BEGIN")
    assert inside.execute(hinted).fetchone()[1] == p3
    assert outside.execute(hinted).fetchone()[1] == p3
    pools = by_node(port, "POOLS")["pg3"]
    assert pools["active"] == 1 and pools["idle"] == 1, pools  # inside's, and outside's back

    long_sql = "/* pgrouter: node=pg3 */ SELECT pg_sleep(60) AS pgr_fault_edges_long"
    running = Background(longest, long_sql)
    with psycopg.connect(three.dsn("pg3"), autocommit=True) as d:
        def long_runs(d=d):
            return d.execute("SELECT count(*) FROM pg_stat_activity WHERE query = %s",
                             (long_sql,)).fetchone()[0] == 1
        wait_for("the long statement running on pg3", long_runs)

    three.fault("hang", "pg3")
    threads = [running]
    try:
        slow_other = Background(other, "/* pgrouter: node=pg1 */ "
                                       "SELECT pg_sleep(4), inet_server_port()")
        a = Background(outside, hinted)            # sent just after the node froze
        b = Background(inside, "SELECT pg_sleep(0), inet_server_port()")
        threads = [running, slow_other, a, b]
        # Marked unhealthy after 2 failed checks of HEALTH_TIMEOUT each: both end then.
        bound = 2 * HEALTH_TIMEOUT + 0.3 * 2 + 3.0
        assert a.join(bound + 1) and b.join(bound + 1), "a statement on the frozen node hangs"
        assert running.join(1), "the long statement on the frozen node hangs"
        for t in (a, b, running):
            # On a connection, or waiting for one (a new one to a frozen node never comes).
            assert t.error is not None and ('node "pg3" was lost' in str(t.error) or
                                            'node "pg3" is unhealthy' in str(t.error)), t.error
            assert t.took < bound, t.took
        # Outside a transaction: an ERROR, 08006, on a session that goes on.
        assert a.error.sqlstate == "08006" and running.error.sqlstate == "08006"
        assert "was lost" in str(running.error)
        assert longest.execute("SELECT 1").fetchone() == (1,)
        # Inside one: FATAL, the session ends (libpq reports it with the closed connection).
        assert isinstance(b.error, psycopg.OperationalError), b.error
        assert "server closed the connection" in str(b.error) or b.error.sqlstate == "08006"
        assert by_node(port, "NODES")["pg3"]["state"] in ("unhealthy", "reconnecting")
        # Outside a transaction the session goes on (elsewhere); inside, it is over.
        assert not outside.closed
        assert outside.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert outside.execute("SELECT inet_server_port()").fetchone()[0] != p3
        with pytest.raises(psycopg.OperationalError):
            inside.execute("SELECT 1")
        # pg3's connections are closed, not back in the pool.
        pools = by_node(port, "POOLS")
        assert pools["pg3"]["total"] == 0 and pools["pg3"]["idle"] == 0, pools["pg3"]
        # The healthy node's statement was not touched.
        assert slow_other.join(10)
        assert slow_other.error is None and slow_other.result[0][1] == p1

        # Known unhealthy now: a hinted statement fails at once, not after connect_timeout.
        for _ in range(3):
            t0 = time.monotonic()
            with pytest.raises(psycopg.errors.ConnectionFailure) as e:
                outside.execute(hinted)
            took = time.monotonic() - t0
            assert e.value.sqlstate == "08006"
            assert 'node "pg3" is unhealthy' in str(e.value), str(e.value)
            assert f"127.0.0.1:{p3}" in str(e.value)
            assert took < 1.0, took
            assert not outside.closed
        # So does pgrouter.route node:pg3.
        outside.execute("SET pgrouter.route = 'node:pg3'")
        with pytest.raises(psycopg.errors.ConnectionFailure):
            outside.execute("SELECT 1")
        outside.execute("RESET pgrouter.route")
        assert outside.execute("SELECT 1").fetchone() == (1,)
    finally:
        three.fault("resume", "pg3")
        for t in threads:
            t.join(15)

    # Resumed, it serves again (each failed try asks for a probe, so this does not wait out
    # the backoff).
    def serves():
        try:
            return outside.execute(hinted).fetchone()[1] == p3
        except psycopg.errors.ConnectionFailure:
            time.sleep(0.2)
            return False
    wait_for("pg3 serving again", serves, timeout=30)
    assert by_node(port, "NODES")["pg3"]["state"] == "healthy"
    # The long statement does not run on there: it was canceled when the node woke.
    with psycopg.connect(three.dsn("pg3"), autocommit=True) as d:
        wait_for("the long statement gone from pg3", lambda: d.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query = %s",
            (long_sql,)).fetchone()[0] == 0, timeout=10)
    for c in (outside, inside, other, longest):
        c.close()


def outcome(c, stmt="SELECT 1"):
    """What the client sees on its next statement, and whether its connection is closed."""
    try:
        c.execute(stmt)
        got = ("no error",)
    except psycopg.Error as e:
        got = (type(e).__name__, e.sqlstate, e.diag.severity, str(e))
    return got, c.closed


def backend_pid(c):
    return c.execute("SELECT pg_backend_pid()").fetchone()[0]


def running(d, pid, like):
    return d.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active' "
                     "AND query LIKE %s", (pid, like)).fetchone()[0]


def test_query_timeout(cluster_factory, pgrouter_factory):
    one = cluster_factory(1)
    port = free_port()
    p = pgrouter_factory(config(one, port, ["pg1"], pool="max_size: 1, query_timeout: 3s"),
                         port)
    c = connect(port)
    # Shorter than query_timeout: untouched, and so is the session.
    assert c.execute("SELECT pg_sleep(1.5), 1").fetchone()[1] == 1
    # The clock is per statement (from the client's last message): a transaction of short
    # statements, longer in all than the limit, runs to its end.
    c.execute("BEGIN")
    for i in range(4):
        assert c.execute("SELECT pg_sleep(0.9), %s::int", (i,)).fetchone()[1] == i
    c.execute("COMMIT")
    pid = backend_pid(c)

    t0 = time.monotonic()
    got, closed = outcome(c, "SELECT pg_sleep(30)")
    took = time.monotonic() - t0
    # As PgBouncer: the client is disconnected with "query timeout" (FATAL 08P01, see the log:
    # libpq folds a FATAL and the close after it into one connection error).
    assert "query timeout" in got[3], got
    assert closed
    assert 2.9 < took < 8, took
    wait_for("the log line", lambda: "FATAL 08P01: query timeout" in p.log_text(), timeout=5)
    with psycopg.connect(one.dsn("pg1"), autocommit=True) as d:
        # The statement is canceled on the node and its connection closed, not pooled.
        wait_for("pg_sleep(30) canceled", lambda: running(d, pid, "SELECT pg_sleep(30)%") == 0,
                 timeout=5)
        wait_for("the server connection closed", lambda: d.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0,
            timeout=5)
    # The pool's one slot is free for the next client, on a new connection.
    with connect(port) as c2:
        assert backend_pid(c2) != pid
        assert c2.execute("SELECT 2").fetchone() == (2,)


def test_idle_transaction_timeout(cluster_factory, pgrouter_factory):
    one = cluster_factory(1)
    with psycopg.connect(one.dsn("pg1", user="app"), autocommit=True) as d:
        d.execute("CREATE TABLE itt (v int)")
    port = free_port()
    # max_size 1: the connection the idle client held must come back for the next one.
    p = pgrouter_factory(config(one, port, ["pg1"],
                                pool="max_size: 1, acquire_timeout: 3s, "
                                     "idle_transaction_timeout: 1s, query_timeout: 5s"), port)

    # PostgreSQL's own idle_in_transaction_session_timeout, directly, and pgrouter's.
    got = {}
    for name, dsn in (("direct", one.dsn("pg1", user="app")),
                      ("via", f"host=127.0.0.1 port={port} user=app password=app dbname=app")):
        c = psycopg.connect(dsn, autocommit=True)
        if name == "direct":
            c.execute("SET idle_in_transaction_session_timeout = '1s'")
        c.execute("BEGIN")
        c.execute("INSERT INTO itt VALUES (1)")
        if name == "via":
            via_pid = backend_pid(c)
        time.sleep(2.5)
        got[name] = outcome(c)
        c.close()
    assert got["via"] == got["direct"], got
    assert "terminating connection due to idle-in-transaction timeout" in got["via"][0][3]
    assert got["via"][1] is True
    wait_for("the log line", lambda: "FATAL 25P03: terminating connection due to "
             "idle-in-transaction timeout" in p.log_text(), timeout=5)

    # The next client gets the same server connection back (the one pool slot), rolled back and
    # clean: nothing of the insert, no transaction open.
    with connect(port) as c:
        t0 = time.monotonic()
        assert backend_pid(c) == via_pid
        assert time.monotonic() - t0 < 2
        assert c.execute("SELECT count(*) FROM itt").fetchone() == (0,)
        assert c.execute("SELECT now() = statement_timestamp()").fetchone() == (True,)
    assert by_node(port, "POOLS")["pg1"]["total"] == 1

    # A BEGIN pgrouter holds (no server connection yet) is a transaction to the client too.
    c = connect(port)
    c.execute("BEGIN")
    time.sleep(2)
    got_held = outcome(c)
    assert got_held == got["direct"], got_held

    # Idle outside a transaction: never disconnected.
    c = connect(port)
    assert c.execute("SELECT 1").fetchone() == (1,)
    time.sleep(2.5)
    assert c.execute("SELECT 2").fetchone() == (2,)
    # Busy inside one (each statement, and one longer than the limit): not disconnected.
    c.execute("BEGIN")
    for _ in range(4):
        c.execute("SELECT pg_sleep(0.4)")
        time.sleep(0.4)
    c.execute("SELECT pg_sleep(1.5)")
    c.execute("INSERT INTO itt VALUES (2)")
    c.execute("COMMIT")
    assert c.execute("SELECT count(*) FROM itt").fetchone() == (1,)
    c.close()
    st = show(port, "STATS")[0]
    assert st["idle_transaction_timeouts"] == 2 and st["query_timeouts"] == 0, st
