"""The router against a primary with two streaming replicas: reads spread over the replicas,
writes land on the primary, hints and pgrouter.route, failover, read-your-writes by LSN."""
import re
import threading
import time
from pathlib import Path

import psycopg
import pytest

from conftest import free_port
from test_server import run_pgbench

NODES = ("pg1", "pg2", "pg3")


def config(cluster, port, extra="", health="interval: 300ms, timeout: 1s", log="info"):
    nodes = "\n".join(f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}" for n in NODES)
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
pool: {{mode: transaction, max_size: 20, acquire_timeout: 5s}}
health: {{{health}}}
log: {{level: {log}}}
{extra}
nodes:
{nodes}
"""


def dsn(port, **kw):
    return f"host=127.0.0.1 port={port} user=app dbname=app " + " ".join(
        f"{k}={v}" for k, v in kw.items())


def wait_routing(port, cluster, timeout=15):
    """Until reads reach a replica (both replicas' health known)."""
    replicas = {cluster.port("pg2"), cluster.port("pg3")}
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline and seen != replicas:
        try:
            with psycopg.connect(dsn(port), autocommit=True, connect_timeout=2) as c:
                seen.add(c.execute("SELECT inet_server_port()").fetchone()[0])
        except psycopg.Error:
            pass
        time.sleep(0.05)
    assert seen >= replicas, f"reads never reached both replicas: {seen}"


def wait_replayed(cluster, what, timeout=15):
    """Wait until pg2 and pg3 have replayed everything pg1 has done so far. The insert position,
    not pg_current_wal_lsn(): the nodes run with synchronous_commit off, so the write position
    may still be short of the last commit records (and a test that kills the primary at once
    would lose them: the replicas would never see them)."""
    with psycopg.connect(cluster.dsn("pg1"), autocommit=True) as d:
        lsn = d.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    for n in ("pg2", "pg3"):
        with psycopg.connect(cluster.dsn(n), autocommit=True) as r:
            while not r.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                (lsn,)).fetchone()[0]:
                assert time.monotonic() < deadline, f"{n} never replayed {what}"
                time.sleep(0.05)


@pytest.fixture
def replicated(cluster_factory):
    c = cluster_factory(3, replicas=2)
    with psycopg.connect(c.dsn("pg1"), autocommit=True) as d:
        d.execute("CREATE TABLE IF NOT EXISTS rt (id serial primary key, v text)")
        d.execute("GRANT ALL ON rt, rt_id_seq TO app")
    # The replicas have the table before a test starts (one may kill the primary at once).
    wait_replayed(c, "the fixture's table")
    return c


@pytest.fixture
def router(replicated, pgrouter_factory):
    port = free_port()
    p = pgrouter_factory(config(replicated, port), port)
    wait_routing(port, replicated)
    return p


def commits(cluster):
    out = {}
    for n in NODES:
        with psycopg.connect(cluster.dsn(n), autocommit=True) as d:
            out[n] = d.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = 'app'"
                               ).fetchone()[0]
    return out


def test_select_only_pgbench_spreads_over_replicas(replicated, router):
    port = router.port
    # pgbench -i writes: it must land on the primary (a replica would refuse it).
    r = run_pgbench(port, "-i", "-q", "-s", "1")
    assert r.returncode == 0, r.stderr
    wait_replayed(replicated, "pgbench's tables")
    before = commits(replicated)
    r = run_pgbench(port, "-S", "-c", "8", "-j", "2", "-T", "6")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "number of failed transactions: 0" in r.stdout
    assert "25006" not in r.stderr and "read-only transaction" not in r.stderr
    processed = int(re.search(r"actually processed: (\d+)", r.stdout).group(1))
    # A backend that goes idle reports its last commits up to 10 s later (PostgreSQL 15's
    # PGSTAT_IDLE_INTERVAL): wait until every transaction is counted somewhere.
    deadline = time.monotonic() + 20
    while True:
        after = commits(replicated)
        delta = {n: after[n] - before[n] for n in NODES}
        if sum(delta.values()) >= processed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # Both replicas carry a real share; the primary carries almost none of the reads.
    assert delta["pg2"] > processed * 0.25, (delta, processed)
    assert delta["pg3"] > processed * 0.25, (delta, processed)
    assert delta["pg1"] < processed * 0.05, (delta, processed)


