"""Broadcast and merge against three independent nodes with different data on each."""
import os
import random
import socket
import struct
import threading
import time

import psycopg
import pytest

from conftest import free_port

NODES = ("pg1", "pg2", "pg3")


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


def dsn(port):
    return f"host=127.0.0.1 port={port} user=app dbname=app"


class Note:
    """A notice's fields, copied in the handler (psycopg's Diagnostic dies with the callback)."""

    def __init__(self, d):
        self.severity = d.severity
        self.sqlstate = d.sqlstate
        self.message_primary = d.message_primary
        self.message_detail = d.message_detail


def collect(conn):
    notes = []
    conn.add_notice_handler(lambda d: notes.append(Note(d)))
    return notes


@pytest.fixture
def three(cluster_factory):
    """pg1 has ids 1-10, pg2 11-20, pg3 21-30 (v = id * 10, grp = id % 3)."""
    c = cluster_factory(3)
    for k, n in enumerate(NODES):
        with psycopg.connect(c.dsn(n, user="app"), autocommit=True) as d:
            d.execute("CREATE TABLE bt (id int primary key, v int, grp int, name text)")
            d.execute("INSERT INTO bt SELECT g, g * 10, mod(g, 3), 'n' || g "
                      "FROM generate_series(%s::int, %s::int) g", (k * 10 + 1, k * 10 + 10))
    return c


def start(three, pgrouter_factory, extra=""):
    port = free_port()
    p = pgrouter_factory(config(three, port, extra), port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn(port), autocommit=True) as c:
                rows = c.execute("/* pgrouter: broadcast */ SELECT 1").fetchall()
                if len(rows) == 3:
                    return p
        except psycopg.Error:
            pass
        time.sleep(0.1)
    raise TimeoutError("the three nodes never became healthy behind pgrouter")


@pytest.fixture
def router(three, pgrouter_factory):
    return start(three, pgrouter_factory)


