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


# SASLprep (RFC 4013) as PostgreSQL's pg_saslprep does it, fallback to the raw bytes included.
# Each password: what a verifier made from it by PostgreSQL (the server for CREATE ROLE, libpq's
# PQencryptPasswordConn for any bytes) must equal, byte for byte, the one session/auth derives.
SASLPREP_CASES = [
    "IX-\u2168",            # NFKC: IX-IX
    "a\u00adb",             # soft hyphen maps to nothing
    "\u00ad",               # maps to the empty string: prohibited, raw bytes
    "x\u2000y", "a\u200bb", "\u00a0",   # non-ASCII spaces
    "pw\ue000",             # private use: prohibited
    "\u0627a\u0628", "\u0627\u0628", "\u0627\u0661x",   # bidi rule
    "a\u2028b",             # non-ASCII control
    "\ufb01", "\u212b", "cafe\u0301", "caf\u00e9", "\u1100\u1161\u11a8",
    "\U0001F600",           # unassigned in Unicode 3.2
    "\U0001F100x",          # unassigned in 3.2 before NFKC, though NFKC maps it to ASCII today
    "\x01\x02 tab\there",   # ASCII: never touched
]
INVALID_UTF8 = [b"\xff\xfe", b"ab\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"ok\x80"]


def libpq_verifier(password: bytes, user: bytes = b"u") -> str:
    conn = psycopg.pq.PGconn.connect_start(b"host=/nonexistent")  # only for its API: no I/O
    try:
        return conn.encrypt_password(password, user, b"scram-sha-256").decode()
    finally:
        conn.finish()


def run_bytes(user: bytes, password: bytes, secret: str) -> subprocess.CompletedProcess:
    return subprocess.run([program(), user, password, secret.encode()], capture_output=True,
                          timeout=60)


def test_saslprep_matches_libpq():
    """libpq's pg_saslprep (the same source file as the server's) on every case, valid UTF-8 or
    not, plus a bounded set of random strings over code points that exercise each rule."""
    import random
    pool = [0x41, 0x61, 0x20, 0x30, 0xa0, 0xad, 0xe9, 0x301, 0x30a, 0x340, 0x627, 0x628, 0x5d0,
            0x661, 0x200b, 0x200e, 0x2028, 0x2168, 0x212b, 0xfb01, 0xfdfa, 0xf951, 0x2f868,
            0x1100, 0x1161, 0x11a8, 0x3000, 0xff21, 0xe000, 0xfeff, 0x1f100, 0x1f600, 0x1d400,
            0x2126, 0x1e9b, 0x323, 0xf73, 0x345, 0x1fb3]
    rnd = random.Random(20240611)
    randoms = ["".join(chr(rnd.choice(pool)) for _ in range(rnd.randint(1, 6)))
               for _ in range(40)]
    passwords = [p.encode() for p in SASLPREP_CASES + randoms] + INVALID_UTF8
    for pw in passwords:
        secret = libpq_verifier(pw)
        r = run_bytes(b"u", pw, secret)
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0 and "ok scram-derive-same-verifier" in out, (pw, out)
    # The comparison can fail: IX-IX shares IX-Ⅸ's verifier only through NFKC, and IX-Ⅹ does not.
    ix = libpq_verifier("IX-\u2168".encode())
    assert run_bytes(b"u", b"IX-IX", ix).returncode == 0
    assert run_bytes(b"u", "IX-\u2169".encode(), ix).returncode == 1


def test_saslprep_matches_the_server(node):
    """CREATE ROLE ... PASSWORD on the node: the server's own pg_saslprep made the verifier."""
    with psycopg.connect(node.dsn("pg1", user="postgres", dbname="postgres"),
                         autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        for i, pw in enumerate(SASLPREP_CASES):
            if "\x00" in pw or any(ord(c) < 0x20 for c in pw):
                continue  # not a literal worth the trouble; libpq covers it above
            conn.execute(f"CREATE ROLE sp_{i} LOGIN PASSWORD " +
                         "'" + pw.replace("'", "''") + "'")
    for i, pw in enumerate(SASLPREP_CASES):
        if any(ord(c) < 0x20 for c in pw):
            continue
        secret = rolpassword(node, f"sp_{i}")
        r = run_bytes(f"sp_{i}".encode(), pw.encode(), secret)
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, (pw, out)
