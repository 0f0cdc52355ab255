"""The leads benchmark: public form submit → agent's MQTT receipt and → agent's panel SSE event.

A fresh embedded PostgreSQL, one embedded Mosquitto, one hub (``fleethub run``) and one
panel (``fleethub web``) run as child processes on loopback, as ``fleethub up`` runs them.
One lead campaign has ``agents`` agents (round robin) and one QR code. Each agent is
connected twice, like an agent with the app and the panel open: a paho client subscribed
to ``agents/{id}/leads`` (QoS 1, a persistent session, its own ``agent-{id}`` broker
credentials) and the signed-in panel's SSE stream
(``/agent/leads/stream``). The bench then submits ``leads`` forms at ``rate`` per second
(each: GET the form for its token, then the measured POST), every one with its own name
and phone, and records when each lead's name arrives on MQTT and on SSE.

Latency per lead = arrival − the instant just before the POST was sent, so it includes
the panel's validation and commit, ``NOTIFY``, the hub's routing actors, the offer's
commit and the publish (MQTT) or the panel's LISTEN and stream (SSE). Every lead must
arrive exactly once on each channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import re
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console

from broker import dynsec, dynsec_file
from broker.processes import Child, free_port
from broker.runner import EmbeddedBroker
from devtools.bench import panel_login
from devtools.bench.run import machine
from devtools.bench.stats import CpuWindow, summary
from devtools.embedded_db import EmbeddedPostgres
from store import admin, db, fleets, lead_seed, users

TENANT = "bench-leads"
CAMPAIGN = "bench-campaign"
PASSWORD = secrets.token_urlsafe(18)
NAME = re.compile(r"Bench lead \d{6}")
TOKEN = re.compile(r'name="token" value="([^"]+)"')


@dataclass(frozen=True)
class LeadsBenchConfig:
    leads: int = 1_000
    agents: int = 4
    rate: float = 20.0  # submissions per second
    settle_s: float = 15.0  # how long to wait for the last arrivals
    work_dir: Path = Path("var/bench")


async def _seed(url: str, agents: int) -> tuple[str, dict[int, str]]:
    """The QR code and the agents (user id → e-mail; the id is in their topic)."""
    async with db.connect(url) as conn:
        await users.add_tenant(conn, TENANT, "Bench leads", "bench")
        spec = fleets.FleetSpec("bl-fleet", name="Bench leads", tenant_id=TENANT)
        await fleets.add_fleet(conn, spec, "bench")
        await lead_seed.add_campaign(conn, TENANT, CAMPAIGN, "Bench campaign", offer_timeout_s=3600)
        emails: dict[int, str] = {}
        for n in range(agents):
            email = f"agent{n}@bench-leads.example"
            user_id = await users.add_user(
                conn,
                tenant_id=TENANT,
                email=email,
                name=f"Agent {n}",
                role="agent",
                password=PASSWORD,
                fleets=[],
                actor="bench",
            )
            await lead_seed.add_agent(conn, TENANT, CAMPAIGN, user_id, n)
            emails[user_id] = email
        code = "bench" + secrets.token_hex(2).translate(str.maketrans("01", "ab"))
        if not await lead_seed.add_qr_code(conn, code, TENANT, CAMPAIGN, "bl-fleet", None, "bench"):
            raise RuntimeError(f"QR code {code} exists already")
    return code, emails


async def _create_database(admin_url: str, name: str) -> None:
    async with db.connect(admin_url) as conn:
        await admin.create_database(conn, name)


class Arrivals:
    """When each lead (by its unique name) arrived on one channel, and how often."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self.lock = threading.Lock()

    def saw(self, payload: str, at: float) -> None:
        for name in set(NAME.findall(payload)):
            with self.lock:
                self.first.setdefault(name, at)
                self.count[name] = self.count.get(name, 0) + 1


