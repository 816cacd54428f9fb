"""Users kept in the database, not in the YAML.

Pass-through (auth.method: passthrough): a role created in the node logs in through pgrouter
with psql over TLS, its password checked by a login to the node; a wrong one gets the node's own
28P01; after ALTER ROLE ... PASSWORD the new one works and the old one does not, though pools
of that user exist; the password is in no log line (debug level), no SHOW, no /metrics.

auth.query: a SCRAM client whose verifier is read from pg_shadow by an auth user logs in; the
user name is a parameter, so quotes in it cannot change the query.
"""
import os
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import psycopg
import pytest

from conftest import free_port, wait_port

FIRST = "Canary-7f3a9c-first"
SECOND = "Canary-7f3a9c-second"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs():
    d = Path(tempfile.mkdtemp(prefix="pgr-pt-"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "server.key", "-out", "server.crt", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
    for f in d.iterdir():
        f.chmod(0o600)
    return d


def superuser(cluster):
    return psycopg.connect(host=cluster.dir, port=cluster.port("pg1"), user="postgres",
                           dbname="app", autocommit=True)


def require_scram(cluster):
    """Every TCP login but postgres's (health checks) needs a SCRAM password on the node."""
    Path(cluster.dir, "pg1", "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n")
    with superuser(cluster) as c:
        c.execute("SELECT pg_reload_conf()")


def psql(port, user, password, sql, sslmode="require", dbname="app"):
    """(exit code, stdout, the server's message after FATAL:)"""
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5", PGSSLMODE=sslmode)
    r = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(port), "-U", user,
                        "-d", dbname, "-c", sql], capture_output=True, text=True, env=env,
                       timeout=60)
    i = r.stderr.find("FATAL:")
    return r.returncode, r.stdout.strip(), r.stderr[i:].strip() if i >= 0 else r.stderr.strip()


def http_get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


def show_all(port):
    out = []
    with psycopg.connect(f"host=127.0.0.1 port={port} user=admin password=admin-pw "
                         "dbname=pgrouter sslmode=require", autocommit=True) as c:
        for what in ("CLIENTS", "SERVERS", "POOLS", "CONFIG", "STATS", "NODES"):
            out.append(repr(c.execute(f"SHOW {what}").fetchall()))
    return "\n".join(out)


@pytest.fixture
def passthrough(cluster_factory, pgrouter_factory, certs):
    cluster = cluster_factory(1)
    with superuser(cluster) as c:
        c.execute("SET password_encryption = 'scram-sha-256'")
        c.execute(f"CREATE ROLE dbuser LOGIN PASSWORD '{FIRST}'")
    require_scram(cluster)
    port, http = free_port(), free_port()
    router = pgrouter_factory(f"""
listen: {{host: 127.0.0.1, port: {port}}}
tls: {{mode: prefer, cert: {certs / 'server.crt'}, key: {certs / 'server.key'}}}
auth:
  method: passthrough
  users: [{{name: admin, password: admin-pw}}]
admin: {{users: [admin], http: "127.0.0.1:{http}"}}
pool: {{mode: transaction, max_size: 8, acquire_timeout: 5s}}
health: {{interval: 500ms, timeout: 1s}}
log: {{level: debug}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port('pg1')}, dbname: app}}
""", port)
    wait_port(http)
    return cluster, port, http, router


def test_passthrough_login_wrong_password_and_password_change(passthrough):
    cluster, port, http, router = passthrough
    direct = cluster.port("pg1")

    # The role logs in over TLS and runs queries, as it does directly.
    sql = "SELECT current_user, 6 * 7"
    ok = psql(port, "dbuser", FIRST, sql)
    assert ok == psql(direct, "dbuser", FIRST, sql, sslmode="disable") == (0, "dbuser|42", "")
    r = psql(port, "dbuser", FIRST,
             "CREATE TABLE pt(x int); INSERT INTO pt VALUES (1), (2); "
             "SELECT sum(x) FROM pt; DROP TABLE pt")
    assert r[0] == 0 and r[1].splitlines()[-2:] == ["3", "DROP TABLE"], r

    # A wrong password: the node's own 28P01 and message, as directly.
    bad = psql(port, "dbuser", "wrong-password", "SELECT 1")
    assert bad[0] == 2 and bad[2] == psql(direct, "dbuser", "wrong-password", "SELECT 1",
                                          sslmode="disable")[2]
    assert 'password authentication failed for user "dbuser"' in bad[2]
    unknown = psql(port, "nobody", "x", "SELECT 1")
    assert unknown[0] == 2 and 'password authentication failed for user "nobody"' in unknown[2]

    # Without TLS the password is not even asked for.
    plain = psql(port, "dbuser", FIRST, "SELECT 1", sslmode="disable")
    assert plain[0] == 2 and "needs an encrypted connection" in plain[2], plain

    # A session that logged in with the first password, still connected across the change.
    held = psycopg.connect(f"host=127.0.0.1 port={port} user=dbuser password={FIRST} "
                           "dbname=app sslmode=require", autocommit=True)
    assert held.execute("SELECT 1").fetchone() == (1,)
    with superuser(cluster) as c:
        c.execute(f"ALTER ROLE dbuser PASSWORD '{SECOND}'")

    # The old password fails at the next login though the user's pool has connections; the new
    # one works.
    old = psql(port, "dbuser", FIRST, "SELECT 1")
    assert old[0] == 2 and 'password authentication failed for user "dbuser"' in old[2], old
    assert psql(port, "dbuser", SECOND, sql) == (0, "dbuser|42", "")
    assert psql(direct, "dbuser", FIRST, "SELECT 1", sslmode="disable")[0] == 2

    # New server connections of the user's pool log in with the new password: four
    # transactions held at once need more connections than the pool had.
    conns = [psycopg.connect(f"host=127.0.0.1 port={port} user=dbuser password={SECOND} "
                             "dbname=app sslmode=require") for _ in range(4)]
    try:
        for c in conns:
            c.execute("SELECT pg_backend_pid()")  # each holds its transaction open
        pids = {c.execute("SELECT pg_backend_pid()").fetchone()[0] for c in conns}
        assert len(pids) == 4
    finally:
        for c in conns:
            c.close()
    # The session from before the change goes on.
    assert held.execute("SELECT current_user").fetchone() == ("dbuser",)
    held.close()

    # The canary: no password in the log (debug level), SHOW, /metrics or /status.
    shown = show_all(port) + http_get(http, "/metrics") + http_get(http, "/status")
    log = router.log_text()
    assert " debug [client]" in log  # the log ran at debug level
    for secret in (FIRST, SECOND, "Canary-7f3a9c"):
        assert secret not in log, "a password reached the log"
        assert secret not in shown, "a password reached SHOW or HTTP"


