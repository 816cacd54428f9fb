"""The Debian package: scripts/package.sh builds it with dpkg-buildpackage from this tree, the
test unpacks it into a scratch root (dpkg -x) and checks what an operator gets: the binary, the
man page, the systemd unit (systemd-analyze verify where the command exists), the example
configuration as a conffile, and the maintainer scripts that create the user and enable the unit.

The package is built from the tree, not from PGR_BUILD_DIR, so it is the same in both of
scripts/test.sh's builds: it is built and checked once, in the build without sanitizers.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, build_dir

# Variables the examples read with password_env, set so that --check-config can load them.
EXAMPLE_ENV = {"APP_PASSWORD": "x", "REPORTING_PASSWORD": "x", "PGROUTER_SERVER_PASSWORD": "x"}
CONSOLE_VERBS = ["SHOW NODES", "POOLS", "CLIENTS", "SERVERS", "STATS", "CONFIG", "VERSION",
                 "HELP", "ADD NODE", "DRAIN NODE", "REMOVE NODE", "SET NODE", "PAUSE", "RESUME",
                 "SHUTDOWN", "RELOAD", "LISTEN pgrouter_events", "UNLISTEN", "EXPLAIN ROUTE"]


def sanitized_build() -> bool:
    try:
        opts = json.loads((build_dir() / "meson-info" / "intro-buildoptions.json").read_text())
    except OSError:
        return False
    return any(o["name"] == "sanitize" and o["value"] != "none" for o in opts)


def meson_version() -> str:
    m = re.search(r"version\s*:\s*'([^']+)'", (ROOT / "meson.build").read_text())
    return m.group(1)


@pytest.fixture(scope="module")
def package():
    """(the .deb, the scratch root it is unpacked in, its control dir)"""
    if sanitized_build():
        pytest.skip("the package does not depend on the build: checked in the default build")
    for tool in ("dpkg-buildpackage", "dh"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/bootstrap.sh installs dpkg-dev and debhelper")
    work = Path(tempfile.mkdtemp(prefix="pgr-pkg-test-"))
    out = work / "out"
    r = subprocess.run([str(ROOT / "scripts" / "package.sh"), str(out)], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = [p for p in out.glob("pgrouter_*.deb")]
    assert len(debs) == 1, list(out.iterdir())
    root, ctrl = work / "root", work / "control"
    subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], check=True, timeout=60)
    subprocess.run(["dpkg-deb", "-e", str(debs[0]), str(ctrl)], check=True, timeout=60)
    yield debs[0], root, ctrl
    shutil.rmtree(work, ignore_errors=True)


def run(root, *args, env=None):
    return subprocess.run([str(root / "usr/bin/pgrouter"), *args], capture_output=True,
                          text=True, timeout=30, env=dict(os.environ, **(env or {})))


def test_binary_runs_and_has_the_project_version(package):
    deb, root, ctrl = package
    r = run(root, "--version")
    assert r.returncode == 0 and r.stdout == f"pgrouter {meson_version()}\n", r
    control = (ctrl / "control").read_text()
    assert f"Version: {meson_version()}\n" in control, control
    # shlibs found the libraries it links; the postinst needs adduser.
    depends = re.search(r"^Depends: (.*)$", control, re.M).group(1)
    for lib in ("libuv1", "libpq5", "libyaml-0-2", "libssl3", "adduser"):
        assert lib in depends, depends


def test_man_page_covers_options_signals_files_verbs_exit_status(package):
    deb, root, ctrl = package
    page = gzip.decompress((root / "usr/share/man/man1/pgrouter.1.gz").read_bytes()).decode()
    assert "@" not in page.replace("\\(at", ""), "an unsubstituted @VAR@ in the man page"
    assert page.startswith(".\\\"") and f'"pgrouter {meson_version()}"' in page
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "SIGNALS", "ADMIN CONSOLE", "FILES",
                    "EXIT STATUS"):
        assert f".SH {section}" in page, section
    # Every option --help prints is in the page (roff writes '-' as '\-').
    usage = run(root, "--help").stdout
    plain = page.replace("\\-", "-")
    for opt in set(re.findall(r"(?<!\S)(--?[a-z][a-z-]*)", usage)):
        assert opt in plain, opt
    for sig in ("SIGHUP", "SIGTERM", "SIGINT"):
        assert f".B {sig}" in page, sig
    for verb in CONSOLE_VERBS:
        assert verb in page, verb
    assert "/etc/pgrouter/pgrouter.yaml" in page and "/lib/systemd/system/pgrouter.service" in page
    if shutil.which("man"):
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-"], input=page,
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH="80"))
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert "SIGNALS" in r.stdout and "drain" in r.stdout


def test_example_config_is_a_conffile_that_loads(package):
    deb, root, ctrl = package
    assert (ctrl / "conffiles").read_text().split() == ["/etc/pgrouter/pgrouter.yaml"]
    conf = root / "etc/pgrouter/pgrouter.yaml"
    assert conf.read_text() == (ROOT / "config/pgrouter.yaml").read_text()
    r = run(root, "--check-config", str(conf))
    assert (r.returncode, r.stdout) == (0, "ok\n"), r
    examples = sorted((root / "usr/share/doc/pgrouter/examples").glob("*.yaml"))
    assert len(examples) >= 3, examples
    for f in examples:
        r = run(root, "--check-config", str(f), env=EXAMPLE_ENV)
        assert (r.returncode, r.stdout) == (0, "ok\n"), (f, r)


def test_unit_runs_the_binary_as_its_own_user(package):
    deb, root, ctrl = package
    unit = (root / "lib/systemd/system/pgrouter.service").read_text()
    keys = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k, v)
    assert keys["ExecStart"] == "/usr/bin/pgrouter -c /etc/pgrouter/pgrouter.yaml"
    assert keys["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert keys["Type"] == "simple"  # no sd_notify in pgrouter
    assert (keys["User"], keys["KillSignal"], keys["LimitNOFILE"]) == \
        ("pgrouter", "SIGTERM", "65536")
    # systemd waits longer than the default drain (shutdown.drain_timeout: 30s) before SIGKILL.
    assert int(keys["TimeoutStopSec"].rstrip("s")) > 30
    # The maintainer scripts: the user is created, the unit enabled, not started on install.
    postinst = (ctrl / "postinst").read_text()
    assert "adduser --system" in postinst and "pgrouter" in postinst
    assert "deb-systemd-helper" in postinst and "enable" in postinst
    assert "--no-start" not in postinst and "deb-systemd-invoke start" not in postinst


def test_systemd_analyze_verify(package):
    deb, root, ctrl = package
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the unit was not verified")
    # verify checks that ExecStart's binary exists and that man:pgrouter(1) opens: point both
    # into the scratch root.
    unit = (root / "lib/systemd/system/pgrouter.service").read_text()
    copy = root.parent / "verify" / "pgrouter.service"
    copy.parent.mkdir(exist_ok=True)
    copy.write_text(unit.replace("/usr/bin/pgrouter", str(root / "usr/bin/pgrouter")))
    env = dict(os.environ, MANPATH=str(root / "usr/share/man"))
    if shutil.which("man") is None:
        args = ["--man=no"]
        print("man is not installed: verify does not check Documentation=man:pgrouter(1)")
    else:
        args = []
    r = subprocess.run(["systemd-analyze", "verify", *args, str(copy)], capture_output=True,
                       text=True, timeout=120, env=env)
    # Unknown keys and bad values are only warnings (exit 0): any output is a failure.
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr
