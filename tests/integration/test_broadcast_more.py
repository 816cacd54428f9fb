"""More broadcast tests (issue #7), against three PostgreSQL nodes with different data:

* a seeded property test of the ordered (k-way ORDER BY, LIMIT/OFFSET) and aggregate merges
  over many column types, in four client modes and with the node column, compared with one
  PostgreSQL holding the union of the data;
* a cancel reaching every node; a client that disconnects mid-broadcast releasing every node;
* broadcast.timeout with a hung node; multi-statement simple queries and a rolled-back driver
  transaction.

Set PGR_BCAST_SEED to replay the property test with another seed."""
import collections
import datetime
import os
import socket
import struct
import threading
import time
from decimal import Decimal
import random

import psycopg
import pytest

from conftest import Cluster, free_port

NODES = ("pg1", "pg2", "pg3")
HINT = "/* pgrouter: broadcast */ "
TZ = "America/New_York"   # DST: local text order differs from instant order around 2021-11-07


def config(cluster, port, extra=""):
    nodes = "\n".join(f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}" for n in NODES)
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
pool: {{mode: transaction, max_size: 10, acquire_timeout: 5s}}
health: {{interval: 300ms, timeout: 1s}}
log: {{level: info}}
{extra}
nodes:
{nodes}
"""


def dsn(port, dbname="app"):
    return f"host=127.0.0.1 port={port} user=app dbname={dbname} connect_timeout=5"


class Note:
    """A notice's fields, copied in the handler (psycopg's Diagnostic dies with the callback)."""

    def __init__(self, d):
        self.severity = d.severity
        self.sqlstate = d.sqlstate
        self.message_primary = d.message_primary or ""

    def __repr__(self):
        return f"{self.severity} {self.sqlstate} {self.message_primary}"


def collect(conn):
    notes = []
    conn.add_notice_handler(lambda d: notes.append(Note(d)))
    return notes


def start(cluster, pgrouter_factory, extra=""):
    """pgrouter in front of the three nodes, returned once a broadcast reaches all three."""
    port = free_port()
    p = pgrouter_factory(config(cluster, port, extra), port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn(port), autocommit=True) as c:
                if len(c.execute(HINT + "SELECT 1").fetchall()) == 3:
                    return p
        except psycopg.Error:
            pass
        time.sleep(0.1)
    raise TimeoutError("the three nodes never became healthy behind pgrouter")


@pytest.fixture(scope="module")
def cluster():
    """One set of three nodes for the whole module (starting nodes is most of the runtime);
    each test starts its own pgrouter and (re)creates the tables it uses."""
    c = Cluster(3)
    yield c
    c.stop()


# ---- the property test ------------------------------------------------------------------------

COLUMNS = "g int4, i4 int4, i8 int8, n numeric, t text, d date, ts timestamptz, b bool, f float8"
INSERT = ("INSERT INTO {t} VALUES "
          "(%s, %s, %s, %s::numeric, %s, %s::date, %s::timestamptz, %s, %s::float8)")

# Output expressions: (SQL, type). Values of one numeric never tie with another display
# ("1.5" / "1.50") and no float is -0, so min/max and ties are deterministic in what they show.
EXPRS = [("g", "int4"), ("i4", "int4"), ("i8", "int8"), ("n", "numeric"), ("t", "text"),
         ("d", "date"), ("ts", "timestamptz"), ("b", "bool"), ("f", "float8"),
         ("i4 * 2", "int4"), ("t || '!'", "text"), ("n * 2", "numeric"), ("-f", "float8"),
         ("d + 7", "date")]
BARE = {"g", "i4", "i8", "n", "t", "d", "ts", "b", "f"}

# Aggregates: (SQL, true when its result is numeric: in binary it may only be concatenated).
AGGS = [("count(*)", False), ("count(t)", False), ("count(f)", False), ("sum(i4)", False),
        ("sum(g)", False), ("sum(i8)", True), ("sum(n)", True), ("min(i4)", False),
        ("max(i8)", False), ("min(n)", True), ("max(n)", True), ("min(t)", False),
        ("max(t)", False), ("min(d)", False), ("max(d)", False), ("min(ts)", False),
        ("max(ts)", False), ("min(f)", False), ("max(f)", False), ("max(g)", False)]

UTC = datetime.timezone.utc
# (WHERE clause, parameters). g ranges: shared duplicate rows 1-5 on every node of pt; pg1
# 1001-, pg2 2001-, pg3 3001- (pt) and pg1 1101-, pg3 3101- with pg2 empty (pe).
FILTERS = [
    ("", ()),
    ("", ()),
    ("WHERE g < %s", (1010,)),                       # pg2, pg3: the shared rows only
    ("WHERE g > %s", (2500,)),                       # pg3 only
    ("WHERE g BETWEEN %s AND %s", (2005, 2012)),     # pg2 only
    ("WHERE i4 > %s", (0,)),
    ("WHERE i4 IS NULL", ()),
    ("WHERE t >= %s", ("b",)),
    ("WHERE d < %s", (datetime.date(2010, 1, 1),)),
    ("WHERE ts > %s", (datetime.datetime(2021, 11, 7, 5, 50, tzinfo=UTC),)),
    ("WHERE b", ()),
    ("WHERE NOT b AND f < %s", (1.0,)),
    ("WHERE n IS NOT NULL AND n < %s", (Decimal("50"),)),
    ("WHERE i8 > %s", (0,)),
    ("WHERE false", ()),
    ("WHERE mod(g, 3) = %s", (1,)),
]

LIMITS = ["", "", "", " LIMIT 0", " LIMIT 1", " LIMIT 5", " LIMIT 17", " LIMIT 5 OFFSET 3",
          " LIMIT 10 OFFSET 40", " OFFSET 7", " OFFSET 1000", " LIMIT 3 OFFSET 1000",
          " LIMIT ALL", " LIMIT ALL OFFSET 2", " FETCH FIRST 4 ROWS ONLY",
          " OFFSET 2 ROWS FETCH NEXT 3 ROWS ONLY"]

NUMERICS = [None, "0", "1.5", "-2.25", "100", "0.001", "12345678901234567890.123", "-0.5", "7"]
TEXTS = [None, "", "a", "A", "ab", "b", "a b", "\u00e9", "Z", "zz", "\u65e5\u672c", "~", "b"]
FLOATS = [None, "-1e308", "-1.5", "0.1", "0.30000000000000004", "1e-300", "3", "2.5e10", "3"]
TIMES = ["2021-11-07 01:30:00-04", "2021-11-07 01:10:00-05", "2021-11-07 05:45:00+00",
         "2021-03-14 01:59:59.999999-05", "2021-03-14 03:00:00-04", "2000-01-01 00:00:00+00"]
# Per node: one row each with a special numeric and float (NaN / infinities).
SPECIALS = {"pg1": ("Infinity", "NaN"), "pg2": ("NaN", "-Infinity"),
            "pg3": ("-Infinity", "Infinity")}


def gen_rows(rnd, g0, count, node):
    rows = []
    for k in range(count):
        if rnd.random() < 0.3:
            ts = rnd.choice(TIMES)
        else:
            sec = rnd.randint(946684800, 1924991999)
            ts = (datetime.datetime.fromtimestamp(sec, UTC)
                  .replace(microsecond=rnd.choice([0, 1, 500000, 999999]))).isoformat()
        day = datetime.date(1999, 1, 1) + datetime.timedelta(days=rnd.randint(0, 11700))
        n, f = rnd.choice(NUMERICS), rnd.choice(FLOATS)
        if k == count - 1 and node in SPECIALS:
            n, f = SPECIALS[node]
        rows.append((g0 + k,
                     rnd.choice([None, -3, -2, -1, 0, 1, 2, 3]),
                     rnd.choice([None, -9000000000000000000, -1, 0, 7, 1 << 40,
                                 9000000000000000000, rnd.randint(-10**12, 10**12)]),
                     n,
                     rnd.choice(TEXTS),
                     None if rnd.random() < 0.1 else day.isoformat(),
                     None if rnd.random() < 0.1 else ts,
                     rnd.choice([None, True, False, False]),
                     f))
    return rows


def load_property_data(cluster, rnd):
    """pt: shared duplicate rows g=1-5 on every node, then 40 own rows each. pe: pg2 empty.
    pg1 also holds pt_all and pe_all, the union."""
    shared = gen_rows(rnd, 1, 5, None)
    data = {("pt", n): shared + gen_rows(rnd, 1000 * (k + 1) + 1, 40, n)
            for k, n in enumerate(NODES)}
    data[("pe", "pg1")] = gen_rows(rnd, 1101, 30, "pg1")
    data[("pe", "pg2")] = []
    data[("pe", "pg3")] = gen_rows(rnd, 3101, 30, "pg3")
    for n in NODES:
        with psycopg.connect(cluster.dsn(n, user="app"), autocommit=True) as d:
            for t in ("pt", "pe"):
                d.execute(f"DROP TABLE IF EXISTS {t}, {t}_all")
                d.execute(f"CREATE TABLE {t} ({COLUMNS})")
                with d.cursor() as cur:
                    if data[(t, n)]:
                        cur.executemany(INSERT.format(t=t), data[(t, n)])
    with psycopg.connect(cluster.dsn("pg1", user="app"), autocommit=True) as d:
        for t in ("pt", "pe"):
            d.execute(f"CREATE TABLE {t}_all ({COLUMNS})")
            with d.cursor() as cur:
                cur.executemany(INSERT.format(t=f"{t}_all"),
                                [r for n in NODES for r in data[(t, n)]])


def canon(v):
    """A value as a hashable, exact token: NaN equals NaN, 1.5 differs from 1.50."""
    if v is None:
        return None
    if isinstance(v, float):
        return ("float", repr(v))
    if isinstance(v, Decimal):
        return ("numeric", str(v))
    if isinstance(v, (datetime.datetime, datetime.date)):
        return (type(v).__name__, v.isoformat())
    return (type(v).__name__, v)


def canon_row(r):
    return tuple(canon(v) for v in r)


class Query:
    """One generated statement and what checking it needs."""

    def __init__(self, kind, text, params, rank_text=None, numeric_merge=False, node_text=None):
        self.kind = kind              # "ordered", "unordered", "aggregate", "unmergeable"
        self.text = text              # with {t} for the table
        self.params = params
        self.rank_text = rank_text    # ordered: the select list plus rank() over the keys
        self.numeric_merge = numeric_merge  # merging needs numeric values (binary: NOTICE ok)
        self.node_text = node_text    # each node's rows, without ORDER BY / LIMIT


def gen_query(rnd):
    where, params = rnd.choice(FILTERS)
    r = rnd.random()
    if r < 0.25:
        chosen = rnd.sample(AGGS, rnd.randint(1, 5))
        items = [a if rnd.random() < 0.6 else f"{a} AS a{k}" for k, (a, _) in enumerate(chosen)]
        text = f"SELECT {', '.join(items)} FROM {{t}} {where}"
        return Query("aggregate", text, params, numeric_merge=any(num for _, num in chosen),
                     node_text=text)
    cols = rnd.sample(EXPRS, rnd.randint(2, 5))
    names, items = [], []
    for k, (expr, _) in enumerate(cols):
        alias = None
        x = rnd.random()
        if x < 0.25:
            alias = f"c{k}"
        elif x < 0.35:
            # An alias that shadows an input column not otherwise in the output: ORDER BY that
            # name means this output column (the SQL92 rule), not the input column.
            free = sorted(BARE - {e for e, _ in cols} - set(names))
            if free:
                alias = rnd.choice(free)
        names.append(alias or (expr if expr in BARE else None))
        items.append(f"{expr} AS {alias}" if alias else expr)
    select = ", ".join(items)
    node_text = f"SELECT {select} FROM {{t}} {where}"
    if r < 0.33:
        return Query("unordered", node_text, params, node_text=node_text)
    if r < 0.38:
        # ORDER BY an input column that is not in the output: only concatenated.
        hidden = sorted(BARE - {e for e, _ in cols} - set(n for n in names if n))
        if hidden:
            text = f"{node_text} ORDER BY {rnd.choice(hidden)}"
            return Query("unmergeable", text, params, node_text=node_text)
    keys, rank_keys, numeric = [], [], False
    for c in rnd.sample(range(len(cols)), rnd.randint(1, min(3, len(cols)))):
        expr, typ = cols[c]
        forms = [str(c + 1)]
        if names[c] is not None and names.count(names[c]) == 1:
            forms.append(names[c])
        # The expression itself matches the output column (the SQL99 rule) unless a bare name
        # is the output name of another column.
        if not (expr in BARE and expr in names and names[c] != expr):
            forms.append(expr)
        ref = rnd.choice(forms)
        direction = rnd.choice(["", " ASC", " DESC"])
        nulls = rnd.choice(["", "", " NULLS FIRST", " NULLS LAST"])
        keys.append(ref + direction + nulls)
        rank_keys.append(expr + direction + nulls)
        numeric |= typ == "numeric"
    limit = rnd.choice(LIMITS)
    text = f"{node_text} ORDER BY {', '.join(keys)}{limit}"
    rank_text = f"SELECT {select}, rank() OVER (ORDER BY {', '.join(rank_keys)}) FROM {{t}} {where}"
    return Query("ordered", text, params, rank_text=rank_text, numeric_merge=numeric,
                 node_text=node_text)


class Checker:
    def __init__(self, one, nodes, seed):
        self.one = one          # pg1, holding pt_all / pe_all
        self.nodes = nodes      # node id -> direct connection
        self.seed = seed

    def fail(self, q, mode, msg, table="pt|pe"):
        text = q.text.format(t=table)
        pytest.fail(f"seed={self.seed} mode={mode} query: {text} params={q.params}: {msg}",
                    pytrace=False)

    def reference(self, q, table):
        exp = self.one.execute(q.text.format(t=table + "_all"), q.params or None).fetchall()
        ranks = None
        if q.kind == "ordered":
            ranks = {}
            groups = collections.defaultdict(collections.Counter)
            for row in self.one.execute(q.rank_text.format(t=table + "_all"),
                                        q.params or None).fetchall():
                key = canon_row(row[:-1])
                assert ranks.setdefault(key, row[-1]) == row[-1]
                groups[row[-1]][key] += 1
            ranks = (ranks, groups)
        return [canon_row(r) for r in exp], ranks

    def per_node(self, q, table):
        """node id -> Counter of the rows the statement's select list gives on that node."""
        out = {}
        for n, c in self.nodes.items():
            rows = c.execute(q.node_text.format(t=table), q.params or None).fetchall()
            out[n] = collections.Counter(canon_row(r) for r in rows)
        return out

    def check(self, q, table, mode, rows, status, notes, expected, ranks, node_rows=None):
        def bad(msg):
            self.fail(q, mode, msg, table)

        merge_notes = [n for n in notes if "not merged" in n.message_primary]
        others = [n for n in notes if n not in merge_notes]
        if others:
            bad(f"unexpected notices {others}")
        if node_rows is not None:
            if q.kind == "aggregate" and not merge_notes:
                if len(rows) == 1 and sorted(rows[0][0].split(",")) != sorted(NODES):
                    bad(f"node column {rows[0][0]!r} does not list every node")
                rows = [r[1:] for r in rows]
            else:
                stripped = []
                for r in rows:
                    if r[0] not in NODES:
                        bad(f"node column {r[0]!r} is no node")
                    if node_rows[r[0]][canon_row(r[1:])] <= 0:
                        bad(f"row {r[1:]} is not (or not that often) on {r[0]}")
                    node_rows[r[0]][canon_row(r[1:])] -= 1
                    stripped.append(r[1:])
                rows = stripped
        got = [canon_row(r) for r in rows]
        if status != f"SELECT {len(got)}":
            bad(f"tag {status!r} for {len(got)} rows")
        if merge_notes:
            if len(merge_notes) != 1 or merge_notes[0].severity != "NOTICE":
                bad(f"notices {merge_notes}")
            if q.kind == "unmergeable":
                pass
            elif not (mode.startswith("binary") and q.numeric_merge):
                bad(f"not merged: {merge_notes[0].message_primary}")
            elif q.kind == "aggregate":
                # Concatenated: one aggregate row per node.
                if len(got) != len(NODES):
                    bad(f"{len(got)} rows concatenated, not one per node")
                return
            else:
                # Concatenated: every row is one of the union's (each node ran LIMIT n+m).
                allrows = collections.Counter()
                for g in ranks[1].values():
                    allrows.update(g)
                if collections.Counter(got) - allrows:
                    bad(f"rows not in the union: {collections.Counter(got) - allrows}")
                return
        elif q.kind == "unmergeable":
            bad("no NOTICE for an ORDER BY that cannot be merged")
        if q.kind in ("unordered", "unmergeable"):
            if collections.Counter(got) != collections.Counter(expected):
                bad(f"rows differ:\n got {sorted(got, key=repr)}\n"
                                   f" expected {sorted(expected, key=repr)}")
            return
        if q.kind == "aggregate":
            if got != expected:
                bad(f"got {got}, expected {expected}")
            return
        # Ordered: ties may come in any order, and LIMIT may cut a group of ties anywhere: the
        # ranks must run as in the expected rows, each row must belong to its rank's group.
        rank_of, groups = ranks
        if len(got) != len(expected):
            bad(f"{len(got)} rows, expected {len(expected)}:\n got {got}\n"
                               f" expected {expected}")
        got_ranks = []
        for row in got:
            if row not in rank_of:
                bad(f"row {row} is not in the union")
            got_ranks.append(rank_of[row])
        want_ranks = [rank_of[row] for row in expected]
        if got_ranks != want_ranks:
            bad(f"order differs:\n got {got}\n expected {expected}")
        by_rank = collections.defaultdict(collections.Counter)
        for row, rk in zip(got, got_ranks):
            by_rank[rk][row] += 1
        for rk, cnt in by_rank.items():
            if cnt - groups[rk]:
                bad(f"rows {cnt - groups[rk]} too often")