def test_writes_go_to_primary_reads_to_replicas(replicated, router):
    p1 = replicated.port("pg1")
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        for _ in range(20):
            assert c.execute("INSERT INTO rt (v) VALUES ('w') RETURNING inet_server_port()"
                             ).fetchone()[0] == p1
            assert c.execute("SELECT nextval('rt_id_seq'), inet_server_port()").fetchone()[1] == p1
            assert c.execute("SELECT inet_server_port() FROM rt FOR UPDATE LIMIT 1"
                             ).fetchone()[0] == p1
            assert c.execute("SELECT inet_server_port()").fetchone()[0] != p1
        # An explicit read-write transaction stays on the primary whatever its first statement.
        with c.transaction():
            assert c.execute("SELECT inet_server_port()").fetchone()[0] == p1
            c.execute("INSERT INTO rt (v) VALUES ('in txn')")
        # A read-only one goes to a replica, all of it.
        c.execute("BEGIN READ ONLY")
        a = c.execute("SELECT inet_server_port()").fetchone()[0]
        b = c.execute("SELECT inet_server_port()").fetchone()[0]
        c.execute("COMMIT")
        assert a == b and a != p1


def test_hints_and_session_route(replicated, router):
    ports = {n: replicated.port(n) for n in NODES}
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        for n in NODES:
            assert c.execute(f"/* pgrouter: node={n} */ SELECT inet_server_port()"
                             ).fetchone()[0] == ports[n]
        assert c.execute("/* pgrouter: primary */ SELECT inet_server_port()").fetchone()[0] \
            == ports["pg1"]
        assert c.execute("/* pgrouter: replica */ SELECT inet_server_port()").fetchone()[0] \
            != ports["pg1"]
        c.execute("SET pgrouter.route = 'node:pg3'")
        assert c.execute("SHOW pgrouter.route").fetchone()[0] == "node:pg3"
        assert {c.execute("SELECT inet_server_port()").fetchone()[0] for _ in range(5)} \
            == {ports["pg3"]}
        c.execute("SET pgrouter.route = 'primary'")
        assert c.execute("SELECT inet_server_port()").fetchone()[0] == ports["pg1"]
        c.execute("RESET pgrouter.route")
        assert c.execute("SHOW pgrouter.route").fetchone()[0] == "auto"
        with pytest.raises(psycopg.errors.UndefinedObject) as e:
            c.execute("/* pgrouter: node=nope */ SELECT 1")
        assert 'node "nope" does not exist' in str(e.value)
        with pytest.raises(psycopg.errors.SyntaxError) as e:
            c.execute("/* pgrouter: nod=pg1 */ SELECT 1")
        assert "pgrouter: nod=pg1" in str(e.value)
        with pytest.raises(psycopg.errors.UndefinedObject):
            c.execute("SET pgrouter.route = 'node:nope'")
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("SET pgrouter.route = 'sideways'")
        # The session is usable after each error.
        assert c.execute("SELECT 1").fetchone()[0] == 1


def test_no_primary_fails_fast_naming_the_node(replicated, pgrouter_factory):
    # Debug logging: each statement's route is in the log a failure prints.
    port = free_port()
    pgrouter_factory(config(replicated, port, log="debug"), port)
    wait_routing(port, replicated)
    replicated.fault("kill", "pg1")
    with psycopg.connect(dsn(port), autocommit=True, connect_timeout=3) as c:
        deadline = time.monotonic() + 5
        while True:
            t0 = time.monotonic()
            with pytest.raises(psycopg.errors.ConnectionFailure) as e:
                c.execute("INSERT INTO rt (v) VALUES ('x')")
            if "no healthy primary" in str(e.value) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        # Once the node is known down, a write fails at once, naming it, with 08006.
        assert "no healthy primary" in str(e.value)
        assert 'node "pg1"' in str(e.value)
        assert time.monotonic() - t0 < 1.0
        # Reads still work from the replicas meanwhile, on the same session.
        assert c.execute("SELECT count(*) >= 0 FROM rt").fetchone()[0] is True


