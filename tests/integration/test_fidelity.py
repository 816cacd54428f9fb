"""What pgrouter answers, delays or ends itself looks exactly as PostgreSQL's own answer: the
command tags of a held transaction, the end of a session the server terminates, a first packet
that is not a startup packet, a cancel that reaches a statement still waiting for a pooled
connection. Every case runs the same steps against the node directly and through pgrouter."""
import os
import signal
import socket
import struct
import threading
import time

import psycopg
import pytest

from conftest import free_port, router_dsn as dsn, wait_for, wait_served


def config(cluster, port, mode="transaction", max_size=4, health="interval: 300ms, timeout: 1s"):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
pool: {{mode: {mode}, max_size: {max_size}, acquire_timeout: 20s}}
health: {{{health}}}
log: {{level: info}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port("pg1")}}}
"""


@pytest.fixture
def node(cluster_factory):
    c = cluster_factory(1)
    with psycopg.connect(c.dsn("pg1"), autocommit=True) as d:
        d.execute("CREATE TABLE fid (id int, v text)")
        d.execute("GRANT ALL ON fid TO app")
    return c


def start(pgrouter_factory, node, mode="transaction", max_size=4, **kw):
    port = free_port()
    p = pgrouter_factory(config(node, port, mode=mode, max_size=max_size, **kw), port)
    wait_served(port)
    return p


# ---- 3. command tags ------------------------------------------------------------------------

TAG_SCRIPTS = [
    ["START TRANSACTION", "COMMIT"],
    ["START TRANSACTION READ ONLY", "ROLLBACK"],
    ["start transaction isolation level repeatable read", "END"],
    ["BEGIN ISOLATION LEVEL SERIALIZABLE", "ABORT"],
    ["BEGIN WORK", "COMMIT"],
    ["START TRANSACTION", "SELECT 1", "END"],
    ["START TRANSACTION", "START TRANSACTION", "COMMIT"],
    ["BEGIN ISOLATION LEVEL SERIALIZABLE", "COMMIT AND CHAIN", "SHOW transaction_isolation",
     "COMMIT"],
    ["START TRANSACTION READ ONLY", "ROLLBACK AND CHAIN", "SHOW transaction_read_only",
     "ROLLBACK"],
    ["COMMIT"],
    ["ABORT"],
    # pgrouter's own settings (a placeholder setting on the node)
    ["SET pgrouter.route = 'primary'", "SET pgrouter.route TO DEFAULT", "RESET pgrouter.route"],
    ["BEGIN", "SET pgrouter.route = 'primary'", "COMMIT"],
]


def run_script(port, stmts, extended):
    """Each statement on one connection: tag, transaction status, rows, notices, error."""
    out = []
    with psycopg.connect(dsn(port), autocommit=True) as c:
        notices = []
        c.add_notice_handler(lambda d: notices.append((d.severity, d.sqlstate, d.message_primary)))
        for s in stmts:
            # binary=True makes psycopg use Parse/Bind/Describe/Execute/Sync; without
            # parameters it otherwise sends one simple Query.
            cur = c.execute(s, binary=True) if extended else c.execute(s)
            rows = cur.fetchall() if cur.description else None
            out.append((s, cur.statusmessage, c.info.transaction_status.name, rows,
                        list(notices)))
            notices.clear()
    return out


@pytest.mark.parametrize("extended", [False, True], ids=["simple", "extended"])
def test_held_transaction_tags_are_postgresql_own(node, pgrouter_factory, extended):
    p = start(pgrouter_factory, node)
    for stmts in TAG_SCRIPTS:
        direct = run_script(node.port("pg1"), stmts, extended)
        via = run_script(p.port, stmts, extended)
        assert via == direct
    # What the comparison covers: a held START TRANSACTION is not a "BEGIN".
    assert run_script(p.port, ["START TRANSACTION", "END"], extended)[0][1:3] == \
        ("START TRANSACTION", "INTRANS")


def begin_insert_cancel(port, blocker, waiting, extended):
    """Client B: BEGIN, then an INSERT that waits (behind blocker), canceled once waiting()
    says it waits; then what B sees of its failed transaction. Returns the observations."""
    out = []
    with psycopg.connect(dsn(port), autocommit=True) as b:
        notices = []
        b.add_notice_handler(lambda d: notices.append((d.severity, d.sqlstate, d.message_primary)))
        b.execute("START TRANSACTION")
        out.append(("begin", b.info.transaction_status.name))
        err = {}

        def insert():
            try:
                b.execute("INSERT INTO fid VALUES (1, 'canceled')", binary=extended)
            except psycopg.Error as e:
                err["e"] = e

        t = threading.Thread(target=insert)
        with blocker():
            t.start()
            wait_for("the INSERT to wait", waiting)
            b.cancel()
            t.join(15)
            assert not t.is_alive()
        e = err.get("e")
        assert e is not None, "the INSERT was not canceled"
        out.append(("insert", type(e).__name__, e.sqlstate, e.diag.severity,
                    e.diag.message_primary, b.info.transaction_status.name))
        for s in ("SELECT 1", "COMMIT"):
            try:
                cur = b.execute(s, binary=extended)
                out.append((s, cur.statusmessage, b.info.transaction_status.name))
            except psycopg.Error as e:
                out.append((s, e.sqlstate, e.diag.message_primary,
                            b.info.transaction_status.name))
        # The session goes on, and what it does lands.
        b.execute("INSERT INTO fid VALUES (2, 'after')")
        out.append(("notices", notices))
    return out


def lock_blocker(node):
    """Directly: a transaction holding the table's lock, so B's INSERT waits on it."""
    class Blocker:
        def __enter__(self):
            self.c = psycopg.connect(node.dsn("pg1"))
            self.c.execute("LOCK TABLE fid IN ACCESS EXCLUSIVE MODE")

        def __exit__(self, *a):
            self.c.rollback()
            self.c.close()
    return Blocker


def pool_blocker(port):
    """Through pgrouter: another client's transaction holding the pool's only connection."""
    class Blocker:
        def __enter__(self):
            self.c = psycopg.connect(dsn(port))
            self.c.execute("SELECT 1")

        def __exit__(self, *a):
            self.c.rollback()
            self.c.close()
    return Blocker


def lock_waiting(node):
    def check():
        with psycopg.connect(node.dsn("pg1"), autocommit=True) as d:
            return d.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                             "'Lock' AND query LIKE 'INSERT INTO fid%'").fetchone()[0] == 1
    return check


def pool_waiting(port):
    def check():
        with psycopg.connect(dsn(port, user="admin", dbname="pgrouter"), autocommit=True) as a:
            cur = a.execute("SHOW POOLS")
            names = [d.name for d in cur.description]
            return any(dict(zip(names, r))["waiting"] in (1, "1") for r in cur.fetchall())
    return check


def rows(node):
    with psycopg.connect(node.dsn("pg1"), autocommit=True) as d:
        return d.execute("SELECT id, v FROM fid ORDER BY id").fetchall()


@pytest.mark.parametrize("extended", [False, True], ids=["simple", "extended"])
def test_cancel_while_waiting_for_the_pool(node, pgrouter_factory, extended):
    """Item 8, and the tags of a held transaction that failed: B's INSERT waits for the pool's
    only connection, held by A's transaction; B cancels. Directly, the same INSERT waits for a
    lock. Both end the wait with 57014, leave B's transaction aborted (25P02, a COMMIT that
    answers ROLLBACK), and the INSERT never runs, not even once the pool is free."""
    direct = begin_insert_cancel(node.port("pg1"), lock_blocker(node), lock_waiting(node),
                                 extended)
    assert rows(node) == [(2, "after")]
    with psycopg.connect(node.dsn("pg1"), autocommit=True) as d:
        d.execute("TRUNCATE fid")
    p = start(pgrouter_factory, node, max_size=1)
    via = begin_insert_cancel(p.port, pool_blocker(p.port), pool_waiting(p.port), extended)
    assert via == direct
    assert direct[1] == ("insert", "QueryCanceled", "57014", "ERROR",
                         "canceling statement due to user request", "INERROR")
    assert direct[3] == ("COMMIT", "ROLLBACK", "IDLE")
    time.sleep(1)  # a statement that ran late would show now
    assert rows(node) == [(2, "after")]
    assert "canceled while waiting for a server connection" in p.log_text()


def test_cancel_while_waiting_autocommit(node, pgrouter_factory):
    """Outside a transaction: the canceled INSERT never runs, the session stays usable."""
    p = start(pgrouter_factory, node, max_size=1)
    with psycopg.connect(dsn(p.port), autocommit=True) as b:
        err = {}

        def insert():
            try:
                b.execute("INSERT INTO fid VALUES (1, 'canceled')")
            except psycopg.Error as e:
                err["e"] = e

        with pool_blocker(p.port)():
            t = threading.Thread(target=insert)
            t.start()
            wait_for("the INSERT to wait", pool_waiting(p.port))
            b.cancel()
            t.join(15)
        assert isinstance(err.get("e"), psycopg.errors.QueryCanceled)
        assert b.info.transaction_status.name == "IDLE"
        assert b.execute("SELECT count(*) FROM fid").fetchone()[0] == 0
    time.sleep(1)
    assert rows(node) == []


# ---- 4. sessions PostgreSQL ends ------------------------------------------------------------

def backend_pid(c):
    return c.execute("SELECT pg_backend_pid()").fetchone()[0]


def terminate(node, pid):
    with psycopg.connect(node.dsn("pg1"), autocommit=True) as d:
        assert d.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def outcome(c, stmt="SELECT 1"):
    """What the client sees on its next statement, and whether its connection is closed."""
    try:
        c.execute(stmt)
        got = ("no error",)
    except psycopg.Error as e:
        got = (type(e).__name__, e.sqlstate, e.diag.severity, str(e))
    return got, c.closed


SETUPS = {
    # the client depends on its server connection: session mode; a pinned client; a
    # transaction in transaction mode
    "session": ("session", []),
    "pinned": ("transaction", ["CREATE TEMP TABLE t_pin (x int)"]),
    "in_transaction": ("transaction", ["BEGIN", "SELECT 1"]),
}


@pytest.mark.parametrize("setup", list(SETUPS))
def test_terminated_session_ends_with_the_server_error(node, pgrouter_factory, setup):
    mode, stmts = SETUPS[setup]
    p = start(pgrouter_factory, node, mode=mode)
    got = {}
    for name, port in (("direct", node.port("pg1")), ("via", p.port)):
        c = psycopg.connect(dsn(port), autocommit=True)
        for s in stmts:
            c.execute(s)
        terminate(node, backend_pid(c))
        time.sleep(0.3)
        got[name] = outcome(c)
        c.close()
    assert got["via"] == got["direct"]
    assert "terminating connection due to administrator command" in got["direct"][0][3]
    assert got["via"][1] is True
    assert "was lost" not in got["via"][0][3]


@pytest.mark.parametrize("setup", list(SETUPS))
def test_terminated_running_statement(node, pgrouter_factory, setup):
    """The server ends the session while the client's statement runs: its FATAL 57P01 is the
    client's error, untouched, and nothing of pgrouter's after it; then the connection is
    closed."""
    mode, stmts = SETUPS[setup]
    p = start(pgrouter_factory, node, mode=mode)
    got = {}
    for name, port in (("direct", node.port("pg1")), ("via", p.port)):
        c = psycopg.connect(dsn(port), autocommit=True)
        for s in stmts:
            c.execute(s)
        pid = backend_pid(c)
        res = {}
        t = threading.Thread(target=lambda: res.setdefault("r", outcome(c, "SELECT pg_sleep(30)")))
        t.start()
        with psycopg.connect(node.dsn("pg1"), autocommit=True) as d:
            wait_for("pg_sleep to run", lambda: d.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND query LIKE "
                "'SELECT pg_sleep%%' AND state = 'active'", (pid,)).fetchone()[0] == 1)
        terminate(node, pid)
        t.join(15)
        got[name] = res["r"]
        c.close()
    assert got["via"] == got["direct"]
    # (libpq folds the FATAL and the close that follows it into one connection error)
    assert "terminating connection due to administrator command" in got["direct"][0][3]
    assert "was lost" not in got["via"][0][3]
    assert got["via"][1] is True


def test_fast_shutdown_and_crash_end_sessions_as_directly(node, pgrouter_factory):
    """A fast shutdown (FATAL 57P01) and the crash of another backend (a WARNING 57P02 notice,
    then the connection closes): a session-mode client and a pinned one see what a direct
    client sees, and pgrouter serves new clients once the node is back. The health checks run
    every 30 ms and give up at the first failure, so they mark the node unhealthy before the
    node's own last words reach the sessions: those words must still be what the clients see
    (a node marked unhealthy ends its lent connections only after a grace)."""
    fast = "interval: 30ms, timeout: 1s, unhealthy_threshold: 1"
    ps = start(pgrouter_factory, node, mode="session", health=fast)
    pt = start(pgrouter_factory, node, mode="transaction", health=fast)

    def connect_all():
        conns = {"direct": psycopg.connect(dsn(node.port("pg1")), autocommit=True),
                 "session": psycopg.connect(dsn(ps.port), autocommit=True),
                 "pinned": psycopg.connect(dsn(pt.port), autocommit=True)}
        conns["pinned"].execute("CREATE TEMP TABLE t_pin (x int)")
        notices = {k: [] for k in conns}
        for k, c in conns.items():
            c.add_notice_handler(
                lambda d, k=k: notices[k].append((d.severity, d.sqlstate, d.message_primary)))
        for c in conns.values():
            c.execute("SELECT 1")
        return conns, notices

    def results(conns, notices):
        out = {k: outcome(c) + (notices[k],) for k, c in conns.items()}
        for c in conns.values():
            c.close()
        return out

    # A fast shutdown (and a start again).
    conns, notices = connect_all()
    node.fault("restart", "pg1")
    got = results(conns, notices)
    assert got["session"] == got["direct"] and got["pinned"] == got["direct"]
    assert "terminating connection due to administrator command" in got["direct"][0][3]
    wait_served(ps.port)
    wait_served(pt.port)

    # A crash: another backend killed; the postmaster ends every session with a notice.
    conns, notices = connect_all()
    victim = psycopg.connect(node.dsn("pg1"), autocommit=True)
    os.kill(backend_pid(victim), signal.SIGKILL)
    time.sleep(1)
    got = results(conns, notices)
    victim.close()
    assert got["session"] == got["direct"] and got["pinned"] == got["direct"]
    assert got["direct"][2] and got["direct"][2][0][1] == "57P02", got["direct"]
    wait_served(ps.port, timeout=30)
    wait_served(pt.port, timeout=30)


def test_idle_unpinned_client_outlives_its_server_connection(node, pgrouter_factory):
    """Outside those cases the recovery stays: in transaction mode an idle, unpinned client
    holds no server connection, and one that is terminated in the pool does not end it."""
    p = start(pgrouter_factory, node)
    with psycopg.connect(dsn(p.port), autocommit=True) as c:
        c.execute("SELECT 1")
        with psycopg.connect(node.dsn("pg1"), autocommit=True) as d:
            d.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE usename = 'app' AND pid <> pg_backend_pid()")
        time.sleep(0.5)
        for _ in range(3):
            try:
                c.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                assert not c.closed  # at worst one statement fails, the session stays
        assert c.execute("SELECT 2").fetchone()[0] == 2
        assert not c.closed


# ---- 5. a first packet that is not a startup packet ----------------------------------------

def first_packet(port, data):
    """Send data as the first bytes of a connection; every byte the server sends back until
    it closes (or 5 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        got = b""
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    return got, "closed"
                got += b
        except socket.timeout:
            return got, "open"
        except ConnectionResetError:
            return got, "reset"


def startup(params, version=196608):
    body = struct.pack("!i", version) + b"".join(
        k.encode() + b"\0" + v.encode() + b"\0" for k, v in params) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


NOT_STARTUP = {
    "terminate": b"X\x00\x00\x00\x04",
    "length_4": b"\x00\x00\x00\x04\x00\x00\x00\x00",
    "too_long": struct.pack("!i", 10_001 + 4) + b"\x00" * 64,
    "huge": struct.pack("!i", 1 << 30),
}


def test_a_first_packet_that_is_not_startup_closes_silently(node, pgrouter_factory):
    p = start(pgrouter_factory, node)
    for name, data in NOT_STARTUP.items():
        direct = first_packet(node.port("pg1"), data)
        via = first_packet(p.port, data)
        assert direct[0] == b"" and direct[1] in ("closed", "reset"), (name, direct)
        assert via == (b"", "closed"), (name, via)
    assert "invalid length of startup packet" in p.log_text()
    # Other startup errors keep their FATAL, as PostgreSQL's.
    for data in (startup([("database", "app")]), startup([("user", "app")], version=1234 << 16 | 5681)):
        direct, via = first_packet(node.port("pg1"), data), first_packet(p.port, data)
        assert direct[0][:1] == b"E" and via[0][:1] == b"E", (direct, via)
        for got in (direct[0], via[0]):
            assert b"SFATAL\0" in got
        sqlstate = lambda b: b.split(b"\0C")[1][:5]
        assert sqlstate(via[0]) == sqlstate(direct[0])
    # And pgrouter still serves.
    wait_served(p.port)


# ---- SQL PREPARE / DEALLOCATE in transaction mode ---------------------------------------------

DEALLOCATE_SCRIPT = [
    "PREPARE s1 AS SELECT 1", "PREPARE \"S2\" AS SELECT 2", "PREPARE s3 AS SELECT 3",
    "PREPARE s4 AS SELECT 4",
    "EXECUTE s1", "DEALLOCATE s1", "EXECUTE s1",
    "EXECUTE \"S2\"", "  deallocate   prepare \"S2\" ;", "EXECUTE \"S2\"",
    "DEALLOCATE\ts3", "EXECUTE s3", "DEALLOCATE s3",
    "DEALLOCATEx", "EXECUTE s4", "DEALLOCATE ALL", "EXECUTE s4", "DEALLOCATE nosuch",
]


def run_sql_script(conninfo, script):
    out = []
    with psycopg.connect(conninfo, autocommit=True) as c:
        for sql in script:
            try:
                cur = c.execute(sql, prepare=False)
                out.append((cur.statusmessage, cur.fetchall() if cur.description else None))
            except psycopg.Error as e:
                out.append(("error", e.sqlstate))
    return out


def test_sql_deallocate_matches_postgresql(pgrouter_factory, node):
    """PREPARE / EXECUTE / DEALLOCATE [PREPARE] name|"Name"|ALL, spelled as users do, answer as
    on the node itself while pgrouter renames the statements on its pooled connections."""
    p = start(pgrouter_factory, node)
    direct = run_sql_script(node.dsn("pg1", user="app"), DEALLOCATE_SCRIPT)
    through = run_sql_script(dsn(p.port), DEALLOCATE_SCRIPT)
    assert through == direct
    # The script exercised both paths: translated deallocations and the errors after them.
    assert ("DEALLOCATE", None) in direct and ("error", "26000") in direct
    assert ("error", "42601") in direct
