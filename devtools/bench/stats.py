"""Percentiles and process samples for benchmark reports."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "min": min(values) if values else None,
        "p10": percentile(values, 10),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


@dataclass
class CpuWindow:
    """CPU % (of one core) and peak RSS of some processes over a window."""

    pids: list[int]
    _start_cpu: float = 0.0
    _start_wall: float = 0.0
    peak_rss: int = 0

    def start(self) -> None:
        self._start_cpu = self._cpu()
        self._start_wall = time.monotonic()

    def sample_rss(self) -> None:
        rss = 0
        for pid in self.pids:
            try:
                rss += psutil.Process(pid).memory_info().rss
            except psutil.NoSuchProcess:
                continue
        self.peak_rss = max(self.peak_rss, rss)

    def cpu_percent(self) -> float:
        wall = time.monotonic() - self._start_wall
        return 100.0 * self.cpu_seconds() / wall if wall > 0 else 0.0

    def cpu_seconds(self) -> float:
        """CPU time the processes used since :meth:`start`."""
        return self._cpu() - self._start_cpu

    def _cpu(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        return total
