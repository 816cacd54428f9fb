"""Broadcast merges of numeric in binary format (psycopg binary=True): three nodes with random
numerics (large scales, huge and tiny magnitudes, negatives, zeros of several scales, NaN,
±Infinity, NULL); ORDER BY / LIMIT / min / max / sum through pgrouter must give, byte for byte,
what one PostgreSQL gives on the union of the nodes' rows (pg1 holds it), with no NOTICE (a
NOTICE means the merge fell back to concatenating)."""
import random
from decimal import Decimal

import psycopg
import pytest

from test_broadcast import NODES, dsn, start


def rnd_numeric(rnd):
    k = rnd.random()
    if k < 0.04:
        return rnd.choice(["NaN", "Infinity", "-Infinity"])
    if k < 0.08:
        return None
    if k < 0.14:
        return rnd.choice(["0", "0.0", "0.000", "-0.00", "0." + "0" * 30])
    if k < 0.18:
        return rnd.choice(["1e100", "-1e100", "1e-80", "-1e-80", "9999.9999", "10000",
                           "0.0001", "-0.00009999"])
    ip = str(rnd.randint(0, 10 ** rnd.randint(0, 40)))
    scale = rnd.choice([0, 0, 1, 2, 3, 4, 5, 7, 8, 12, 20, 40, 60])
    fp = "".join(rnd.choice("0123456789") for _ in range(scale))
    s = ip + ("." + fp if scale else "")
    return ("-" if rnd.random() < 0.45 else "") + s


@pytest.fixture
def numnodes(cluster_factory, pgrouter_factory):
    """Table nt (id, grp, c numeric) with different random rows on each node; nt_all on pg1
    holds the union. Yields (cluster, pgrouter port)."""
    c = cluster_factory(3)
    rnd = random.Random(1128)
    with psycopg.connect(c.dsn("pg1", user="app"), autocommit=True) as d:
        d.execute("CREATE TABLE nt_all (id int, grp int, c numeric)")
    next_id = 1
    for n in NODES:
        rows = []
        for _ in range(80):
            rows.append((next_id, rnd.randint(0, 3), rnd_numeric(rnd)))
            next_id += 1
        with psycopg.connect(c.dsn(n, user="app"), autocommit=True) as d:
            d.execute("CREATE TABLE nt (id int, grp int, c numeric)")
            with d.cursor() as cur:
                cur.executemany("INSERT INTO nt VALUES (%s, %s, %s::numeric)", rows)
        with psycopg.connect(c.dsn("pg1", user="app"), autocommit=True) as d:
            with d.cursor() as cur:
                cur.executemany("INSERT INTO nt_all VALUES (%s, %s, %s::numeric)", rows)
    p = start(c, pgrouter_factory)
    return c, p.port


def raw_rows(cur):
    """Every cell as the bytes the server sent (None for NULL)."""
    res = cur.pgresult
    return [tuple(res.get_value(r, k) for k in range(res.nfields)) for r in range(res.ntuples)]


def run(conn, sql):
    cur = conn.cursor(binary=True)
    cur.execute(sql)
    formats = [cur.pgresult.fformat(k) for k in range(cur.pgresult.nfields)]
    return raw_rows(cur), formats, cur.statusmessage


def test_binary_numeric_merges_match_one_postgres(numnodes):
    c, port = numnodes
    rnd = random.Random(29)
    queries = []
    for _ in range(40):
        key = rnd.choice(["c", "c DESC", "c NULLS FIRST", "c DESC NULLS LAST", "grp, c",
                          "c, grp DESC", "grp DESC, c DESC"])
        limit = rnd.choice(["", "", " LIMIT 1", " LIMIT 10", " LIMIT 25 OFFSET 30",
                            " OFFSET 230"])
        cols = rnd.choice(["id, grp, c", "*", "c, id"])
        if "grp" in key and "grp" not in cols and cols != "*":
            cols += ", grp"  # keys must be output columns for a merge (mergeplan.h)
        queries.append(f"SELECT {cols} FROM {{t}} ORDER BY {key}, id{limit}")
    where = ["", "WHERE c <> 'NaN'", "WHERE c < 'Infinity'", "WHERE c > '-Infinity'",
             "WHERE c > '-Infinity' AND c < 'Infinity'", "WHERE c BETWEEN -1 AND 1",
             "WHERE grp = 2 AND c < 'Infinity' AND c > '-Infinity'", "WHERE c = 0",
             "WHERE c IS NULL", "WHERE id < 0", "WHERE c > 1e30 AND c < 'Infinity'"]
    for w in where:
        queries.append(f"SELECT sum(c), min(c), max(c), count(c), count(*) FROM {{t}} {w}")
        queries.append(f"SELECT max(c), sum(c) FROM {{t}} {w}")
    with psycopg.connect(dsn(port), autocommit=True) as r, \
            psycopg.connect(c.dsn("pg1", user="app"), autocommit=True) as one:
        notes = []
        r.add_notice_handler(lambda d: notes.append(d.message_primary))
        nonempty_sums = 0
        for q in queries:
            merged, mformats, mtag = run(r, "/* pgrouter: broadcast */ " + q.format(t="nt"))
            expect, eformats, etag = run(one, q.format(t="nt_all"))
            assert mformats == eformats and set(mformats) == {1}, q
            assert merged == expect, q
            assert mtag == etag, q
            assert notes == [], (q, notes)
            if q.startswith("SELECT sum") and expect[0][0] is not None:
                nonempty_sums += 1
        # The filters made finite, ±Infinity and NaN sums, all merged from rows on every node.
        assert nonempty_sums >= 8


def test_the_data_covers_the_edge_cases(numnodes):
    """The premise: every node holds special values, zeros, negatives and scales above 20, and
    the zeros have several scales, so the test above reaches them."""
    c, _ = numnodes
    for n in NODES:
        with psycopg.connect(c.dsn(n, user="app"), autocommit=True) as d:
            got = d.execute(
                "SELECT count(*) FILTER (WHERE c = 'NaN' OR c = 'Infinity' OR c = '-Infinity'),"
                " count(DISTINCT scale(c)) FILTER (WHERE c = 0),"
                " count(*) FILTER (WHERE c < 0 AND c > '-Infinity'),"
                " count(*) FILTER (WHERE scale(c) > 20), count(*) FILTER (WHERE c IS NULL) "
                "FROM nt").fetchone()
            assert all(v > 0 for v in got[:4]), (n, got)
    with psycopg.connect(c.dsn("pg1", user="app"), autocommit=True) as d:
        # equal zeros of different scales on different nodes: min/max must pick PostgreSQL's
        assert d.execute("SELECT count(DISTINCT scale(c)) FROM nt_all WHERE c = 0").fetchone()[0] \
            >= 3


def test_merged_values_decode_as_python_decimals(numnodes):
    """A driver reads the merged binary numerics: psycopg decodes them to the same Decimals as
    the union's (NaN compared by its string)."""
    c, port = numnodes
    q = "SELECT sum(c), min(c), max(c) FROM {t} WHERE c > '-Infinity' AND c < 'Infinity'"
    with psycopg.connect(dsn(port), autocommit=True) as r, \
            psycopg.connect(c.dsn("pg1", user="app"), autocommit=True) as one:
        got = r.cursor(binary=True).execute("/* pgrouter: broadcast */ " +
                                            q.format(t="nt")).fetchone()
        want = one.cursor(binary=True).execute(q.format(t="nt_all")).fetchone()
        assert all(isinstance(v, Decimal) for v in got)
        assert [str(v) for v in got] == [str(v) for v in want]
