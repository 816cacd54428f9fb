"""Transaction pooling that behaves like PostgreSQL on fewer connections: no deadlock when
clients outnumber the pool, prepared statements prepared where they are needed, the same
results and errors as the node gives directly."""
import subprocess

import psycopg
import pytest

from conftest import free_port, router_dsn as dsn, wait_served

PGBIN = "/usr/lib/postgresql/15/bin"


def config(cluster, port, mode="transaction", max_size=4, extra=""):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
pool: {{mode: {mode}, max_size: {max_size}, acquire_timeout: 20s}}
health: {{interval: 300ms, timeout: 1s}}
log: {{level: info}}
{extra}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port("pg1")}}}
"""






def pgbench(port, *args, user="app", timeout=120):
    return subprocess.run([f"{PGBIN}/pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", user,
                           "-n", *args, "app"], capture_output=True, text=True, timeout=timeout)


def processed(out):
    return int(out.split("number of transactions actually processed: ")[1].split()[0].split("/")[0])


@pytest.fixture
def node(cluster_factory):
    c = cluster_factory(1)
    r = subprocess.run([f"{PGBIN}/pgbench", "-i", "-q", "-s", "1", "-h", "127.0.0.1", "-p",
                        str(c.port("pg1")), "-U", "postgres", "app"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with psycopg.connect(c.dsn("pg1"), autocommit=True) as d:
        d.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO app")
    return c


@pytest.mark.parametrize("threads", ["1", "2"])
def test_prepared_tpcb_with_clients_over_the_pool_never_stalls(node, pgrouter_factory, threads):
    """pgbench -M prepared prepares each statement synchronously the first time, on one thread
    for many clients: a Parse that waited for a server connection held by another of the
    thread's clients (itself in a transaction, waiting for the thread) stalled the pool at
    0 TPS. Directly against the node the same run completes; through pgrouter it must too."""
    port = free_port()
    pgrouter_factory(config(node, port, max_size=4), port)
    wait_served(port)
    direct = pgbench(node.port("pg1"), "-M", "prepared", "-c", "12", "-j", threads, "-t", "30")
    assert direct.returncode == 0, direct.stderr[-2000:]
    r = pgbench(port, "-M", "prepared", "-c", "12", "-j", threads, "-t", "30")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "number of failed transactions: 0" in r.stdout, r.stdout
    assert processed(r.stdout) == processed(direct.stdout) == 12 * 30


def test_prepared_tpcb_32_clients_pool_20(node, pgrouter_factory):
    port = free_port()
    pgrouter_factory(config(node, port, max_size=20), port)
    wait_served(port)
    r = pgbench(port, "-M", "prepared", "-c", "32", "-j", "2", "-t", "40")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "number of failed transactions: 0" in r.stdout, r.stdout
    assert processed(r.stdout) == 32 * 40


def outcome(conn, fn):
    try:
        return ("ok", fn(conn))
    except psycopg.Error as e:
        conn.rollback() if not conn.autocommit else None
        return ("error", e.sqlstate)


def test_prepared_statement_errors_match_postgres(node, pgrouter_factory):
    """A Parse answered without a server is prepared where its Bind runs: a statement that
    does not parse, or names a missing table, gets PostgreSQL's SQLSTATE (at the latest at its
    first execution), the session goes on, and a later good statement works."""
    port = free_port()
    pgrouter_factory(config(node, port, max_size=1), port)
    wait_served(port)

    def steps(conn):
        out = []
        for sql in ("SELECT 1 +", "SELECT * FROM no_such_table", "SELECT 42"):
            try:
                out.append(("ok", conn.execute(sql, prepare=True).fetchall()))
            except psycopg.Error as e:
                out.append(("error", e.sqlstate))
        # The session is usable after the errors.
        out.append(("ok", conn.execute("SELECT 7", prepare=True).fetchall()))
        return out

    with psycopg.connect(node.dsn("pg1", user="app"), autocommit=True) as d:
        want = steps(d)
    with psycopg.connect(dsn(port), autocommit=True) as c:
        got = steps(c)
    assert got == want
    assert want[:2] == [("error", "42601"), ("error", "42P01")]


def test_many_prepared_statements_on_one_connection(node, pgrouter_factory):
    """More named statements than one server connection keeps (2,000) in one session: the
    least recently prepared are closed and prepared again when used; never a 26000."""
    port = free_port()
    pgrouter_factory(config(node, port, max_size=1), port)
    wait_served(port)
    with psycopg.connect(dsn(port), autocommit=True, prepare_threshold=0) as c:
        c.prepared_max = 5000  # psycopg's own cache (100) would deallocate them first
        with c.pipeline():
            curs = [c.execute(f"SELECT {i}::int + %s", (1,)) for i in range(2100)]
        assert [cur.fetchone()[0] for cur in curs] == [i + 1 for i in range(2100)]
        # The first ones were evicted from the server connection: they are prepared again.
        for i in (0, 1, 2, 1000, 2099):
            assert c.execute(f"SELECT {i}::int + %s", (1,)).fetchone()[0] == i + 1
        n = c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        assert n <= 2000


def psql_steps(port, steps, env):
    import os
    e = dict(os.environ, PGCONNECT_TIMEOUT="5", **env)
    args = ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port), "-U", "app", "-d", "app"]
    for s in steps:
        args += ["-c", s]
    r = subprocess.run(args, capture_output=True, text=True, env=e, timeout=60)
    return r.stdout + r.stderr


RESET_STEPS = [
    "show application_name", "set application_name = 'other'", "reset application_name",
    "show application_name", "set datestyle = iso", "reset datestyle", "show datestyle",
    "set timezone = 'Asia/Tokyo'", "set time zone default", "show timezone",
    "set search_path = pg_catalog", "set statement_timeout = '5s'", "reset all",
    "show search_path", "show statement_timeout", "show datestyle", "show timezone",
    "show application_name", "set application_name = 'zz'", "set datestyle = german",
    "discard all", "show application_name", "show datestyle", "show timezone",
    "set work_mem = '5MB'", "set work_mem to default", "show work_mem",
]


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_reset_returns_to_the_clients_startup_values(node, pgrouter_factory, mode):
    """RESET x, RESET ALL, SET x TO DEFAULT and DISCARD ALL return to what the client started
    with (PGAPPNAME, PGDATESTYLE, PGTZ, options -c), not to the server connection's own startup
    values; a second client that started with nothing sees PostgreSQL's defaults."""
    port = free_port()
    pgrouter_factory(config(node, port, mode=mode, max_size=1), port)
    wait_served(port)
    env = {"PGAPPNAME": "myapp", "PGDATESTYLE": "SQL, DMY", "PGTZ": "America/New_York",
           "PGOPTIONS": "-c work_mem=3MB"}
    want = psql_steps(node.port("pg1"), RESET_STEPS, env)
    assert "myapp" in want and "SQL, DMY" in want and "3MB" in want
    assert psql_steps(port, RESET_STEPS, env) == want
    plain = ["show application_name", "show datestyle", "show timezone", "show work_mem"]
    assert psql_steps(port, plain, {}) == psql_steps(node.port("pg1"), plain, {})


