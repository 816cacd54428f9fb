"""Real drivers through pgrouter in transaction mode against one real node (issue 5's smoke tests):
psycopg 3, psycopg2, pgjdbc, npm's pg, and an interactive psql session in tmux whose screen must
equal the same session's screen against the node directly.

Statements meet different pooled server connections on purpose: a second client holds a
transaction open, so the first one is handed another server connection, and its named (server-
side prepared) statements must be prepared there by pgrouter. pg_backend_pid() shows which server
connection ran a statement; pg_prepared_statements and pg_cursors show what the server holds.
"""
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import psycopg2
import psycopg2.errors
import pytest

from conftest import free_port
from test_server import config, dsn, wait_healthy

HERE = Path(__file__).resolve().parent
JDBC_JAR = Path("/usr/share/java/postgresql.jar")


@pytest.fixture
def node(cluster_factory):
    return cluster_factory(1)


@pytest.fixture
def router(node, pgrouter_factory):
    port = free_port()
    p = pgrouter_factory(config(node, port, mode="transaction"), port)
    wait_healthy(port)
    return p


def pinned_clients(router):
    return router.log_text().count("pinned to its server connection")


# ---- psycopg 3 --------------------------------------------------------------------------------


def test_psycopg_parameters_binary_and_copy(router):
    with psycopg.connect(dsn(router.port)) as c:
        c.execute("CREATE TABLE p3 (id int PRIMARY KEY, name text, data bytea, n numeric, "
                  "tags text[], at timestamptz)")
        cur = c.cursor()
        cur.executemany("INSERT INTO p3 VALUES (%s, %s, %s, %s, %s, %s)",
                        [(i, f"zeile-{i}-ü✓", bytes([i, 0, 255]), i / 4 if i % 3 else None,
                          [f"t{i}", None], f"2024-01-{i:02d} 12:00:00+00") for i in range(1, 11)])
        c.commit()
        row = cur.execute("SELECT name, data, n, tags, extract(day FROM at) FROM p3 "
                          "WHERE id = %s AND name LIKE %s", (4, "zeile%")).fetchone()
        assert row[0] == "zeile-4-ü✓" and row[1] == b"\x04\x00\xff"
        assert str(row[2]) == "1" and row[3] == ["t4", None] and int(row[4]) == 4
        assert cur.execute("SELECT n FROM p3 WHERE id = %s", (3,)).fetchone() == (None,)

        # Binary results: the driver asks for binary columns in Bind.
        bcur = c.cursor(binary=True)
        bcur.execute("SELECT id, data, n, tags, name FROM p3 WHERE id = ANY(%s) ORDER BY id",
                     ([2, 5],))
        rows = bcur.fetchall()
        assert bcur.pgresult.fformat(0) == 1 and bcur.pgresult.fformat(4) == 1
        assert [(r[0], r[1], r[4]) for r in rows] == [
            (2, b"\x02\x00\xff", "zeile-2-ü✓"), (5, b"\x05\x00\xff", "zeile-5-ü✓")]
        assert rows[1][3] == ["t5", None]

        # COPY in (text rows and binary), then COPY out.
        with cur.copy("COPY p3 (id, name, data) FROM STDIN") as cp:
            for i in range(100, 600):
                cp.write_row((i, f"copied-{i}", b"\x00\n\\"))
        with cur.copy("COPY p3 (id, name) FROM STDIN (FORMAT binary)") as cp:
            cp.set_types(["int4", "text"])
            for i in range(1000, 1100):
                cp.write_row((i, f"bin-{i}"))
        c.commit()
        with cur.copy("COPY (SELECT id, name, data FROM p3 WHERE id >= 100 ORDER BY id) "
                      "TO STDOUT") as cp:
            cp.set_types(["int4", "text", "bytea"])
            out = list(cp.rows())
        assert len(out) == 600
        assert out[0] == (100, "copied-100", b"\x00\n\\") and out[-1] == (1099, "bin-1099", None)
        assert cur.execute("SELECT count(*) FROM p3").fetchone()[0] == 610
        c.commit()
    assert pinned_clients(router) == 0


