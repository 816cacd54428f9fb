"""The admin console (database "pgrouter") and the monitoring HTTP endpoints, against real
PostgreSQL nodes: SHOW commands reflect real sessions and servers, node changes take effect,
PAUSE/RESUME hold new connections, SHUTDOWN stops the process, /healthz /status /metrics follow
a killed node."""
import json
import threading
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from conftest import free_port, wait_for as conftest_wait_for


def config(cluster, port, http_port, nodes=("pg1", "pg2"), extra=""):
    node_yaml = "\n".join(
        f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}" for n in nodes)
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
admin: {{http: '127.0.0.1:{http_port}'}}
pool: {{mode: transaction, max_size: 10, acquire_timeout: 5s}}
health: {{interval: 300ms, timeout: 1s, unhealthy_threshold: 2}}
shutdown: {{drain_timeout: 2s}}
log: {{level: info}}
{extra}
nodes:
{node_yaml}
"""


def admin_conn(port, user="admin"):
    return psycopg.connect(f"host=127.0.0.1 port={port} user={user} dbname=pgrouter",
                           autocommit=True, connect_timeout=5)


def admin(port, sql):
    """Run one admin command; rows as dicts (column name -> value)."""
    with admin_conn(port) as c:
        cur = c.execute(sql)
        if cur.description is None:
            return cur.statusmessage
        names = [d.name for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def wait_for(what, fn, timeout=15.0, step=0.1):
    """conftest's wait_for, taking a failed connection as "not yet"."""
    return conftest_wait_for(what, fn, timeout, step, retry_on=(psycopg.Error, OSError))


def by_id(rows, key="id"):
    return {r[key]: r for r in rows}




