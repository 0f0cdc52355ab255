"""`fleethub up` as a newcomer runs it: everything starts, tablets show up, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import psutil
import psycopg
import pytest

from broker.processes import free_port

POP = "/api/v1/reports/proof-of-play"


def _wait_for(proc: subprocess.Popen[str], log: Path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if text in content:
            return content
        assert proc.poll() is None, f"fleethub up exited early:\n{content}"
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not shown within {timeout} s:\n{log.read_text()}")


def _signed_in_page(port: int, email: str, password: str) -> str:
    """Sign in with the printed credentials (session cookie) and fetch the live grid."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(f"http://127.0.0.1:{port}/login", timeout=10) as r:  # the form's CSRF token
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())
    assert token is not None
    body = urlencode({"email": email, "password": password, "csrf_token": token.group(1)}).encode()
    with opener.open(f"http://127.0.0.1:{port}/login", body, timeout=10) as r:
        return str(r.read().decode())  # redirected to the grid


def _api_tablets(port: int, email: str, password: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = _api(port, email, password, "/api/v1/tablets")
    return rows


def _api(port: int, email: str, password: str, path: str) -> Any:
    body = urlencode({"username": email, "password": password}).encode()
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/api/v1/auth/token", body, timeout=10
    ) as r:
        token = json.load(r)["access_token"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 - http on loopback
        return json.load(r)


def _campaigns_in_the_demo(port: int, banner: str, var: Path) -> None:
    """The advertiser sees its two running campaigns; the CBD campaign's delivery fills up,
    played only by cars whose route passes through the CBD (devtools/simulator/routes.py:
    demo-tab-0001 and -0003 drive around Jurong, never in a zone)."""
    login = re.search(r"sign in as advertiser\s+(\S+)\s+password (\S+)", banner)
    assert login is not None
    email, password = login.groups()
    found = _api(port, email, password, "/api/v1/campaigns")
    assert {(c["campaign_id"], c["status"]) for c in found} == {
        ("acme-cbd-lunch", "running"),
        ("acme-airport", "running"),
    }
    deadline = time.monotonic() + 90
    path = "/api/v1/campaigns/acme-cbd-lunch/delivery"
    while not _api(port, email, password, path)["total"]["in_target_plays"]:
        assert time.monotonic() < deadline, "no in-target play of the CBD campaign in 90 s"
        time.sleep(1)
    assert _api(port, email, password, path)["cells"]  # the map has something to show
    url = re.search(r"store\s+(postgresql://\S+)", banner)
    assert url is not None
    secret = (var / "pgdata.password").read_text().strip()
    with psycopg.connect(url.group(1), password=secret, connect_timeout=5) as conn:
        players = conn.execute(
            "SELECT DISTINCT tablet_id FROM plays WHERE campaign_id = 'acme-cbd-lunch'"
        ).fetchall()
    assert players
    assert not {t for (t,) in players} & {"demo-tab-0001", "demo-tab-0003"}


def _earnings_in_the_demo(port: int, email: str, password: str, banner: str) -> None:
    """The fleet owner opens last month's (closed) and this month's statements, their CSV and
    PDF agree; the printed driver link signs a driver in to their earnings and tablet."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    base = f"http://127.0.0.1:{port}"
    with opener.open(f"{base}/login", timeout=10) as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())
    assert token is not None
    body = urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
    opener.open(f"{base}/login", body.encode(), timeout=10).close()
    now = datetime.now(ZoneInfo("Asia/Singapore")).date().replace(day=1)
    last = (now - timedelta(days=1)).replace(day=1)
    for month, status in ((last, "Closed"), (now, "Open")):
        with opener.open(f"{base}/earnings?month={month:%Y-%m}", timeout=30) as r:
            page = r.read().decode()
        assert status in page
        with opener.open(f"{base}/earnings/{month:%Y-%m}/fleets/demo.csv", timeout=30) as r:
            total = r.read().decode().strip().splitlines()[-1].split(",")
        with opener.open(f"{base}/earnings/{month:%Y-%m}/fleets/demo.pdf", timeout=30) as r:
            assert r.read()[:5] == b"%PDF-"
        assert total[0] == "Total"
        if month == last:  # the demo's history: a month of plays, frozen with its hash
            assert int(total[4]) > 0
            with opener.open(f"{base}/earnings/{month:%Y-%m}/fleets/demo", timeout=30) as r:
                assert "frozen" in r.read().decode()
    link = re.search(r"driver\s+http://\S+(/signin/\S+)", banner)
    assert link is not None
    phone = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with phone.open(f"{base}{link.group(1)}", timeout=10) as r:
        form = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())
    assert form is not None
    signed = urlencode({"csrf_token": form.group(1)}).encode()
    with phone.open(f"{base}{link.group(1)}", signed, timeout=30) as r:
        home = r.read().decode()
    assert "Tan Wei Ming" in home
    assert "My tablet" in home


def _device_ops_in_the_demo(port: int, email: str, password: str, banner: str) -> None:
    """The first tablet's low storage reaches the fleet owner's e-mail in the printed demo
    mailbox; a screenshot command to it comes back with the picture."""
    mailbox = re.search(r"mailbox\s+(http://\S+)", banner)
    assert mailbox is not None
    deadline = time.monotonic() + 90
    while True:
        with urllib.request.urlopen(mailbox.group(1), timeout=10) as r:  # noqa: S310 - loopback
            inbox = r.read().decode()
        if "low storage opened: demo-tab-0001" in inbox:
            break
        assert time.monotonic() < deadline, f"no low storage e-mail within 90 s:\n{inbox}"
        time.sleep(1)
    assert "owner@demo.example" in inbox
    token = urlencode({"username": email, "password": password}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/auth/token", token) as r:
        bearer = {"Authorization": f"Bearer {json.load(r)['access_token']}"}
    body = json.dumps({"name": "screenshot", "tablets": ["demo-tab-0001"]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/commands",
        body,
        headers={**bearer, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 - http on loopback
        command = json.load(r)["command_id"]
    deadline = time.monotonic() + 60
    while True:
        got = _api_as(port, bearer, f"/api/v1/commands/{command}")
        if got["succeeded"] == 1:
            break
        assert time.monotonic() < deadline, f"the screenshot did not come back: {got}"
        time.sleep(1)
    assert got["targets"][0]["screenshot"] is not None


def _api_as(port: int, headers: dict[str, str], path: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 - http on loopback
        return json.load(r)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_up_runs_everything_and_stops_cleanly(tmp_path: Path) -> None:
    web_port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "FLEETHUB_HUB_METRICS_PORT": str(metrics_port),
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
        # Prometheus reads the hub and the panel where the banner says.
        assert f"hub http://127.0.0.1:{metrics_port}/metrics" in log.read_text()
        for port, metric in (
            (metrics_port, "fleethub_hub_received_total "),
            (web_port, "fleethub_http_requests_total{"),
        ):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                assert metric in r.read().decode()
        logins = dict(
            re.findall(r"sign in as (admin|fleet owner)\s+\S+\s+password (\S+)", log.read_text())
        )
        owner = re.search(r"sign in as fleet owner\s+(\S+)", log.read_text())
        assert owner is not None
        page = _signed_in_page(web_port, owner.group(1), logins["fleet owner"])
        assert "demo-tab-0001" in page
        assert 'data-count="online">5<' in page
        # The seeded library: the tablets downloaded and verified it (they were "playing the
        # desired playlist" above only once its files were cached), play it and prove it.
        admin_email = re.search(r"sign in as admin\s+(\S+)", log.read_text())
        assert admin_email is not None
        media = _api(web_port, admin_email.group(1), logins["admin"], "/api/v1/media")
        assert len(media) == 6  # the demo library and the two campaigns' creatives
        assert {m["kind"] for m in media} == {"video", "image"}
        deadline = time.monotonic() + 60
        while not _api(web_port, admin_email.group(1), logins["admin"], POP)["rows"]:
            assert time.monotonic() < deadline, "no proof of play within a minute"
            time.sleep(1)
        # The demo's lead form opens for passengers (no sign-in) on the printed address.
        form = re.search(r"lead form http://\S+(/l/[a-z0-9]+)", log.read_text())
        assert form is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}{form.group(1)}", timeout=5) as r:
            assert "Travel insurance" in r.read().decode()
        _earnings_in_the_demo(web_port, owner.group(1), logins["fleet owner"], log.read_text())
        _campaigns_in_the_demo(web_port, log.read_text(), tmp_path / "var")
        _device_ops_in_the_demo(web_port, admin_email.group(1), logins["admin"], log.read_text())
        # The embedded store lets no loopback client in without its generated password.
        secret = tmp_path / "var" / "pgdata.password"
        assert secret.stat().st_mode & 0o777 == 0o600
        assert secret.read_text().strip() not in log.read_text()  # the banner hides it
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(
                host="127.0.0.1",
                port=int(env["FLEETHUB_DB_PORT"]),
                user="postgres",
                dbname="fleethub",
                connect_timeout=5,
            )
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
        admin = re.search(
            r"sign in as admin\s+(\S+)\s+password (\S+)", (tmp_path / "up2.log").read_text()
        )
        assert admin is not None
        assert admin.group(2) == logins["admin"]  # the same credentials on every run
        rows = _api_tablets(web_port, admin.group(1), admin.group(2))
        assert len(rows) == 5
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(60)
    assert again.returncode == 0
    assert cluster.stat().st_mtime_ns == first_init


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_up_without_simulated_tablets_on_a_fresh_and_a_reused_var_dir(tmp_path: Path) -> None:
    """Issue 17, defect 8: ``--simulate 0`` exited 2 on an empty var dir (the demo's
    schedule had no tablet to target) and never started the panel."""
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
    for run in (1, 2):
        log = tmp_path / f"up{run}.log"
        proc = _start(env, log, simulate=0)
        try:
            _wait_for(proc, log, "fleethub is up", 90)
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=5) as r:
                assert json.load(r) == {"status": "ok"}
            admin = re.search(r"sign in as admin\s+(\S+)\s+password (\S+)", log.read_text())
            assert admin is not None
            assert _api_tablets(web_port, admin.group(1), admin.group(2)) == []
            assert "0 simulated" in log.read_text()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
        assert proc.returncode == 0, log.read_text()


def _start(env: dict[str, str], log: Path, simulate: int = 5) -> subprocess.Popen[str]:
    with log.open("w") as out:
        argv = [sys.executable, "-m", "cli.main", "up", "--simulate", str(simulate)]
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, text=True)
