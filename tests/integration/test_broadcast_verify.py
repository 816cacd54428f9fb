"""Verify mode (SET pgrouter.broadcast = 'verify'): one row per node with its row count and a
hash of its result, and a WARNING naming the nodes that differ from the majority. Three
independent nodes loaded with the same data."""
import psycopg
import pytest

from test_broadcast import NODES, collect, dsn, start

ROWS = [(i, i * 10, i % 3, f"n{i}") for i in range(1, 21)]


@pytest.fixture
def same(cluster_factory):
    """Every node holds the same rows of vt, inserted in a different physical order: pg1
    ascending, pg2 descending, pg3 odd ids then even ids."""
    c = cluster_factory(3)
    orders = (ROWS, ROWS[::-1], ROWS[0::2] + ROWS[1::2])
    for n, rows in zip(NODES, orders):
        with psycopg.connect(c.dsn(n, user="app"), autocommit=True) as d:
            d.execute("CREATE TABLE vt (id int primary key, v int, grp int, name text)")
            with d.cursor() as cur:
                cur.executemany("INSERT INTO vt VALUES (%s, %s, %s, %s)", rows)
    return c


@pytest.fixture
def router(same, pgrouter_factory):
    return start(same, pgrouter_factory)


def node_sql(cluster, node, sql):
    with psycopg.connect(cluster.dsn(node, user="app"), autocommit=True) as d:
        return d.execute(sql).fetchall()


def verify(conn, sql, params=None, **kw):
    """(rows by node, status, warnings) of one verified statement."""
    notes = collect(conn)
    cur = conn.execute(sql, params, **kw)
    rows = cur.fetchall()
    assert [d.name for d in cur.description] == ["node", "rows", "hash"]
    assert [d.type_code for d in cur.description] == [25, 20, 25]  # text, int8, text
    by_node = {r[0]: (r[1], r[2]) for r in rows}
    assert len(by_node) == len(rows)
    return by_node, cur.statusmessage, [n for n in notes if n.severity == "WARNING"]