def http_get(port, path):
    """(status, content type, body) of GET path; errors (4xx/5xx) are answers too."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def metric(body, name, labels=None):
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
                   if labels else "")
    for line in body.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return None


def all_healthy(port, n):
    rows = admin(port, "SHOW NODES")
    return len(rows) == n and all(r["state"] == "healthy" for r in rows) and rows


@pytest.fixture
def setup(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(2)
    port, http_port = free_port(), free_port()
    p = pgrouter_factory(config(cluster, port, http_port), port)
    wait_for("both nodes healthy", lambda: all_healthy(port, 2))
    yield cluster, p, port, http_port
    # A clean exit: the HTTP server's handles close with the rest, so the loop ends (and a
    # sanitizer build reports nothing).
    rc = p.stop(timeout=20)
    log = p.log_text()
    assert rc == 0, log[-3000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
    assert "event loop closed with handles still open" not in log


def test_show_nodes_pools_config_version(setup):
    cluster, p, port, _ = setup
    nodes = by_id(admin(port, "show nodes;"))
    assert set(nodes) == {"pg1", "pg2"}
    for n in ("pg1", "pg2"):
        r = nodes[n]
        assert r["host"] == "127.0.0.1" and r["port"] == cluster.port(n)
        assert r["role_configured"] == "auto"
        assert r["role_reported"] == "primary"  # two independent primaries
        assert r["weight"] == 1 and r["consecutive_failures"] == 0
        assert r["latency_ms"] is not None and 0 < r["latency_ms"] < 1000
        assert r["lsn"] and "/" in r["lsn"]
        assert r["last_error"] is None
    pools = by_id(admin(port, "SHOW POOLS"), "node")
    assert set(pools) == {"pg1", "pg2"} and pools["pg1"]["max"] == 10
    cfg = {r["key"]: r["value"] for r in admin(port, "SHOW CONFIG")}
    assert cfg["listen.port"] == str(port) and cfg["auth.method"] == "trust"
    assert cfg["health.interval"] == "300ms" and cfg["shutdown.drain_timeout"] == "2000ms"
    assert admin(port, "SHOW VERSION")[0]["version"].startswith("pgrouter ")
    assert any(r["command"].startswith("ADD NODE") for r in admin(port, "SHOW HELP"))


def test_show_clients_servers_stats(setup):
    cluster, p, port, _ = setup
    before = admin(port, "SHOW STATS")[0]
    with psycopg.connect(f"host=127.0.0.1 port={port} user=app dbname=app "
                         "application_name=it-client") as app:
        app.execute("SELECT 1")
        # Inside a transaction the session holds a server connection.
        pid = app.execute("SELECT pg_backend_pid()").fetchone()[0]
        port_used = app.execute("SELECT inet_server_port()").fetchone()[0]
        node = "pg1" if port_used == cluster.port("pg1") else "pg2"
        clients = admin(port, "SHOW CLIENTS")
        mine = [c for c in clients if c["application_name"] == "it-client"]
        assert len(mine) == 1
        assert mine[0]["user"] == "app" and mine[0]["database"] == "app"
        assert mine[0]["state"] == "linked" and mine[0]["node"] == node
        assert mine[0]["peer"].startswith("127.0.0.1:")
        # The console session itself is listed too.
        assert any(c["database"] == "pgrouter" for c in clients)
        servers = admin(port, "SHOW SERVERS")
        assert [s for s in servers if s["client_id"] == mine[0]["id"]] == [
            {"node": node, "backend_pid": pid, "client_id": mine[0]["id"], "user": "app",
             "database": "app", "state": "active", "pinned": None,
             "server_version": servers[0]["server_version"]}]
        pools = by_id(admin(port, "SHOW POOLS"), "node")
        assert pools[node]["active"] >= 1
        app.rollback()
    after = admin(port, "SHOW STATS")[0]
    assert after["clients_accepted"] >= before["clients_accepted"] + 1
    assert after["queries"] >= before["queries"] + 3
    assert after["bytes_in"] > before["bytes_in"]


def test_add_set_remove_node(setup):
    cluster, p, port, _ = setup
    # A third node: another id for pg2's server.
    with admin_conn(port) as c:
        c.execute(f"ADD NODE pg2b 'host=127.0.0.1 port={cluster.port('pg2')} dbname=app' "
                  "ROLE primary WEIGHT 3")
    rows = wait_for("pg2b healthy", lambda: [r for r in admin(port, "SHOW NODES")
                                             if r["id"] == "pg2b" and r["state"] == "healthy"])
    assert rows[0]["weight"] == 3 and rows[0]["role_configured"] == "primary"
    assert admin(port, "SET NODE pg2b WEIGHT 0 ROLE auto") == "SET NODE"
    r = by_id(admin(port, "SHOW NODES"))["pg2b"]
    assert r["weight"] == 0 and r["role_configured"] == "auto"

    with pytest.raises(psycopg.errors.DuplicateObject):
        admin(port, "ADD NODE pg2b 'host=127.0.0.1 port=1'")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="not allowed"):
        admin(port, "ADD NODE pg9 'host=127.0.0.1 port=1 options=-cx=y'")
    with pytest.raises(psycopg.errors.SyntaxError, match="expected WEIGHT 0-1000000"):
        admin(port, "SET NODE pg2b WEIGHT lots")

    notices = []
    with admin_conn(port) as c:
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        assert c.execute("REMOVE NODE pg2b").statusmessage == "REMOVE NODE"
    assert notices and "takes no new work now" in notices[0]
    assert "pg2b" not in by_id(admin(port, "SHOW NODES"))
    with pytest.raises(psycopg.errors.UndefinedObject, match='node "pg2b" does not exist'):
        admin(port, "DRAIN NODE pg2b")
    # The other nodes still serve.
    with psycopg.connect(f"host=127.0.0.1 port={port} user=app dbname=app") as app:
        assert app.execute("SELECT 1").fetchone() == (1,)


def test_errors_and_explain(setup):
    cluster, p, port, _ = setup
    with pytest.raises(psycopg.errors.SyntaxError, match='unrecognized admin command "SELECT 1"'):
        admin(port, "SELECT 1")
    with pytest.raises(psycopg.errors.SyntaxError):
        admin(port, "SHOW NODES; SHOW POOLS")
    # The session survives errors.
    with admin_conn(port) as c:
        with pytest.raises(psycopg.errors.SyntaxError):
            c.execute("SHOW NOTHING")
        assert len(c.execute("SHOW NODES").fetchall()) == 2
        route = c.execute("EXPLAIN ROUTE /* pgrouter: node=pg2 */ SELECT 1").fetchall()
        assert route and "pg2" in route[0][0]


def test_admin_users_are_enforced(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    port = free_port()
    pgrouter_factory(f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: md5
  users:
    - {{name: boss, password: bosspw}}
    - {{name: app, password: apppw}}
admin: {{users: [boss]}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port('pg1')}}}
""", port)
    with pytest.raises(psycopg.OperationalError, match="not an admin"):
        psycopg.connect(f"host=127.0.0.1 port={port} user=app password=apppw dbname=pgrouter")
    with psycopg.connect(f"host=127.0.0.1 port={port} user=boss password=bosspw "
                         "dbname=pgrouter", autocommit=True) as c:
        assert c.execute("SHOW VERSION").fetchone()[0].startswith("pgrouter")
        rows = c.execute("SHOW CONFIG").fetchall()
        text = repr(rows)
        assert "bosspw" not in text and "apppw" not in text
        assert ("auth.users", "boss,app") in rows


