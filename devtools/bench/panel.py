"""The panel benchmark: grid render time for a large fleet and the SSE change latency.

Seeds one tenant with ``tablets`` tablets (states, batteries, ads) in fleets of
1,000, runs ``fleethub web`` as a child process on loopback, signs in, then
1. fetches the whole grid once with every tile rendered (a fresh panel process), then
   ``requests`` more times with tiles from the per-row cache (full response time, query
   and render included, as a browser on the same host would see it; the page is streamed,
   so also the time to its first byte and to its first tile);
2. holds the grid's SSE stream open while ``changes`` tablets change one at a
   time (half as transitions with ``NOTIFY``, half as heartbeat-only updates
   that the feed finds by polling); latency = commit → event received, and
   the events must be exactly the changed tiles (the stream carries changes
   only, never the grid).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from broker.processes import Child, free_port
from devtools.bench import panel_login
from devtools.bench.stats import summary
from devtools.embedded_db import EmbeddedPostgres
from store import bench_seed, db, fleets, users

TENANT = "bench-panel"
EMAIL = "admin@bench-panel.example"
PASSWORD = secrets.token_urlsafe(18)  # set anew by every run (seed resets it)
PER_FLEET = 1000


@dataclass(frozen=True)
class PanelBenchConfig:
    tablets: int = 20_000
    requests: int = 20
    changes: int = 200
    work_dir: Path = Path("var/bench")
    database_url: str | None = None


async def seed(url: str, tablets: int) -> None:
    async with db.connect(url) as conn:
        await users.add_tenant(conn, TENANT, "Panel benchmark", "bench")
        fleet_count = (tablets + PER_FLEET - 1) // PER_FLEET
        async with conn.transaction():
            for n in range(1, fleet_count + 1):
                spec = fleets.FleetSpec(f"bp-{n}", name=f"Bench fleet {n}", tenant_id=TENANT)
                await fleets.add_fleet(conn, spec, "bench")
            await bench_seed.panel_grid(conn, PER_FLEET, tablets)
        await users.add_user(
            conn,
            tenant_id=TENANT,
            email=EMAIL,
            name="Bench admin",
            role="admin",
            password=PASSWORD,
            fleets=[],
            actor="bench",
        )


def _sign_in(port: int) -> str:
    return panel_login.sign_in(port, EMAIL, PASSWORD)


@dataclass(frozen=True)
class GridTimes:
    """One fetch of the grid: the first byte, the first tile and the whole page (s)."""

    first_byte: float
    first_tile: float | None
    whole: float


def _fetch(http_conn: http.client.HTTPConnection, cookie: str) -> tuple[GridTimes, bytes]:
    started = time.perf_counter()
    http_conn.request("GET", "/", headers={"Cookie": cookie})
    response = http_conn.getresponse()  # the status line and headers: the first bytes
    first_byte = time.perf_counter() - started
    first_tile: float | None = None
    parts: list[bytes] = []
    while piece := response.read1(1 << 16):
        parts.append(piece)
        if first_tile is None and b'class="tile ' in piece:
            first_tile = time.perf_counter() - started
    whole = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"grid answered {response.status}")
    return GridTimes(first_byte, first_tile, whole), b"".join(parts)


def _grid_times(port: int, cookie: str, count: int) -> tuple[GridTimes, list[GridTimes], int, int]:
    """The first fetch (every tile rendered) and ``count`` more (tiles from the cache)."""
    cold: GridTimes | None = None
    times: list[GridTimes] = []
    size = tiles = 0
    http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for n in range(count + 2):  # two warm-up requests
            measured, page = _fetch(http_conn, cookie)
            if n == 0:
                cold = measured
            if n >= 2:
                times.append(measured)
            size, tiles = len(page), page.count(b'class="tile ')
    finally:
        http_conn.close()
    assert cold is not None
    return cold, times, size, tiles


class StreamReader(threading.Thread):
    """Reads the SSE stream; records when each ``tile`` event arrived."""

    def __init__(self, port: int, cookie: str) -> None:
        super().__init__(name="bench.panel.sse", daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.conn.request("GET", "/grid/stream", headers={"Cookie": cookie})
        self.response = self.conn.getresponse()
        self.arrivals: list[tuple[str, float]] = []
        self.ready = threading.Event()
        self.stop = False

    def run(self) -> None:
        event = ""
        while not self.stop:
            line = self.response.fp.readline()
            if not line:
                return
            text = line.decode().rstrip("\r\n")
            if text.startswith("event:"):
                event = text[6:].strip()
                if event == "hello":
                    self.ready.set()
            elif text.startswith("data:") and event == "tile":
                self.arrivals.append((json.loads(text[5:])["id"], time.time()))


def run_panel_bench(cfg: PanelBenchConfig, console: Console) -> dict[str, Any]:
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    server: EmbeddedPostgres | None = None
    web: Child | None = None
    try:
        if cfg.database_url:
            url = cfg.database_url
        else:
            server = EmbeddedPostgres(cfg.work_dir / "pgdata-panel", port=free_port())
            url = server.start()
        db.migrate(url)
        with console.status(f"seeding {cfg.tablets} tablets…"):
            asyncio.run(seed(url, cfg.tablets))
        port = free_port()
        env = {
            "FLEETHUB_DATABASE_URL": url,
            "FLEETHUB_WEB_PORT": str(port),
            "FLEETHUB_VAR_DIR": str(cfg.work_dir),
            "PATH": "/usr/bin:/bin",
        }
        web = Child(
            "web",
            [sys.executable, "-m", "cli.main", "web"],
            cfg.work_dir / "logs" / "panel-web.log",
            env=env,
        )
        web.wait_port("127.0.0.1", port, timeout=30)
        cookie = _sign_in(port)
        load = [round(x, 2) for x in os.getloadavg()]
        grid_started = datetime.now(UTC)
        with console.status(f"fetching the grid {cfg.requests} times…"):
            cold, times, size, tiles = _grid_times(port, cookie, cfg.requests)
        grid_ended = datetime.now(UTC)
        with console.status(f"changing {cfg.changes} tablets under an open stream…"):
            stream = _stream_changes(url, port, cookie, cfg)
        return {
            "config": {k: str(v) for k, v in cfg.__dict__.items() if k != "database_url"},
            "grid": {
                "load_before": load,
                "fetched_from": grid_started.isoformat(timespec="seconds"),
                "fetched_until": grid_ended.isoformat(timespec="seconds"),
                "tiles": tiles,
                "bytes": size,
                "first_response_s": cold.whole,
                "first_response_first_byte_s": cold.first_byte,
                "first_response_first_tile_s": cold.first_tile,
                "response_s": summary([t.whole for t in times]),
                "first_byte_s": summary([t.first_byte for t in times]),
                "first_tile_s": summary([t.first_tile or t.whole for t in times]),
            },
            "stream": stream,
        }
    finally:
        if web is not None:
            web.stop()
        if server is not None:
            server.stop()


def _stream_changes(url: str, port: int, cookie: str, cfg: PanelBenchConfig) -> dict[str, Any]:
    reader = StreamReader(port, cookie)
    reader.start()
    if not reader.ready.wait(10):
        raise RuntimeError("the SSE stream did not say hello")
    rng = random.Random(7)  # noqa: S311 - picks tablets, not secrets
    picked = rng.sample(range(1, cfg.tablets + 1), cfg.changes)
    committed = asyncio.run(_change(url, [f"bp-tab-{number}" for number in picked]))
    deadline = time.monotonic() + 10
    while len(reader.arrivals) < len(committed) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # anything extra (a full grid, repeats) would arrive now
    reader.stop = True
    reader.conn.close()
    arrivals = list(reader.arrivals)
    first: dict[str, float] = {}
    for tablet_id, at in arrivals:
        first.setdefault(tablet_id, at)
    notified = [first[t] - c for t, (c, tr) in committed.items() if tr and t in first]
    polled = [first[t] - c for t, (c, tr) in committed.items() if not tr and t in first]
    return {
        "changed": len(committed),
        "events": len(arrivals),
        "missing": sum(1 for t in committed if t not in first),
        "extra": sum(1 for t, _ in arrivals if t not in committed),
        "latency_notified_s": summary(notified),
        "latency_polled_s": summary(polled),
    }


async def _change(url: str, tablet_ids: list[str]) -> dict[str, tuple[float, bool]]:
    """Change each tablet in turn, every other one with a NOTIFY; when each committed."""
    committed: dict[str, tuple[float, bool]] = {}
    async with db.connect(url) as conn:
        for n, tablet_id in enumerate(tablet_ids):
            transition = n % 2 == 0
            await bench_seed.change_battery(conn, tablet_id, n % 100, notify=transition)
            committed[tablet_id] = (time.time(), transition)
            await asyncio.sleep(0.02)
    return committed