def test_equal_nodes_report_equal_hashes_without_warning(same, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SET pgrouter.broadcast = 'verify'")
        assert c.execute("SHOW pgrouter.broadcast").fetchone() == ("verify",)
        for kw in ({}, {"prepare": True}, {"binary": True}):  # simple, prepared, binary
            rows, tag, warns = verify(c, "SELECT * FROM vt WHERE id > %s", (0,), **kw)
            assert sorted(rows) == list(NODES)
            assert {r[0] for r in rows.values()} == {20}
            assert len({r[1] for r in rows.values()}) == 1
            assert len(next(iter(rows.values()))[1]) == 16
            assert tag == "SELECT 3" and warns == []
        rows, tag, warns = verify(c, "SELECT * FROM vt")  # simple protocol, no parameters
        assert len({r[1] for r in rows.values()}) == 1 and warns == []
        # Another query gives another hash; the empty result has count 0 on each node.
        other, _, _ = verify(c, "SELECT id FROM vt")
        assert next(iter(other.values()))[1] != next(iter(rows.values()))[1]
        empty, tag, warns = verify(c, "SELECT * FROM vt WHERE id < 0")
        assert {r[0] for r in empty.values()} == {0} and tag == "SELECT 3" and warns == []
        # Back to the merge: the union again.
        c.execute("RESET pgrouter.broadcast")
        assert c.execute("SHOW pgrouter.broadcast").fetchone() == ("merge",)
        cur = c.execute("/* pgrouter: broadcast */ SELECT id FROM vt")
        assert len(cur.fetchall()) == 60


def test_a_changed_row_is_named(same, router):
    node_sql(same, "pg2", "UPDATE vt SET name = 'changed' WHERE id = 7 RETURNING id")
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SET pgrouter.broadcast = 'verify'")
        for sql in ("SELECT * FROM vt", "SELECT * FROM vt ORDER BY id"):
            rows, tag, warns = verify(c, sql)
            assert rows["pg1"] == rows["pg3"]
            assert rows["pg2"][0] == 20 and rows["pg2"][1] != rows["pg1"][1]
            assert tag == "SELECT 3"
            assert len(warns) == 1 and warns[0].sqlstate == "01000"
            assert warns[0].message_primary == \
                "pgrouter: verify: node pg2 differs from the majority (pg1, pg3)"
        # The extended protocol says the same.
        rows, _, warns = verify(c, "SELECT * FROM vt WHERE id > %s", (0,))
        assert rows["pg2"][1] != rows["pg1"][1] == rows["pg3"][1]
        assert len(warns) == 1 and "node pg2 differs" in warns[0].message_primary
        # A row deleted on pg3 as well: two nodes differ, each its own way — no majority.
        node_sql(same, "pg3", "DELETE FROM vt WHERE id = 20 RETURNING id")
        rows, _, warns = verify(c, "SELECT * FROM vt")
        assert rows["pg3"][0] == 19
        assert len(warns) == 1
        assert warns[0].message_primary == ("pgrouter: verify: the nodes disagree and no "
                                            "result has a majority: pg1 | pg2 | pg3")


def test_physical_order_does_not_matter_without_order_by(same, router):
    # The nodes really return their rows in different orders without ORDER BY ...
    plain = [node_sql(same, n, "SELECT * FROM vt") for n in NODES]
    assert plain[0] != plain[1] and plain[0] != plain[2]
    assert sorted(plain[0]) == sorted(plain[1]) == sorted(plain[2])
    # ... and ties under ORDER BY grp come in physical order, so that order differs too.
    tied = [node_sql(same, n, "SELECT * FROM vt WHERE grp = 1 ORDER BY grp") for n in NODES]
    assert tied[0] != tied[1]
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SET pgrouter.broadcast = 'verify'")
        for sql in ("SELECT * FROM vt", "SELECT * FROM vt WHERE grp = 1",
                    "SELECT * FROM vt ORDER BY id", "SELECT * FROM vt ORDER BY grp, id"):
            rows, _, warns = verify(c, sql)
            assert len({r for r in rows.values()}) == 1, sql
            assert warns == [], sql
        # With ORDER BY the order is part of the result: the tie order differs, and is seen.
        rows, _, warns = verify(c, "SELECT * FROM vt WHERE grp = 1 ORDER BY grp")
        assert rows["pg1"][1] != rows["pg2"][1]
        assert len(warns) == 1 and "ORDER BY" in warns[0].message_detail
        assert "pg1" in warns[0].message_primary and "pg2" in warns[0].message_primary


def test_duplicates_count_in_the_unordered_hash(same, router):
    # {1, 1, 2, 2} and {1, 1, 1, 1}: the same count, and an XOR of row hashes would be 0 for
    # both; the sum is not.
    for n, vals in zip(NODES, ((1, 1, 2, 2), (1, 1, 2, 2), (1, 1, 1, 1))):
        with psycopg.connect(same.dsn(n, user="app"), autocommit=True) as d:
            d.execute("CREATE TABLE dup (x int)")
            with d.cursor() as cur:
                cur.executemany("INSERT INTO dup VALUES (%s)", [(v,) for v in vals])
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SET pgrouter.broadcast = 'verify'")
        rows, _, warns = verify(c, "SELECT x FROM dup")
        assert {r[0] for r in rows.values()} == {4}
        assert rows["pg1"] == rows["pg2"] != rows["pg3"]
        assert len(warns) == 1 and "node pg3 differs" in warns[0].message_primary


def test_schema_drift_and_failing_node(same, router):
    # The same values, but one node's column is bigint: its RowDescription differs.
    with psycopg.connect(same.dsn("pg1", user="app"), autocommit=True) as d:
        d.execute("ALTER TABLE vt ALTER COLUMN v TYPE bigint")
    with psycopg.connect(same.dsn("pg3", user="app"), autocommit=True) as d:
        d.execute("CREATE TABLE only_here (x int)")
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SET pgrouter.broadcast = 'verify'")
        rows, _, warns = verify(c, "SELECT id, v FROM vt")
        assert rows["pg2"] == rows["pg3"] != rows["pg1"]
        assert len(warns) == 1 and "node pg1 differs" in warns[0].message_primary
        # A node that errors gets its usual per-node WARNING and no row.
        rows, tag, warns = verify(c, "SELECT * FROM only_here")
        assert sorted(rows) == ["pg3"] and tag == "SELECT 1"
        failed = sorted(w.message_primary.split()[1] for w in warns)
        assert failed == ["pg1", "pg2"]
        assert all("failed: 42P01" in w.message_primary for w in warns)


def test_setting_values_and_writes(same, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            c.execute("SET pgrouter.broadcast = 'sometimes'")
        assert c.execute("SHOW pgrouter.broadcast").fetchone() == ("merge",)
        c.execute("SET pgrouter.broadcast = verify")
        # A broadcast write is not verified: it runs and is tagged as usual.
        cur = c.execute("/* pgrouter: broadcast */ UPDATE vt SET v = v + 1 WHERE id = 1")
        assert cur.statusmessage == "UPDATE 3"
        rows, _, warns = verify(c, "/* pgrouter: broadcast */ SELECT * FROM vt")
        assert len({r for r in rows.values()}) == 1 and warns == []
    # The setting is the session's: a new connection merges.
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        cur = c.execute("/* pgrouter: broadcast */ SELECT id FROM vt")
        assert len(cur.fetchall()) == 60
