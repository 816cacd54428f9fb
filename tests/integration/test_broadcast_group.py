"""Broadcast GROUP BY merge (issue #17 item 1), against three PostgreSQL nodes with different
data, compared with one PostgreSQL holding the union:

* a seeded property test: GROUP BY over 1-3 keys (int4, text, numeric, an expression; by
  position, name, alias or expression) with count/sum/min/max, NULL groups, an empty node,
  ORDER BY and LIMIT/OFFSET over the merged groups, in the simple, extended (text and binary)
  and prepared modes;
* SELECT DISTINCT (issue #17 item 2), merged as a GROUP BY of every column: a seeded property
  test over 1-3 columns (plain and expressions), NULLs, an empty node, ORDER BY and LIMIT/OFFSET,
  in every client mode;
* what is not merged (avg, count(DISTINCT), bool_and, keys not selected, HAVING, ROLLUP,
  DISTINCT ON, DISTINCT with an aggregate) gets its NOTICE and the nodes' rows;
* broadcast.merge_memory: past it ERROR 54000, and the session goes on.

Set PGR_GROUP_SEED to replay the property test with another seed."""
import os
import random

import psycopg
import pytest

from conftest import Cluster
from test_broadcast_more import HINT, NODES, collect, dsn, start

COLUMNS = "src text, k1 int4, k2 text, k3 numeric, v int4, w int8, n numeric, b bool"
NUMS = [None, "1.5", "-2.25", "100", "0.001", "7", "12345678901234567890.5"]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(3)
    yield c
    c.stop()


def load(cluster, rnd):
    """gt on every node (pg2: 0 rows when filtered by src <> 'pg2'); gt_all on pg1: the union."""
    data = {}
    for n in NODES:
        rows = []
        for _ in range(rnd.randint(20, 60)):
            rows.append((n, rnd.choice([None, 0, 1, 2, 3, 4]),
                         rnd.choice([None, "a", "b", "B", "ab", "\u00e9"]),
                         rnd.choice([None, "1.5", "2", "-3.25"]),
                         rnd.choice([None, -5, 0, 1, 2, 1000, 2**31 - 1]),
                         rnd.choice([None, -1, 3, 2**62]),
                         rnd.choice(NUMS), rnd.choice([None, True, False])))
        data[n] = rows
    ins = "INSERT INTO {t} VALUES (%s, %s, %s, %s::numeric, %s, %s, %s::numeric, %s)"
    for n in NODES:
        with psycopg.connect(cluster.dsn(n, user="app"), autocommit=True) as d:
            d.execute("DROP TABLE IF EXISTS gt, gt_all")
            d.execute(f"CREATE TABLE gt ({COLUMNS})")
            d.cursor().executemany(ins.format(t="gt"), data[n])
    with psycopg.connect(cluster.dsn("pg1", user="app"), autocommit=True) as d:
        d.execute(f"CREATE TABLE gt_all ({COLUMNS})")
        d.cursor().executemany(ins.format(t="gt_all"), [r for n in NODES for r in data[n]])


KEYS = [("k1", "k1"), ("k2", "k2"), ("k3", "k3"), ("lower(k2)", "lk"), ("mod(k1, 2)", "odd")]
AGGS = ["count(*)", "count(v)", "sum(v)", "sum(w)", "sum(n)", "min(v)", "max(v)", "min(k2)",
        "max(n)", "min(k3)", "max(w)"]
FILTERS = [("", ()), ("", ()), ("WHERE src <> %s", ("pg2",)), ("WHERE k1 > %s", (1,)),
           ("WHERE false", ())]


def gen_query(rnd):
    keys = rnd.sample(KEYS, rnd.randint(1, 3))
    aggs = rnd.sample(AGGS, rnd.randint(1, 4))
    items = [f"{e} AS {a}" if e != a else e for e, a in keys] + aggs
    refs = []
    for i, (e, a) in enumerate(keys):
        refs.append(rnd.choice([str(i + 1), a if e == a or rnd.random() < 0.5 else e]))
    where, params = rnd.choice(FILTERS)
    sql = f"SELECT {', '.join(items)} FROM {{t}} {where} GROUP BY {', '.join(refs)}"
    ordered = rnd.random() < 0.6
    if ordered:
        # every key in the order: the groups are unique by them, so the order is total
        order = [str(len(keys) + 1)] if rnd.random() < 0.5 else []
        order += [str(i + 1) for i in rnd.sample(range(len(keys)), len(keys))]
        sql += " ORDER BY " + ", ".join(
            f"{c}{rnd.choice(['', ' DESC', ' NULLS FIRST', ' DESC NULLS LAST'])}" for c in order)
        sql += rnd.choice(["", " LIMIT 3", " LIMIT 4 OFFSET 2", " OFFSET 5", " LIMIT 0"])
    return sql, params, ordered


