"""The fan-out leg of ``fleethub bench --compare``: an emergency push to every connected
simulated tablet, from just before the push's commit to each tablet's receipt of the new
manifest, measured twice on one fresh hub: with the hub otherwise idle, then while the
simulators blast heartbeats at the compared legs' offered rate (the push lands a third of
the way into the blast, so the hub is busy with heartbeats throughout).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console

from devtools.bench.overload import bench_load
from devtools.bench.stats import CpuWindow, summary
from devtools.demo import demo_items
from store import db
from store.playlists import PushResult, Target, push

if TYPE_CHECKING:
    from devtools.bench.compare import Bench
    from devtools.bench.compare_legs import HubLeg

RECEIPT_TIMEOUT_S = 60
PROFILE_IDLE_S = 20  # the idle push's profile (its receipts took 10-11 s at load 9-12)


def run_fanout(bench: Bench, rate: float, console: Console) -> dict[str, Any]:
    leg = bench.hub_leg()
    with console.status("fan-out: starting a fresh hub…"):
        leg.start()
    try:
        with console.status(f"fan-out to {bench.cfg.tablets} tablets, hub idle…"):
            idle = _profiled(bench, leg, "idle", PROFILE_IDLE_S, None)
        with console.status(f"fan-out to {bench.cfg.tablets} tablets under {rate:.0f}/s…"):
            loaded = _profiled(bench, leg, "loaded", bench.cfg.duration_s + PROFILE_IDLE_S, rate)
    finally:
        leg.stop()
    return {"idle": idle, "under_load": loaded}


def _profiled(
    bench: Bench, leg: HubLeg, label: str, seconds: float, rate: float | None
) -> dict[str, Any]:
    """One push, with py-spy on the hub from just before it (``--profile``): a profile per
    push, ``profile-<stamp>-fanout-<label>.txt``."""
    spy = None
    if bench.cfg.profile:
        spy = leg.profile(seconds, bench.logs / f"profile-{bench.stamp}-fanout-{label}.txt")
    measured = _push_and_collect(bench, leg.pids(), rate, label)
    if spy is not None:
        spy.wait(seconds + 30)
    return measured


async def _push(url: str, label: str) -> PushResult:
    """An emergency push to the bench's fleet; its items (hence its etag) named by ``label``,
    so each push is a new manifest every tablet must receive."""
    items = [i.model_copy(update={"ad_id": f"{i.ad_id}-{label}"}) for i in demo_items()]
    async with db.connect(url) as conn:
        return await push(
            conn,
            Target("fleet", "bench"),
            items,
            emergency=True,
            expires_s=None,
            reason=f"bench fan-out ({label})",
            actor="bench",
            refresh_s=300,
        )


def _push_and_collect(
    bench: Bench, hub_pids: list[int], rate: float | None, label: str
) -> dict[str, Any]:
    load = bench_load()
    cpu = CpuWindow(hub_pids)
    cpu.start()
    duration = bench.cfg.duration_s
    if rate is not None:
        for worker in bench.workers:
            worker.send({"cmd": "blast", "rate": rate / len(bench.workers), "duration": duration})
        time.sleep(duration / 3)
    pushed_at = time.time()
    result = asyncio.run(_push(bench.url, label))
    blast: dict[str, Any] = {}
    if rate is not None:
        results = [w.read() for w in bench.workers]
        sent, elapsed = sum(r["sent"] for r in results), max(r["elapsed_s"] for r in results)
        blast = {"heartbeats_offered_per_s": round(sent / elapsed, 1) if elapsed else None}
    for worker in bench.workers:
        cmd = {"cmd": "fanout", "etag": result.etag, "expect": worker.expect}
        worker.send({**cmd, "timeout": RECEIPT_TIMEOUT_S})
    received = [t for w in bench.workers for t in w.read()["received"]]
    return {
        "load_before": load,
        "etag": result.etag,
        "targeted": result.targeted,
        "received": len(received),
        "latency_s": summary([t - pushed_at for t in received]),
        "hub_cpu_percent_of_one_core": round(cpu.cpu_percent(), 1),
        **blast,
    }
