"""Running pgrouter as an installed service: the warnings an operator gets at start.

pgrouter warns when it runs as root (the systemd unit runs it as its own user) and when the
tls.key file can be read by group or others. No PostgreSQL node is needed: pgrouter starts and
listens while its one node (a closed port) is down.
"""
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import build_dir, free_port

ROOT_WARNING = "running as root"
KEY_WARNING = "can be read by group or others"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def workdir():
    # World-readable, so that pgrouter run as nobody can read its config and the binary copy.
    d = Path(tempfile.mkdtemp(prefix="pgr-install-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def config(port, tls=""):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
{tls}
health: {{interval: 1s, timeout: 1s}}
log: {{level: info}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {free_port()}}}
"""


def run_until_listening(workdir, text, prefix=()):
    """Start pgrouter (under prefix, e.g. setpriv) on config text, wait for its "listening"
    line, stop it with SIGTERM; return its log."""
    port = free_port()
    cfg = workdir / "pgrouter.yaml"
    cfg.write_text(text.replace("PORT", str(port)))
    cfg.chmod(0o644)
    binary = workdir / "pgrouter"
    if not binary.exists():
        shutil.copy2(build_dir() / "pgrouter", binary)
        binary.chmod(0o755)
    log = workdir / "pgrouter.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([*prefix, str(binary), "-c", str(cfg)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while "listening on port" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"pgrouter did not start (rc {proc.poll()}):\n{log.read_text()}")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("pgrouter did not stop on SIGTERM")
    text = log.read_text(errors="replace")
    assert rc == 0, (rc, text)
    return text


def test_root_warns_and_an_unprivileged_user_does_not(workdir):
    text = run_until_listening(workdir, config("PORT"))
    if os.geteuid() != 0:
        assert ROOT_WARNING not in text, text
        pytest.skip("not run as root: only the no-warning half was checked")
    line = next((l for l in text.splitlines() if ROOT_WARNING in l), None)
    assert line is not None and "warning" in line, text
    # The same start as nobody: no warning.
    text = run_until_listening(workdir, config("PORT"),
                               prefix=("setpriv", "--reuid=65534", "--regid=65534",
                                       "--clear-groups"))
    assert ROOT_WARNING not in text, text


@pytest.mark.parametrize("mode,warns", [(0o644, True), (0o640, True), (0o604, True),
                                        (0o600, False), (0o400, False)])
def test_tls_key_readable_by_others_warns(workdir, mode, warns):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "server.key", "-out", "server.crt", "-days", "2",
            "-subj", "/CN=127.0.0.1", cwd=workdir)
    key = workdir / "server.key"
    key.chmod(mode)
    tls = f"tls: {{mode: prefer, cert: {workdir / 'server.crt'}, key: {key}}}"
    text = run_until_listening(workdir, config("PORT", tls))
    lines = [l for l in text.splitlines() if KEY_WARNING in l]
    if warns:
        assert len(lines) == 1, text
        assert str(key) in lines[0] and f"mode {mode:04o}" in lines[0], lines[0]
    else:
        assert lines == [], text
    assert stat.S_IMODE(key.stat().st_mode) == mode  # pgrouter only looks
