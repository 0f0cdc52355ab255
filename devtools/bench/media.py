"""The media benchmark (``fleethub bench --media``): delivery through the panel's route, next to
a plain static file server, and one large upload (docs/performance.md, "Media").

On loopback, with the embedded store (or ``FLEETHUB_DATABASE_URL``) and ``fleethub web`` as a
child process:

1. a ``file_mb`` MP4 (H.264, lossless noise: PyAV) is uploaded through ``POST /api/v1/media``;
2. ``tablets`` simulated tablets download it at once through ``GET /media/{sha256}``, each
   with its own signed link, verifying the SHA-256 (devtools/simulator/downloads.py):
   aggregate MB/s and time-to-ready percentiles;
3. ``curl --parallel`` fetches it ``tablets`` times at once from the panel's route, then from
   ``python -m http.server`` serving the same file: the same client against both servers,
   whose throughput ratio is the figure to judge (target ≥ 0.8);
4. one ``upload_mib`` MP4 is uploaded: throughput and the panel's peak RSS.

The panel's RSS is sampled every 0.1 s throughout: it must stay flat (no file in memory).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import av
import psutil
from pydantic import SecretStr
from rich.console import Console

from broker.processes import Child, free_port
from config.settings import Settings
from devtools.bench.stats import summary
from devtools.embedded_db import EmbeddedPostgres
from devtools.simulator.downloads import MediaClient, Partial
from media.tokens import media_key, token_query
from store import db, fleets, users

TENANT = "bench-media"
FLEET = "bm-1"
EMAIL = "admin@bench-media.example"
PASSWORD = secrets.token_urlsafe(18)
STATIC_ARGS = ("--bind", "127.0.0.1", "--directory")


@dataclass(frozen=True)
class MediaBenchConfig:
    tablets: int = 500
    file_mb: int = 50
    upload_mib: int = 1024
    work_dir: Path = Path("var/bench")
    database_url: str | None = None


def noise_video(path: Path, at_least_bytes: int) -> Path:
    """A valid MP4 (H.264, lossless, 1280×720 noise) of at least this many bytes."""
    if path.exists() and path.stat().st_size >= at_least_bytes:
        return path
    width, height = 1280, 720
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "qp": "0"}
        written = 0
        while written < at_least_bytes:
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(os.urandom(plane.buffer_size))
            for packet in stream.encode(frame):
                written += packet.size
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


async def seed(url: str, tablets: int) -> list[str]:
    ids = [f"bm-tab-{n:05d}" for n in range(1, tablets + 1)]
    async with db.connect(url) as conn:
        await users.add_tenant(conn, TENANT, "Media benchmark", "bench")
        await fleets.add_fleet(conn, fleets.FleetSpec(FLEET, tenant_id=TENANT), "bench")
        known = set(await fleets.tablet_ids(conn, FLEET))
        async with conn.transaction():
            for tablet_id in ids:
                if tablet_id not in known:
                    spec = fleets.TabletSpec(tablet_id, FLEET, None, 60, 180)
                    await fleets.add_tablet(conn, spec, "bench")
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
    return ids


class RssSampler(threading.Thread):
    """The RSS of one process every 0.1 s, with marks to cut the series into phases."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="bench.rss", daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.1):
            try:
                self.samples.append((time.monotonic(), self.process.memory_info().rss))
            except psutil.Error:
                return

    def peak(self, since: float, until: float) -> int:
        return max((rss for at, rss in self.samples if since <= at <= until), default=0)

    def last(self) -> int:
        return self.samples[-1][1] if self.samples else 0


