"""The alert channels benchmark: a burst of incident events → notifications delivered.

A fresh embedded PostgreSQL, one embedded Mosquitto and one hub (``fleethub run``) on
loopback. An admin has two signed-webhook subscriptions to a local receiver: one message per
event (``/each``), and a digest (``/digest``, ``digest_s``). The bench commits ``incidents``
incident events at once, as the hub's writer stores them (one transaction: the incidents,
their notifications and ``NOTIFY fleethub_alerts``), and records when each event arrives at
``/each`` and how many messages and events ``/digest`` gets.

Latency per event = its arrival at ``/each`` − the commit, so it includes the notifier's
fan-out, its claims, rendering, signing and the HTTP POST (at most 64 in flight).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console

from actors.effects import IncidentEvent
from broker.processes import Child, free_port
from broker.runner import EmbeddedBroker
from devtools.bench.run import machine
from devtools.bench.stats import summary
from devtools.embedded_db import EmbeddedPostgres
from hub.notify.signing import new_secret
from store import admin, alert_subscriptions, bench_seed, db, fleets, users
from store.alert_subscriptions import SubscriptionSpec
from store.db import open_pool
from store.incidents import write_incident
from store.users import User

TENANT = "bench-alerts"
FLEET = "ba-fleet"
PREFIX = "balert-"
SECRET = new_secret()  # the webhooks' signing key (not checked by this receiver)


@dataclass(frozen=True)
class AlertsBenchConfig:
    incidents: int = 1_000
    digest_s: int = 5
    settle_s: float = 120.0  # how long to wait for the last deliveries
    work_dir: Path = Path("var/bench")


class Receiver:
    """A local webhook endpoint: each POST's arrival time and events, by path."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.each: dict[str, float] = {}  # incident id → first arrival
        self.each_posts = 0
        self.digests: list[int] = []  # events per digest message
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.time()
                events = json.loads(body)["events"]
                with receiver.lock:
                    if self.path == "/each":
                        receiver.each_posts += 1
                        for e in events:
                            receiver.each.setdefault(str(e["incident_id"]), at)
                    else:
                        receiver.digests.append(len(events))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _seed(url: str, cfg: AlertsBenchConfig, receiver: Receiver) -> list[str]:
    async with db.connect(url) as conn:
        await users.add_tenant(conn, TENANT, "Bench alerts", "bench")
        await fleets.add_fleet(
            conn, fleets.FleetSpec(FLEET, name="Bench depot", tenant_id=TENANT), "bench"
        )
        await bench_seed.numbered_tablets(conn, FLEET, PREFIX, cfg.incidents, 30, 90)
        user_id = await users.add_user(
            conn,
            tenant_id=TENANT,
            email="ops@bench-alerts.example",
            name="Ops",
            role="admin",
            password=uuid.uuid4().hex,
            fleets=[],
            actor="bench",
        )
    user = User(user_id, TENANT, "ops@bench-alerts.example", "Ops", "admin", None)
    base = f"http://127.0.0.1:{receiver.port}"
    pool = open_pool(url)
    await pool.open()
    try:
        for path, digest in (("/each", 0), ("/digest", cfg.digest_s)):
            spec = SubscriptionSpec("webhook", base + path, digest_s=digest, secret=SECRET)
            await alert_subscriptions.create(pool, user, spec)
    finally:
        await pool.close()
    return [f"{PREFIX}{n:06d}" for n in range(cfg.incidents)]


async def _burst(url: str, tablets: list[str]) -> tuple[list[str], float]:
    """Commit one ``low_storage`` opened event per tablet in one transaction; the ids and
    the commit's time."""
    now = datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in tablets]
    async with db.connect(url) as conn:
        async with conn.transaction(), conn.cursor() as cur:
            for ident, tablet in zip(ids, tablets, strict=True):
                ev = IncidentEvent(ident, tablet, FLEET, "low_storage", "opened", now, now, None,
                                   "120 MB free (limit 500 MB)")  # fmt: skip
                await write_incident(cur, ev)
        committed = time.time()
    return ids, committed


async def _create_database(admin_url: str, name: str) -> None:
    async with db.connect(admin_url) as conn:
        await admin.create_database(conn, name)


def run_alerts_bench(cfg: AlertsBenchConfig, console: Console) -> dict[str, Any]:
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    logs = cfg.work_dir / "logs"
    logs.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    server = EmbeddedPostgres(cfg.work_dir / "pgdata-alerts", port=free_port())
    broker = EmbeddedBroker(
        cfg.work_dir / "broker-alerts", "127.0.0.1", free_port(), f"bench-alerts-{stamp}",
        persistence=False,
    )  # fmt: skip
    receiver = Receiver()
    hub: Child | None = None
    try:
        with console.status("starting PostgreSQL, Mosquitto and the hub…"):
            admin_url = server.start(database="postgres")
            name = f"bench_alerts_{stamp.lower()}"
            asyncio.run(_create_database(admin_url, name))
            url = server.url(name)
            db.migrate(url)
            receiver.start()
            tablets = asyncio.run(_seed(url, cfg, receiver))
            broker.start()
            env = {
                "FLEETHUB_DATABASE_URL": url,
                "FLEETHUB_MQTT_URL": broker.hub_target().url(),
                "FLEETHUB_VAR_DIR": str(cfg.work_dir),
                "FLEETHUB_HUB_CLIENT_ID": broker.hub_client_id,
                "PATH": "/usr/bin:/bin",
            }
            hub = Child("hub", [sys.executable, "-m", "cli.main", "run"], logs / "alerts-hub.log",
                        env=env)  # fmt: skip
            time.sleep(3.0)  # the hub subscribes and LISTENs
        with console.status(f"{cfg.incidents} incidents at once → the webhooks…"):
            ids, committed = asyncio.run(_burst(url, tablets))
            deadline = time.monotonic() + cfg.settle_s
            while time.monotonic() < deadline:
                with receiver.lock:
                    done = len(receiver.each) >= len(ids) and sum(receiver.digests) >= len(ids)
                if done:
                    break
                time.sleep(0.1)
        with receiver.lock:
            latencies = [receiver.each[i] - committed for i in ids if i in receiver.each]
            return {
                "started_at": f"alerts-{stamp}",
                "machine": machine(),
                "config": {k: str(v) for k, v in cfg.__dict__.items()},
                "incidents": len(ids),
                "each": {
                    "delivered": len(latencies),
                    "posts": receiver.each_posts,
                    "latency_s": summary(latencies),
                    "all_delivered_s": round(max(latencies), 2) if latencies else None,
                },
                "digest": {
                    "messages": len(receiver.digests),
                    "events": sum(receiver.digests),
                },
            }
    finally:
        if hub is not None:
            hub.stop()
        receiver.stop()
        broker.stop()
        server.stop()


def print_alerts_summary(report: dict[str, Any], console: Console) -> None:
    each, digest = report["each"], report["digest"]
    lat = each["latency_s"]
    p50 = "—" if lat["p50"] is None else f"{lat['p50'] * 1000:.0f} ms"
    p99 = "—" if lat["p99"] is None else f"{lat['p99'] * 1000:.0f} ms"
    console.print(
        f"{report['incidents']} incidents at once: per-event webhook {each['delivered']}"
        f" delivered in {each['posts']} posts, commit → delivered p50 {p50}, p99 {p99},"
        f" all in {each['all_delivered_s']} s; digest webhook {digest['events']} events"
        f" in {digest['messages']} message(s)"
    )
