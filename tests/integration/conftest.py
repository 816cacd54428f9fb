"""Fixtures for integration tests: real PostgreSQL nodes (tests/cluster.sh) and pgrouter itself.

Every server a test starts is stopped by the fixture that started it, by pid, even when the test
fails. Nothing listens outside 127.0.0.1.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SH = ROOT / "tests" / "cluster.sh"


def build_dir() -> Path:
    return Path(os.environ.get("PGR_BUILD_DIR", ROOT / "build" / "default"))


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so that no outgoing connection takes it
    between this check and the server's bind."""
    import random
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for _ in range(200):
        port = random.randint(10000, max(lo - 1, 10001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait_port(port: int, timeout: float = 10.0, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Cluster:
    """N PostgreSQL nodes started by tests/cluster.sh in a temp dir."""

    def __init__(self, n: int, replicas: int = 0):
        self.dir = tempfile.mkdtemp(prefix="pgr-it-")
        r = subprocess.run([str(CLUSTER_SH), "start", str(n), "--replicas", str(replicas),
                            "--dir", self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run([str(CLUSTER_SH), "stop", "--dir", self.dir], capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"cluster.sh start failed: {r.stderr}")
        out = r.stdout
        self.nodes = {}
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == "node":
                self.nodes[f[1]] = {"port": int(f[3]), "role": f[5], "pid": int(f[7])}

    def port(self, node: str) -> int:
        return self.nodes[node]["port"]

    def fault(self, verb: str, node: str) -> None:
        subprocess.run([str(CLUSTER_SH), verb, node, "--dir", self.dir], check=True,
                       capture_output=True)

    def dsn(self, node: str, user: str = "postgres", dbname: str = "app") -> str:
        return f"host=127.0.0.1 port={self.port(node)} user={user} dbname={dbname}"

    def stop(self) -> None:
        """Stop the nodes; cluster.sh removes the directory with them (KEEP=1 keeps it)."""
        if Path(self.dir, "nodes").exists():
            subprocess.run([str(CLUSTER_SH), "stop", "--dir", self.dir], check=False,
                           capture_output=True)
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def router_dsn(port: int, user: str = "app", dbname: str = "app", **kw) -> str:
    """A libpq connection string to a pgrouter on 127.0.0.1; extra keywords are appended."""
    return f"host=127.0.0.1 port={port} user={user} dbname={dbname} " + " ".join(
        f"{k}={v}" for k, v in kw.items())


def wait_for(what: str, fn, timeout: float = 15.0, step: float = 0.05, retry_on=()):
    """Call fn until it returns something true, and return that; fail naming what was awaited
    and the last value after timeout seconds. Exceptions in retry_on count as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except retry_on as e:  # noqa: B030 (a tuple of exception types)
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def connect(port: int, dbname: str = "app", user: str = "app", password=None, **kw):
    """An autocommit psycopg connection to a pgrouter on 127.0.0.1; the password defaults to
    the user name, as the test configs set them. Extra keywords go to psycopg.connect."""
    import psycopg

    kw.setdefault("connect_timeout", 10)
    return psycopg.connect(router_dsn(port, user, dbname, password=password or user),
                           autocommit=True, **kw)


def show(port: int, what: str, user: str = "admin", password=None) -> list:
    """SHOW what on pgrouter's admin console, as a list of {column: value} dicts."""
    with connect(port, "pgrouter", user, password) as a:
        cur = a.execute(f"SHOW {what}")
        names = [d.name for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def wait_served(port: int, user: str = "app", dbname: str = "app", timeout: float = 15) -> None:
    """Wait until a client can log in through pgrouter and run SELECT 1."""
    import psycopg  # Debian's psycopg; imported here so the fixtures load without it

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(router_dsn(port, user, dbname), autocommit=True,
                                 connect_timeout=2) as c:
                c.execute("SELECT 1")
                return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def cluster_factory():
    made = []

    def make(n: int = 3, replicas: int = 0) -> Cluster:
        c = Cluster(n, replicas)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


class Pgrouter:
    """One pgrouter process running a config written from text."""

    def __init__(self, config_text: str, port: int, env: dict = None, args: list = None):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="pgr-run-")
        self.config = Path(self.dir, "pgrouter.yaml")
        self.config.write_text(config_text)
        self.log = Path(self.dir, "pgrouter.log")
        self.proc = subprocess.Popen([str(build_dir() / "pgrouter"), "-c", str(self.config),
                                      *(args or [])],
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **(env or {})))

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell whether it passed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _passed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.passed


@pytest.fixture
def pgrouter_factory(request):
    made = []

    def make(config_text: str, port: int, wait: bool = True, env: dict = None,
             args: list = None) -> Pgrouter:
        p = Pgrouter(config_text, port, env, args)
        made.append(p)
        if wait:
            wait_port(port, proc=p.proc)
        return p

    yield make
    reports = []
    for p in made:
        p.stop()
        log = p.log_text()
        # A sanitizer build reports memory errors, leaks and undefined behaviour in the log.
        # And a session state change the state table refuses is a bug wherever it shows.
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "illegal state change"):
            if marker in log:
                i = log.index(marker)
                reports.append(log[max(0, i - 200):i + 3000])
    # A passed test leaves nothing behind; a failed one keeps its config and log to look at.
    if _passed(request) and not reports and os.environ.get("KEEP") != "1":
        for p in made:
            shutil.rmtree(p.dir, ignore_errors=True)
    else:
        for p in made:
            print(f"pgrouter's config and log kept in {p.dir}")
            if not _passed(request):
                tail = p.log_text().splitlines()[-60:]
                print("its log ends:\n" + "\n".join(tail))
    if reports:
        pytest.fail("pgrouter's sanitizers reported:\n" + "\n----\n".join(reports))