def execute(conn, notes, mode, q, table):
    """Runs q on a pgrouter connection in one client mode: (rows, tag, notices)."""
    notes.clear()
    text = HINT + q.text.format(t=table)
    params = q.params or None
    if mode == "simple":
        cur = psycopg.ClientCursor(conn)
        cur.execute(text, params)
    elif mode == "text":
        cur = conn.execute(text, params)
    elif mode == "binary":
        cur = conn.execute(text, params, binary=True)
    else:
        cur = conn.execute(text, params, prepare=True)
    rows = cur.fetchall()
    return rows, cur.statusmessage, list(notes)


def test_merges_match_one_postgres_in_every_client_mode(cluster, pgrouter_factory):
    """Random queries over int4/int8/numeric/text/date/timestamptz/bool/float8 with NULLs,
    duplicates across nodes and an empty node; random ORDER BY (ASC/DESC, NULLS FIRST/LAST,
    positions, aliases, expressions), LIMIT/OFFSET, aggregates and filters; each in the simple
    protocol, extended text, extended binary and prepared, and once with the node column. The
    merged result must be what one PostgreSQL gives on the union."""
    seed = int(os.environ.get("PGR_BCAST_SEED", "20261128"))
    print(f"PGR_BCAST_SEED={seed}")
    rnd = random.Random(seed)
    load_property_data(cluster, rnd)
    router = start(cluster, pgrouter_factory)

    def conn(d):
        c = psycopg.connect(d, autocommit=True)
        c.execute(f"SET TimeZone = '{TZ}'")
        return c

    one = conn(cluster.dsn("pg1", user="app"))
    direct = {n: conn(cluster.dsn(n, user="app")) for n in NODES}
    c = conn(dsn(router.port))
    nc = conn(dsn(router.port))
    try:
        notes, nc_notes = collect(c), collect(nc)
        nc.execute("SET pgrouter.node_column = on")
        checker = Checker(one, direct, seed)
        runs = 0
        counts = collections.Counter()
        for _ in range(55):
            q = gen_query(rnd)
            table = "pe" if rnd.random() < 0.25 else "pt"
            counts[q.kind] += 1
            expected, ranks = checker.reference(q, table)
            for mode in ("simple", "text", "binary", "prepared", "prepared"):
                rows, status, got_notes = execute(c, notes, mode, q, table)
                checker.check(q, table, mode, rows, status, got_notes, expected, ranks)
                runs += 1
            mode = rnd.choice(("simple", "text", "binary", "prepared"))
            rows, status, got_notes = execute(nc, nc_notes, mode, q, table)
            checker.check(q, table, mode + "+node_column", rows, status, got_notes,
                          expected, ranks, checker.per_node(q, table))
            runs += 1
        print(f"{runs} broadcasts checked: {dict(counts)}")
        assert counts["ordered"] >= 20 and counts["aggregate"] >= 5, counts
    finally:
        for x in [one, c, nc, *direct.values()]:
            x.close()