def test_union_of_rows_and_summed_tags(three, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        cur = c.execute("/* pgrouter: broadcast */ SELECT id, v FROM bt")
        rows = cur.fetchall()
        assert sorted(rows) == [(i, i * 10) for i in range(1, 31)]
        assert cur.statusmessage == "SELECT 30"
        cur = c.execute("/* pgrouter: broadcast */ UPDATE bt SET v = v + 1 WHERE mod(id, 2) = 0")
        assert cur.statusmessage == "UPDATE 15"
        cur = c.execute("/* pgrouter: broadcast */ INSERT INTO bt VALUES (100, 0, 0, 'x')")
        assert cur.statusmessage == "INSERT 0 3"
        cur = c.execute("/* pgrouter: broadcast */ DELETE FROM bt WHERE id = 100")
        assert cur.statusmessage == "DELETE 3"
    for n in NODES:  # the UPDATE really ran everywhere
        with psycopg.connect(three.dsn(n), autocommit=True) as d:
            assert d.execute("SELECT count(*) FROM bt WHERE mod(v, 10) = 1").fetchone()[0] == 5


def test_node_column_names_each_rows_node(three, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SET pgrouter.node_column = on")
        cur = c.execute("/* pgrouter: broadcast */ SELECT id FROM bt")
        assert [d.name for d in cur.description] == ["node", "id"]
        for node, rid in cur.fetchall():
            assert node == NODES[(rid - 1) // 10]


def test_extended_protocol_and_session_route(three, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("SET pgrouter.route = 'broadcast'")
        cur = c.execute("SELECT id FROM bt WHERE grp = %s", (1,))
        assert sorted(r[0] for r in cur.fetchall()) == [i for i in range(1, 31) if i % 3 == 1]
        assert cur.statusmessage == "SELECT 10"
        # SHOW pgrouter.last_broadcast: one line per node.
        last = c.execute("SHOW pgrouter.last_broadcast").fetchall()
        assert sorted(r[0] for r in last) == list(NODES)
        assert all(r[1] is True for r in last)
        assert sum(r[2] for r in last) == 10


def test_rowdescription_mismatch_fails_that_node(three, router):
    with psycopg.connect(three.dsn("pg3", user="app"), autocommit=True) as d:
        d.execute("ALTER TABLE bt ADD COLUMN extra int")
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        warnings = collect(c)
        rows = c.execute("/* pgrouter: broadcast */ SELECT * FROM bt").fetchall()
    # The first RowDescription to arrive defines the result; a node whose shape differs is
    # dropped with a warning naming it and the difference.
    if len(rows) == 20:
        assert len(warnings) == 1 and "pg3" in warnings[0].message_primary
        assert all(len(r) == 4 for r in rows)
    else:
        assert len(rows) == 10 and all(len(r) == 5 for r in rows)
        assert sorted(w.message_primary.split()[1] for w in warnings) == ["pg1", "pg2"]
    assert all(w.severity == "WARNING" and "column count" in w.message_primary
               for w in warnings)


# 20 rows of 8 kB, one every 0.1 s: each fills the server's send buffer, so rows really
# stream while the statement runs.
SLOW_ROWS = ("/* pgrouter: broadcast */ SELECT g, length(repeat('x', 8000) || pg_sleep(0.1)) "
             "FROM generate_series(1, 20) g")


def slow_broadcast_with_fault(three, port, fault, node, at=0.6):
    """Start a broadcast that streams a row every 0.1 s from each node, fault node after at s."""
    threading.Timer(at, three.fault, args=(fault, node)).start()
    with psycopg.connect(dsn(port), autocommit=True) as c:
        warnings = collect(c)
        c.execute("SET pgrouter.node_column = on")
        rows = c.execute(SLOW_ROWS).fetchall()
    return rows, warnings


def test_killed_node_mid_stream_gives_one_warning_and_the_other_rows(three, router):
    rows, warnings = slow_broadcast_with_fault(three, router.port, "kill", "pg2")
    for n in ("pg1", "pg3"):
        assert sorted(r[1] for r in rows if r[0] == n) == list(range(1, 21))
    assert len(warnings) == 1, [w.message_primary for w in warnings]
    assert warnings[0].severity == "WARNING" and "pg2" in warnings[0].message_primary
    # Later broadcasts name the node as not healthy, still exactly once.
    time.sleep(1.5)
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        later = collect(c)
        assert len(c.execute("/* pgrouter: broadcast */ SELECT id FROM bt").fetchall()) == 20
        assert len(later) == 1 and "pg2" in later[0].message_primary


def test_write_fails_listing_who_applied_it(three, pgrouter_factory):
    p = start(three, pgrouter_factory)
    # A row that exists only on pg3 makes the INSERT fail there (duplicate key).
    with psycopg.connect(three.dsn("pg3", user="app"), autocommit=True) as d:
        d.execute("INSERT INTO bt VALUES (500, 0, 0, 'dup')")
    with psycopg.connect(dsn(p.port), autocommit=True) as c:
        with pytest.raises(psycopg.errors.UniqueViolation) as e:
            c.execute("/* pgrouter: broadcast */ INSERT INTO bt VALUES (500, 1, 1, 'new')")
        detail = e.value.diag.message_detail or ""
        assert "pg1" in detail and "pg2" in detail and "pg3" in detail, detail
    # All nodes failing with the same error: that error once, as from one server.
    with psycopg.connect(dsn(p.port), autocommit=True) as c:
        notices = collect(c)
        with pytest.raises(psycopg.errors.UndefinedTable) as e:
            c.execute("/* pgrouter: broadcast */ SELECT * FROM no_such_table")
        assert 'relation "no_such_table" does not exist' in str(e.value)
        assert not notices


def test_hung_node_mid_stream_times_out_with_one_warning(three, pgrouter_factory):
    p = start(three, pgrouter_factory, extra="broadcast: {timeout: 3s}")
    try:
        t0 = time.monotonic()
        rows, warnings = slow_broadcast_with_fault(three, p.port, "hang", "pg3")
        took = time.monotonic() - t0
        for n in ("pg1", "pg2"):
            assert sorted(r[1] for r in rows if r[0] == n) == list(range(1, 21))
        assert len(warnings) == 1 and "pg3" in warnings[0].message_primary
        assert took < 6
    finally:
        three.fault("resume", "pg3")


def test_broadcast_runs_in_parallel(three, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        t0 = time.monotonic()
        c.execute("/* pgrouter: node=pg1 */ SELECT pg_sleep(0.3)")
        single = time.monotonic() - t0
        t0 = time.monotonic()
        rows = c.execute("/* pgrouter: broadcast */ SELECT pg_sleep(0.3)").fetchall()
        multi = time.monotonic() - t0
    assert len(rows) == 3
    assert multi < 1.5 * single, (single, multi)


def raw_query(port, sql, slow_seconds=0.0, rss_pid=None):
    """Run sql over a raw socket (no client-side buffering), reading slowly at first; returns
    (bytes received, peak RSS in KiB of rss_pid while reading)."""
    s = socket.create_connection(("127.0.0.1", port))
    body = struct.pack("!i", 196608) + b"user\0app\0database\0app\0\0"
    s.sendall(struct.pack("!i", len(body) + 4) + body)
    buf = b""
    while b"Z\0\0\0\x05" not in buf:
        buf += s.recv(65536)
    q = sql.encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!i", len(q) + 4) + q)
    total, peak, tail = 0, 0, b""
    t0 = time.monotonic()
    last_rss = 0.0
    while True:
        slow = time.monotonic() - t0 < slow_seconds
        chunk = s.recv(4096 if slow else 1 << 20)
        if not chunk:
            break
        total += len(chunk)
        tail = (tail + chunk)[-64:]
        if slow:
            time.sleep(0.01)
        if rss_pid and time.monotonic() - last_rss > 0.2:
            last_rss = time.monotonic()
            with open(f"/proc/{rss_pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        peak = max(peak, int(line.split()[1]))
        if tail.endswith(b"Z\0\0\0\x05I"):
            break
    s.close()
    return total, peak


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_large_broadcast_read_slowly_keeps_memory_bounded(three, pgrouter_factory):
    # Under AddressSanitizer freed memory sits in a quarantine (256 MB by default) and shadow
    # memory adds to RSS: keep the quarantine small and bound the growth instead of the total.
    sanitized = "asan" in str(os.environ.get("PGR_BUILD_DIR", ""))
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64"} if sanitized else None
    port = free_port()
    router = pgrouter_factory(config(three, port), port, env=env)
    start_rss = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn(port), autocommit=True) as c:
                if len(c.execute("/* pgrouter: broadcast */ SELECT 1").fetchall()) == 3:
                    break
        except psycopg.Error:
            time.sleep(0.1)
    start_rss = rss_kib(router.proc.pid)
    mb = int(os.environ.get("PGR_BIG_BROADCAST_MB", "2048"))
    rows_per_node = mb * 1024 * 1024 // 3 // 1000
    total, peak = raw_query(
        port,
        f"/* pgrouter: broadcast */ SELECT repeat('x', 990) FROM generate_series(1, {rows_per_node})",
        slow_seconds=3.0, rss_pid=router.proc.pid)
    assert total > mb * 1024 * 1024 * 0.95
    if sanitized:
        assert peak - start_rss < 64 * 1024, f"pgrouter RSS grew {peak - start_rss} KiB"
    else:
        assert peak < 64 * 1024, f"pgrouter RSS peaked at {peak} KiB"


def test_ordered_limit_and_aggregate_merges_match_one_postgres(three, router):
    """Property test: random data on each node, random ORDER BY / LIMIT / aggregates; the merged
    result equals what one PostgreSQL returns on the union of the data (pg1 holds the union in
    a second table)."""
    rnd = random.Random(7)
    with psycopg.connect(three.dsn("pg1", user="app"), autocommit=True) as d:
        d.execute("CREATE TABLE pt_all (a int, b text, c numeric)")
    for n in NODES:
        with psycopg.connect(three.dsn(n, user="app"), autocommit=True) as d:
            d.execute("CREATE TABLE pt (a int, b text, c numeric)")
            rows = [(rnd.choice([None] + list(range(-50, 50))),
                     rnd.choice([None, "a", "b", "ab", "zz", "é"]),
                     rnd.choice([None, "1.5", "-2.25", "100", "0.001"])) for _ in range(60)]
            with d.cursor() as cur:
                cur.executemany("INSERT INTO pt VALUES (%s, %s, %s)", rows)
            with psycopg.connect(three.dsn("pg1", user="app"), autocommit=True) as u:
                with u.cursor() as cur:
                    cur.executemany("INSERT INTO pt_all VALUES (%s, %s, %s)", rows)
    queries = []
    for _ in range(40):
        key = rnd.choice(["a", "b", "c", "a, b", "c DESC, a", "b DESC NULLS LAST, a",
                          "a NULLS FIRST, c"])
        limit = rnd.choice(["", " LIMIT 7", " LIMIT 20 OFFSET 5", " LIMIT 0"])
        queries.append(f"SELECT a, b, c FROM {{t}} ORDER BY {key}, a, b, c{limit}")
    # ORDER BY a column of a star: resolved by name against the RowDescription.
    for _ in range(12):
        key = rnd.choice(["a, b, c", "c DESC, a, b", "{t}.b NULLS FIRST, a, c", "x, b, c",
                          "{t}.a DESC, {t}.c, b"])
        limit = rnd.choice(["", " LIMIT 9", " LIMIT 10 OFFSET 4"])
        cols = rnd.choice(["*", "{t}.*, a AS x", "*, a AS x"])
        if "x" in key and "x" not in cols:
            cols += ", a AS x"
        queries.append(f"SELECT {cols} FROM {{t}} ORDER BY {key}{limit}")
    queries += ["SELECT count(*), sum(a), min(a), max(a), min(b), max(b), sum(c), count(c) "
                "FROM {t}",
                "SELECT count(*) FROM {t} WHERE a > 1000",
                "SELECT sum(a), max(c) FROM {t} WHERE a IS NULL"]
    with psycopg.connect(dsn(router.port), autocommit=True) as c, \
            psycopg.connect(three.dsn("pg1", user="app"), autocommit=True) as one:
        notices = []
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        for q in queries:
            merged = c.execute("/* pgrouter: broadcast */ " + q.format(t="pt")).fetchall()
            expect = one.execute(q.format(t="pt_all")).fetchall()
            assert merged == expect, q
            assert notices == [], q


def test_prepared_statements_follow_hints_and_survive_a_node_that_lacks_one(three, router):
    """Named statements are re-prepared on whichever node a transaction lands on; one that cannot
    be prepared there (its table exists on pg1 only) does not take the others with it, and a
    hint in a prepared statement's text still routes its later executions."""
    with psycopg.connect(three.dsn("pg1", user="app"), autocommit=True) as d:
        d.execute("CREATE TABLE only_on_pg1 (x int)")
        d.execute("INSERT INTO only_on_pg1 VALUES (7)")
    ports = {n: three.port(n) for n in NODES}
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        # Both prepared on pg1 (the hint; and pgrouter.route).
        c.execute("SET pgrouter.route = 'node:pg1'")
        assert c.execute("/* pgrouter: node=pg1 */ SELECT x FROM only_on_pg1",
                         prepare=True).fetchone()[0] == 7
        assert c.execute("SELECT inet_server_port()", prepare=True).fetchone()[0] == ports["pg1"]
        for n in ("pg2", "pg3", "pg2"):
            # On another node the first cannot be prepared; the second must still be.
            c.execute(f"SET pgrouter.route = 'node:{n}'")
            assert c.execute("SELECT inet_server_port()", prepare=True).fetchone()[0] == ports[n]
            # The hint in the first statement's text still sends it to pg1.
            assert c.execute("/* pgrouter: node=pg1 */ SELECT x FROM only_on_pg1",
                             prepare=True).fetchone()[0] == 7


def test_named_prepared_statements_in_a_broadcast(three, router):
    """A broadcast statement prepared under a name (psycopg prepare=True: Parse "_pg3_n" in one
    batch, Bind/Execute of it in later ones) runs on every node each time, on whatever pooled
    connections the batches land on; its ORDER BY / LIMIT / OFFSET merge is kept, its
    parameters bound per execution; a SET made before it reaches the nodes' connections."""
    q = "/* pgrouter: broadcast */ SELECT id, v FROM bt WHERE id > %s ORDER BY v DESC LIMIT 4 OFFSET 2"
    with psycopg.connect(dsn(router.port), autocommit=True) as c, \
            psycopg.connect(dsn(router.port), autocommit=True) as other:
        pids = set()
        for k, floor in enumerate((0, 5, 0, 26, 100, 3)):
            if k % 2:
                # Another client holds the connections c used last, so c lands on others, and
                # the statement must be prepared there first.
                other.execute("/* pgrouter: broadcast */ BEGIN; SELECT 1")
            rows = c.execute(q, (floor,), prepare=True).fetchall()
            expect = sorted([(i, i * 10) for i in range(1, 31) if i > floor],
                            key=lambda r: -r[1])[2:6]
            assert rows == expect, floor
            pids.update(r[0] for r in c.execute(
                "/* pgrouter: broadcast */ SELECT pg_backend_pid()").fetchall())
            if k % 2:
                other.execute("/* pgrouter: broadcast */ COMMIT")
        assert len(pids) >= 6  # at least two connections per node took part
        cur = c.execute("/* pgrouter: broadcast */ SELECT count(*), sum(v) FROM bt WHERE id <= %s",
                        (15,), prepare=True)
        assert cur.fetchall() == [(15, sum(i * 10 for i in range(1, 16)))]
        # A write prepared under a name: summed tag on every execution.
        for _ in range(3):
            cur = c.execute("/* pgrouter: broadcast */ UPDATE bt SET grp = grp WHERE id > %s",
                            (20,), prepare=True)
            assert cur.statusmessage == "UPDATE 10"
        # A reported setting carried to the node connections a broadcast uses.
        c.execute("SET TimeZone = 'Asia/Kathmandu'")
        tz = c.execute("/* pgrouter: broadcast */ SELECT current_setting('TimeZone') AS tz",
                       prepare=True).fetchall()
        assert tz == [("Asia/Kathmandu",)] * 3
        # The other client does not inherit it from the pooled connections.
        assert other.execute("/* pgrouter: broadcast */ SELECT current_setting('TimeZone')"
                             ).fetchall() != tz


def test_prepared_statement_unknown_name_in_a_broadcast(three, router):
    """Binding a name never prepared gives PostgreSQL's own error once (26000), not three."""
    with socket.create_connection(("127.0.0.1", router.port)) as s:
        raw_startup(s)
        hint = b"/* pgrouter: broadcast */ SELECT 1"
        s.sendall(msg(b"P", b"\0" + hint + b"\0\0\0") +
                  msg(b"B", b"\0nosuch\0\0\0\0\0\0\0") + msg(b"E", b"\0\0\0\0\0") + msg(b"S", b""))
        types, errors = read_until_ready(s)
        assert types.count(b"E") == 1 and errors[0][0] == "26000", (types, errors)


def msg(t, body):
    return t + struct.pack("!i", len(body) + 4) + body


def raw_startup(s):
    body = struct.pack("!i", 196608) + b"user\0app\0database\0app\0\0"
    s.sendall(struct.pack("!i", len(body) + 4) + body)
    read_until_ready(s)


def read_until_ready(s):
    """Message types up to ReadyForQuery, and (sqlstate, message) of each ErrorResponse."""
    buf, types, errors = b"", [], []
    s.settimeout(10)
    while True:
        while len(buf) < 5 or len(buf) < 1 + struct.unpack("!i", buf[1:5])[0]:
            chunk = s.recv(65536)
            assert chunk, "connection closed"
            buf += chunk
        n = 1 + struct.unpack("!i", buf[1:5])[0]
        t, body, buf = buf[:1], buf[5:n], buf[n:]
        types.append(t)
        if t == b"E":
            fields = {f[:1]: f[1:].decode() for f in body.split(b"\0") if f}
            errors.append((fields.get(b"C"), fields.get(b"M")))
        if t == b"Z":
            return types, errors


def test_broadcast_inside_a_transaction_begun_with_a_lone_begin(three, router):
    """A driver's own BEGIN (psycopg without autocommit) then a broadcast: every node runs the
    statements inside one transaction; ROLLBACK undoes them on all, COMMIT keeps them on all."""
    def values():
        out = []
        for n in NODES:
            with psycopg.connect(three.dsn(n, user="app"), autocommit=True) as d:
                out += d.execute("SELECT v FROM bt WHERE id IN (1, 11, 21)").fetchall()
        return sorted(v for (v,) in out)

    before = values()
    with psycopg.connect(dsn(router.port)) as c:
        cur = c.execute("/* pgrouter: broadcast */ UPDATE bt SET v = -v WHERE id IN (1, 11, 21)")
        assert cur.statusmessage == "UPDATE 3"
        assert c.execute("/* pgrouter: broadcast */ SELECT count(*) FROM bt WHERE v < 0"
                         ).fetchall() == [(3,)]
        c.rollback()
        assert values() == before
        cur = c.execute("/* pgrouter: broadcast */ UPDATE bt SET v = -v WHERE id IN (1, 11, 21)")
        c.commit()
        assert values() == sorted(-v for v in before)
        # After the transaction the session routes normally again.
        assert c.execute("SELECT 1").fetchone() == (1,)