def test_failover_follows_promoted_replica(replicated, router):
    """Writes run continuously; the primary dies and pg2 is promoted; writes resume on pg2
    without restarting pgrouter, with errors only around the switch."""
    stop = threading.Event()
    log = []  # (time, ok, port or sqlstate)

    def writer():
        conn = None
        while not stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(dsn(router.port), autocommit=True, connect_timeout=3)
                port = conn.execute("INSERT INTO rt (v) VALUES ('f') RETURNING inet_server_port()"
                                    ).fetchone()[0]
                log.append((time.monotonic(), True, port))
            except psycopg.Error as e:
                log.append((time.monotonic(), False, getattr(e, "sqlstate", None)))
                if conn is not None and conn.broken:
                    conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(1.5)
        switch = time.monotonic()
        replicated.fault("kill", "pg1")
        replicated.fault("promote", "pg2")
        promoted = time.monotonic()
        time.sleep(4)
    finally:
        stop.set()
        t.join(10)
    p1, p2 = replicated.port("pg1"), replicated.port("pg2")
    before = [e for e in log if e[0] < switch]
    after = [e for e in log if e[0] > promoted + 3]
    assert before and all(e[1] and e[2] == p1 for e in before)
    assert after and all(e[1] and e[2] == p2 for e in after), after[:5]
    failures = [e for e in log if not e[1]]
    # Every failure is inside the switch window, and each says what happened.
    assert all(switch - 0.5 <= e[0] <= promoted + 3 for e in failures), failures
    assert all(e[2] in ("08006", "57P01", None) for e in failures), failures


def test_read_your_writes_by_lsn(replicated, pgrouter_factory):
    # Replicas apply WAL 300 ms late: a read right after a write would miss it there.
    for n in ("pg2", "pg3"):
        conf = Path(replicated.dir, n, "postgresql.conf")
        with open(conf, "a") as f:
            f.write("\nrecovery_min_apply_delay = '300ms'\n")
        with psycopg.connect(replicated.dsn(n), autocommit=True) as d:
            d.execute("SELECT pg_reload_conf()")
    port = free_port()
    pgrouter_factory(config(replicated, port, extra="routing: {read_your_writes: session}"), port)
    wait_routing(port, replicated)
    misses = 0
    replica_reads = 0
    p1 = replicated.port("pg1")
    with psycopg.connect(dsn(port), autocommit=True) as c:
        for i in range(1000):
            rid = c.execute("INSERT INTO rt (v) VALUES (%s) RETURNING id", (f"ryw{i}",)
                            ).fetchone()[0]
            row = c.execute("SELECT v, inet_server_port() FROM rt WHERE id = %s", (rid,)).fetchone()
            if row is None:
                misses += 1
            elif row[1] != p1:
                replica_reads += 1
    assert misses == 0
    # The delay is real: without read-your-writes the same reads miss on the replicas.
    port2 = free_port()
    pgrouter_factory(config(replicated, port2), port2)
    wait_routing(port2, replicated)
    missed_without = 0
    with psycopg.connect(dsn(port2), autocommit=True) as c:
        for i in range(50):
            rid = c.execute("INSERT INTO rt (v) VALUES ('plain') RETURNING id").fetchone()[0]
            if c.execute("SELECT 1 FROM rt WHERE id = %s", (rid,)).fetchone() is None:
                missed_without += 1
    assert missed_without > 25


