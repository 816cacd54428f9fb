"""Start and outage behaviour with real nodes (tests/cluster.sh kill / hang / resume / restart):

- with every node down a client still logs in (pgrouter authenticated it), told the settings
  the nodes reported before (server_version, TimeZone, ... as a direct login gives them); each
  statement fails at once with 08006 naming every node, as a query error on a live connection;
  the same connection works again once a node is back, and is then told what its login could
  not know (is_superuser);
- a client arriving while the only node is still `connecting` (no health result yet: the node
  hangs) waits for that result instead of getting "no healthy primary", bounded by
  pool.connect_timeout;
- listen.max_clients reached: a normal client gets 53300, the admin console still logs in on a
  reserved slot (admin.reserved_connections) and SHOW CLIENTS works; the reserved slots are
  limited too, and do not take slots from normal clients."""
import socket
import struct
import threading
import time

import psycopg
import pytest

from conftest import connect, free_port, show, wait_for


def config(cluster, port, nodes, extra="", health="interval: 300ms, timeout: 1s",
           pool="connect_timeout: 2s"):
    lines = "\n".join(f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}"
                      for n in nodes)
    return f"""
listen: {{host: 127.0.0.1, port: {port}{extra}}}
auth:
  method: scram-sha-256
  users: [{{name: app, password: app}}, {{name: admin, password: admin}}]
admin: {{users: [admin], reserved_connections: 2}}
pool: {{mode: transaction, max_size: 4, acquire_timeout: 3s, {pool}}}
health: {{{health}, unhealthy_threshold: 2, backoff: {{initial: 200ms, max: 500ms}}}}
shutdown: {{drain_timeout: 1s}}
log: {{level: info}}
nodes:
{lines}
"""


def states(port):
    return {r["id"]: r["state"] for r in show(port, "NODES")}


REPORTED = ("server_version", "server_encoding", "client_encoding", "DateStyle",
            "IntervalStyle", "TimeZone", "integer_datetimes", "standard_conforming_strings",
            "session_authorization")


def test_all_nodes_down_login_works_statements_fail_fast_then_recover(cluster_factory,
                                                                      pgrouter_factory):
    cluster = cluster_factory(2, replicas=1)
    with psycopg.connect(cluster.dsn("pg1", user="app"), autocommit=True) as d:
        direct = {k: d.info.parameter_status(k) for k in REPORTED + ("is_superuser",)}
    port = free_port()
    pgrouter_factory(config(cluster, port, ["pg1", "pg2"]), port)
    wait_for("both healthy", lambda: states(port) == {"pg1": "healthy", "pg2": "healthy"})

    cluster.fault("kill", "pg1")
    cluster.fault("kill", "pg2")
    wait_for("both down", lambda: set(states(port).values()) <= {"unhealthy", "reconnecting"})

    c = connect(port)  # the login itself succeeds
    try:
        # Told what a direct login tells, from what the nodes reported before they went.
        for k in REPORTED:
            assert c.info.parameter_status(k) == direct[k], k
        assert c.info.parameter_status("is_superuser") is None  # not known without a server

        # Each statement: 08006 at once, naming every node, on a connection that stays up.
        took = []
        for sql in ("SELECT 1", "INSERT INTO nowhere VALUES (1)", "SELECT 2"):
            t0 = time.monotonic()
            with pytest.raises(psycopg.errors.ConnectionFailure) as e:
                c.execute(sql)
            took.append(time.monotonic() - t0)
            assert e.value.sqlstate == "08006"
            msg = str(e.value)
            assert msg.startswith("no healthy primary:"), msg
            assert 'node "pg1" is' in msg and 'node "pg2" is' in msg, msg
            assert f"127.0.0.1:{cluster.port('pg1')}" in msg, msg
            assert not c.closed
            assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert min(took) < 0.1, took
        assert max(took) < 1.0, took
        # The extended protocol fails the same way (a driver's prepared statement).
        with pytest.raises(psycopg.errors.ConnectionFailure):
            c.execute("SELECT %s::int", (1,), prepare=True)
        assert not c.closed

        # A node comes back: the same connection works again, with no new login.
        cluster.fault("restart", "pg1")

        def works():
            try:
                return c.execute("SELECT 7").fetchone() == (7,)
            except psycopg.errors.ConnectionFailure:
                return False
        wait_for("the same connection to work again", works, timeout=20)
        assert c.execute("SELECT current_user").fetchone() == ("app",)
        # What the login could not tell is told once a server is there.
        assert c.info.parameter_status("is_superuser") == direct["is_superuser"]
        assert c.info.parameter_status("TimeZone") == direct["TimeZone"]
        assert c.execute("SHOW TimeZone").fetchone()[0] == direct["TimeZone"]
    finally:
        c.close()

    # A new client logs in through the server again.
    with connect(port) as c2:
        assert c2.execute("SELECT 8").fetchone() == (8,)
        assert c2.info.parameter_status("is_superuser") == direct["is_superuser"]


