"""``fleethub simulate``: a fleet of simulated tablets against any loopback broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from rich.console import Console

from devtools.simulator import ChurnConfig, ContentConfig, SimFleet, TabletConfig
from devtools.simulator.routes import Route

log = logging.getLogger(__name__)


async def simulate(
    credentials: list[tuple[str, str | None]],
    host: str,
    port: int,
    heartbeat_s: float,
    duration_s: float,
    churn: ChurnConfig | None,
    console: Console,
    content: ContentConfig | None = None,
    report_every_s: float = 10.0,
    routes: tuple[Route, ...] = (),
    low_storage_after_s: float | None = None,
) -> None:
    fleet = SimFleet(
        credentials,
        host=host,
        port=port,
        tablet_config=TabletConfig(
            heartbeat_interval_s=heartbeat_s, heartbeat_qos=1, routes=routes
        ),
        churn=churn,
        max_lifetime_s=duration_s + 60,
        content=content,
    )
    started = time.monotonic()
    if low_storage_after_s is not None and credentials:
        first = fleet.tablet(credentials[0][0])
        asyncio.get_running_loop().call_later(low_storage_after_s, first.set_disk_free_mb, 120)
    async with fleet.running():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fleet.wait_connected(), min(60.0, duration_s))
        while (left := duration_s - (time.monotonic() - started)) > 0:
            s = fleet.stats
            console.print(
                f"[dim]simulator[/] {s.connected}/{len(fleet)} connected · "
                f"{s.heartbeats_sent} heartbeats · {s.playlists_received} playlists received · "
                f"{s.acks_sent} acks · {s.drops} drops · {s.downloads_verified} files verified "
                f"({s.bytes_downloaded / 1e6:.1f} MB, {s.downloads_failed} failed attempts) · "
                f"{s.plays} plays in {s.play_batches_acked}/{s.play_batches_sent} batches acked"
            )
            await asyncio.sleep(min(report_every_s, left))