def run(conn, mode, sql, params):
    if mode == "simple":
        cur = psycopg.ClientCursor(conn)
        cur.execute(sql, params or None)
    elif mode == "binary":
        cur = conn.execute(sql, params or None, binary=True)
    else:
        cur = conn.execute(sql, params or None, prepare=(mode == "prepared"))
    return cur.fetchall(), cur.statusmessage


def sortable(rows):
    return sorted(rows, key=lambda r: repr([(v is None, type(v).__name__, v) for v in r]))


def same_in_every_mode(c, notes, sql, params, ordered, want, where):
    """sql on gt through pgrouter, in each client mode, gives want (the union's answer), in
    order when ordered, with no notice; returns the last rows got."""
    for mode in ("simple", "text", "binary", "prepared", "prepared"):
        notes.clear()
        got, status = run(c, mode, HINT + sql.format(t="gt"), params)
        at = f"{where} {mode}: {sql} {params}"
        assert not notes, f"{at}: {notes}"
        assert status == f"SELECT {len(want)}", at
        if ordered:
            assert got == want, at
        else:
            assert sortable(got) == sortable(want), at
    return got


def test_group_by_matches_one_postgres_in_every_client_mode(cluster, pgrouter_factory):
    seed = int(os.environ.get("PGR_GROUP_SEED", random.randrange(1 << 30)))
    print(f"PGR_GROUP_SEED={seed}")
    rnd = random.Random(seed)
    load(cluster, rnd)
    router = start(cluster, pgrouter_factory)
    one = psycopg.connect(cluster.dsn("pg1", user="app"), autocommit=True)
    c = psycopg.connect(dsn(router.port), autocommit=True)
    notes = collect(c)
    try:
        merged_rows = 0
        for it in range(40):
            sql, params, ordered = gen_query(rnd)
            want, _ = run(one, "text", sql.format(t="gt_all"), params)
            got = same_in_every_mode(c, notes, sql, params, ordered, want,
                                     f"seed {seed} iteration {it}")
            merged_rows += len(got)
        # the three nodes' groups overlap: the merge did combine (a concatenation would have
        # more rows than the union's groups, and fail above)
        assert merged_rows > 0
    finally:
        one.close()
        c.close()


DISTINCT_COLS = ["k1", "k2", "k3", "lower(k2)", "mod(k1, 2)", "b", "v"]


def gen_distinct(rnd):
    cols = rnd.sample(DISTINCT_COLS, rnd.randint(1, 3))
    where, params = rnd.choice(FILTERS)
    sql = f"SELECT DISTINCT {', '.join(cols)} FROM {{t}} {where}"
    ordered = rnd.random() < 0.6
    if ordered:
        # every column in the order: the rows are unique by them, so the order is total
        order = rnd.sample(range(1, len(cols) + 1), len(cols))
        sql += " ORDER BY " + ", ".join(
            f"{c}{rnd.choice(['', ' DESC', ' NULLS FIRST', ' DESC NULLS LAST'])}" for c in order)
        sql += rnd.choice(["", " LIMIT 3", " LIMIT 4 OFFSET 2", " OFFSET 5", " LIMIT 0"])
    return sql, params, ordered


