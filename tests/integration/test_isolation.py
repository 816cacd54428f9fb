"""Isolation: whatever one client leaves on a server connection, the next client of the same pool
must not see. With pool.max_size 1 every client lands on the same server connection, so client B
would inherit anything client A left behind. For each kind of session state, B's view through
pgrouter must equal what a fresh connection to PostgreSQL itself sees.

A leaves cleanly (Terminate) or drops its socket in the middle of a transaction; both pool modes;
one node, and again a primary with two replicas and routing.reads: replicas."""
import socket
import time

import psycopg
import pytest

from conftest import free_port, router_dsn as dsn, wait_served

# (name, user, statements of client A, probe of client B). The probe is one statement; its
# result (rows, or the SQLSTATE of its error) is compared with a fresh direct connection's.
CASES = [
    ("temp table", "app",
     ["CREATE TEMP TABLE secret(x text)", "INSERT INTO secret VALUES ('A')"],
     "SELECT * FROM pg_temp.secret"),
    ("set role", "app", ["SET ROLE r_member"], "SELECT current_user, session_user"),
    ("session authorization", "postgres", ["SET SESSION AUTHORIZATION app"],
     "SELECT current_user, session_user"),
    ("sql prepare", "app", ["PREPARE p_iso AS SELECT 1"], "EXECUTE p_iso"),
    ("advisory lock", "app", ["SELECT pg_advisory_lock(4242)"],
     "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"),
    ("listen", "app", ["LISTEN iso_channel"], "SELECT * FROM pg_listening_channels()"),
    ("with hold cursor", "app", ["DECLARE c_iso CURSOR WITH HOLD FOR SELECT 1"],
     "SELECT name FROM pg_cursors"),
    ("set_config", "app", ["SELECT set_config('iso.x', 'leaked', false)"],
     "SELECT current_setting('iso.x', true)"),
    ("search_path", "app", ["SET search_path = pg_catalog"], "SHOW search_path"),
    ("statement_timeout", "app", ["SET statement_timeout = '1234ms'"],
     "SHOW statement_timeout"),
    ("set local", "app", ["BEGIN", "SET LOCAL work_mem = '7MB'", "COMMIT"], "SHOW work_mem"),
    ("currval", "app", ["SELECT nextval('s_iso')"], "SELECT currval('s_iso')"),
    ("lastval", "app", ["SELECT nextval('s_iso')"], "SELECT lastval()"),
]


def outcome(conn, sql):
    try:
        cur = conn.execute(sql)
        return ("rows", cur.fetchall() if cur.description else None)
    except psycopg.Error as e:
        return ("error", e.sqlstate)


def prepare_node(cluster, node="pg1"):
    with psycopg.connect(cluster.dsn(node), autocommit=True) as d:
        d.execute("DO $$BEGIN CREATE ROLE r_member; EXCEPTION WHEN duplicate_object THEN END$$")
        d.execute("GRANT r_member TO app")
        d.execute("CREATE SEQUENCE IF NOT EXISTS s_iso")
        d.execute("GRANT ALL ON SEQUENCE s_iso TO app")


def expected(cluster, user, probe, node="pg1"):
    with psycopg.connect(cluster.dsn(node, user=user), autocommit=True) as d:
        return outcome(d, probe)


