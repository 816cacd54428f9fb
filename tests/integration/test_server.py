"""pgrouter serving real clients (psql, pgbench, psycopg) against real PostgreSQL nodes."""
import os
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import free_port

PGBIN = "/usr/lib/postgresql/15/bin"


def config(cluster, port, mode="transaction", auth="trust", users="", extra="", nodes=None):
    nodes = nodes or list(cluster.nodes)
    node_yaml = "\n".join(
        f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}" for n in nodes)
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: {auth}
{users}
pool: {{mode: {mode}, max_size: 20, acquire_timeout: 5s}}
health: {{interval: 500ms, timeout: 1s}}
log: {{level: info}}
{extra}
nodes:
{node_yaml}
"""


@pytest.fixture
def one_node(cluster_factory):
    return cluster_factory(1)


@pytest.fixture
def router(one_node, pgrouter_factory):
    port = free_port()
    p = pgrouter_factory(config(one_node, port), port)
    wait_healthy(port)
    return p


def wait_healthy(port, timeout=10):
    """Wait until a statement goes through (the node's first health check may still run)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn(port), connect_timeout=2) as c:
                c.execute("SELECT 1")
                return
        except psycopg.Error as e:
            last = e
            time.sleep(0.1)
    raise TimeoutError(f"pgrouter on {port} never served a query: {last}")


def dsn(port, user="app", dbname="app", **kw):
    s = f"host=127.0.0.1 port={port} user={user} dbname={dbname}"
    for k, v in kw.items():
        s += f" {k}={v}"
    return s


def psql(port, *args, user="app", input=None, env=None, check=True):
    e = dict(os.environ, PGCONNECT_TIMEOUT="5")
    e.pop("PGPASSWORD", None)
    if env:
        e.update(env)
    return subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d",
                           "app", *args], input=input, capture_output=True, text=True, env=e,
                          check=check, timeout=60)


PSQL_SCRIPT = r"""
\pset null '<null>'
CREATE TABLE IF NOT EXISTS t_script (id int primary key, name text, note text);
TRUNCATE t_script;
BEGIN;
INSERT INTO t_script VALUES (1, 'ünïcødé ✓', NULL), (2, 'plain', 'x');
SAVEPOINT a;
SELECT 1/0;
ROLLBACK TO a;
INSERT INTO t_script VALUES (3, 'after savepoint', repeat('y', 10));
COMMIT;
SELECT * FROM t_script ORDER BY id;
SELECT no_such_column FROM t_script;
\copy t_script TO STDOUT WITH (FORMAT csv)
\copy t_script FROM STDIN WITH (FORMAT csv)
10,copied,in
11,"quoted, comma",
\.
SELECT count(*), sum(length(name)) FROM t_script;
\d t_script
SELECT g, md5(g::text) FROM generate_series(1, 20000) g ORDER BY g DESC LIMIT 3;
SELECT sum(length(repeat('z', 1000))) FROM generate_series(1, 5000);
SELECT string_agg(md5(g::text), '') IS NOT NULL AS big FROM generate_series(1, 100000) g;
DROP TABLE t_script;
"""


def test_psql_script_output_matches_direct(one_node, router):
    direct = psql(one_node.port("pg1"), "-f", "-", input=PSQL_SCRIPT, user="app")
    via = psql(router.port, "-f", "-", input=PSQL_SCRIPT, user="app")
    assert via.stdout == direct.stdout
    # Errors are the node's own, with the same text (psql prefixes with the script line).
    assert via.stderr == direct.stderr
    assert "division by zero" in via.stderr and "no_such_column" in via.stderr


def test_large_result_and_nulls(router):
    with psycopg.connect(dsn(router.port)) as c:
        rows = c.execute("SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('x', g % 300) END"
                         " FROM generate_series(1, 200000) g").fetchall()
        assert len(rows) == 200000
        assert rows[6][1] is None and rows[5][1] == "x" * 6


def test_extended_protocol_and_binary(router):
    with psycopg.connect(dsn(router.port)) as c:
        cur = c.cursor(binary=True)
        cur.execute("SELECT %s::int + 1, %s::text, %s::bytea", (41, "ü", b"\x00\xff"))
        assert cur.fetchone() == (42, "ü", b"\x00\xff")
        # Pipeline mode: several statements in flight at once.
        with c.pipeline():
            curs = [c.execute("SELECT %s::int * 2", (i,)) for i in range(50)]
        assert [cur.fetchone()[0] for cur in curs] == [i * 2 for i in range(50)]


