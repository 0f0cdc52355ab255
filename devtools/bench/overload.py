"""The overload leg of ``fleethub bench --compare``: offered above capacity, then below it.

A fresh hub (as in the fleethub legs) gets ``2 × capacity`` heartbeats/s (as much as the
simulators can offer up to that) for ``overload_s``, then half its capacity for twice as
long. The hub reads only as fast as it commits (PUBACK after commit, at most ``RECEIVE_MAX``
unacknowledged), so the backlog waits in the broker, bounded by its
``max_queued_messages``. From every heartbeat's publish and commit times the leg reports the
backlog (published − committed) second by second, its peak, the worst latency, how long after
the overload ended every later heartbeat was committed within 1 s again (the target: within
twice the overload's length), and whether every heartbeat the broker acknowledged was stored
exactly once.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psutil
from rich.console import Console

from devtools.bench.stats import CpuWindow, percentile
from store import bench_probes

if TYPE_CHECKING:
    from devtools.bench.compare import Bench
    from devtools.bench.compare_legs import HubLeg

RECOVERED_BELOW_S = 1.0


class RssSampler(threading.Thread):
    """Peak RSS of one process, sampled every half second until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="bench.rss", daemon=True)
        self.pid, self.peak = pid, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                self.peak = max(self.peak, psutil.Process(self.pid).memory_info().rss)
            except psutil.NoSuchProcess:
                return


def run_overload(bench: Bench, capacity: float, console: Console) -> dict[str, Any]:
    cfg = bench.cfg
    assert bench.store is not None
    store = bench.store
    over_rate, calm_rate = 2.0 * capacity, 0.5 * capacity
    leg = bench.hub_leg()
    with console.status("overload: starting a fresh hub…"):
        leg.start()
    try:
        load = bench_load()
        pid = leg.pids()[0]
        rss = RssSampler(pid)
        rss.start()
        cpu = CpuWindow([pid])
        cpu.start()
        since = datetime.now(UTC)
        leg.since = since
        with console.status(f"overload: {over_rate:.0f}/s for {cfg.overload_s:.0f} s…"):
            over = bench.blast(over_rate, cfg.overload_s)
        over_end = datetime.now(UTC)
        with console.status(f"overload: then {calm_rate:.0f}/s for {2 * cfg.overload_s:.0f} s…"):
            calm = bench.blast(calm_rate, 2 * cfg.overload_s)
            sent = over["sent"] + calm["sent"]
            deadline = cfg.drain_timeout_s + 4 * cfg.overload_s
            drained = _wait_delivered(leg, sent, deadline)
        rss.done.set()
        hub_cpu = cpu.cpu_percent()
        times = store.run(lambda c: bench_probes.heartbeat_times(c, since))
        duplicates = store.run(lambda c: bench_probes.heartbeat_duplicates(c, since))
    finally:
        leg.stop()
    return {
        "load_before": load,
        "overload_s": cfg.overload_s,
        "offered_rate_per_s": round(over["sent"] / over["elapsed_s"], 1),
        "then_offered_rate_per_s": round(calm["sent"] / calm["elapsed_s"], 1),
        "sent": sent,
        "send_failed": over["failed"] + calm["failed"],
        "committed": len(times),
        "duplicates": duplicates,
        "drained_in_time": drained,
        "hub_cpu_percent_of_one_core": round(hub_cpu, 1),
        "hub_peak_rss_mib": round(rss.peak / 2**20, 1),
        **timeline(times, since.timestamp(), over_end.timestamp()),
    }


def bench_load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _wait_delivered(leg: HubLeg, sent: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if leg.delivered() >= sent:
            return True
        time.sleep(0.5)
    return False


def timeline(times: list[tuple[float, float]], start: float, over_end: float) -> dict[str, Any]:
    """Backlog and latency second by second from (published, committed) epoch pairs."""
    if not times:
        return {"backlog_peak": None, "latency_s": None, "recovered_after_s": None, "series": []}
    published = sorted(p for p, _ in times)
    committed = sorted(c for _, c in times)
    lags = [c - p for p, c in times]
    end = int(max(committed[-1], published[-1]) - start) + 1
    series = []
    pi = ci = 0
    peak = 0
    for second in range(end + 1):
        at = start + second
        while pi < len(published) and published[pi] <= at:
            pi += 1
        while ci < len(committed) and committed[ci] <= at:
            ci += 1
        peak = max(peak, pi - ci)
        series.append({"t": second, "published": pi, "committed": ci, "backlog": pi - ci})
    late = [p for p, c in times if c - p > RECOVERED_BELOW_S]
    last_late = max(late) if late else None
    recovered = 0.0 if last_late is None else max(0.0, last_late - over_end)
    return {
        "backlog_peak": peak,
        "latency_s": {
            "p50": percentile(lags, 50),
            "p99": percentile(lags, 99),
            "max": max(lags),
        },
        "recovered_after_s": round(recovered, 1),
        "series": series,
    }