def test_pause_resume(setup):
    cluster, p, port, _ = setup
    with admin_conn(port) as c:
        assert c.execute("PAUSE").statusmessage == "PAUSE"
        result = {}

        def connect():
            t0 = time.monotonic()
            try:
                with psycopg.connect(f"host=127.0.0.1 port={port} user=app dbname=app",
                                     connect_timeout=20) as app:
                    result["value"] = app.execute("SELECT 41 + 1").fetchone()[0]
            except psycopg.Error as e:
                result["error"] = e
            result["secs"] = time.monotonic() - t0

        t = threading.Thread(target=connect)
        t.start()
        time.sleep(1.5)
        assert t.is_alive(), f"a new connection got through while paused: {result}"
        # The console session, already connected, still works.
        assert len(c.execute("SHOW NODES").fetchall()) == 2
        assert c.execute("RESUME").statusmessage == "RESUME"
        t.join(20)
    assert result.get("value") == 42, result
    assert result["secs"] >= 1.4


def test_shutdown_command(setup):
    cluster, p, port, _ = setup
    notices = []
    with admin_conn(port) as c:
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        assert c.execute("SHUTDOWN").statusmessage == "SHUTDOWN"
    assert notices and "graceful shutdown started" in notices[0]
    assert p.proc.wait(15) == 0
    assert "SHUTDOWN requested from the admin console" in p.log_text()


def test_http_endpoints_follow_a_killed_node(setup):
    cluster, p, port, http_port = setup
    status, ctype, body = http_get(http_port, "/healthz")
    assert (status, body) == (200, "ok\n")
    status, ctype, body = http_get(http_port, "/status")
    assert status == 200 and ctype == "application/json"
    doc = json.loads(body)
    assert doc["healthy_nodes"] == 2
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert set(nodes) == {"pg1", "pg2"}
    assert nodes["pg2"]["healthy"] and nodes["pg2"]["port"] == cluster.port("pg2")
    assert nodes["pg2"]["role_reported"] == "primary"
    assert set(nodes["pg1"]["pool"]) >= {"total", "idle", "active", "waiting", "max"}
    status, ctype, body = http_get(http_port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert metric(body, "pgrouter_node_up", {"node": "pg1"}) == 1
    assert metric(body, "pgrouter_node_up", {"node": "pg2"}) == 1
    assert metric(body, "pgrouter_clients") is not None
    assert metric(body, "pgrouter_pool_max", {"node": "pg1"}) == 10
    assert metric(body, "pgrouter_clients_accepted_total") >= 1
    assert http_get(http_port, "/nope")[0] == 404

    cluster.fault("kill", "pg2")
    t0 = time.monotonic()

    def pg2_down():
        b = http_get(http_port, "/metrics")[2]
        return metric(b, "pgrouter_node_up", {"node": "pg2"}) == 0

    wait_for("node_up 0 for pg2", pg2_down, timeout=3.0, step=0.05)
    assert time.monotonic() - t0 <= 3.0
    status, _, body = http_get(http_port, "/healthz")
    assert (status, body) == (200, "ok\n")  # pg1 is still healthy
    b = http_get(http_port, "/metrics")[2]
    assert metric(b, "pgrouter_node_up", {"node": "pg1"}) == 1
    doc = json.loads(http_get(http_port, "/status")[2])
    pg2 = {n["id"]: n for n in doc["nodes"]}["pg2"]
    assert not pg2["healthy"] and pg2["last_error"]

    cluster.fault("kill", "pg1")
    wait_for("/healthz 503", lambda: http_get(http_port, "/healthz")[0] == 503, timeout=5)
    assert http_get(http_port, "/healthz")[2] == "no healthy node\n"


def test_node_limit_is_declared_and_enforced(pgrouter_factory):
    """64 nodes are the most pgrouter routes among: a 65th is refused by ADD NODE with 54000
    naming the limit (it used to be accepted and then never routed to), and one removed makes
    room again."""
    port, http_port = free_port(), free_port()
    nodes = "\n".join(f"  - {{id: n{i}, host: 127.0.0.1, port: 1}}" for i in range(64))
    text = f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
admin: {{http: '127.0.0.1:{http_port}'}}
health: {{interval: 5s, timeout: 1s}}
nodes:
{nodes}
"""
    pgrouter_factory(text, port)
    assert len(admin(port, "SHOW NODES")) == 64
    with pytest.raises(psycopg.errors.ProgramLimitExceeded, match="at most 64 nodes"):
        admin(port, "ADD NODE n64 'host=127.0.0.1 port=1'")
    assert "n64" not in by_id(admin(port, "SHOW NODES"))
    assert admin(port, "REMOVE NODE n0") == "REMOVE NODE"
    assert admin(port, "ADD NODE n64 'host=127.0.0.1 port=1'") == "ADD NODE"
    assert len(admin(port, "SHOW NODES")) == 64
