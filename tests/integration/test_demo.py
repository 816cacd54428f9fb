"""scripts/demo.sh brings up three nodes and pgrouter, and Ctrl-C leaves nothing behind."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import ROOT, free_port


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
    env = dict(os.environ, PGR_DEMO_PORT=str(port))
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
