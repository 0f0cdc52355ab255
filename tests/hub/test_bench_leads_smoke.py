"""`fleethub bench --leads` end to end with a few leads: each reaches its agent exactly once on
MQTT and on the panel's SSE stream, and everything it started stops.

Counts only: figures are measured by the benchmark itself, never asserted in tests.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from rich.console import Console

from devtools.bench.leads import LeadsBenchConfig, run_leads_bench


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_tiny_leads_bench_delivers_every_lead_once_on_both_channels(tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    report = run_leads_bench(
        LeadsBenchConfig(leads=12, agents=3, rate=20, work_dir=tmp_path), Console(quiet=True)
    )
    for channel in ("mqtt", "sse"):
        assert report[channel]["received"] == 12, report[channel]
        assert report[channel]["missing"] == report[channel]["more_than_once"] == 0
    left = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert not left, f"processes left running: {left}"