def test_distinct_matches_one_postgres_in_every_client_mode(cluster, pgrouter_factory):
    seed = int(os.environ.get("PGR_GROUP_SEED", random.randrange(1 << 30)))
    print(f"PGR_GROUP_SEED={seed}")
    rnd = random.Random(seed)
    load(cluster, rnd)
    router = start(cluster, pgrouter_factory)
    one = psycopg.connect(cluster.dsn("pg1", user="app"), autocommit=True)
    c = psycopg.connect(dsn(router.port), autocommit=True)
    notes = collect(c)
    try:
        duplicates_removed = 0
        for it in range(30):
            sql, params, ordered = gen_distinct(rnd)
            want, _ = run(one, "text", sql.format(t="gt_all"), params)
            per_node = 0
            for n in NODES:
                with psycopg.connect(cluster.dsn(n, user="app"), autocommit=True) as d:
                    per_node += len(run(d, "text", sql.format(t="gt"), params)[0])
            duplicates_removed += per_node - len(want) if "LIMIT" not in sql else 0
            same_in_every_mode(c, notes, sql, params, ordered, want, f"seed {seed} iteration {it}")
        # the nodes' rows overlap: a concatenation would have had these rows more
        assert duplicates_removed > 0
    finally:
        one.close()
        c.close()


REFUSED = [
    ("SELECT k1, avg(v) FROM gt GROUP BY k1", "avg cannot be merged"),
    ("SELECT k1, count(DISTINCT v) FROM gt GROUP BY k1", "count(DISTINCT ...) cannot be merged"),
    ("SELECT k1, bool_and(b) FROM gt GROUP BY k1", "bool_and cannot be merged"),
    ("SELECT count(*) FROM gt GROUP BY k1", "GROUP BY a key not in the select list"),
    ("SELECT k1, count(*) FROM gt GROUP BY k1 HAVING count(*) > 0", "HAVING"),
    ("SELECT k1, count(*) FROM gt GROUP BY ROLLUP (k1)", "GROUPING SETS, ROLLUP or CUBE"),
    ("SELECT DISTINCT ON (k1) k1, k2 FROM gt ORDER BY k1, k2", "DISTINCT ON"),
    ("SELECT DISTINCT count(*) FROM gt", "DISTINCT with GROUP BY or aggregates"),
]


@pytest.mark.parametrize("sql,why", REFUSED)
def test_what_is_not_merged_says_so(cluster, pgrouter_factory, sql, why):
    """The nodes' rows, concatenated, with one NOTICE naming what is not merged."""
    load(cluster, random.Random(7))
    router = start(cluster, pgrouter_factory)
    per_node = 0
    for n in NODES:
        with psycopg.connect(cluster.dsn(n, user="app"), autocommit=True) as d:
            per_node += len(d.execute(sql).fetchall())
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        notes = collect(c)
        rows = c.execute(HINT + sql).fetchall()
        assert len(rows) == per_node
        assert [x.sqlstate for x in notes] == ["00000"], notes
        assert why in notes[0].message_primary and "not merged" in notes[0].message_primary


def test_merge_memory_limit(cluster, pgrouter_factory):
    """A GROUP BY whose groups exceed broadcast.merge_memory is ERROR 54000 naming the setting
    (in the simple and extended protocols); the same connection goes on, and a GROUP BY that
    fits is merged."""
    router = start(cluster, pgrouter_factory, "broadcast: {merge_memory: 16kB}")
    big = HINT + "SELECT g, count(*) FROM generate_series(1, 2000) g GROUP BY g"
    small = HINT + "SELECT mod(g, 3) AS m, count(*) FROM generate_series(1, 30) g GROUP BY 1 ORDER BY 1"
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        for kw in ({}, {"prepare": True}):
            with pytest.raises(psycopg.Error) as e:
                c.execute(big, **kw).fetchall()
            assert e.value.sqlstate == "54000"
            assert "broadcast.merge_memory (16384 bytes)" in str(e.value) or \
                "broadcast.merge_memory" in str(e.value)
            assert c.execute(small, **kw).fetchall() == [(0, 30), (1, 30), (2, 30)]
            with pytest.raises(psycopg.Error) as e:  # DISTINCT is bounded alike
                c.execute(HINT + "SELECT DISTINCT g FROM generate_series(1, 2000) g",
                          **kw).fetchall()
            assert e.value.sqlstate == "54000"
        with c.transaction():
            with pytest.raises(psycopg.Error):
                c.execute(big).fetchall()
                raise AssertionError("no error")
        assert c.execute(HINT + "SELECT 1").fetchall() == [(1,)] * 3
    # the default limit holds the 2000 groups of three nodes
    router2 = start(cluster, pgrouter_factory)
    with psycopg.connect(dsn(router2.port), autocommit=True) as c:
        rows = c.execute(big + " ORDER BY g DESC LIMIT 2").fetchall()
        assert rows == [(2000, 3), (1999, 3)]
