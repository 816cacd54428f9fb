"""Consistent broadcast reads (SET pgrouter.broadcast_consistency = 'lsn') over a primary and
two streaming replicas that apply WAL 300 ms late (recovery_min_apply_delay): a row inserted
through pgrouter is always seen by the broadcast that follows; without the setting it is not."""
import threading
import time

import psycopg
import pytest

from conftest import free_port
from test_broadcast import collect
from test_routing import NODES, config, dsn, wait_routing

DELAY = "300ms"


@pytest.fixture
def delayed(cluster_factory):
    c = cluster_factory(3, replicas=2)
    with psycopg.connect(c.dsn("pg1"), autocommit=True) as d:
        d.execute("CREATE TABLE ct (id int primary key)")
        d.execute("GRANT ALL ON ct TO app")
        # the insert position: the nodes run with synchronous_commit off, so the write position
        # may still be short of the commit records just made
        lsn = d.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
    deadline = time.monotonic() + 15
    for n in ("pg2", "pg3"):
        with psycopg.connect(c.dsn(n), autocommit=True) as r:
            while not r.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                (lsn,)).fetchone()[0]:
                assert time.monotonic() < deadline, f"{n} never replayed the fixture's table"
                time.sleep(0.05)
            r.execute(f"ALTER SYSTEM SET recovery_min_apply_delay = '{DELAY}'")
            r.execute("SELECT pg_reload_conf()")
            while r.execute("SHOW recovery_min_apply_delay").fetchone()[0] != DELAY:
                assert time.monotonic() < deadline, f"{n} never took the apply delay"
                time.sleep(0.05)
    return c


@pytest.fixture
def router(delayed, pgrouter_factory):
    port = free_port()
    p = pgrouter_factory(config(delayed, port, "broadcast: {timeout: 2s}"), port)
    wait_routing(port, delayed)
    return p


def seen_by(conn, i):
    """The nodes whose broadcast read sees row i (the node column names them)."""
    rows = conn.execute("/* pgrouter: broadcast */ SELECT id FROM ct WHERE id = %s",
                        (i,)).fetchall()
    return sorted(r[0] for r in rows)


CLIENTS, PER_CLIENT = 4, 50  # 200 iterations, four sessions at once (each waits ~300 ms)


def consistent_reads(port, base, out):
    """PER_CLIENT times: insert row base+i, then a consistent broadcast read must see it on
    every node. Appends (iterations done, failures, warnings) to out."""
    done, failures = 0, []
    with psycopg.connect(dsn(port), autocommit=True) as c:
        notes = collect(c)
        c.execute("SET pgrouter.node_column = on")
        c.execute("SET pgrouter.broadcast_consistency = 'lsn'")
        started = time.monotonic()
        while done < PER_CLIENT and time.monotonic() - started < 120:
            c.execute("INSERT INTO ct VALUES (%s)", (base + done,))  # a write: the primary
            seen = seen_by(c, base + done)
            if seen != list(NODES):
                failures.append((base + done, seen))
            done += 1
        out.append((done, failures, [n.message_primary for n in notes
                                     if n.severity == "WARNING"]))


def test_consistent_reads_never_miss_a_row(delayed, router):
    out = []
    threads = [threading.Thread(target=consistent_reads, args=(router.port, k * 1000, out))
               for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert len(out) == CLIENTS, "a client did not finish"
    assert sum(o[0] for o in out) == CLIENTS * PER_CLIENT, out
    assert [f for o in out for f in o[1]] == [], "a consistent read missed its row"
    assert [w for o in out for w in o[2]] == []
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        notes = collect(c)
        c.execute("SET pgrouter.node_column = on")
        c.execute("SET pgrouter.broadcast_consistency = 'lsn'")
        assert c.execute("SHOW pgrouter.broadcast_consistency").fetchone() == ("lsn",)
        # The simple protocol waits as well.
        c.execute("INSERT INTO ct VALUES (100000)")
        rows = c.execute("/* pgrouter: broadcast */ SELECT id FROM ct WHERE id = 100000"
                         ).fetchall()
        assert sorted(r[0] for r in rows) == list(NODES)
        # The replicas really lag: read directly, right after a write, pg2 misses it.
        c.execute("INSERT INTO ct VALUES (100001)")
        with psycopg.connect(delayed.dsn("pg2"), autocommit=True) as r:
            assert r.execute("SELECT count(*) FROM ct WHERE id = 100001").fetchone()[0] == 0
        # Verify mode on top: the primary and both replicas hold the same rows.
        c.execute("INSERT INTO ct VALUES (100002)")
        c.execute("SET pgrouter.broadcast = 'verify'")
        rows = c.execute("SELECT id FROM ct").fetchall()
        assert len(rows) == 3 and len({(r[1], r[2]) for r in rows}) == 1
    assert [n.message_primary for n in notes if n.severity == "WARNING"] == []


def test_without_the_setting_a_replica_misses_the_row(delayed, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SET pgrouter.node_column = on")
        c.execute("SET pgrouter.broadcast_consistency = 'lsn'")
        c.execute("RESET pgrouter.broadcast_consistency")
        assert c.execute("SHOW pgrouter.broadcast_consistency").fetchone() == ("none",)
        misses = 0
        for i in range(20):
            c.execute("INSERT INTO ct VALUES (%s)", (i,))
            misses += seen_by(c, i) != list(NODES)
        assert misses >= 1


def test_a_replica_that_cannot_catch_up_is_a_warning(delayed, router):
    with psycopg.connect(delayed.dsn("pg3"), autocommit=True) as r:
        r.execute("SELECT pg_wal_replay_pause()")
    try:
        with psycopg.connect(dsn(router.port), autocommit=True) as c:
            notes = collect(c)
            c.execute("SET pgrouter.node_column = on")
            c.execute("SET pgrouter.broadcast_consistency = 'lsn'")
            c.execute("INSERT INTO ct VALUES (1)")
            assert seen_by(c, 1) == ["pg1", "pg2"]
            warns = [n for n in notes if n.severity == "WARNING"]
            assert len(warns) == 1
            assert warns[0].message_primary.startswith("node pg3 (")
            assert "failed: 57014 replica has not replayed the primary's WAL up to" in \
                warns[0].message_primary
            # The next statement is not held up by the last one's position.
            c.execute("SET pgrouter.broadcast_consistency = none")
            assert seen_by(c, 1) == ["pg1", "pg2"]
    finally:
        with psycopg.connect(delayed.dsn("pg3"), autocommit=True) as r:
            r.execute("SELECT pg_wal_replay_resume()")


def test_bad_values(delayed, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("SET pgrouter.broadcast_consistency = 'always'")
        assert c.execute("SHOW pgrouter.broadcast_consistency").fetchone() == ("none",)
