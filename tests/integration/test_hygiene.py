"""The test fixtures clean up after themselves: a test that passes leaves no pgr-run-* directory
(the pgrouter config and log) behind; one that fails keeps it, and says where."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import ROOT, build_dir

INNER = '''
import os
from pathlib import Path
from conftest import free_port

CONFIG = """
listen: {host: 127.0.0.1, port: %d}
auth: {method: trust}
nodes: [{id: pg1, host: 127.0.0.1, port: 1}]
"""

def record(name, p):
    Path(os.environ["PGR_HYGIENE_OUT"], name).write_text(p.dir)

def test_passes(pgrouter_factory):
    port = free_port()
    p = pgrouter_factory(CONFIG % port, port)
    record("passed", p)
    assert Path(p.dir, "pgrouter.log").exists()

def test_fails(pgrouter_factory):
    port = free_port()
    p = pgrouter_factory(CONFIG % port, port)
    record("failed", p)
    assert False, "on purpose"
'''


def test_run_dirs_removed_when_a_test_passes():
    out = Path(tempfile.mkdtemp(prefix="pgr-hygiene-"))
    try:
        (out / "test_inner.py").write_text(INNER)
        env = dict(os.environ, PGR_HYGIENE_OUT=str(out), PGR_BUILD_DIR=str(build_dir()),
                   PYTHONPATH=str(ROOT / "tests" / "integration"))
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                            "-p", "conftest", "--rootdir", str(out), str(out / "test_inner.py")],
                           cwd=out, env=env, capture_output=True, text=True, timeout=120)
        assert "1 failed, 1 passed" in r.stdout, r.stdout + r.stderr
        passed = (out / "passed").read_text()
        failed = (out / "failed").read_text()
        assert Path(passed).name.startswith("pgr-run-") and Path(failed).name.startswith("pgr-run-")
        assert not Path(passed).exists(), "a passing test left its pgr-run dir"
        assert Path(failed, "pgrouter.log").exists(), "a failing test's log was not kept"
        assert f"kept in {failed}" in r.stdout, r.stdout
        shutil.rmtree(failed)
    finally:
        shutil.rmtree(out, ignore_errors=True)