class SseReader(threading.Thread):
    """An agent's panel stream; every ``offer`` event is an arrival."""

    def __init__(self, port: int, cookie: str, arrivals: Arrivals) -> None:
        super().__init__(name="bench.leads.sse", daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.conn.request("GET", "/agent/leads/stream", headers={"Cookie": cookie})
        self.response = self.conn.getresponse()
        if self.response.status != 200:
            raise RuntimeError(f"agent stream answered {self.response.status}")
        self.arrivals = arrivals

    def close(self) -> None:
        """Unblock the reading thread (shut the socket down first), then close."""
        if self.conn.sock is not None:
            with contextlib.suppress(OSError):
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.join(5)
        self.conn.close()

    def run(self) -> None:
        event = ""
        stream = self.response.fp
        while True:
            try:
                line = stream.readline()
            except (OSError, ValueError):  # closed by the bench when it is done
                return
            if not line:
                return
            text = line.decode().rstrip("\r\n")
            if text.startswith("event:"):
                event = text[6:].strip()
            elif text.startswith("data:") and event == "offer":
                self.arrivals.saw(text, time.time())


def _sign_in(port: int, email: str) -> str:
    return panel_login.sign_in(port, email, PASSWORD)


def _agent_app(broker: EmbeddedBroker, user_id: int, arrivals: Arrivals) -> mqtt.Client:
    """An agent's app: its own broker credentials, a persistent session, QoS 1."""
    target = broker.provision_target()
    password = secrets.token_urlsafe(18)
    asyncio.run(dynsec.provision_agent(target, user_id, password))
    username = dynsec_file.agent_username(user_id)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username, clean_session=False)
    client.username_pw_set(username, password)
    client.on_message = lambda c, u, msg: arrivals.saw(msg.payload.decode(), time.time())
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(target.host, target.port)
    client.loop_start()
    client.subscribe(f"agents/{user_id}/leads", qos=1)
    if not subscribed.wait(10):
        raise RuntimeError(f"agent {user_id}'s MQTT subscription was not acknowledged")
    return client


def _submit(conn: http.client.HTTPConnection, code: str, n: int) -> float:
    """GET the form (its token), then POST it; returns when the POST was sent."""
    conn.request("GET", f"/l/{code}")
    response = conn.getresponse()
    page = response.read().decode()
    match = TOKEN.search(page)
    if response.status != 200 or match is None:
        raise RuntimeError(f"form answered {response.status}")
    body = urlencode(
        {
            "token": match.group(1),
            "name": f"Bench lead {n:06d}",
            "phone": f"+65 9{n:07d}",
            "consent": "yes",
        }
    )
    sent = time.time()
    conn.request("POST", f"/l/{code}", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"submission {n} answered {response.status}")
    return sent