def config(cluster, port, mode, nodes, extra=""):
    node_yaml = "\n".join(
        f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}" for n in nodes)
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
admin: {{users: [postgres]}}
pool: {{mode: {mode}, max_size: 1, acquire_timeout: 10s}}
health: {{interval: 300ms, timeout: 1s}}
log: {{level: info}}
{extra}
nodes:
{node_yaml}
"""






def client_a(port, user, statements, leave):
    c = psycopg.connect(dsn(port, user), autocommit=True)
    if leave == "drop":
        c.execute("BEGIN")
    for s in statements:
        if leave == "drop" and s in ("BEGIN", "COMMIT"):
            continue
        c.execute(s)
    if leave == "clean":
        c.close()
        return
    # Drop the socket mid-transaction: no Terminate, the transaction still open.
    s = socket.socket(fileno=c.fileno())
    s.shutdown(socket.SHUT_RDWR)
    s.detach()
    try:
        c.close()
    except Exception:
        pass


def run_matrix(cluster, port, leave):
    failures = []
    for name, user, statements, probe in CASES:
        want = expected(cluster, user, probe)
        try:
            client_a(port, user, statements, leave)
        except psycopg.Error as e:
            failures.append(f"{name} ({leave}): client A failed: {e.sqlstate} {e}")
            continue
        with psycopg.connect(dsn(port, user), autocommit=True) as b:
            got = outcome(b, probe)
        if got != want:
            failures.append(f"{name} ({leave}): through pgrouter {got}, directly {want}")
    return failures


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_leak_matrix_one_node(cluster_factory, pgrouter_factory, mode):
    cluster = cluster_factory(1)
    prepare_node(cluster)
    port = free_port()
    pgrouter_factory(config(cluster, port, mode, ["pg1"]), port)
    wait_served(port)
    failures = run_matrix(cluster, port, "clean") + run_matrix(cluster, port, "drop")
    assert not failures, "\n".join(failures)
    st = stats(port)
    # Pinned state is reset with DISCARD ALL (session mode: every release); a client gone
    # mid-transaction leaves a connection that is closed; set_config()'s placeholder survives
    # DISCARD ALL, so that connection is closed too.
    assert st["server_resets"] >= (len(CASES) if mode == "session" else 5), st
    assert st["server_closes_dirty"] >= len(CASES), st
    assert st["server_closes_state"] >= 1, st


def stats(port):
    with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=pgrouter",
                         autocommit=True) as a:
        cur = a.execute("SHOW STATS")
        names = [d.name for d in cur.description]
        return {k: int(v) for k, v in zip(names, cur.fetchone())}


def test_plain_transactions_keep_their_connection(cluster_factory, pgrouter_factory):
    """What must not happen: a workload that leaves nothing behind pays no reset and no
    reconnect (settings and prepared statements are carried, not reset)."""
    cluster = cluster_factory(1)
    prepare_node(cluster)
    port = free_port()
    pgrouter_factory(config(cluster, port, "transaction", ["pg1"]), port)
    wait_served(port)
    for i in range(5):
        with psycopg.connect(dsn(port, "app"), autocommit=True, prepare_threshold=0,
                             options="-c DateStyle=German") as c:
            c.execute("SET TimeZone = 'UTC'")
            c.execute("SET search_path = public")
            assert c.execute("SELECT %s::int", (i,)).fetchone()[0] == i
            with c.transaction():
                c.execute("SELECT 1")
    st = stats(port)
    assert st["server_resets"] == 0 and st["server_closes_dirty"] == 0, st
    assert st["server_closes_state"] == 0, st
    with psycopg.connect(cluster.dsn("pg1"), autocommit=True) as d:
        n = d.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'").fetchone()[0]
    assert n == 1, "the one pooled connection was reused, not replaced"


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_leak_matrix_replicas(cluster_factory, pgrouter_factory, mode):
    cluster = cluster_factory(3, replicas=2)
    prepare_node(cluster)
    # The replicas replay the roles and the sequence before the matrix starts.
    deadline = time.monotonic() + 15
    for n in ("pg2", "pg3"):
        with psycopg.connect(cluster.dsn(n), autocommit=True) as r:
            while r.execute("SELECT count(*) FROM pg_class WHERE relname = 's_iso'"
                            ).fetchone()[0] == 0:
                assert time.monotonic() < deadline, f"{n} never replayed the setup"
                time.sleep(0.1)
    port = free_port()
    pgrouter_factory(config(cluster, port, mode, ["pg1", "pg2", "pg3"],
                            extra="routing: {reads: replicas}"), port)
    wait_served(port)
    failures = run_matrix(cluster, port, "clean") + run_matrix(cluster, port, "drop")
    assert not failures, "\n".join(failures)