def _token(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = urlencode({"username": EMAIL, "password": PASSWORD})
    conn.request(
        "POST", "/api/v1/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    response = conn.getresponse()
    token = json.loads(response.read())["access_token"]
    conn.close()
    return str(token)


def upload(port: int, token: str, path: Path) -> tuple[dict[str, Any], float]:
    """POST the file (streamed from disk); the answer and the seconds it took."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.monotonic()
    with path.open("rb") as body:
        conn.request(
            "POST",
            f"/api/v1/media?{urlencode({'name': path.name})}",
            body,
            {"Authorization": f"Bearer {token}", "Content-Length": str(path.stat().st_size)},
        )
        response = conn.getresponse()
        answer = json.loads(response.read())
    elapsed = time.monotonic() - started
    conn.close()
    if response.status not in (200, 201):
        raise RuntimeError(f"upload refused: {response.status} {answer}")
    return answer, elapsed


async def tablets_download(urls: list[str], sha256: str, size: int) -> dict[str, Any]:
    """Every URL at once, verified; time-to-ready of each from the common start."""
    client = MediaClient(limit=len(urls) + 10)
    started = time.monotonic()
    ready: list[float] = []

    async def one(url: str) -> None:
        partial = Partial(total=size)
        await client.fetch(url, sha256, partial)
        ready.append(time.monotonic() - started)

    try:
        await asyncio.gather(*(one(url) for url in urls))
    finally:
        await client.close()
    wall = time.monotonic() - started
    return {
        "wall_s": wall,
        "mb_per_s": len(urls) * size / wall / 1e6,
        "time_to_ready_s": summary(ready),
    }


def curl_parallel(urls: list[str], size: int, work_dir: Path) -> dict[str, Any]:
    """curl fetching every URL at once (``--parallel``, to /dev/null): wall time and MB/s.

    A transfer the server breaks off (``python -m http.server`` listens with a backlog of 5)
    is retried at once, its retries counted in the wall time; ``complete`` counts the
    transfers that delivered the whole file."""
    config = work_dir / "curl.conf"
    config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls))
    started = time.monotonic()
    done = subprocess.run(
        [
            "curl",
            "--silent",
            "--retry",
            "20",
            "--retry-all-errors",
            "--retry-delay",
            "0",
            "--parallel",
            "--parallel-max",
            str(len(urls)),
            "--config",
            str(config),
            "--write-out",
            "%{size_download} %{time_total}\n",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    wall = time.monotonic() - started
    lines = [line.split() for line in done.stdout.splitlines() if line.strip()]
    complete = [float(parts[1]) for parts in lines if int(parts[0]) == size]
    total = len(complete) * size
    return {
        "wall_s": wall,
        "bytes": total,
        "complete": len(complete),
        "curl_exit": done.returncode,
        "mb_per_s": total / wall / 1e6,
        "time_s": summary(complete),
    }


def run_media_bench(cfg: MediaBenchConfig, console: Console) -> dict[str, Any]:
    work = cfg.work_dir / "media-bench"
    work.mkdir(parents=True, exist_ok=True)
    server: EmbeddedPostgres | None = None
    web: Child | None = None
    static: Child | None = None
    sampler: RssSampler | None = None
    try:
        with console.status("encoding the benchmark's videos (PyAV)…"):
            download_file = noise_video(work / "download.mp4", cfg.file_mb * 1_000_000)
            upload_file = (
                noise_video(work / "upload.mp4", cfg.upload_mib * 2**20) if cfg.upload_mib else None
            )
        if cfg.database_url:
            url = cfg.database_url
        else:
            server = EmbeddedPostgres(cfg.work_dir / "pgdata-media", port=free_port())
            url = server.start()
        db.migrate(url)
        with console.status(f"seeding {cfg.tablets} tablets…"):
            tablet_ids = asyncio.run(seed(url, cfg.tablets))
        port = free_port()
        secret = secrets.token_urlsafe(40)
        var = work / "panel"
        env = {
            "FLEETHUB_DATABASE_URL": url,
            "FLEETHUB_WEB_PORT": str(port),
            "FLEETHUB_VAR_DIR": str(var),
            "FLEETHUB_SECRET_KEY": secret,
            "FLEETHUB_MEDIA_MAX_BYTES": str(2 * 2**30),
            "FLEETHUB_WEB_PUSH_SENDER": "false",
            "PATH": "/usr/bin:/bin",
        }
        web = Child(
            "web", [sys.executable, "-m", "cli.main", "web"], work / "panel-web.log", env=env
        )
        web.wait_port("127.0.0.1", port, timeout=30)
        sampler = RssSampler(web.pid)
        sampler.start()
        token = _token(port)
        answer, _ = upload(port, token, download_file)
        sha, size = str(answer["sha256"]), int(answer["bytes"])
        time.sleep(1.0)
        idle_rss = sampler.last()

        key = media_key(Settings(var_dir=var, secret_key=SecretStr(secret)))
        expires = datetime.now(UTC) + timedelta(hours=1)
        links = [
            f"http://127.0.0.1:{port}/media/{sha}?{token_query(key, t, TENANT, expires)}"
            for t in tablet_ids
        ]
        phases: dict[str, Any] = {}
        with console.status(f"{cfg.tablets} simulated tablets download {size / 1e6:.0f} MB…"):
            start = time.monotonic()
            phases["tablets_via_panel"] = asyncio.run(tablets_download(links, sha, size))
            phases["tablets_via_panel"]["panel_peak_rss"] = sampler.peak(start, time.monotonic())
        with console.status("curl --parallel through the panel…"):
            start = time.monotonic()
            phases["curl_via_panel"] = curl_parallel(links, size, work)
            phases["curl_via_panel"]["panel_peak_rss"] = sampler.peak(start, time.monotonic())
        static_port = free_port()
        static = Child(
            "http.server",
            [sys.executable, "-m", "http.server", str(static_port), *STATIC_ARGS, str(work)],
            work / "http-server.log",
            env={"PATH": "/usr/bin:/bin"},
        )
        static.wait_port("127.0.0.1", static_port)
        with console.status("curl --parallel from python -m http.server…"):
            plain = [f"http://127.0.0.1:{static_port}/{download_file.name}"] * cfg.tablets
            phases["curl_via_http_server"] = curl_parallel(plain, size, work)
        ratio = phases["curl_via_panel"]["mb_per_s"] / phases["curl_via_http_server"]["mb_per_s"]

        upload_report: dict[str, Any] | None = None
        if upload_file is not None:
            with console.status(f"uploading {upload_file.stat().st_size / 2**30:.2f} GiB…"):
                before = sampler.last()
                start = time.monotonic()
                big, seconds = upload(port, token, upload_file)
                upload_report = {
                    "bytes": int(big["bytes"]),
                    "seconds": seconds,
                    "mb_per_s": int(big["bytes"]) / seconds / 1e6,
                    "panel_rss_before": before,
                    "panel_peak_rss": sampler.peak(start, time.monotonic()),
                }
        return {
            "config": {k: str(v) for k, v in cfg.__dict__.items() if k != "database_url"},
            "file_bytes": size,
            "panel_idle_rss": idle_rss,
            "phases": phases,
            "panel_to_http_server_ratio": ratio,
            "upload": upload_report,
        }
    finally:
        if sampler is not None:
            sampler.stopping.set()
        if static is not None:
            static.stop()
        if web is not None:
            web.stop()
        if server is not None:
            server.stop()


def print_media_summary(report: dict[str, Any], console: Console) -> None:
    mib = 2**20
    phases = report["phases"]
    tablets = phases["tablets_via_panel"]
    ready = tablets["time_to_ready_s"]
    console.rule("[bold]media delivery")
    console.print(
        f"file {report['file_bytes'] / 1e6:.1f} MB · panel idle RSS "
        f"{report['panel_idle_rss'] / mib:.0f} MiB"
    )
    console.print(
        f"simulated tablets via the panel: {tablets['mb_per_s']:.0f} MB/s, time to ready p50 "
        f"{ready['p50']:.1f} s p99 {ready['p99']:.1f} s, panel peak RSS "
        f"{tablets['panel_peak_rss'] / mib:.0f} MiB"
    )
    for name in ("curl_via_panel", "curl_via_http_server"):
        p = phases[name]
        rss = (
            f", panel peak RSS {p['panel_peak_rss'] / mib:.0f} MiB" if "panel_peak_rss" in p else ""
        )
        console.print(
            f"{name.replace('_', ' ')}: {p['mb_per_s']:.0f} MB/s, {p['complete']} complete in"
            f" {p['wall_s']:.1f} s{rss}"
        )
    verdict = "met" if report["panel_to_http_server_ratio"] >= 0.8 else "MISSED"
    console.print(
        f"panel / http.server: {report['panel_to_http_server_ratio']:.2f} (≥ 0.8 {verdict})"
    )
    up = report["upload"]
    if up:
        size, before, peak = up["bytes"] / 2**30, up["panel_rss_before"], up["panel_peak_rss"]
        console.print(
            f"upload {size:.2f} GiB: {up['seconds']:.1f} s, {up['mb_per_s']:.0f} MB/s,"
            f" panel RSS {before / mib:.0f} → peak {peak / mib:.0f} MiB"
        )
