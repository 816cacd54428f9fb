"""Ordered broadcast merges in the database's collation: three nodes with a database created
with LC_COLLATE 'en_US.UTF-8' (scripts/bootstrap.sh generates the locale), text with mixed case,
accents, punctuation, spaces and digits; every merged result must equal what one PostgreSQL
returns for the union of the nodes' rows, with no NOTICE or WARNING from the merge."""
import random
import time
from pathlib import Path

import psycopg
import pytest

from conftest import free_port
from test_broadcast import NODES, config

DB = "coll_en"
PIECES = ["a", "A", "b", "B", "e", "E", "\u00e9", "\u00c9", "o", "O", "\u00f6", "z", "Z",
          "\u00df", "ss", "\u00f1", "n", "-", " ", "'", ".", "_", "0", "1", "9", "10", ","]


def word(rnd):
    return "".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 5)))


def dsn(port, dbname=DB):
    return f"host=127.0.0.1 port={port} user=app dbname={dbname}"


@pytest.fixture
def en(cluster_factory, pgrouter_factory):
    """Three nodes, database coll_en (en_US.UTF-8) on each with table ct (different rows per
    node); pg1 also holds the union in ct_all. Yields (cluster, pgrouter port)."""
    c = cluster_factory(3)
    rnd = random.Random(11)
    for n in NODES:
        with psycopg.connect(c.dsn(n), autocommit=True) as d:
            d.execute(f"CREATE DATABASE {DB} OWNER app TEMPLATE template0 ENCODING 'UTF8' "
                      "LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'")
            # every statement in the node's log: the collation probes are counted there
            d.execute(f"ALTER DATABASE {DB} SET log_statement = 'all'")
    with psycopg.connect(c.dsn("pg1", user="app", dbname=DB), autocommit=True) as d:
        d.execute("CREATE TABLE ct_all (id int, s text, v varchar(12), c char(6), nm name)")
    next_id = 1
    for n in NODES:
        rows = []
        for _ in range(70):
            s = rnd.choice([None, word(rnd), word(rnd), word(rnd)])
            rows.append((next_id, s, word(rnd)[:12], word(rnd)[:6], word(rnd)))
            next_id += 1
        with psycopg.connect(c.dsn(n, user="app", dbname=DB), autocommit=True) as d:
            d.execute("CREATE TABLE ct (id int, s text, v varchar(12), c char(6), nm name)")
            with d.cursor() as cur:
                cur.executemany("INSERT INTO ct VALUES (%s, %s, %s, %s, %s)", rows)
        with psycopg.connect(c.dsn("pg1", user="app", dbname=DB), autocommit=True) as d:
            with d.cursor() as cur:
                cur.executemany("INSERT INTO ct_all VALUES (%s, %s, %s, %s, %s)", rows)
    port = free_port()
    pgrouter_factory(config(c, port), port)
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(dsn(port), autocommit=True) as t:
                if len(t.execute("/* pgrouter: broadcast */ SELECT 1").fetchall()) == 3:
                    break
        except psycopg.Error:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the three nodes never became healthy behind pgrouter")
        time.sleep(0.1)
    return c, port


def test_the_nodes_sort_in_en_us(en):
    """The premise: en_US order is not byte order (else the test below proves nothing)."""
    c, _ = en
    with psycopg.connect(c.dsn("pg1", user="app", dbname=DB), autocommit=True) as one:
        assert one.execute("SELECT datcollate FROM pg_database WHERE datname = %s",
                           (DB,)).fetchone()[0] == "en_US.UTF-8"
        coll = [r[0] for r in one.execute("SELECT s FROM ct_all WHERE s IS NOT NULL ORDER BY s")]
        byte = [r[0] for r in one.execute(
            "SELECT s FROM ct_all WHERE s IS NOT NULL ORDER BY s COLLATE \"C\"")]
        assert coll != byte