def test_session_route_in_the_extended_protocol(replicated, router):
    """SET / SHOW pgrouter.route through Parse/Bind/Describe/Execute/Sync (libpq's
    PQexecParams) is answered by pgrouter, not passed to a node as a custom setting."""
    ports = {n: replicated.port(n) for n in NODES}
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        pg = c.pgconn
        r = pg.exec_params(b"SET pgrouter.route = 'node:pg3'", [])
        assert r.status == psycopg.pq.ExecStatus.COMMAND_OK and r.command_status == b"SET"
        r = pg.exec_params(b"SHOW pgrouter.route", [])
        assert r.status == psycopg.pq.ExecStatus.TUPLES_OK
        assert r.fname(0) == b"pgrouter.route" and r.get_value(0, 0) == b"node:pg3"
        for _ in range(3):
            r = pg.exec_params(b"SELECT inet_server_port()", [])
            assert int(r.get_value(0, 0)) == ports["pg3"]
        r = pg.exec_params(b"SET pgrouter.route = 'node:nope'", [])
        assert r.status == psycopg.pq.ExecStatus.FATAL_ERROR
        assert r.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"42704"
        r = pg.exec_params(b"RESET pgrouter.route", [])
        assert r.command_status == b"RESET"
        assert c.execute("SHOW pgrouter.route").fetchone()[0] == "auto"


def test_named_prepared_pgrouter_statements(replicated, router):
    """Drivers prepare a statement after a few runs (psycopg, pgjdbc: 5): a named SHOW / SET
    pgrouter.* is answered by pgrouter at every execution, in and out of a transaction, and a
    statement prepared that way is never sent to a node."""
    ports = {n: replicated.port(n) for n in NODES}
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        for k in range(8):  # psycopg prepares it from the 6th run on
            assert c.execute("SHOW pgrouter.route").fetchone() == ("auto",), k
        c.execute("SET pgrouter.route = 'node:pg2'", prepare=True)
        c.execute("SET pgrouter.route = 'node:pg2'", prepare=True)
        assert c.execute("SHOW pgrouter.route", prepare=True).fetchone() == ("node:pg2",)
        assert c.execute("SELECT inet_server_port()").fetchone()[0] == ports["pg2"]
        c.execute("RESET pgrouter.route", prepare=True)
        with c.transaction():
            c.execute("SELECT 1")
            for _ in range(3):
                assert c.execute("SHOW pgrouter.route", prepare=True).fetchone() == ("auto",)
        # Other prepared statements still go to the nodes and work.
        for _ in range(7):
            assert c.execute("SELECT %s::int + 1", (1,)).fetchone() == (2,)


def test_session_settings_follow_the_client_to_replicas(replicated, router):
    """psycopg2's set_session: SERIALIZABLE READ ONLY, a rollback, then READ COMMITTED,
    read-write, autocommit. Whatever the client set is in force on the node that runs its next
    statement, replicas included: the same answers as one PostgreSQL gives directly."""
    import psycopg2

    def steps(dsn_):
        c = psycopg2.connect(dsn_)
        try:
            c.set_session(isolation_level="SERIALIZABLE", readonly=True)
            cur = c.cursor()
            cur.execute("SELECT 1")
            c.rollback()
            c.set_session(isolation_level="READ COMMITTED", readonly=False, autocommit=True)
            out, ports = [], set()
            for _ in range(6):
                cur.execute("SHOW transaction_isolation")
                iso = cur.fetchone()[0]
                cur.execute("SHOW default_transaction_read_only")
                ro = cur.fetchone()[0]
                cur.execute("SELECT inet_server_port()")
                ports.add(cur.fetchone()[0])
                out.append((iso, ro))
            c.set_session(isolation_level="REPEATABLE READ")
            for _ in range(4):
                cur.execute("SELECT current_setting('default_transaction_isolation')")
                out.append(cur.fetchone()[0])
            return out, ports
        finally:
            c.close()

    want, _ = steps(replicated.dsn("pg1", user="app"))
    assert want[0] == ("read committed", "off") and want[-1] == "repeatable read"
    got, ports = steps(dsn(router.port))
    assert got == want
    assert ports & {replicated.port("pg2"), replicated.port("pg3")}, "no read reached a replica"


