"""``fleethub bench --actors``: the CPU the actor path costs per heartbeat and per tablet of a
fleet-wide push, in one process with no broker and no store.

The hub's end-to-end figures on a shared machine move with the load; process CPU time per
unit of work does not (much). This runs the hub's own pump (the thespian system, the
registry, one actor per tablet, the outbox) on ``tablets`` registered tablets: rounds of one
heartbeat each, then pushes of a demo manifest to all of them, and divides the process's
CPU seconds (``getrusage``: the pump thread and the loop that collects the effects) by the
units. Each figure is the median of ``repeats`` runs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from actors.effects import Effect
from actors.messages import (
    DesiredMany,
    DesiredPlaylist,
    HeartbeatIn,
    Register,
    TabletConfig,
    TabletSnapshot,
)
from actors.rules.hours import OperatingHours
from actors.system.pump import ActorPump
from devtools.demo import demo_items

EFFECTS_PER_HEARTBEAT = 2  # the heartbeat row and the state row (no change of state)
EFFECTS_PER_PUSH = 3  # the manifest, its delivery row and the state row


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _heartbeat(tablet_id: str, seq: int, at: datetime) -> HeartbeatIn:
    return HeartbeatIn(
        tablet_id, at, at, seq, "boot", None, None, None, 80, False, 4000, "1.0", 1.29, 103.85,
        None,
    )  # fmt: skip


def _push(ids: tuple[str, ...], n: int, at: datetime) -> DesiredMany:
    items = [i.model_dump(mode="json") | {"ad_id": f"{i.ad_id}-{n}"} for i in demo_items()]
    etag = f"bench-{n}"
    body = json.dumps({"v": 1, "etag": etag, "playlist_id": "pl-bench", "items": items})
    return DesiredMany(ids, DesiredPlaylist("", etag, body, at))


class _Sink:
    def __init__(self) -> None:
        self.effects = 0
        self.changed = asyncio.Event()

    def __call__(self, batch: list[Effect]) -> None:
        self.effects += len(batch)
        self.changed.set()

    async def until(self, effects: int, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while self.effects < effects:
                self.changed.clear()
                await self.changed.wait()


async def _measure(pump: ActorPump, sink: _Sink, items: list[Any], effects: int) -> float:
    """CPU seconds the pump and the loop spend on ``items`` (built beforehand: building them
    is the MQTT side's work) until their ``effects`` came back."""
    start_cpu, start_effects = _cpu_s(), sink.effects
    for item in items:
        pump.put(item)
    await sink.until(start_effects + effects, timeout_s=600)
    return _cpu_s() - start_cpu


async def actor_cost(tablets: int, rounds: int, pushes: int, repeats: int) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load = round(os.getloadavg()[0], 2)
    sink = _Sink()
    pump = ActorPump(asyncio.get_running_loop(), sink, tick_s=0.2)
    pump.start()
    try:
        now = datetime.now(UTC)
        ids = tuple(f"cost-{n:06d}" for n in range(tablets))
        hours = OperatingHours()
        for tablet_id in ids:  # registered, and each actor made by a first heartbeat
            pump.put(Register(TabletSnapshot(TabletConfig(tablet_id, "bench", None, 60, 180,
                                                          300, 6, hours))))  # fmt: skip
            pump.put(_heartbeat(tablet_id, 0, now))
        await sink.until(tablets * EFFECTS_PER_HEARTBEAT, timeout_s=600)
        heartbeat_us: list[float] = []
        push_us: list[float] = []
        for repeat in range(repeats):
            first = 1 + repeat * rounds
            beats = [
                _heartbeat(tablet_id, seq, now + timedelta(seconds=seq))
                for seq in range(first, first + rounds)
                for tablet_id in ids
            ]
            spent = await _measure(pump, sink, beats, len(beats) * EFFECTS_PER_HEARTBEAT)
            heartbeat_us.append(spent / len(beats) * 1e6)
            at = now + timedelta(seconds=first + rounds)
            manifests = [_push(ids, repeat * pushes + n, at) for n in range(pushes)]
            units = tablets * pushes
            spent = await _measure(pump, sink, manifests, units * EFFECTS_PER_PUSH)
            push_us.append(spent / units * 1e6)
    finally:
        pump.stop()
    return {
        "started_at": f"actors-{stamp}",
        "gc_thresholds": list(gc.get_threshold()),
        "tablets": tablets,
        "heartbeats_per_repeat": tablets * rounds,
        "pushed_tablets_per_repeat": tablets * pushes,
        "repeats": repeats,
        "load_average_before": load,
        "cpu_us_per_heartbeat": _spread(heartbeat_us),
        "cpu_us_per_pushed_tablet": _spread(push_us),
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def print_actor_cost(report: dict[str, Any], console: Console) -> None:
    table = Table("figure", "median", "min", "max", title=f"fleethub bench --actors "
                  f"{report['started_at']}")  # fmt: skip
    for name, key in (
        ("CPU per heartbeat", "cpu_us_per_heartbeat"),
        ("CPU per tablet of a push", "cpu_us_per_pushed_tablet"),
    ):
        spread = report[key]
        table.add_row(name, *(f"{spread[k]:.1f} µs" for k in ("median", "min", "max")))
    table.caption = (
        f"{report['tablets']} tablets · {report['repeats']} repeats · load average"
        f" {report['load_average_before']} · gc thresholds {report['gc_thresholds']}"
    )
    console.print(table)
