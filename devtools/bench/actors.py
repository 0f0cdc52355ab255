"""Resident tablet actors: how much memory N live tablet sessions cost in one hub process."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import psutil

from actors.effects import Effect
from actors.messages import HeartbeatIn, Register, TabletConfig, TabletSnapshot
from actors.rules.hours import OperatingHours
from actors.system.pump import ActorPump


async def resident_actors(count: int) -> dict[str, Any]:
    """Register ``count`` tablets, give each one heartbeat (creating its actor), measure RSS."""
    process = psutil.Process()
    rss_before = process.memory_info().rss
    effects = 0

    def sink(batch: list[Effect]) -> None:
        nonlocal effects
        effects += len(batch)

    pump = ActorPump(asyncio.get_running_loop(), sink, tick_s=0.2)
    pump.start()
    try:
        hours = OperatingHours()
        started = time.monotonic()
        now = datetime.now(UTC)
        for n in range(count):
            tablet_id = f"resident-{n:06d}"
            cfg = TabletConfig(tablet_id, "bench", None, 60, 180, 300, 6, hours)
            pump.put(Register(TabletSnapshot(cfg)))
            pump.put(
                HeartbeatIn(
                    tablet_id,
                    now,
                    None,
                    0,
                    "boot",
                    None,
                    None,
                    None,
                    80,
                    False,
                    1000,
                    "1.0",
                    None,
                    None,
                    None,
                )
            )
        stats: dict[str, int] = {}
        while stats.get("resident", 0) < count and time.monotonic() - started < 600:
            await asyncio.sleep(0.5)
            stats = await pump.stats()
        elapsed = time.monotonic() - started
        rss_after = process.memory_info().rss
    finally:
        pump.stop()
    return {
        "actors_resident": stats.get("resident", 0),
        "create_and_first_heartbeat_s": round(elapsed, 2),
        "process_rss_mib": round(rss_after / 2**20, 1),
        "rss_growth_mib": round((rss_after - rss_before) / 2**20, 1),
        "bytes_per_tablet": round((rss_after - rss_before) / max(1, count)),
        "effects": effects,
    }