def test_random_ordered_queries_match_one_postgres(en):
    c, port = en
    rnd = random.Random(5)
    queries = []
    for _ in range(60):
        col = rnd.choice(["s", "v", "c", "s", "nm"])
        key = rnd.choice([f"{col}", f"{col} DESC", f"{col} NULLS FIRST", f"{col} DESC NULLS LAST",
                          f"{col} COLLATE \"C\"", f"{col} COLLATE \"C\" DESC",
                          f"{col} COLLATE \"POSIX\"", f"{col} COLLATE ucs_basic DESC", f"{col} COLLATE \"default\" DESC",
                          f"lower({col})"])
        if col == "nm" and "lower" in key:
            key = "nm"
        second = rnd.choice(["", "s, ", "v DESC, "])
        limit = rnd.choice(["", "", " LIMIT 9", " LIMIT 15 OFFSET 7", " OFFSET 200"])
        cols = rnd.choice(["id, s, v, c, nm", "*", "id, s, v, c, nm, lower(s), lower(v), "
                                                   "lower(c)"])
        if "lower" in key and "lower" not in cols:
            cols += ", lower(s), lower(v), lower(c)"
        queries.append(f"SELECT {cols} FROM {{t}} ORDER BY {second}{key}, id{limit}")
    queries += [
        # (not min/max(nm): max(name) is max(text) over a "C" column, whose collation the
        # result's type does not show — a column's own collation is not known to the merge)
        "SELECT min(s), max(s), min(v), max(v), min(c), max(c), count(*) FROM {t}",
        "SELECT max(s), min(s) FROM {t} WHERE s LIKE '%a%'",
    ]
    with psycopg.connect(dsn(port), autocommit=True) as r, \
            psycopg.connect(c.dsn("pg1", user="app", dbname=DB), autocommit=True) as one:
        notes = []
        r.add_notice_handler(lambda d: notes.append(d.message_primary))
        for q in queries:
            merged = r.execute("/* pgrouter: broadcast */ " + q.format(t="ct")).fetchall()
            expect = one.execute(q.format(t="ct_all")).fetchall()
            assert merged == expect, q
            assert notes == [], q
        # In a transaction too (the collation is already known: nothing runs before the batch).
        r.execute("/* pgrouter: broadcast */ BEGIN")
        q = "SELECT id, s FROM {t} ORDER BY s DESC, id LIMIT 20"
        assert r.execute("/* pgrouter: broadcast */ " + q.format(t="ct")).fetchall() == \
            one.execute(q.format(t="ct_all")).fetchall()
        r.execute("/* pgrouter: broadcast */ COMMIT")
        assert notes == []


def test_an_icu_collation_is_not_guessed(en):
    """ICU's order is not libc's: the merge compares bytewise and says the order may be off."""
    c, port = en
    with psycopg.connect(dsn(port), autocommit=True) as r:
        notes = []
        r.add_notice_handler(lambda d: notes.append((d.severity, d.message_primary)))
        r.execute("/* pgrouter: broadcast */ SELECT id, s FROM ct "
                  "ORDER BY s COLLATE \"und-x-icu\", id").fetchall()
        assert any(sev == "WARNING" and "may not follow its ORDER BY" in m for sev, m in notes)


def test_collation_asked_once_per_node_and_database(en):
    """The first ordered broadcast on a database asks each node for its collation (before the
    batch, on the same connection); later ones — on other node connections, for other
    clients — do not ask again. Counted in the nodes' statement logs."""
    c, port = en

    def probes(n):
        text = Path(c.dir, f"{n}.log").read_text(errors="replace")
        return text.count("pg_database d WHERE d.datname = pg_catalog.current_database()")

    before = {n: probes(n) for n in NODES}
    assert all(before[n] <= 1 for n in NODES)
    q = "/* pgrouter: broadcast */ SELECT id, s FROM ct ORDER BY s NULLS FIRST, id"
    with psycopg.connect(dsn(port), autocommit=True) as a, \
            psycopg.connect(dsn(port), autocommit=True) as b:
        notes = []
        a.add_notice_handler(lambda d: notes.append(d.message_primary))
        first = a.execute(q).fetchall()
        b.execute("/* pgrouter: broadcast */ BEGIN")  # holds one connection per node
        assert a.execute(q).fetchall() == first      # so this runs on others
        assert b.execute(q).fetchall() == first
        b.execute("/* pgrouter: broadcast */ COMMIT")
        assert a.execute("/* pgrouter: broadcast */ SELECT max(s) FROM ct").fetchall() == \
            [(first[-1][1],)]
        with psycopg.connect(c.dsn("pg1", user="app", dbname=DB), autocommit=True) as one:
            assert first == one.execute(
                "SELECT id, s FROM ct_all ORDER BY s NULLS FIRST, id").fetchall()
        assert notes == []
    time.sleep(0.3)  # the log is written by the server process, not in our transaction
    after = {n: probes(n) for n in NODES}
    assert after == {n: 1 for n in NODES}, (before, after)
