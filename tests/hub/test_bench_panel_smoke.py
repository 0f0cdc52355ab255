"""`fleethub bench --panel` on a tiny fleet: the streamed grid arrives whole, every change
reaches the stream once. Counts only: the figures are the benchmark's, never asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from devtools.bench.panel import PanelBenchConfig, run_panel_bench
from devtools.bench.summary import print_panel_summary


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_tiny_panel_bench_gets_every_tile_and_every_change(tmp_path: Path) -> None:
    cfg = PanelBenchConfig(tablets=30, requests=2, changes=4, work_dir=tmp_path)
    report = run_panel_bench(cfg, Console(quiet=True))
    grid = report["grid"]
    assert grid["tiles"] == 30
    assert grid["response_s"]["count"] == grid["first_tile_s"]["count"] == 2
    assert grid["first_response_first_tile_s"] is not None
    stream = report["stream"]
    assert (stream["changed"], stream["missing"], stream["extra"]) == (4, 0, 0)
    printed = Console(record=True, width=200)
    print_panel_summary({**report, "started_at": "test", "machine": _machine()}, printed)
    assert "grid response (first tile)" in printed.export_text()


def _machine() -> dict[str, object]:
    return {"cpus": 2, "memory_gib": 1, "cpu_model": "test", "python": "3"}