def test_transaction_pooling_shares_server_connections(one_node, router):
    conns = [psycopg.connect(dsn(router.port), autocommit=True) for _ in range(30)]
    try:
        for c in conns:
            c.execute("SELECT 1")
        with psycopg.connect(one_node.dsn("pg1"), autocommit=True) as d:
            n = d.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'app' AND "
                          "usename = 'app' AND backend_type = 'client backend'").fetchone()[0]
        # 30 clients that ran one statement each need far fewer than 30 server connections.
        assert n <= 20
    finally:
        for c in conns:
            c.close()


def test_transaction_stays_on_one_connection(router):
    with psycopg.connect(dsn(router.port)) as c:
        with c.transaction():
            pid1 = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            c.execute("SELECT pg_sleep(0.01)")
            pid2 = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert pid1 == pid2


def test_client_disconnect_mid_transaction_leaves_no_dirty_connection(one_node, router):
    for _ in range(5):
        c = psycopg.connect(dsn(router.port))
        c.execute("SELECT 1")  # opens a transaction (psycopg is not autocommit by default)
        c.pgconn.finish()      # gone, mid-transaction
    time.sleep(0.5)
    with psycopg.connect(one_node.dsn("pg1"), autocommit=True) as d:
        n = d.execute("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
                      ).fetchone()[0]
    assert n == 0
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone()[0] == 1


def test_bad_database_reaches_client_with_node_sqlstate(router):
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(dsn(router.port, dbname="no_such_db"))
    assert 'database "no_such_db" does not exist' in str(e.value)


def test_cancel_stops_pg_sleep_quickly(router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        t = threading.Timer(0.5, c.cancel)
        t.start()
        start = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("SELECT pg_sleep(10)")
        assert time.monotonic() - start < 1.5
        assert c.execute("SELECT 2").fetchone()[0] == 2


def test_cancel_with_wrong_key_cancels_nothing(router):
    import socket
    import struct
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        pid = c.info.backend_pid
        def bad_cancel():
            with socket.create_connection(("127.0.0.1", router.port)) as s:
                s.sendall(struct.pack("!iiii", 16, 80877102, pid, 12345))
                s.recv(1)
        t = threading.Timer(0.2, bad_cancel)
        t.start()
        start = time.monotonic()
        c.execute("SELECT pg_sleep(1)")
        assert time.monotonic() - start >= 0.95


def test_terminate_and_protocol_violation(one_node, router):
    import socket
    import struct
    # A startup packet whose length lies (too short) is closed without a reply, as PostgreSQL
    # closes it (it only logs "invalid length of startup packet"), and the process keeps
    # serving others.
    for port in (one_node.port("pg1"), router.port):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(struct.pack("!ii", 4, 196608))
            try:
                data = s.recv(1000)
            except ConnectionResetError:
                data = b""
            assert data == b"", (port, data)
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        assert c.execute("SELECT 3").fetchone()[0] == 3


def run_pgbench(port, *args, timeout=120):
    r = subprocess.run([f"{PGBIN}/pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "app",
                        *args, "app"], capture_output=True, text=True, timeout=timeout)
    return r


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_pgbench_all_protocols(one_node, pgrouter_factory, mode):
    port = free_port()
    pgrouter_factory(config(one_node, port, mode=mode), port)
    wait_healthy(port)
    r = run_pgbench(port, "-i", "-q", "-s", "1")
    assert r.returncode == 0, r.stderr
    for proto in ("simple", "extended", "prepared"):
        r = run_pgbench(port, "-M", proto, "-c", "16", "-j", "2", "-T", "10")
        assert r.returncode == 0, f"{proto}: {r.stderr[-2000:]}"
        assert "number of failed transactions: 0" in r.stdout, r.stdout
        processed = int(r.stdout.split("number of transactions actually processed: ")[1].split()[0])
        assert processed > 100, r.stdout
    r = run_pgbench(port, "-C", "-S", "-c", "4", "-T", "5")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "number of failed transactions: 0" in r.stdout, r.stdout


def test_scram_auth(one_node, pgrouter_factory):
    port = free_port()
    users = "  users:\n    - {name: app, password: s3cret}\n"
    pgrouter_factory(config(one_node, port, auth="scram-sha-256", users=users), port)
    ok = psql(port, "-Atc", "SELECT current_user", env={"PGPASSWORD": "s3cret"})
    assert ok.stdout.strip() == "app"
    bad = psql(port, "-Atc", "SELECT 1", env={"PGPASSWORD": "wrong"}, check=False)
    unknown = psql(port, "-Atc", "SELECT 1", user="nobody", env={"PGPASSWORD": "wrong"},
                   check=False)
    assert bad.returncode != 0 and unknown.returncode != 0
    assert 'password authentication failed for user "app"' in bad.stderr
    assert 'password authentication failed for user "nobody"' in unknown.stderr


def test_md5_auth(one_node, pgrouter_factory):
    port = free_port()
    users = "  users:\n    - {name: app, password: m5pass}\n"
    pgrouter_factory(config(one_node, port, auth="md5", users=users), port)
    ok = psql(port, "-Atc", "SELECT 7", env={"PGPASSWORD": "m5pass"})
    assert ok.stdout.strip() == "7"
    bad = psql(port, "-Atc", "SELECT 1", env={"PGPASSWORD": "nope"}, check=False)
    assert 'password authentication failed for user "app"' in bad.stderr


def test_max_clients(one_node, pgrouter_factory):
    port = free_port()
    pgrouter_factory(config(one_node, port).replace(f"port: {port}}}",
                                                    f"port: {port}, max_clients: 2}}"), port)
    wait_healthy(port)
    a = psycopg.connect(dsn(port))
    b = psycopg.connect(dsn(port))
    try:
        with pytest.raises(psycopg.OperationalError) as e:
            psycopg.connect(dsn(port))
        assert "too many clients" in str(e.value)
        # libpq does not keep a connection failure's SQLSTATE: read it off the wire.
        import socket
        import struct
        body = struct.pack("!i", 196608) + b"user\0app\0database\0app\0\0"
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(struct.pack("!i", len(body) + 4) + body)
            reply = s.recv(1000)
        assert reply[:1] == b"E" and b"C53300\0" in reply, reply
    finally:
        a.close()
        b.close()


def test_many_clients_leave_no_leaks(one_node, router):
    errors = []

    def worker(n):
        for _ in range(n):
            try:
                with psycopg.connect(dsn(router.port), autocommit=True) as c:
                    c.execute("SELECT 1")
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(100,)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    with psycopg.connect(one_node.dsn("pg1"), autocommit=True) as d:
        total = d.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'"
                          ).fetchone()[0]
        idle_tx = d.execute("SELECT count(*) FROM pg_stat_activity WHERE state LIKE "
                            "'idle in transaction%'").fetchone()[0]
    assert total <= 20
    assert idle_tx == 0