def take_server_connection(holder, pid):
    """Open a transaction on `holder` until it runs on server connection `pid` (a transaction
    that lands elsewhere ends at once, so the pool cycles through its idle connections whatever
    order it hands them out in, and never grows); while the holder keeps it, the next client is
    handed another one. The caller ends the holder's transaction."""
    for _ in range(50):
        if holder.execute("SELECT pg_backend_pid()").fetchone()[0] == pid:
            return
        holder.commit()
    raise AssertionError(f"the holder never got server connection {pid}")


def test_psycopg_server_prepared_statements(router):
    """prepare=True and the prepare_threshold path, across transactions that run on different
    server connections: in odd rounds the server connection a used last is held by another
    client, so a's prepared statements must be prepared anew where it lands."""
    q = "SELECT pg_backend_pid(), %s::int * 5, %s::text"
    q_server = "SELECT pg_backend_pid(), $1::int * 5, $2::text"
    auto = "SELECT %s::int + 100"
    auto_server = "SELECT $1::int + 100"
    with psycopg.connect(dsn(router.port)) as a, psycopg.connect(dsn(router.port)) as holder:
        a.prepare_threshold = 2
        last = None
        for r in range(12):
            if r % 2:
                take_server_connection(holder, last)
            pid, v, t = a.execute(q, (r, f"r{r}"), prepare=True).fetchone()
            assert (v, t) == (r * 5, f"r{r}")
            if r % 2:
                assert pid != last
            assert a.execute(auto, (r,)).fetchone()[0] == r + 100
            held = dict(a.execute(
                "SELECT statement, count(*) FROM pg_prepared_statements "
                "WHERE statement IN (%s, %s) GROUP BY statement",
                (q_server, auto_server), prepare=False).fetchall())
            # The explicit one is on the server connection this transaction runs on; the
            # automatic one from its third execution on (threshold 2: two unprepared runs
            # first).
            assert held.get(q_server) == 1, (r, held)
            assert held.get(auto_server) == (1 if r >= 2 else None), (r, held)
            last = pid
            a.commit()
            holder.commit()
    assert pinned_clients(router) == 0


