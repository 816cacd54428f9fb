"""Health-check credentials against a node set up as production servers are: scram-sha-256 for
every TCP login, so the `postgres` role without a password (libpq's defaults, which the health
checker used before health.user existed) cannot log in. Without health keys the node stays
unhealthy, SHOW NODES names the cause and the keys to set, and the log says so once, not on
every retry; with health.user and a password (global keys, or the node's own health: block
applied by RELOAD) the node becomes healthy and queries are served. The password shows up in
no log line and no SHOW."""
import time
from pathlib import Path

import psycopg

from conftest import connect, free_port, wait_for
from conftest import show as conftest_show

HC_PASSWORD = "hc-Secret-4711"
HINT = "health checks cannot log in"


def require_scram(cluster, node="pg1"):
    """pg_hba: every TCP login needs a scram password; a role `hc` (no superuser) for checks.
    Done over the node's Unix socket, which stays trust."""
    Path(cluster.dir, node, "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host replication all 127.0.0.1/32 trust\n")
    with psycopg.connect(host=cluster.dir, port=cluster.port(node), user="postgres",
                         dbname="postgres", autocommit=True) as c:
        c.execute("SET password_encryption = 'scram-sha-256'")
        c.execute(f"CREATE ROLE hc LOGIN PASSWORD '{HC_PASSWORD}'")
        c.execute("SELECT pg_reload_conf()")
    # The node itself now refuses postgres without a password over TCP.
    try:
        psycopg.connect(f"host=127.0.0.1 port={cluster.port(node)} user=postgres dbname=app "
                        "password=", connect_timeout=5).close()
        raise AssertionError("the node still lets postgres in without a password")
    except psycopg.OperationalError as e:
        assert "password" in str(e)


def config(cluster, port, health="", node_extra=""):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: scram-sha-256
  users: [{{name: app, password: app}}]
admin: {{users: [app]}}
pool: {{mode: transaction, max_size: 4, acquire_timeout: 2s}}
health: {{interval: 300ms, timeout: 1s, unhealthy_threshold: 2,
         backoff: {{initial: 200ms, max: 400ms}}{health}}}
shutdown: {{drain_timeout: 1s}}
log: {{level: info}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port('pg1')}, dbname: app{node_extra}}}
"""


def show(port, what):
    return conftest_show(port, what, user="app")


def node(port, id="pg1"):
    return {r["id"]: r for r in show(port, "NODES")}[id]


def test_without_health_keys_the_cause_is_named_once_then_reload_fixes_it(cluster_factory,
                                                                          pgrouter_factory):
    cluster = cluster_factory(1)
    require_scram(cluster)
    port = free_port()
    p = pgrouter_factory(config(cluster, port), port, env={"HC_PASSWORD": HC_PASSWORD,
                                                           "PGPASSWORD": ""})

    n = wait_for("pg1 unhealthy", lambda: (lambda r: r if r["state"] == "unhealthy" else None)(
        node(port)))
    assert "health.user and health.password" in n["last_error"], n
    assert "no password supplied" in n["last_error"], n

    # A few seconds of retries (backoff 200-400 ms) and of clients, each of which makes the
    # router probe the node: their statements are refused (the login itself is answered by
    # pgrouter while no node can be reached), and the log still holds the hint once.
    deadline = time.monotonic() + 3.0
    failures = 0
    while time.monotonic() < deadline:
        try:
            with connect(port) as c:
                c.execute("SELECT 1")
        except psycopg.Error as e:
            failures += 1
            assert e.sqlstate == "08006", e
            assert ('node "pg1" is unhealthy' in str(e) or
                    'node "pg1" is reconnecting' in str(e)), e
            assert "health.user and health.password" in str(e), e
        time.sleep(0.2)
    assert failures >= 5
    assert node(port)["consecutive_failures"] >= 5  # it kept trying
    log = p.log_text()
    hints = [l for l in log.splitlines() if HINT in l]
    assert len(hints) == 1, hints
    assert 'as user "postgres" to database "app" (without a password)' in hints[0], hints[0]
    assert "health.user and health.password" in hints[0], hints[0]
    assert len([l for l in log.splitlines() if "no password supplied" in l]) <= 2, log

    # The node's own health: block, applied by RELOAD (the node is replaced).
    p.config.write_text(config(cluster, port, node_extra=", health: {user: hc, "
                                                          "password_env: HC_PASSWORD}"))
    with connect(port, "pgrouter") as a:
        assert a.execute("RELOAD").statusmessage == "RELOAD"
    wait_for("pg1 healthy", lambda: node(port)["state"] == "healthy")
    with connect(port) as c:
        assert c.execute("SELECT current_user, 41 + 1").fetchone() == ("app", 42)
    log = p.log_text()
    assert HC_PASSWORD not in log
    assert len([l for l in log.splitlines() if HINT in l]) == 1


def test_global_health_keys_make_the_node_healthy(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    require_scram(cluster)
    port = free_port()
    started = time.monotonic()
    p = pgrouter_factory(config(cluster, port, health=", user: hc, password_env: HC_PASSWORD, "
                                "dbname: postgres"), port, env={"HC_PASSWORD": HC_PASSWORD})
    wait_for("pg1 healthy", lambda: node(port)["state"] == "healthy", timeout=5.0)
    assert time.monotonic() - started < 3.0
    n = node(port)
    assert n["last_error"] is None and n["consecutive_failures"] == 0, n
    assert n["role_reported"] == "primary"
    with connect(port) as c:
        assert c.execute("SELECT current_user, current_database()").fetchone() == ("app", "app")
    # The node sees the checks as hc on postgres, the pooled work as app on app.
    with psycopg.connect(host=cluster.dir, port=cluster.port("pg1"), user="postgres",
                         dbname="postgres", autocommit=True) as d:
        # (A pooled connection carries its last client's application_name, not pgrouter's.)
        who = d.execute("SELECT usename, datname FROM pg_stat_activity "
                        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
                        "ORDER BY 1").fetchall()
    assert ("hc", "postgres") in who and ("app", "app") in who, who
    cfg = {r["key"]: r["value"] for r in show(port, "CONFIG")}
    assert cfg["health.user"] == "hc" and cfg["health.dbname"] == "postgres"
    assert all(HC_PASSWORD not in str(v) for v in cfg.values())
    assert HC_PASSWORD not in p.log_text()
    assert HINT not in p.log_text()


def test_wrong_password_is_named(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    require_scram(cluster)
    port = free_port()
    p = pgrouter_factory(config(cluster, port, health=", user: hc, password: not-the-password"),
                         port)
    n = wait_for("pg1 unhealthy", lambda: (lambda r: r if r["state"] == "unhealthy" else None)(
        node(port)))
    assert 'password authentication failed for user "hc"' in n["last_error"], n
    time.sleep(1.5)
    hints = [l for l in p.log_text().splitlines() if HINT in l]
    assert len(hints) == 1 and '"hc"' in hints[0] and "(with a password)" in hints[0], hints
    assert "not-the-password" not in p.log_text()