# ---- cancel, disconnect, timeout, transactions ------------------------------------------------

@pytest.fixture
def three(cluster):
    """The module's nodes with a fresh bt: pg1 has ids 1-10, pg2 11-20, pg3 21-30 (v = id * 10)."""
    c = cluster
    for k, n in enumerate(NODES):
        with psycopg.connect(c.dsn(n, user="app"), autocommit=True) as d:
            d.execute("DROP TABLE IF EXISTS bt")
            d.execute("CREATE TABLE bt (id int primary key, v int)")
            d.execute("INSERT INTO bt SELECT g, g * 10 FROM generate_series(%s::int, %s::int) g",
                      (k * 10 + 1, k * 10 + 10))
    return c


def running(cluster, pattern):
    """node -> how many backends are running a statement whose text contains pattern."""
    out = {}
    for n in NODES:
        with psycopg.connect(cluster.dsn(n), autocommit=True) as d:
            out[n] = d.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND pid <> pg_backend_pid() AND strpos(query, %s) > 0", (pattern,)).fetchone()[0]
    return out


def wait_until(what, fn, timeout):
    """fn()'s first true value within timeout seconds, else an assertion naming the last."""
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s; last {last!r}")
        time.sleep(0.05)


def admin(port, sql):
    with psycopg.connect(dsn(port, "pgrouter"), autocommit=True) as a:
        cur = a.execute(sql)
        names = [d.name for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def nothing_active(port):
    """True when no pool has an active connection and no session holds a server connection."""
    pools = admin(port, "SHOW POOLS")
    servers = admin(port, "SHOW SERVERS")
    if len(pools) == 3 and all(p["active"] == 0 and p["waiting"] == 0 for p in pools) \
            and not servers:
        return True
    return False, pools, servers


def test_cancel_reaches_every_node(three, pgrouter_factory):
    """A cancel of a broadcast pg_sleep(10) (simple, then extended protocol): 57014 within 2 s,
    no node still sleeping, and the session goes on."""
    router = start(three, pgrouter_factory)
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        for simple in (True, False):
            seen, cancelled_at = {}, []

            def cancel():
                seen.update(running(three, "pg_sleep(10)"))
                cancelled_at.append(time.monotonic())
                c.cancel()

            timer = threading.Timer(0.5, cancel)
            timer.start()
            cur = psycopg.ClientCursor(c) if simple else c.cursor()
            with pytest.raises(psycopg.errors.QueryCanceled):
                cur.execute(HINT + "SELECT pg_sleep(10)")
            took = time.monotonic() - cancelled_at[0]
            timer.join()
            assert seen == {n: 1 for n in NODES}, seen       # it ran everywhere when cancelled
            assert took < 2.0, took
            assert running(three, "pg_sleep(10)") == {n: 0 for n in NODES}
            cur = psycopg.ClientCursor(c) if simple else c.cursor()
            cur.execute(HINT + "SELECT id FROM bt ORDER BY id DESC LIMIT 2")
            assert cur.fetchall() == [(30,), (29,)]
            assert c.execute(HINT + "SELECT count(*) FROM bt").fetchall() == [(30,)]
    assert wait_until("pools idle", lambda: nothing_active(router.port), 3)


def raw_connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = struct.pack("!i", 196608) + b"user\0app\0database\0app\0\0"
    s.sendall(struct.pack("!i", len(body) + 4) + body)
    buf = b""
    while b"Z\0\0\0\x05" not in buf:
        chunk = s.recv(65536)
        assert chunk, "pgrouter closed the connection during startup"
        buf += chunk
    return s


def raw_query(s, sql):
    q = sql.encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!i", len(q) + 4) + q)


def test_client_disconnect_mid_broadcast_releases_every_node(three, pgrouter_factory):
    """A client that closes its socket while a broadcast streams a large result it has stopped
    reading: every node's backend stops within a few seconds, no pooled connection stays
    active, and the next client broadcasts as usual."""
    router = start(three, pgrouter_factory)
    # A large result: read 1 MB of it, then close.
    big = "SELECT g, repeat('x', 1000) FROM generate_series(1, 3000000) g"
    s = raw_connect(router.port)
    raw_query(s, HINT + big)
    got = 0
    while got < 1 << 20:
        chunk = s.recv(65536)
        assert chunk
        got += len(chunk)
    assert running(three, "generate_series(1, 3000000)") == {n: 1 for n in NODES}
    s.close()
    t0 = time.monotonic()
    wait_until("every node stopping the large result",
               lambda: running(three, "generate_series(1, 3000000)") == {n: 0 for n in NODES}, 5)
    print(f"the nodes stopped {time.monotonic() - t0:.2f}s after the client closed")
    wait_until("pools idle", lambda: nothing_active(router.port), 3)

    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        notes = collect(c)
        cur = c.execute(HINT + "SELECT id, v FROM bt ORDER BY v LIMIT 3 OFFSET 9")
        assert cur.fetchall() == [(10, 100), (11, 110), (12, 120)]
        assert c.execute(HINT + "SELECT count(*), sum(v) FROM bt").fetchall() == [(30, 4650)]
        assert not notes, notes


def test_broadcast_timeout_with_a_hung_node(three, pgrouter_factory):
    """broadcast.timeout 500ms and pg3 hung (SIGSTOP): pg1's and pg2's rows plus one WARNING
    naming pg3 within 2 s; once pg3 is resumed and healthy again, broadcasts include it."""
    router = start(three, pgrouter_factory, extra="broadcast: {timeout: 500ms}")
    three.fault("hang", "pg3")
    try:
        with psycopg.connect(dsn(router.port), autocommit=True) as c:
            notes = collect(c)
            t0 = time.monotonic()
            rows = c.execute(HINT + "SELECT id FROM bt").fetchall()
            took = time.monotonic() - t0
        assert sorted(r[0] for r in rows) == list(range(1, 21))
        assert took < 2.0, took
        assert len(notes) == 1, notes
        assert notes[0].severity == "WARNING" and "pg3" in notes[0].message_primary
        assert "broadcast.timeout" in notes[0].message_primary, notes[0].message_primary
    finally:
        three.fault("resume", "pg3")
    wait_until("pg3 healthy again",
               lambda: {r["id"]: r["state"] for r in admin(router.port, "SHOW NODES")}
               .get("pg3") == "healthy", 15)
    # Several broadcasts, so that the pooled connections of pg3 (the one the timeout left
    # behind among them) are all used: every one complete and correct.
    with psycopg.connect(dsn(router.port), autocommit=True) as c, \
            psycopg.connect(dsn(router.port), autocommit=True) as other:
        notes = collect(c)
        for k in range(6):
            if k % 2:
                other.execute(HINT + "BEGIN; SELECT 1")    # holds a connection per node
            rows = c.execute(HINT + "SELECT id, v FROM bt WHERE id > %s", (k,)).fetchall()
            assert sorted(rows) == [(i, i * 10) for i in range(k + 1, 31)], k
            # Simple protocol: psycopg prepares a statement it runs 5 times, and pgrouter does
            # not yet remember a named Parse of SHOW pgrouter.* (a known bug, reported).
            last = psycopg.ClientCursor(c).execute("SHOW pgrouter.last_broadcast").fetchall()
            assert sorted((r[0], r[1]) for r in last) == [(n, True) for n in NODES], last
            if k % 2:
                other.execute(HINT + "COMMIT")
        assert not notes, notes


def bt_values(cluster):
    out = {}
    for n in NODES:
        with psycopg.connect(cluster.dsn(n, user="app"), autocommit=True) as d:
            out[n] = d.execute("SELECT id, v FROM bt ORDER BY id").fetchall()
    return out


def test_multi_statement_simple_query_and_rolled_back_transaction(three, pgrouter_factory):
    """BEGIN; UPDATE; SELECT; COMMIT in one simple Query: each result's tag summed and the
    SELECT's rows merged, the update on every node. A broadcast write inside a driver's
    transaction, rolled back, leaves nothing on any node."""
    router = start(three, pgrouter_factory)
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        cur = psycopg.ClientCursor(c)
        cur.execute(HINT + "BEGIN; UPDATE bt SET v = v + 1 WHERE mod(id, 10) < 3; "
                           "SELECT id, v FROM bt WHERE mod(id, 10) < 3; COMMIT")
        results = []
        while True:
            results.append((cur.statusmessage,
                            sorted(cur.fetchall()) if cur.description is not None else None))
            if not cur.nextset():
                break
        expect_rows = sorted((i, i * 10 + 1) for i in range(1, 31) if i % 10 < 3)
        assert results == [("BEGIN", None), ("UPDATE 9", None), ("SELECT 9", expect_rows),
                           ("COMMIT", None)], results
    after = bt_values(three)
    for k, n in enumerate(NODES):
        assert after[n] == [(i, i * 10 + (1 if i % 10 < 3 else 0))
                            for i in range(k * 10 + 1, k * 10 + 11)], n

    # A statement failing on every node ends the Query there, as on one server: the error
    # once, the transaction block left aborted (COMMIT not run); ROLLBACK undoes the UPDATE
    # on every node.
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        notes = collect(c)
        cur = psycopg.ClientCursor(c)
        with pytest.raises(psycopg.errors.DivisionByZero):
            cur.execute(HINT + "BEGIN; UPDATE bt SET v = -1; SELECT 1 / 0; COMMIT")
        assert not notes, notes
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            cur.execute("SELECT 1")
        cur.execute("ROLLBACK")
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert cur.execute(HINT + "SELECT count(*) FROM bt WHERE v = -1").fetchall() == [(0,)]
    assert bt_values(three) == after

    before = after
    for simple in (True, False):
        with psycopg.connect(dsn(router.port)) as c:            # not autocommit: BEGIN first
            cur = psycopg.ClientCursor(c) if simple else c.cursor()
            cur.execute(HINT + "INSERT INTO bt SELECT id + 100, -1 FROM bt WHERE id < %s", (25,))
            assert cur.statusmessage == "INSERT 0 24"
            cur.execute(HINT + "DELETE FROM bt WHERE id < %s", (5,))
            assert cur.statusmessage == "DELETE 4"
            cur.execute(HINT + "UPDATE bt SET v = 0")
            assert cur.statusmessage == "UPDATE 50"
            cur.execute(HINT + "SELECT count(*), min(id), max(id), sum(v) FROM bt")
            assert cur.fetchall() == [(50, 5, 124, 0)]
            cur.execute(HINT + "SELECT id FROM bt ORDER BY id DESC LIMIT 2 OFFSET 1")
            assert cur.fetchall() == [(123,), (122,)]
            c.rollback()
            assert bt_values(three) == before
            # The session routes and broadcasts as before the transaction.
            cur = psycopg.ClientCursor(c) if simple else c.cursor()
            cur.execute(HINT + "SELECT count(*) FROM bt")
            assert cur.fetchall() == [(30,)]
            c.rollback()
    assert bt_values(three) == before
    assert wait_until("pools idle", lambda: nothing_active(router.port), 3)


def test_client_disconnect_during_a_silent_broadcast_releases_every_node(three, pgrouter_factory):
    """A client that closes its socket while a broadcast sleeps (nothing flows back, so only the
    closed socket tells pgrouter): every node stops within 3 s, no connection stays active."""
    router = start(three, pgrouter_factory)
    s = raw_connect(router.port)
    raw_query(s, HINT + "SELECT pg_sleep(5)")
    wait_until("the sleep running on every node",
               lambda: running(three, "pg_sleep(5)") == {n: 1 for n in NODES}, 3)
    s.close()
    t0 = time.monotonic()
    wait_until("every node stopping the sleep",
               lambda: running(three, "pg_sleep(5)") == {n: 0 for n in NODES}, 3)
    assert time.monotonic() - t0 < 3
    wait_until("pools idle", lambda: nothing_active(router.port), 3)
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        assert c.execute(HINT + "SELECT count(*) FROM bt").fetchall() == [(30,)]


def test_client_disconnect_during_a_silent_relayed_statement_stops_it(three, pgrouter_factory):
    """The same through the one-node relay: the backend is cancelled, not only disconnected."""
    router = start(three, pgrouter_factory)
    s = raw_connect(router.port)
    raw_query(s, "/* pgrouter: node=pg2 */ SELECT pg_sleep(5)")
    wait_until("the sleep running on pg2", lambda: running(three, "pg_sleep(5)")["pg2"] == 1, 3)
    s.close()
    wait_until("pg2 stopping the sleep", lambda: running(three, "pg_sleep(5)")["pg2"] == 0, 3)


# ---- protocol edge cases (found in review) ------------------------------------------------------

class Raw:
    """A bare protocol client: messages built by hand, replies as (type, body)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        body = struct.pack("!i", 196608) + b"user\0app\0database\0app\0\0"
        self.s.sendall(struct.pack("!i", len(body) + 4) + body)
        self.until_z()

    @staticmethod
    def msg(t, body):
        return t + struct.pack("!i", len(body) + 4) + body

    def send(self, *msgs):
        self.s.sendall(b"".join(msgs))

    def until_z(self, timeout=10):
        out = []
        self.s.settimeout(timeout)
        while True:
            while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!i", self.buf[1:5])[0]:
                chunk = self.s.recv(65536)
                assert chunk, "connection closed"
                self.buf += chunk
            n = 1 + struct.unpack("!i", self.buf[1:5])[0]
            t, body, self.buf = self.buf[:1].decode(), self.buf[5:n], self.buf[n:]
            if t in "EN":
                f = {x[:1]: x[1:].decode() for x in body.split(b"\0") if x}
                out.append((t, f.get(b"C"), f.get(b"M")))
            elif t == "C":
                out.append((t, body.rstrip(b"\0").decode()))
            elif t == "Z":
                out.append((t, body.decode()))
                return out
            else:
                out.append((t,))

    def Q(self, sql):
        return self.msg(b"Q", sql.encode() + b"\0")

    def P(self, name, sql):
        return self.msg(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))

    def B(self, portal, stmt):
        return self.msg(b"B", portal.encode() + b"\0" + stmt.encode() + b"\0" +
                        struct.pack("!hhh", 0, 0, 0))

    def E(self, portal=""):
        return self.msg(b"E", portal.encode() + b"\0" + struct.pack("!i", 0))

    def S(self):
        return self.msg(b"S", b"")

    def F(self, oid):
        return self.msg(b"F", struct.pack("!ihhhh", oid, 0, 0, 0, 0)[:-2])


def test_a_node_lost_inside_a_broadcast_transaction_is_reported_in_every_later_batch(
        three, pgrouter_factory):
    """A node whose connection dies inside a broadcast transaction is out of it: every later
    statement of that transaction gets the others' answer plus a warning naming it (never a
    hang), and ROLLBACK ends it on the others."""
    router = start(three, pgrouter_factory)
    r = Raw(router.port)
    r.send(r.Q(HINT + "BEGIN; SELECT inet_server_port(), pg_backend_pid()"))
    first = r.until_z()
    assert first[-1] == ("Z", "T") and [m[0] for m in first].count("D") == 3, first
    with psycopg.connect(three.dsn("pg3", user="postgres"), autocommit=True) as d:
        d.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE query LIKE %s AND pid <> pg_backend_pid()", ("%pg_backend_pid()%",))
    for k in range(3):
        r.send(r.Q("SELECT %d" % k))
        out = r.until_z(timeout=10)
        rows = [m for m in out if m[0] == "D"]
        warns = [m for m in out if m[0] == "N" and "pg3" in (m[2] or "")]
        assert len(rows) == 2 and len(warns) == 1 and out[-1] == ("Z", "T"), (k, out)
    r.send(r.Q("ROLLBACK"))
    out = r.until_z()
    assert ("C", "ROLLBACK") in out and out[-1] == ("Z", "I"), out
    r.send(r.Q(HINT + "SELECT 1"))
    assert [m[0] for m in r.until_z()].count("D") == 3


def test_local_answers_never_swallow_another_statement(three, pgrouter_factory):
    """A batch that binds a statement pgrouter answers itself (a prepared SHOW pgrouter.route,
    a BEGIN) together with other statements before its Sync: the others run on a node."""
    router = start(three, pgrouter_factory)
    with psycopg.connect(three.dsn("pg1", user="app"), autocommit=True) as d:
        d.execute("DROP TABLE IF EXISTS sw")
        d.execute("CREATE TABLE sw (x int)")
    r = Raw(router.port)
    r.send(r.P("ins", "/* pgrouter: node=pg1 */ INSERT INTO sw VALUES (7)"), r.S())
    assert r.until_z()[-1] == ("Z", "I")
    r.send(r.P("", "BEGIN"), r.B("", ""), r.E(), r.B("", "ins"), r.E(), r.S())
    out = r.until_z()
    assert [m for m in out if m[0] == "C"] == [("C", "BEGIN"), ("C", "INSERT 0 1")], out
    r.send(r.Q("COMMIT"))
    assert ("C", "COMMIT") in r.until_z()
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SHOW pgrouter.route", prepare=True)
        c.execute("/* pgrouter: node=pg1 */ INSERT INTO sw VALUES (%s)", (8,), prepare=True)
        cur1, cur2 = c.cursor(), c.cursor()
        # Mixed into one pipeline with a statement for a node, the local one cannot be answered
        # in its place: the batch fails as a whole (an error, never a silent skip).
        with pytest.raises(psycopg.Error):
            with c.pipeline():
                cur1.execute("SHOW pgrouter.route", prepare=True)
                cur2.execute("/* pgrouter: node=pg1 */ INSERT INTO sw VALUES (%s)", (9,),
                             prepare=True)
        assert c.execute("SELECT 1").fetchone() == (1,)
    with psycopg.connect(three.dsn("pg1", user="app"), autocommit=True) as d:
        assert sorted(d.execute("SELECT x FROM sw").fetchall()) == [(7,), (8,)]


def test_several_statements_in_one_extended_batch_are_never_silently_mismerged(
        three, pgrouter_factory):
    """A pipeline (one Sync) of two broadcast SELECTs: the first result set is merged by its
    own plan; a later one that needs a merge of its own is concatenated with a NOTICE."""
    router = start(three, pgrouter_factory)
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        notes = collect(c)
        cur1, cur2 = c.cursor(), c.cursor()
        with c.pipeline():
            cur1.execute(HINT + "SELECT id FROM bt ORDER BY id DESC LIMIT 2")
            cur2.execute(HINT + "SELECT count(*) FROM bt")
        rows1, rows2 = cur1.fetchall(), cur2.fetchall()
        assert any("not merged" in n.message_primary or "concatenat" in n.message_primary
                   for n in notes), notes
        assert sorted(r[0] for r in rows2) == [10, 10, 10]
        notes.clear()
        with c.pipeline():
            cur1.execute(HINT + "SELECT id FROM bt ORDER BY id DESC LIMIT 2")
            cur2.execute(HINT + "SELECT 1")
        assert cur1.fetchall() == [(30,), (29,)] and cur2.fetchall() == [(1,)] * 3
        assert not notes, notes


def test_unbroadcastable_message_inside_a_broadcast_transaction_aborts_it(three,
                                                                          pgrouter_factory):
    """A FunctionCall inside a broadcast transaction: 0A000 and ReadyForQuery 'E', as a server's
    failed transaction; then 25P02 until ROLLBACK; COMMIT rolls back (tag ROLLBACK)."""
    router = start(three, pgrouter_factory)
    r = Raw(router.port)
    r.send(r.Q(HINT + "BEGIN; UPDATE bt SET v = -v WHERE id IN (1, 11, 21)"))
    assert r.until_z()[-1] == ("Z", "T")
    r.send(r.F(1598))
    out = r.until_z()
    assert out[0][:2] == ("E", "0A000") and out[-1] == ("Z", "E"), out
    r.send(r.Q("SELECT 1"))
    out = r.until_z()
    assert out[0][:2] == ("E", "25P02") and out[-1] == ("Z", "E"), out
    r.send(r.Q("COMMIT"))
    out = r.until_z()
    assert ("C", "ROLLBACK") in out and out[-1] == ("Z", "I"), out
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        assert c.execute(HINT + "SELECT count(*) FROM bt WHERE v < 0").fetchall() == [(0,)]


def test_pgrouter_settings_inside_a_broadcast_transaction(three, pgrouter_factory):
    """SHOW / SET pgrouter.* (simple and prepared) inside a broadcast transaction are answered
    by pgrouter with the transaction's status, never sent to the nodes."""
    router = start(three, pgrouter_factory)
    with psycopg.connect(dsn(router.port)) as c:
        c.execute(HINT + "SELECT 1")
        for _ in range(7):
            assert c.execute("SHOW pgrouter.route").fetchone() == ("auto",)
        assert c.execute("SHOW pgrouter.route", prepare=True).fetchone() == ("auto",)
        assert c.execute(HINT + "SELECT count(*) FROM bt").fetchall() == [(30,)]
        c.rollback()