def test_psycopg_pipeline_mode(router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("CREATE TABLE pipe (id int PRIMARY KEY, v text)")
        with c.pipeline() as p:
            ins = [c.execute("INSERT INTO pipe VALUES (%s, %s) RETURNING id * 2", (i, f"v{i}"),
                             prepare=True) for i in range(200)]
            p.sync()
            sel = [c.execute("SELECT v FROM pipe WHERE id = %s", (i,)) for i in range(0, 200, 10)]
        assert [cur.fetchone()[0] for cur in ins] == [i * 2 for i in range(200)]
        assert [cur.fetchone()[0] for cur in sel] == [f"v{i}" for i in range(0, 200, 10)]

        # An error in a pipeline: the statements before the Sync that follows it are skipped,
        # the error reaches the client, and the connection serves the next pipeline.
        with pytest.raises(psycopg.errors.UniqueViolation):
            with c.pipeline():
                first = c.execute("SELECT 1")
                c.execute("INSERT INTO pipe VALUES (1, 'dup')")
                c.execute("INSERT INTO pipe VALUES (9999, 'skipped')")
        assert first.fetchone() == (1,)
        with c.pipeline():
            after = [c.execute("SELECT count(*) FROM pipe WHERE id = %s", (i,)) for i in (1, 9999)]
        assert [cur.fetchone()[0] for cur in after] == [1, 0]
        # A transaction inside a pipeline.
        with c.pipeline(), c.transaction():
            c.execute("INSERT INTO pipe VALUES (500, 'tx')")
            inner = c.execute("SELECT count(*) FROM pipe")
        assert inner.fetchone()[0] == 201
    assert pinned_clients(router) == 0


def test_psycopg_transaction_rollback(router):
    with psycopg.connect(dsn(router.port)) as c:
        c.execute("CREATE TABLE rb (id int PRIMARY KEY)")
        c.commit()
        c.execute("INSERT INTO rb SELECT generate_series(1, 10)")
        assert c.execute("SELECT count(*) FROM rb").fetchone()[0] == 10
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        c.rollback()
        assert c.execute("SELECT count(*) FROM rb").fetchone()[0] == 0
        c.commit()
        # A failed statement aborts the transaction; rollback recovers it.
        c.execute("INSERT INTO rb VALUES (1)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            c.execute("INSERT INTO rb VALUES (1)")
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            c.execute("SELECT 1")
        c.rollback()
        assert c.execute("SELECT count(*) FROM rb").fetchone()[0] == 0
        # Nested: a savepoint rolled back keeps the outer transaction's work.
        with c.transaction():
            c.execute("INSERT INTO rb VALUES (1)")
            with pytest.raises(psycopg.errors.UniqueViolation):
                with c.transaction():
                    c.execute("INSERT INTO rb VALUES (2)")
                    c.execute("INSERT INTO rb VALUES (1)")
        assert c.execute("SELECT array_agg(id) FROM rb").fetchone()[0] == [1]
        c.commit()


def test_psycopg_two_connections_interleave_on_the_pool(node, router):
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        c.execute("CREATE TABLE inter (id int PRIMARY KEY, who text)")
    a = psycopg.connect(dsn(router.port))
    b = psycopg.connect(dsn(router.port))
    try:
        for r in range(10):
            pa = a.execute("SELECT pg_backend_pid()").fetchone()[0]
            a.execute("INSERT INTO inter VALUES (%s, 'a')", (r * 2,))
            pb = b.execute("SELECT pg_backend_pid()").fetchone()[0]
            b.execute("INSERT INTO inter VALUES (%s, 'b')", (r * 2 + 1,))
            assert pa != pb  # both in a transaction at once: two server connections
            # Each sees its own uncommitted row and not the other's.
            assert a.execute("SELECT array_agg(who) FROM inter WHERE id IN (%s, %s)",
                             (r * 2, r * 2 + 1)).fetchone()[0] == ["a"]
            assert b.execute("SELECT array_agg(who) FROM inter WHERE id IN (%s, %s)",
                             (r * 2, r * 2 + 1)).fetchone()[0] == ["b"]
            assert a.execute("SELECT pg_backend_pid()").fetchone()[0] == pa
            # Alternate which one ends first; b's odd rounds roll back.
            for conn in ((a, b) if r % 2 == 0 else (b, a)):
                if conn is b and r % 2 == 1:
                    conn.rollback()
                else:
                    conn.commit()
        with psycopg.connect(node.dsn("pg1")) as d:
            got = d.execute("SELECT who, count(*) FROM inter GROUP BY who ORDER BY who").fetchall()
        assert got == [("a", 10), ("b", 5)]
    finally:
        a.close()
        b.close()
    with psycopg.connect(node.dsn("pg1"), autocommit=True) as d:
        assert d.execute("SELECT count(*) FROM pg_stat_activity WHERE state LIKE "
                         "'idle in transaction%'").fetchone()[0] == 0


# ---- psycopg2 ---------------------------------------------------------------------------------


@pytest.fixture
def pg2(router):
    c = psycopg2.connect(dsn(router.port))
    yield c
    c.close()


def test_psycopg2_parameters_and_executemany(router, pg2):
    cur = pg2.cursor()
    cur.execute("CREATE TABLE p2 (id int PRIMARY KEY, name text, n numeric, ok boolean)")
    cur.executemany("INSERT INTO p2 VALUES (%(id)s, %(name)s, %(n)s, %(ok)s)",
                    [{"id": i, "name": f"名前-{i}", "n": None if i % 7 == 0 else i * 1.5,
                      "ok": i % 2 == 0} for i in range(1, 501)])
    assert cur.rowcount == 500
    pg2.commit()
    cur.execute("SELECT name, n, ok FROM p2 WHERE id = %s OR id = %s ORDER BY id", (7, 8))
    assert cur.fetchall() == [("名前-7", None, False), ("名前-8", 12, True)]
    cur.execute("SELECT count(*), count(n), sum(id) FROM p2 WHERE name LIKE %s", ("名前-%",))
    assert cur.fetchone() == (500, 429, 125250)
    # Literal quoting the driver does itself (psycopg2 interpolates on the client).
    cur.execute("SELECT %s::text, %s::text IS NULL", ("it's \\ \"q\"", None))
    assert cur.fetchone() == ("it's \\ \"q\"", True)
    pg2.commit()


def test_psycopg2_named_cursor_in_transaction(router, pg2):
    cur = pg2.cursor()
    cur.execute("CREATE TABLE nc (id int PRIMARY KEY)")
    cur.execute("INSERT INTO nc SELECT generate_series(1, 1000)")
    pg2.commit()
    named = pg2.cursor(name="big_scan")
    named.itersize = 37
    named.execute("SELECT id FROM nc ORDER BY id")
    seen, cursors_mid = [], None
    for (i,) in named:
        seen.append(i)
        if len(seen) == 500:
            # The DECLAREd cursor lives on the server connection of this transaction.
            cur.execute("SELECT name FROM pg_cursors WHERE name = 'big_scan'")
            cursors_mid = cur.fetchall()
    named.close()
    pg2.commit()
    assert seen == list(range(1, 1001))
    assert cursors_mid == [("big_scan",)]
    cur.execute("SELECT count(*) FROM pg_cursors")
    assert cur.fetchone()[0] == 0
    pg2.commit()
    assert pinned_clients(router) == 0


def test_psycopg2_copy_expert(router, pg2):
    cur = pg2.cursor()
    cur.execute("CREATE TABLE ce (id int PRIMARY KEY, name text, note text)")
    data = "".join(f'{i},"na,me {i} ü",{"" if i % 4 == 0 else "n" + str(i)}\n'
                   for i in range(1, 2001))
    cur.copy_expert("COPY ce FROM STDIN WITH (FORMAT csv)", io.StringIO(data))
    assert cur.rowcount == 2000
    pg2.commit()
    out = io.StringIO()
    cur.copy_expert("COPY (SELECT * FROM ce ORDER BY id) TO STDOUT WITH (FORMAT csv)", out)
    assert cur.rowcount == 2000
    assert out.getvalue() == data
    # A COPY that fails mid-stream: the node's error, and the connection recovers.
    with pytest.raises(psycopg2.errors.UniqueViolation):
        cur.copy_expert("COPY ce FROM STDIN WITH (FORMAT csv)", io.StringIO("5000,x,\n1,dup,\n"))
    pg2.rollback()
    cur.execute("SELECT count(*) FROM ce")
    assert cur.fetchone()[0] == 2000
    pg2.commit()


def test_psycopg2_error_and_recovery(router, pg2):
    cur = pg2.cursor()
    cur.execute("CREATE TABLE er (id int PRIMARY KEY)")
    cur.execute("INSERT INTO er VALUES (1)")
    with pytest.raises(psycopg2.errors.DivisionByZero) as e:
        cur.execute("SELECT 1 / %s", (0,))
    assert e.value.pgcode == "22012" and "division by zero" in e.value.pgerror
    with pytest.raises(psycopg2.errors.InFailedSqlTransaction):
        cur.execute("SELECT 1")
    pg2.rollback()
    # The rolled-back transaction took the CREATE TABLE with it.
    with pytest.raises(psycopg2.errors.UndefinedTable):
        cur.execute("SELECT * FROM er")
    pg2.rollback()
    cur.execute("SELECT %s + 1", (41,))
    assert cur.fetchone() == (42,)
    pg2.commit()
    # Autocommit: an error does not abort anything that follows.
    pg2.autocommit = True
    with pytest.raises(psycopg2.errors.SyntaxError):
        cur.execute("SELEC 1")
    cur.execute("SELECT 2")
    assert cur.fetchone() == (2,)
    assert pg2.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE


# ---- pgjdbc -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jdbc_classes(tmp_path_factory):
    """DriverSmoke.java compiled against Debian's pgjdbc into a temp dir."""
    assert shutil.which("javac"), "javac missing: scripts/bootstrap.sh installs default-jdk-headless"
    assert JDBC_JAR.exists(), f"{JDBC_JAR} missing: scripts/bootstrap.sh installs " \
                              "libpostgresql-jdbc-java"
    out = tmp_path_factory.mktemp("jdbc")
    subprocess.run(["javac", "-encoding", "UTF-8", "-d", str(out), "-cp", str(JDBC_JAR),
                    str(HERE / "java" / "DriverSmoke.java")], check=True, capture_output=True,
                   timeout=300)
    return out


def run_jdbc(classes, port, url_params):
    url = f"jdbc:postgresql://127.0.0.1:{port}/app?user=app&{url_params}"
    r = subprocess.run(["java", "-Dfile.encoding=UTF-8", "-cp", f"{JDBC_JAR}:{classes}",
                        "DriverSmoke", url], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def check_jdbc_results(out):
    assert out["batch_updated"] == "1000" and out["batch_count"] == "1000"
    assert float(out["batch_sum"]) == sum(i / 4 for i in range(1, 1001))
    assert out["batch_max_name"] == "name-999-ü"
    assert out["prepared_ok"] == "50" and out["prepared_server"] == "true"
    assert out["prepared_value"] == "42" and out["prepared_on_server"] == "1"
    assert out["cursor_rows"] == "1000" and out["cursor_sum"] == str(sum(range(1, 1001)))
    assert out["cursor_portals_mid"].startswith("C_"), out["cursor_portals_mid"]
    assert out["error_sqlstate"] == "23505" and out["error_count_after"] == "1000"
    assert out["many_ok"] == out["many_expected"] == "200"
    assert out["done"] == "true"


def test_pgjdbc(router, jdbc_classes):
    """pgjdbc as applications connect: prepareThreshold=1 makes every execution use a named
    server-side statement."""
    check_jdbc_results(run_jdbc(jdbc_classes, router.port, "prepareThreshold=1"))


def test_pgjdbc_statements_on_many_server_connections(router, jdbc_classes):
    """With assumeMinServerVersion=10 pgjdbc sends extra_float_digits in the startup packet
    instead of a SET after connecting, so its connections are not pinned: each client's
    prepared statements meet several server connections and pgrouter prepares them there."""
    out = run_jdbc(jdbc_classes, router.port, "prepareThreshold=1&assumeMinServerVersion=10")
    check_jdbc_results(out)
    assert int(out["many_min_distinct_server_pids"]) >= 2, out
    assert pinned_clients(router) == 0, router.log_text()


def test_pgjdbc_default_connect_is_not_pinned(router, jdbc_classes):
    out = run_jdbc(jdbc_classes, router.port, "prepareThreshold=1")
    assert pinned_clients(router) == 0, "pinned: " + router.log_text()[-600:]
    assert int(out["many_min_distinct_server_pids"]) >= 2, out


# ---- npm's pg ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def js_dir():
    d = HERE / "js"
    assert shutil.which("node") and shutil.which("npm"), "node/npm missing"
    if not (d / "node_modules" / "pg").is_dir():
        env = dict(os.environ)
        cache = None
        if "HOME" not in env:  # npm keeps its cache under HOME
            cache = env["npm_config_cache"] = tempfile.mkdtemp(prefix="pgr-npm-")
        try:
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=d, env=env,
                               capture_output=True, text=True, timeout=300)
        finally:
            if cache:
                shutil.rmtree(cache, ignore_errors=True)
        assert r.returncode == 0, r.stdout + r.stderr
    return d


def test_node_pg(router, js_dir):
    r = subprocess.run(["node", "smoke.js", str(router.port)], cwd=js_dir, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["param_rows"] == [[3, "zeile-3-ü✓", "0.375", "2024-01-03T00:00:00.000Z"],
                                 [5, "zeile-5-ü✓", None, "2024-01-05T00:00:00.000Z"]]
    assert out["named_ok"] == 20
    assert out["named_moved"] == 10  # every odd round ran on another server connection
    assert out["other_client_same_name"] == ["b", 7]
    assert out["rollback_counts"] == [21, 20]
    assert out["error_code"] == "22012"
    assert out["dup_code"] == "23505" and out["aborted_code"] == "25P02"
    assert out["after_error"] == ["zeile-2-ü✓", 42]
    assert pinned_clients(router) == 0


# ---- an interactive psql session in tmux --------------------------------------------------------

# One line is typed at a time, each after psql shows its next prompt; every prompt (PROMPT1 for
# statements, PROMPT2 for continuation lines, PROMPT3 for COPY data) starts with "@@", so the
# number of prompts on the screen says when psql is ready for the next line.
PSQL_LINES = [
    r"\pset null '<null>'",
    "CREATE TABLE tm (id int PRIMARY KEY, name text, note text);",
    "BEGIN;",
    "INSERT INTO tm VALUES (1, 'ünïcødé ✓ 日本語', NULL), (2, 'plain', 'x');",
    "SELECT * FROM tm ORDER BY id;",
    "SELECT 1/0;",
    "SELECT 1;",
    "ROLLBACK;",
    "SELECT count(*) FROM tm;",
    "INSERT INTO tm VALUES (1, 'ünïcødé ✓ 日本語', NULL),",
    "  (2, 'plain', 'x');",
    r"\d tm",
    "SELECT id, name, note, NULL::int AS nothing, 'Ω≈ç√' AS greek FROM tm ORDER BY id;",
    r"\copy tm FROM STDIN WITH (FORMAT csv)",
    "3,copied,in",
    '4,"quoted, comma",',
    r"\.",
    r"\copy tm TO STDOUT WITH (FORMAT csv)",
    "SELECT no_such_column FROM tm;",
    "SELECT count(*), string_agg(name, '|' ORDER BY id) FROM tm;",
    "DROP TABLE tm;",
]


def tmux(sock, *args, check=True):
    return subprocess.run(["tmux", "-u", "-S", sock, "-f", "/dev/null", *args], check=check,
                          capture_output=True, text=True, timeout=20,
                          env=dict(os.environ, LC_ALL="C.UTF-8"))


def psql_screen(port):
    """Run PSQL_LINES in psql inside a tmux session of our own (a tmux server on a socket in a
    temp dir, so no other tmux is touched) and return the whole captured screen, history
    included."""
    sock_dir = tempfile.mkdtemp(prefix="pgr-tmux-")
    sock = os.path.join(sock_dir, "sock")
    env = ["-e", "LC_ALL=C.UTF-8", "-e", "PSQL_HISTORY=/dev/null", "-e", "PGCONNECT_TIMEOUT=5",
           "-e", "TERM=screen"]
    tmux(sock, "new-session", "-d", "-s", "psql", "-x", "160", "-y", "50", *env,
         "psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "app", "-d", "app",
         "-P", "pager=off", "-v", "PROMPT1=@@%/%R%x%# ", "-v", "PROMPT2=@@%/%R%x%# ",
         "-v", "PROMPT3=@@>> ")
    try:
        def screen():
            return tmux(sock, "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t",
                        "psql").stdout

        def wait_prompts(n):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                s = screen()
                if s.count("@@") >= n:
                    return
                time.sleep(0.05)
            raise TimeoutError(f"psql showed fewer than {n} prompts:\n{screen()}")

        wait_prompts(1)
        for i, line in enumerate(PSQL_LINES):
            # As hex bytes: tmux would take an argument's trailing ';' as a command separator.
            tmux(sock, "send-keys", "-t", "psql", "-H", *(f"{b:02x}" for b in line.encode()))
            tmux(sock, "send-keys", "-t", "psql", "Enter")
            wait_prompts(i + 2)
        text = screen()
    finally:
        tmux(sock, "kill-session", "-t", "psql", check=False)
        shutil.rmtree(sock_dir, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def test_psql_interactive_session_in_tmux(node, router):
    assert shutil.which("tmux"), "tmux missing: scripts/bootstrap.sh installs it"
    direct = psql_screen(node.port("pg1"))
    via = psql_screen(router.port)
    assert via == direct
    # What both screens must show, so that two equally broken sessions cannot pass.
    for want in ("division by zero",
                 "current transaction is aborted",
                 "@@app=!> ",  # app is no superuser: ">"
                 "@@app=*> ",
                 "ünïcødé ✓ 日本語 | <null>",
                 'Table "public.tm"',
                 '"tm_pkey" PRIMARY KEY, btree (id)',
                 "Ω≈ç√",
                 "COPY 2",
                 '4,"quoted, comma",',
                 'column "no_such_column" does not exist',
                 "ünïcødé ✓ 日本語|plain|copied|quoted, comma",
                 "DROP TABLE"):
        assert want in via, f"{want!r} not on the screen:\n{via}"