def test_passthrough_plain_only_where_allowed(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    with superuser(cluster) as c:
        c.execute("SET password_encryption = 'scram-sha-256'")
        c.execute(f"CREATE ROLE dbuser LOGIN PASSWORD '{FIRST}'")
    require_scram(cluster)
    results = {}
    for allow in ("off", "loopback"):
        port = free_port()
        pgrouter_factory(f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: passthrough, passthrough_allow_plain: {allow}}}
pool: {{mode: transaction, max_size: 4, acquire_timeout: 5s}}
health: {{interval: 500ms, timeout: 1s}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port('pg1')}}}
""", port)
        results[allow] = (psql(port, "dbuser", FIRST, "SELECT current_user", sslmode="disable"),
                          psql(port, "dbuser", "wrong", "SELECT 1", sslmode="disable"))
    refused = results["off"][0]
    assert refused[0] == 2 and "needs an encrypted connection" in refused[2], refused
    assert results["loopback"][0] == (0, "dbuser", "")
    assert 'password authentication failed for user "dbuser"' in results["loopback"][1][2]


# ---- auth.query ---------------------------------------------------------------------------

@pytest.fixture
def auth_query(cluster_factory, pgrouter_factory):
    """Roles in the node only; pgr_auth reads pg_shadow (a superuser here; a SECURITY DEFINER
    function is the production way). Server connections for such users need no password: the
    node trusts pgrouter's address for them (see the README on why)."""
    cluster = cluster_factory(1)
    with superuser(cluster) as c:
        c.execute("SET password_encryption = 'scram-sha-256'")
        c.execute("CREATE ROLE pgr_auth LOGIN SUPERUSER PASSWORD 'auth-pw'")
        c.execute("CREATE ROLE sc_user LOGIN PASSWORD 'sc-pass'")
        c.execute("""CREATE ROLE "o'brien" LOGIN PASSWORD 'ob-pass'""")
    port = free_port()
    router = pgrouter_factory(f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: scram-sha-256
  query_user: pgr_auth
  query_password: auth-pw
  query_dbname: postgres
  query_cache_ttl: 0s
pool: {{mode: transaction, max_size: 4, acquire_timeout: 5s}}
health: {{interval: 500ms, timeout: 1s}}
log: {{level: debug}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port('pg1')}}}
""", port)
    return cluster, port, router


def test_auth_query_scram_login(auth_query):
    cluster, port, router = auth_query
    assert psql(port, "sc_user", "sc-pass", "SELECT current_user", sslmode="disable") == \
        (0, "sc_user", "")
    bad = psql(port, "sc_user", "sc-pasS", "SELECT 1", sslmode="disable")
    assert bad[0] == 2 and 'password authentication failed for user "sc_user"' in bad[2]
    unknown = psql(port, "ghost", "sc-pass", "SELECT 1", sslmode="disable")
    assert unknown[0] == 2 and 'password authentication failed for user "ghost"' in unknown[2]
    # A password change in the database counts at the next login (no cache here).
    with superuser(cluster) as c:
        c.execute("ALTER ROLE sc_user PASSWORD 'sc-pass-2'")
    assert psql(port, "sc_user", "sc-pass", "SELECT 1", sslmode="disable")[0] == 2
    assert psql(port, "sc_user", "sc-pass-2", "SELECT 1", sslmode="disable")[0] == 0
    assert "sc-pass" not in router.log_text() and "auth-pw" not in router.log_text()


def test_auth_query_user_name_cannot_change_the_query(auth_query):
    cluster, port, router = auth_query
    # A name with a quote is found as itself.
    assert psql(port, "o'brien", "ob-pass", "SELECT current_user", sslmode="disable") == \
        (0, "o'brien", "")
    # Were the name pasted into the SQL, this one would fetch sc_user's verifier, sc_user's
    # password would pass the SCRAM check, and the node would then say the role does not exist
    # (28000). As a parameter it matches no row: the login fails as an unknown user's.
    injected = "x' OR usename='sc_user"
    r = psql(port, injected, "sc-pass", "SELECT 1", sslmode="disable")
    assert r[0] == 2 and f'password authentication failed for user "{injected}"' in r[2], r
    assert "does not exist" not in r[2]
    r = psql(port, "x'; DROP ROLE sc_user; --", "x", "SELECT 1", sslmode="disable")
    assert r[0] == 2
    with superuser(cluster) as c:
        assert c.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'sc_user'").fetchone() \
            == (1,)
