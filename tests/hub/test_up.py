"""`fleethub up` as a newcomer runs it: everything starts, tablets show up, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from hub.processes import free_port


def _wait_for(proc: subprocess.Popen[str], log: Path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if text in content:
            return content
        assert proc.poll() is None, f"fleethub up exited early:\n{content}"
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not shown within {timeout} s:\n{log.read_text()}")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_up_runs_everything_and_stops_cleanly(tmp_path: Path) -> None:
    web_port = free_port()
    env = {
        **os.environ,
        "FLEETHUB_VAR_DIR": str(tmp_path / "var"),
        "FLEETHUB_WEB_PORT": str(web_port),
        "FLEETHUB_BROKER_PORT": str(free_port()),
        "FLEETHUB_DB_PORT": str(free_port()),
        "COLUMNS": "200",
    }
    env.pop("FLEETHUB_DATABASE_URL", None)
    env.pop("FLEETHUB_MQTT_URL", None)
    log = tmp_path / "up.log"
    proc = _start(env, log)
    try:
        _wait_for(proc, log, "fleethub is up", 90)
        _wait_for(proc, log, "5 online", 60)
        _wait_for(proc, log, "5 playing the desired playlist", 60)
        _wait_for(proc, log, "demo-tab-0001 applied playlist", 10)
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=5) as r:
            assert json.load(r) == {"status": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=5) as r:
            page = r.read().decode()
        assert "demo-tab-0001" in page
        assert "5 online" in page
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 5  # broker, store, hub, web, simulator
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert proc.returncode == 0, log.read_text()
    assert "stopped" in log.read_text()
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]

    # A second run reuses the data: same cluster, the tablets and their history are there.
    cluster = tmp_path / "var" / "pgdata" / "PG_VERSION"
    first_init = cluster.stat().st_mtime_ns
    again = _start(env, tmp_path / "up2.log")
    try:
        _wait_for(again, tmp_path / "up2.log", "5 online", 90)
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/v1/status", timeout=5) as r:
            rows = json.load(r)
        assert len(rows) == 5
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(60)
    assert again.returncode == 0
    assert cluster.stat().st_mtime_ns == first_init


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        argv = [sys.executable, "-m", "hub.cli", "up", "--simulate", "5"]
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, text=True)