def test_sigterm_lets_running_transaction_finish(one_node, router):
    c = psycopg.connect(dsn(router.port), autocommit=True)
    result = {}

    def long_query():
        try:
            result["v"] = c.execute("SELECT pg_sleep(1), 5").fetchone()[1]
        except Exception as e:  # noqa: BLE001 - asserted below
            result["e"] = e

    t = threading.Thread(target=long_query)
    t.start()
    time.sleep(0.3)
    router.proc.send_signal(15)
    t.join(10)
    assert result.get("v") == 5, result
    assert router.proc.wait(10) == 0
    c.close()


def test_unix_socket_and_ipv6_listeners(one_node, pgrouter_factory, tmp_path):
    """Several listeners: IPv4, IPv6 (when the machine has ::1) and a Unix socket named as
    PostgreSQL names it, so `psql -h DIR -p PORT` finds it."""
    import socket as so
    port = free_port()
    sockdir = tmp_path / "sock"
    sockdir.mkdir()
    hosts = ["127.0.0.1"]
    try:
        with so.socket(so.AF_INET6) as s6:
            s6.bind(("::1", 0))
        hosts.append("::1")
    except OSError:
        pass
    cfg = config(one_node, port).replace(
        f"listen: {{host: 127.0.0.1, port: {port}}}",
        f"listen: {{host: [{', '.join(repr(h) for h in hosts)}], port: {port}, "
        f"unix_socket_dir: {sockdir}}}")
    pgrouter_factory(cfg, port)
    wait_healthy(port)
    assert (sockdir / f".s.PGSQL.{port}").is_socket()
    r = subprocess.run(["psql", "-X", "-h", str(sockdir), "-p", str(port), "-U", "app", "-d", "app",
                        "-Atc", "SELECT 'via unix'"], capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "via unix", r.stderr
    if "::1" in hosts:
        with psycopg.connect(f"host=::1 port={port} user=app dbname=app") as c:
            assert c.execute("SELECT 6").fetchone()[0] == 6
