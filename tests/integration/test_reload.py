"""Configuration reload (SIGHUP and the admin console's RELOAD) against real nodes: nodes added,
removed, re-weighted and replaced live while clients keep working; a broken file changes
nothing and says where it is broken; settings bound at start are kept and reported."""
import signal
import time

import psycopg
import pytest

from conftest import free_port
from test_admin import admin, admin_conn, by_id, wait_for


def config(cluster, port, nodes, extra=""):
    node_yaml = "\n".join(f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}{opts}}}"
                          for n, opts in nodes)
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
pool: {{mode: transaction, max_size: 10, acquire_timeout: 5s}}
health: {{interval: 300ms, timeout: 1s, unhealthy_threshold: 2}}
shutdown: {{drain_timeout: 2s}}
log: {{level: info}}
{extra}
nodes:
{node_yaml}
"""


def healthy(port):
    return {i for i, r in by_id(admin(port, "SHOW NODES")).items() if r["state"] == "healthy"}


def ports_seen(port, n=30):
    """inet_server_port() of n reads."""
    seen = set()
    with psycopg.connect(f"host=127.0.0.1 port={port} user=app dbname=app",
                         autocommit=True) as c:
        for _ in range(n):
            seen.add(c.execute("SELECT inet_server_port()").fetchone()[0])
    return seen


def test_sighup_and_reload_change_nodes_live(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(3)
    port = free_port()
    p = pgrouter_factory(config(cluster, port, [("pg1", ""), ("pg2", "")]), port)
    wait_for("two healthy nodes", lambda: healthy(port) == {"pg1", "pg2"})
    client = psycopg.connect(f"host=127.0.0.1 port={port} user=app dbname=app", autocommit=True)

    # SIGHUP: pg3 added.
    p.config.write_text(config(cluster, port, [("pg1", ""), ("pg2", ""), ("pg3", "")]))
    p.proc.send_signal(signal.SIGHUP)
    wait_for("pg3 healthy", lambda: healthy(port) == {"pg1", "pg2", "pg3"})
    assert "node pg3 added" in p.log_text()
    # The session opened before the reload goes on working, and reaches the new node.
    bc = client.execute("/* pgrouter: broadcast */ SELECT inet_server_port()").fetchall()
    assert sorted(r[0] for r in bc) == sorted(cluster.port(n) for n in ("pg1", "pg2", "pg3"))

    # RELOAD: pg1 removed, pg2 weight 0 (no balanced reads), pg3 replaced by a changed entry
    # (its pool block) — drained and back with the new settings.
    p.config.write_text(config(cluster, port, [("pg2", ", weight: 0"),
                                               ("pg3", ", pool: {max_size: 3}")]))
    notices = []
    with admin_conn(port) as a:
        a.add_notice_handler(lambda d: notices.append(d.message_primary))
        assert a.execute("RELOAD").statusmessage == "RELOAD"
    text = "\n".join(notices)
    assert "node pg1 removed" in text
    assert "node pg2 weight is now 0" in text
    assert "node pg3 changed its connection settings" in text
    wait_for("pg1 gone", lambda: "pg1" not in by_id(admin(port, "SHOW NODES")))
    wait_for("pg3 back", lambda: healthy(port) == {"pg2", "pg3"}, timeout=20)
    assert by_id(admin(port, "SHOW POOLS"), "node")["pg3"]["max"] in (3, "3")
    assert by_id(admin(port, "SHOW NODES"))["pg2"]["weight"] in (0, "0")
    # pg1 serves nothing any more.
    assert ports_seen(port) <= {cluster.port("pg2"), cluster.port("pg3")}
    assert client.execute("SELECT 1").fetchone() == (1,)
    client.close()


def test_broken_file_changes_nothing_and_restart_settings_are_kept(cluster_factory,
                                                                  pgrouter_factory):
    cluster = cluster_factory(2)
    port = free_port()
    p = pgrouter_factory(config(cluster, port, [("pg1", "")]), port)
    wait_for("pg1 healthy", lambda: healthy(port) == {"pg1"})

    good = p.config.read_text()
    p.config.write_text(good.replace("nodes:\n", "nodes:\n  - {id: pg2, host: 127.0.0.1, "
                                                 "port: 70000}\n"))
    with pytest.raises(psycopg.errors.ConfigFileError) as e:
        admin(port, "RELOAD")
    assert "running configuration is kept" in str(e.value)
    assert f"{p.config}:" in e.value.diag.message_detail
    assert "port: expected an integer 1-65535" in e.value.diag.message_detail
    assert set(by_id(admin(port, "SHOW NODES"))) == {"pg1"}
    # SIGHUP with a broken file: logged, nothing changes, the process lives.
    p.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert p.proc.poll() is None
    assert "configuration file not reloaded" in p.log_text() or \
        "port: expected an integer" in p.log_text()

    # A new listen port and pool mode need a restart: kept, and said so; the rest applies.
    other = free_port()
    p.config.write_text(config(cluster, other, [("pg1", ""), ("pg2", "")],
                               extra="broadcast: {node_column: true}")
                        .replace("mode: transaction", "mode: session"))
    notices = []
    with admin_conn(port) as a:
        a.add_notice_handler(lambda d: notices.append(d.message_primary))
        assert a.execute("RELOAD").statusmessage == "RELOAD"
    text = "\n".join(notices)
    assert "listen changed in the file: it takes effect at the next restart" in text
    assert "pool changed in the file" in text
    cfg = {r["key"]: r["value"] for r in admin(port, "SHOW CONFIG")}
    assert cfg.get("pool.mode") == "transaction"
    assert str(cfg.get("listen.port")) == str(port)
    wait_for("pg2 healthy", lambda: healthy(port) == {"pg1", "pg2"})
    # broadcast.node_column is read when used: a new session gets it.
    with psycopg.connect(f"host=127.0.0.1 port={port} user=app dbname=app",
                         autocommit=True) as c:
        rows = c.execute("/* pgrouter: broadcast */ SELECT 1").fetchall()
        assert sorted(rows) == [("pg1", 1), ("pg2", 1)]


def test_listen_pgrouter_events(cluster_factory, pgrouter_factory):
    """An admin session that runs LISTEN pgrouter_events is told of node events as
    NotificationResponses with a JSON payload: a node going down and coming back, a node added
    by RELOAD. UNLISTEN stops them; other sessions never get them."""
    import json
    cluster = cluster_factory(2)
    port = free_port()
    p = pgrouter_factory(config(cluster, port, [("pg1", "")]), port)
    wait_for("pg1 healthy", lambda: healthy(port) == {"pg1"})
    events = []

    def collect(conn, until, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conn.execute("SHOW VERSION")  # a round trip delivers what has arrived
            if until():
                return
            time.sleep(0.1)
        raise AssertionError(f"events so far: {events}")

    with admin_conn(port) as a, admin_conn(port) as quiet:
        a.prepare_threshold = None  # the console speaks the simple protocol only
        a.add_notify_handler(lambda n: events.append((n.channel, json.loads(n.payload))))
        quiet_events = []
        quiet.add_notify_handler(quiet_events.append)
        assert a.execute("LISTEN pgrouter_events").statusmessage == "LISTEN"
        cluster.fault("kill", "pg1")
        collect(a, lambda: any(e[1].get("event") == "node_health" and e[1]["to"] != "healthy"
                               for e in events))
        ch, ev = [e for e in events if e[1]["event"] == "node_health"][-1]
        assert ch == "pgrouter_events" and ev["node"] == "pg1" and ev["from"] == "healthy"
        cluster.fault("restart", "pg1")
        collect(a, lambda: [e[1].get("to") for e in events
                            if e[1]["event"] == "node_health"][-1] == "healthy", timeout=30)

        p.config.write_text(config(cluster, port, [("pg1", ""), ("pg2", "")]))
        assert a.execute("RELOAD").statusmessage == "RELOAD"
        collect(a, lambda: {"event": "node_added", "node": "pg2", "host": "127.0.0.1",
                            "port": cluster.port("pg2")} in [e[1] for e in events])

        assert a.execute("UNLISTEN *").statusmessage == "UNLISTEN"
        seen = len(events)
        p.config.write_text(config(cluster, port, [("pg1", "")]))
        assert a.execute("RELOAD").statusmessage == "RELOAD"
        time.sleep(0.5)
        a.execute("SHOW VERSION")
        assert len(events) == seen, events[seen:]
        quiet.execute("SHOW VERSION")
        assert quiet_events == []
