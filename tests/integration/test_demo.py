"""scripts/demo.sh brings up three nodes and pgrouter, every command the README's demo section
shows works on it as written (with the test's ports), and Ctrl-C leaves nothing behind."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import ROOT, build_dir, free_port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_demo_starts_three_nodes_and_ctrl_c_cleans_up():
    port = free_port()
    env = dict(os.environ, PGR_DEMO_PORT=str(port), PGR_DEMO_HTTP_PORT=str(free_port()))
    # SIGINT as at a terminal: a harness started in the background (a non-interactive shell's
    # `cmd &`) runs with SIGINT ignored, which bash cannot trap and would pass on to the demo.
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "demo.sh")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "press Ctrl-C" in text, text
        work = re.search(r"working in (\S+)", text).group(1)
        nodes = re.findall(r"^node (pg\d) port (\d+) role (\w+) pid (\d+)", text, re.M)
        assert [n[0] for n in nodes] == ["pg1", "pg2", "pg3"], text
        assert [n[2] for n in nodes] == ["primary", "replica", "replica"], text
        pids = [int(n[3]) for n in nodes]
        assert all(alive(p) for p in pids)
        assert f"port={port}" in text
        pgr_pid = int(re.search(r"pgrouter pid (\d+)", text).group(1))
        assert Path(work).is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert "stopped; removed" in out, out
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in pids + [pgr_pid]):
        time.sleep(0.1)
    assert not any(alive(p) for p in pids), "a demo node outlived the demo"
    assert not alive(pgr_pid), "pgrouter outlived the demo"
    assert not Path(work).exists(), "the demo left its temp dir"


# ---- the README's commands, run against the demo ----------------------------------------------

def readme_demo_commands() -> list:
    """The commands of the README's "Try it on the demo" section, from its ```sh blocks, one per
    line (backslash continuations joined, comments and blank lines left out)."""
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^## Try it on the demo\n(.*?)^## ", text, re.S | re.M)
    assert m, "README.md has no 'Try it on the demo' section"
    cmds = []
    for block in re.findall(r"^```sh\n(.*?)^```", m.group(1), re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                cmds.append(line)
    return cmds


def start_demo(port: int, http_port: int):
    env = dict(os.environ, PGR_DEMO_PORT=str(port), PGR_DEMO_HTTP_PORT=str(http_port))
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "demo.sh")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "press Ctrl-C" in line:
            break
    return proc, env, "".join(lines)


def stop_demo(proc) -> str:
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return out


def run(cmd: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def node_states(show_nodes_output: str) -> dict:
    states = {}
    for line in show_nodes_output.splitlines():
        f = [c.strip() for c in line.split("|")]
        if len(f) > 6 and re.fullmatch(r"pg\d", f[0]):
            states[f[0]] = f[5]
    return states


def run_until(cmd: str, env: dict, pred, timeout: float) -> subprocess.CompletedProcess:
    """Run cmd (as written) until pred(its result) holds; the last result either way."""
    deadline = time.monotonic() + timeout
    while True:
        r = run(cmd, env)
        if pred(r) or time.monotonic() > deadline:
            return r
        time.sleep(0.3)


def test_readme_commands_work_on_the_demo():
    port, http_port = free_port(), free_port()
    cmds = readme_demo_commands()
    assert len(cmds) >= 8, cmds
    # The README's ports are the demo's defaults; the test runs the demo on free ones.
    subst = lambda c: c.replace("6432", str(port)).replace("9930", str(http_port))
    proc, env, text = start_demo(port, http_port)
    try:
        assert "press Ctrl-C" in text, text
        # The demo prints the README's lines (with its ports): the psql lines, the admin console,
        # the HTTP URLs, and how to watch a failover.
        for c in cmds:
            for dsn in re.findall(r'psql ("[^"]*")', c):
                assert f"psql {subst(dsn)}" in text, (dsn, text)
        for url in ("healthz", "status", "metrics"):
            assert f"http://127.0.0.1:{http_port}/{url}" in text, text
        assert "scripts/demo.sh kill pg2" in text and "scripts/demo.sh restart pg2" in text, text
        admin = next(c for c in cmds if "dbname=pgrouter" in c and "SHOW NODES" in c)
        # A person reads the printed lines before typing: by then the nodes are up.
        r = run_until(subst(admin), env, lambda r: set(node_states(r.stdout).values()) ==
                      {"healthy"}, 15)
        assert node_states(r.stdout) == dict.fromkeys(("pg1", "pg2", "pg3"), "healthy"), \
            r.stdout + r.stderr

        down = None  # the node the README's commands have killed and not yet restarted
        for c in cmds:
            sc = subst(c)
            if sc.startswith("scripts/demo.sh kill "):
                down = c.split()[-1]
                r = run(sc, env)
                assert r.returncode == 0, (c, r.stdout, r.stderr)
                assert f"node {down} " in r.stdout, r.stdout
            elif sc.startswith("scripts/demo.sh restart "):
                r = run(sc, env)
                assert r.returncode == 0, (c, r.stdout, r.stderr)
                down = None
            elif "SHOW NODES" in c:
                # After a kill: unhealthy within seconds (the README says two); after the
                # restart, as before the kill: all healthy.
                if down:
                    want, timeout = {down: "unhealthy"}, 5
                else:
                    want, timeout = dict.fromkeys(("pg1", "pg2", "pg3"), "healthy"), 20
                r = run_until(sc, env, lambda r: all(node_states(r.stdout).get(k) == v
                                                     for k, v in want.items()), timeout)
                assert r.returncode == 0, (c, r.stderr)
                states = node_states(r.stdout)
                assert all(states.get(k) == v for k, v in want.items()), (c, want, r.stdout)
                assert set(states) == {"pg1", "pg2", "pg3"}, r.stdout
            elif "dbname=app" in c and "FROM notes" in c:
                # Read-your-writes: the row written before is there whichever node serves the
                # read, and with a replica down the reads go on. CREATE TABLE runs once.
                for _ in range(1 if "CREATE TABLE" in c else 5):
                    r = run(sc, env)
                    assert r.returncode == 0, (c, r.stdout, r.stderr)
                    assert re.search(r"^\s*1 \| hello\s*$", r.stdout, re.M), (c, r.stdout)
            elif sc.startswith("curl") and "/healthz" in c:
                r = run(sc, env)
                assert r.returncode == 0 and r.stdout.strip() == "ok", (c, r.stdout, r.stderr)
            elif sc.startswith("curl") and "/metrics" in c:
                r = run(sc, env)
                assert r.returncode == 0, (c, r.stdout, r.stderr)
                ups = dict(re.findall(r'pgrouter_node_up\{node="(pg\d)"\} (\d)', r.stdout))
                assert ups == {"pg1": "1", "pg2": "1", "pg3": "1"}, (c, r.stdout)
            else:
                raise AssertionError(f"the README shows a command this test does not check: {c}")
        # scripts/demo.sh status, which the README names in its text.
        r = run("scripts/demo.sh status", env)
        assert r.returncode == 0, r.stderr
        assert re.findall(r"^node (pg\d) .* (up|down)$", r.stdout, re.M) == \
            [("pg1", "up"), ("pg2", "up"), ("pg3", "up")], r.stdout
    finally:
        out = stop_demo(proc)
    assert "stopped; removed" in out, out
    # The running demo is no longer found once it stopped.
    r = run("scripts/demo.sh status", env)
    assert r.returncode != 0 and "no demo runs on port" in r.stderr, (r.stdout, r.stderr)


def test_readme_admin_console_line_is_accepted_by_the_demo_config():
    """The admin console's user in the README is one config/demo.yaml lets in, and the demo
    config turns on what the README says it does."""
    cmds = readme_demo_commands()
    admin_users = {m.group(1) for c in cmds for m in
                   re.finditer(r"dbname=pgrouter user=(\w+)", c)}
    assert admin_users, cmds
    demo = (ROOT / "config" / "demo.yaml").read_text()
    m = re.search(r"^admin: \{users: \[([^\]]*)\], http: 127\.0\.0\.1:9930\}", demo, re.M)
    assert m, demo
    assert admin_users <= {u.strip() for u in m.group(1).split(",")}, (admin_users, demo)
    assert re.search(r"^routing: \{read_your_writes: session\}", demo, re.M), demo
    r = subprocess.run([str(build_dir() / "pgrouter"), "--check-config",
                        str(ROOT / "config" / "demo.yaml")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stdout + r.stderr