def test_application_name_is_the_clients(node, pgrouter_factory):
    """A client that sets none has '' (not pgrouter's); while a client runs, the backend's
    pg_stat_activity row shows the client's application_name."""
    port = free_port()
    pgrouter_factory(config(node, port, max_size=1), port)
    wait_served(port)
    q = "SELECT current_setting('application_name'), application_name FROM pg_stat_activity " \
        "WHERE pid = pg_backend_pid()"
    for name in (None, "reporting", ""):
        kw = {} if name is None else {"application_name": name}
        with psycopg.connect(node.dsn("pg1", user="app"), autocommit=True, **kw) as d:
            want = d.execute(q).fetchone()
            want_ps = d.pgconn.parameter_status(b"application_name")
        with psycopg.connect(dsn(port), autocommit=True, **kw) as c:
            assert c.pgconn.parameter_status(b"application_name") == want_ps
            assert c.execute(q).fetchone() == want


def test_a_refused_set_is_not_carried(node, pgrouter_factory):
    """A session SET the server refused (22023) is not replayed: later transactions on other
    server connections do not fail applying it, and the good settings still follow."""
    port = free_port()
    p = pgrouter_factory(config(node, port, max_size=1), port)
    wait_served(port)
    with psycopg.connect(dsn(port), autocommit=True) as a:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            a.execute("SET password_encryption = 'novalue'")
        a.execute("SET search_path = pg_catalog, public")
        for i in range(3):
            # Another client takes the one server connection in between, with other settings.
            with psycopg.connect(dsn(port), autocommit=True) as b:
                b.execute("SET search_path = public")
                b.execute("SELECT 1")
            assert a.execute("SHOW search_path").fetchone()[0] == "pg_catalog, public"
            assert a.execute("SHOW password_encryption").fetchone()[0] == "scram-sha-256"
    assert "applying its session state" not in p.log_text()


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_a_set_rolled_back_is_not_carried(node, pgrouter_factory, mode):
    """A SET inside a transaction that rolls back is undone, as directly — whether the BEGIN was
    held by pgrouter (a lone BEGIN) or sent with it — and a committed one stays."""
    port = free_port()
    pgrouter_factory(config(node, port, mode=mode, max_size=1), port)
    wait_served(port)
    steps = ["set vacuum_cost_delay to 40", "begin", "set vacuum_cost_delay to 60",
             "show vacuum_cost_delay", "rollback", "show vacuum_cost_delay",
             "begin; set vacuum_cost_delay to 70; rollback", "show vacuum_cost_delay",
             "begin; set vacuum_cost_delay to 80; commit", "show vacuum_cost_delay",
             "select 1"]
    want = psql_steps(node.port("pg1"), steps, {})
    assert want.count("40ms") == 2 and "80ms" in want
    assert psql_steps(port, steps, {}) == want


def test_the_unnamed_statement_follows_the_client(node, pgrouter_factory):
    """psql's \\gdesc prepares the unnamed statement and describes it in a second exchange. In
    between, another client may use the server connection (and its unnamed statement): the
    Describe still describes this client's statement, as directly; after a simple Query the
    unnamed statement is gone, as directly (26000)."""
    port = free_port()
    pgrouter_factory(config(node, port, max_size=1), port)
    wait_served(port)

    def steps(port_):
        a = psycopg.connect(dsn(port_), autocommit=True)
        b = psycopg.connect(dsn(port_), autocommit=True)
        try:
            r = a.pgconn.prepare(b"", b"SELECT 1 AS one, 'x'::text AS two, now() AS three")
            out = [r.status]
            b.execute("SELECT %s::int AS other", (1,))  # its own unnamed statement
            d = a.pgconn.describe_prepared(b"")
            out.append([(d.fname(i), d.ftype(i)) for i in range(d.nfields)])
            a.execute("SELECT 1")  # a simple Query: the unnamed statement is gone
            d = a.pgconn.describe_prepared(b"")
            out.append((d.status, d.error_field(psycopg.pq.DiagnosticField.SQLSTATE)))
            return out
        finally:
            a.close()
            b.close()

    want = steps(node.port("pg1"))
    assert want[1] == [(b"one", 23), (b"two", 25), (b"three", 1184)]
    assert want[2][1] == b"26000"
    assert steps(port) == want
