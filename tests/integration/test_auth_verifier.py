"""session/auth against the secrets a real PostgreSQL 15 node stores in pg_authid.

tests/cluster.sh's roles: scram_user (password scram_pass, stored as a SCRAM-SHA-256 verifier)
and md5_user (password md5_pass, stored as an md5 hash). The C program auth_verifier parses,
re-derives and authenticates against each secret (see its header); here we fetch the secrets,
run it, and check that a wrong password really makes it fail.
"""
import os
import subprocess

import psycopg
import pytest

from conftest import build_dir


def program() -> str:
    path = build_dir() / "tests" / "integration" / "auth_verifier"
    assert path.exists(), f"{path} is not built (set PGR_BUILD_DIR to a built meson dir)"
    return str(path)


def rolpassword(cluster, role: str) -> str:
    with psycopg.connect(cluster.dsn("pg1", user="postgres", dbname="postgres")) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                           (role,)).fetchone()
    assert row is not None and row[0], f"role {role} has no stored password"
    return row[0]


def run(user: str, password: str, secret: str) -> subprocess.CompletedProcess:
    return subprocess.run([program(), user, password, secret], capture_output=True, text=True,
                          timeout=60)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def node(cluster_factory):
    c = cluster_factory(1)
    pid = c.nodes["pg1"]["pid"]
    assert pid > 0 and alive(pid)
    yield c
    c.stop()  # cluster.sh stop: pg_ctl on exactly this dir's postmaster
    assert not alive(pid), f"postmaster {pid} still running after stop"


def test_scram_verifier_from_postgres(node):
    secret = rolpassword(node, "scram_user")
    assert secret.startswith("SCRAM-SHA-256$4096:")
    r = run("scram_user", "scram_pass", secret)
    assert r.returncode == 0, r.stdout + r.stderr
    for check in ("scram-parse", "scram-format-round-trip", "scram-derive-same-verifier",
                  "scram-exchange-right-password", "scram-exchange-wrong-password"):
        assert f"ok {check}" in r.stdout, r.stdout

    # The same program with the wrong password must fail the derivation and the exchange.
    bad = run("scram_user", "scram_pasS", secret)
    assert bad.returncode == 1, bad.stdout
    assert "FAIL scram-derive-same-verifier" in bad.stdout
    assert "FAIL scram-exchange-right-password" in bad.stdout


def test_md5_hash_from_postgres(node):
    secret = rolpassword(node, "md5_user")
    assert secret.startswith("md5") and len(secret) == 35
    r = run("md5_user", "md5_pass", secret)
    assert r.returncode == 0, r.stdout + r.stderr
    for check in ("md5-same-hash", "md5-exchange-right-password", "md5-exchange-wrong-password"):
        assert f"ok {check}" in r.stdout, r.stdout

    bad = run("md5_user", "md5_pasS", secret)
    assert bad.returncode == 1
    assert "FAIL md5-same-hash" in bad.stdout