WRITE_BATCH = "SELECT inet_server_port(); SELECT 2, 3; UPDATE rt SET v = v WHERE false"


def test_a_multi_statement_query_is_routed_as_a_whole(replicated, router):
    """A simple Query of several statements (pgjdbc's Statement.execute of "a; b; c") whose
    first statement reads and a later one writes runs on the primary, as it does when sent to
    the primary directly; one that only reads still goes to a replica."""
    p1 = replicated.port("pg1")

    def run(port):
        with psycopg.connect(dsn(port), autocommit=True) as c:
            cur = c.execute(WRITE_BATCH)  # no parameters: psycopg sends one simple Query
            out = [cur.fetchall()]
            while cur.nextset():
                out.append((cur.statusmessage, cur.fetchall() if cur.description else None))
            return out

    direct = run(p1)
    for _ in range(6):
        via = run(router.port)
        assert via == direct  # [[(p1,)], ('SELECT 1', [(2, 3)]), ('UPDATE 0', None)]
    assert direct[0] == [(p1,)]
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        cur = c.execute("SELECT inet_server_port(); SELECT 1")
        assert cur.fetchone()[0] != p1


def pipeline_ports(port, stmts):
    """Run stmts in one psycopg pipeline (Parse/Bind/Describe/Execute each, one Sync at the
    end); the port of the first, which is SELECT inet_server_port(), and the tags."""
    with psycopg.connect(dsn(port), autocommit=True) as c:
        with c.pipeline():
            curs = [c.cursor() for _ in stmts]
            for cur, s in zip(curs, stmts):
                cur.execute(s)
        return curs[0].fetchone()[0], [cur.statusmessage for cur in curs]


def test_an_extended_pipeline_is_routed_as_a_whole(replicated, router):
    """Parse/Bind/Execute of several statements before one Sync: a write behind a read sends
    the batch to the primary (a replica would fail it with 25006), unnamed and named (psycopg
    prepares a statement it has run five times) alike; a read-only batch still goes to a
    replica."""
    p1 = replicated.port("pg1")
    stmts = ["SELECT inet_server_port()", "SELECT 2", "UPDATE rt SET v = v WHERE false"]
    direct = pipeline_ports(p1, stmts)
    assert direct == (p1, ["SELECT 1", "SELECT 1", "UPDATE 0"])
    for _ in range(8):  # from the 6th run on psycopg prepares the statements (named)
        assert pipeline_ports(router.port, stmts) == direct
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        for k in range(8):
            with c.pipeline():
                a, b = c.cursor(), c.cursor()
                a.execute("SELECT inet_server_port()")
                b.execute("UPDATE rt SET v = v WHERE false")
            assert a.fetchone()[0] == p1, k
            assert b.statusmessage == "UPDATE 0"
    port, tags = pipeline_ports(router.port, ["SELECT inet_server_port()", "SELECT 2"])
    assert port != p1 and tags == ["SELECT 1", "SELECT 1"]


PIPELINE_SCRIPT = """\\startpipeline
SELECT 1;
SELECT 2;
UPDATE rt SET v = v WHERE false;
\\endpipeline
"""


@pytest.mark.parametrize("protocol", ["extended", "prepared"])
def test_pgbench_pipeline_with_a_write_after_reads(replicated, router, tmp_path, protocol):
    script = tmp_path / "pipe.sql"
    script.write_text(PIPELINE_SCRIPT)
    args = ("-n", "-M", protocol, "-f", str(script), "-c", "2", "-j", "1", "-t", "25")
    direct = run_pgbench(replicated.port("pg1"), *args)
    assert direct.returncode == 0, direct.stderr[-2000:]
    r = run_pgbench(router.port, *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "number of failed transactions: 0" in r.stdout, r.stdout
    assert "25006" not in r.stderr and "read-only transaction" not in r.stderr
    assert "actually processed: 50/50" in r.stdout, r.stdout