def test_nodes_never_seen_login_still_works(cluster_factory, pgrouter_factory):
    """pgrouter starts while its node is down: nothing is known about the server, the login
    still succeeds, and the settings come with the first statement that reaches the node."""
    cluster = cluster_factory(1)
    with psycopg.connect(cluster.dsn("pg1", user="app"), autocommit=True) as d:
        version = d.info.parameter_status("server_version")
    cluster.fault("kill", "pg1")
    port = free_port()
    pgrouter_factory(config(cluster, port, ["pg1"]), port)
    wait_for("pg1 down", lambda: states(port)["pg1"] in ("unhealthy", "reconnecting"))
    with connect(port, application_name="outage-test") as c:
        assert c.info.parameter_status("server_version") is None
        assert c.info.parameter_status("application_name") == "outage-test"
        with pytest.raises(psycopg.errors.ConnectionFailure):
            c.execute("SELECT 1")
        cluster.fault("restart", "pg1")

        def works():
            try:
                return c.execute("SELECT current_setting('application_name')").fetchone()
            except psycopg.errors.ConnectionFailure:
                return None
        assert wait_for("pg1 back", works, timeout=20) == ("outage-test",)
        assert c.info.parameter_status("server_version") == version
        assert c.info.server_version > 150000


def test_trust_login_with_no_node_reachable_reads_its_first_statement(pgrouter_factory):
    """A login that ends at once (trust, every node known down: nothing to wait for) used to
    read its own startup packet as its first statement: FATAL 08P01 "invalid frontend message
    type" on the first query (found by tests/fuzz/fuzz_session). The statement gets its 08006
    ERROR and the session goes on; a Query pipelined behind the startup packet is answered."""
    port, dead = free_port(), free_port()
    pgrouter_factory(f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
health: {{interval: 300ms, timeout: 1s, unhealthy_threshold: 1}}
log: {{level: info}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {dead}, role: primary}}
""", port)
    dsn = f"host=127.0.0.1 port={port} user=app dbname=app"

    def down():
        with psycopg.connect(f"host=127.0.0.1 port={port} user=app dbname=pgrouter",
                             autocommit=True) as a:
            return [r for r in a.execute("SHOW NODES").fetchall() if "unhealthy" in r]
    wait_for("pg1 unhealthy", down)
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SHOW pgrouter.route").fetchone() == ("auto",)
        with pytest.raises(psycopg.errors.ConnectionFailure) as e:
            c.execute("SELECT 1")
        assert 'node "pg1"' in str(e.value)
        assert c.execute("SHOW pgrouter.route").fetchone() == ("auto",)
    # The startup packet and a Query in one write, before any reply: both are answered.
    params = b"user\0app\0database\0app\0\0"
    startup = struct.pack("!ii", 8 + len(params), 196608) + params
    sql = b"SHOW pgrouter.route\0"
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(startup + b"Q" + struct.pack("!i", 4 + len(sql)) + sql)
        while got.count(b"Z\0\0\0\5") < 2:  # the login's ReadyForQuery and the query's
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
    assert b"invalid frontend" not in got and b"\0\0\0\4auto" in got, got


def test_client_waits_for_a_connecting_node(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    cluster.fault("hang", "pg1")  # the first health check cannot finish
    port = free_port()
    resumed = threading.Event()
    try:
        pgrouter_factory(config(cluster, port, ["pg1"], health="interval: 300ms, timeout: 4s",
                                pool="connect_timeout: 8s"), port)
        assert states(port) == {"pg1": "connecting"}
        out = {}

        def client():
            t0 = time.monotonic()
            try:
                with connect(port) as c:
                    out["login"] = time.monotonic() - t0
                    out["row"] = c.execute("SELECT 1").fetchone()
            except psycopg.Error as e:
                out["error"] = e
            out["total"] = time.monotonic() - t0

        t = threading.Thread(target=client)
        t.start()
        time.sleep(1.0)
        assert "error" not in out and "total" not in out  # it waits, it was not refused
        cluster.fault("resume", "pg1")
        resumed.set()
        t.join(15)
        assert not t.is_alive()
        assert "error" not in out, out
        assert out["row"] == (1,)
        assert 0.9 < out["total"] < 8, out
        assert states(port) == {"pg1": "healthy"}
    finally:
        if not resumed.is_set():
            cluster.fault("resume", "pg1")


def test_wait_is_bounded_by_connect_timeout(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    cluster.fault("hang", "pg1")
    port = free_port()
    try:
        # Health checks time out after 5 s, twice before the node is unhealthy: it stays
        # `connecting` for about 10 s, longer than a session waits (connect_timeout 1 s).
        pgrouter_factory(config(cluster, port, ["pg1"], health="interval: 300ms, timeout: 5s",
                                pool="connect_timeout: 1s"), port)
        t0 = time.monotonic()
        with connect(port) as c:
            login = time.monotonic() - t0
            assert 0.8 < login < 4, login  # waited for the node, then logged in without it
            t0 = time.monotonic()
            with pytest.raises(psycopg.errors.ConnectionFailure) as e:
                c.execute("SELECT 1")
            took = time.monotonic() - t0
            assert 0.8 < took < 4, took
            assert 'node "pg1" is connecting' in str(e.value)
            assert states(port) == {"pg1": "connecting"}
            # A waiting statement can be canceled, as a running one can: 57014 at once, and
            # the session goes on.
            t0 = time.monotonic()
            timer = threading.Timer(0.3, c.cancel)
            timer.start()
            with pytest.raises(psycopg.errors.QueryCanceled):
                c.execute("SELECT 1")
            timer.join()
            assert time.monotonic() - t0 < 0.9
            assert not c.closed
            cluster.fault("resume", "pg1")

            def works():
                try:
                    return c.execute("SELECT 1").fetchone() == (1,)
                except psycopg.errors.ConnectionFailure:
                    return False
            wait_for("pg1 usable", works, timeout=20)
    finally:
        cluster.fault("resume", "pg1")


def test_admin_console_has_reserved_slots(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    port = free_port()
    p = pgrouter_factory(config(cluster, port, ["pg1"], extra=", max_clients: 3"), port)
    wait_for("pg1 healthy", lambda: states(port) == {"pg1": "healthy"})
    clients = [connect(port) for _ in range(3)]
    admins = []
    try:
        for c in clients:
            assert c.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError, match="too many clients") as e:
            connect(port)
        assert "sorry, too many clients already" in str(e.value)

        # The console logs in beyond max_clients and works.
        admins.append(connect(port, "pgrouter", "admin"))
        rows = admins[0].execute("SHOW CLIENTS").fetchall()
        assert len(rows) >= 4
        # ... but not a normal client in the console's place,
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            connect(port)
        # ... and not a normal user naming the console's database,
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            connect(port, "pgrouter", "app")
        # ... and only admin.reserved_connections (2) consoles.
        admins.append(connect(port, "pgrouter", "admin"))
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            connect(port, "pgrouter", "admin")

        # Reserved sessions take no normal slot: one normal client leaves, one comes in.
        clients.pop().close()
        clients.append(connect(port))
        assert clients[-1].execute("SELECT 2").fetchone() == (2,)
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            connect(port)
        # A console that leaves frees its reserved slot.
        admins.pop().close()
        admins.append(connect(port, "pgrouter", "admin"))
        assert admins[-1].execute("SHOW NODES").fetchall()
    finally:
        for c in clients + admins:
            c.close()
    assert p.proc.poll() is None
