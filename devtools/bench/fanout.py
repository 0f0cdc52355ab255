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
from devtools.bench.run import _push
from devtools.bench.stats import CpuWindow, summary

if TYPE_CHECKING:
    from devtools.bench.compare import Bench

RECEIPT_TIMEOUT_S = 60


def run_fanout(bench: Bench, rate: float, console: Console) -> dict[str, Any]:
    leg = bench.hub_leg()
    with console.status("fan-out: starting a fresh hub…"):
        leg.start()
    try:
        with console.status(f"fan-out to {bench.cfg.tablets} tablets, hub idle…"):
            idle = _push_and_collect(bench, leg.pids(), None)
        with console.status(f"fan-out to {bench.cfg.tablets} tablets under {rate:.0f}/s…"):
            loaded = _push_and_collect(bench, leg.pids(), rate)
    finally:
        leg.stop()
    return {"idle": idle, "under_load": loaded}


def _push_and_collect(bench: Bench, hub_pids: list[int], rate: float | None) -> dict[str, Any]:
    load = bench_load()
    cpu = CpuWindow(hub_pids)
    cpu.start()
    duration = bench.cfg.duration_s
    if rate is not None:
        for worker in bench.workers:
            worker.send({"cmd": "blast", "rate": rate / len(bench.workers), "duration": duration})
        time.sleep(duration / 3)
    pushed_at = time.time()
    result = asyncio.run(_push(bench.url))
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
        "targeted": result.targeted,
        "received": len(received),
        "latency_s": summary([t - pushed_at for t in received]),
        "hub_cpu_percent_of_one_core": round(cpu.cpu_percent(), 1),
        **blast,
    }