def run_leads_bench(cfg: LeadsBenchConfig, console: Console) -> dict[str, Any]:
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    logs = cfg.work_dir / "logs"
    logs.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    server = EmbeddedPostgres(cfg.work_dir / "pgdata-leads", port=free_port())
    broker = EmbeddedBroker(
        cfg.work_dir / "broker-leads",
        "127.0.0.1",
        free_port(),
        f"bench-leads-{stamp}",
        persistence=False,
    )
    children: list[Child] = []
    apps: list[mqtt.Client] = []
    readers: list[SseReader] = []
    form: http.client.HTTPConnection | None = None
    try:
        with console.status("starting PostgreSQL, Mosquitto, the hub and the panel…"):
            admin_url = server.start(database="postgres")
            name = f"bench_leads_{stamp.lower()}"
            asyncio.run(_create_database(admin_url, name))
            url = server.url(name)
            db.migrate(url)
            code, emails = asyncio.run(_seed(url, cfg.agents))
            broker.start()
            port = free_port()
            env = {
                "FLEETHUB_DATABASE_URL": url,
                "FLEETHUB_MQTT_URL": broker.hub_target().url(),
                "FLEETHUB_VAR_DIR": str(cfg.work_dir),
                "FLEETHUB_WEB_PORT": str(port),
                "FLEETHUB_HUB_CLIENT_ID": broker.hub_client_id,
                "FLEETHUB_LEAD_SUBMITS_PER_CLIENT": str(cfg.leads * 2),
                "FLEETHUB_LEAD_SUBMITS_PER_CODE": str(cfg.leads * 2),
                "PATH": "/usr/bin:/bin",
            }
            exe = [sys.executable, "-m", "cli.main"]
            children.append(Child("hub", [*exe, "run"], logs / "leads-hub.log", env=env))
            children.append(Child("web", [*exe, "web"], logs / "leads-web.log", env=env))
            children[1].wait_port("127.0.0.1", port, timeout=30)
            time.sleep(2.0)  # the hub subscribes and LISTENs
            on_mqtt, on_sse = Arrivals(), Arrivals()
            apps = [_agent_app(broker, user_id, on_mqtt) for user_id in emails]
            for email in emails.values():
                readers.append(SseReader(port, _sign_in(port, email), on_sse))
            for reader in readers:
                reader.start()
        cpu = CpuWindow([c.pid for c in children])
        cpu.start()
        sent: dict[str, float] = {}
        form = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with console.status(f"submitting {cfg.leads} leads at {cfg.rate:g}/s…"):
            began = time.monotonic()
            for n in range(cfg.leads):
                pause = began + n / cfg.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                sent[f"Bench lead {n:06d}"] = _submit(form, code, n)
                if n % 50 == 0:
                    cpu.sample_rss()
            submitting_s = time.monotonic() - began
            deadline = time.monotonic() + cfg.settle_s
            while time.monotonic() < deadline and (
                len(on_mqtt.first) < cfg.leads or len(on_sse.first) < cfg.leads
            ):
                time.sleep(0.1)
        cpu_percent = cpu.cpu_percent()
        return {
            "started_at": f"leads-{stamp}",
            "machine": machine(),
            "config": {k: str(v) for k, v in cfg.__dict__.items()},
            "submitted": len(sent),
            "submits_per_s": round(len(sent) / submitting_s, 1),
            "mqtt": _channel(sent, on_mqtt),
            "sse": _channel(sent, on_sse),
            "hub_and_web_cpu_percent": round(cpu_percent, 1),
            "peak_rss_mib": round(cpu.peak_rss / 2**20, 1),
        }
    finally:
        for client in apps:
            client.disconnect()
            client.loop_stop()
        for reader in readers:
            reader.close()
        if form is not None:
            form.close()
        for child in reversed(children):
            child.stop()
        broker.stop()
        server.stop()


def _channel(sent: dict[str, float], arrivals: Arrivals) -> dict[str, Any]:
    latencies = [arrivals.first[k] - t for k, t in sent.items() if k in arrivals.first]
    return {
        "received": len(latencies),
        "missing": len(sent) - len(latencies),
        "more_than_once": sum(1 for k in sent if arrivals.count.get(k, 0) > 1),
        "latency_s": summary(latencies),
    }


def print_leads_summary(report: dict[str, Any], console: Console) -> None:
    console.print(f"{report['submitted']} leads submitted at {report['submits_per_s']}/s")
    for channel in ("mqtt", "sse"):
        data = report[channel]
        lat = data["latency_s"]
        p50 = "—" if lat["p50"] is None else f"{lat['p50'] * 1000:.0f} ms"
        p99 = "—" if lat["p99"] is None else f"{lat['p99'] * 1000:.0f} ms"
        console.print(
            f"submit → {channel}: p50 {p50}, p99 {p99}; received {data['received']},"
            f" missing {data['missing']}, more than once {data['more_than_once']}"
        )
    console.print(
        f"hub + panel CPU {report['hub_and_web_cpu_percent']} % of a core, "
        f"peak RSS {report['peak_rss_mib']} MiB"
    )
