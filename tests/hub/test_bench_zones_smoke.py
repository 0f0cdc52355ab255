"""`fleethub bench --zones` end to end on a tiny fleet: both runs count every heartbeat, the
tablets drift in and out of the zones and their entries' manifests are measured.

Counts only: figures are measured by the benchmark itself, never asserted in tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from devtools.bench.run import BenchConfig
from devtools.bench.zones import CAMPAIGN, ZoneWatch, grid, index, run_zones_bench


def test_the_grid_is_the_same_everywhere_and_has_gaps() -> None:
    assert grid(200) == grid(200)
    assert len(grid(200)) == 200
    zones = index(200)
    lat, lon = 52.52, 13.405  # the simulated cars' home: the grid's middle
    assert zones.zones_at(lat + 0.001, lon + 0.001)
    assert not zones.zones_at(lat + 0.0045, lon + 0.0045)  # between four squares


def test_an_entry_is_measured_to_the_manifest_that_adds_the_campaign() -> None:
    watch = ZoneWatch(index(200))
    inside, outside = (52.521, 13.406), (52.5245, 13.4095)
    watch.fix("t", *outside, 10.0)
    watch.fix("t", *inside, 11.0)  # entered on one fix
    watch.manifest("t", {"other"}, 10.5)
    watch.manifest("t", {CAMPAIGN}, 11.25)
    assert watch.latencies == [0.25]
    for n in range(3):  # left after three fixes outside
        watch.fix("t", *outside, 12.0 + n)
    watch.manifest("t", {"other"}, 14.5)
    watch.fix("t", *inside, 16.0)
    watch.manifest("t", {CAMPAIGN}, 15.9)  # arrived before the entry was sent: not its answer
    assert watch.latencies == [0.25]
    assert watch.entries == 2
    assert list(watch.entered) == ["t"]  # unanswered


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_tiny_zones_bench_counts_every_message(tmp_path: Path) -> None:
    cfg = BenchConfig(
        tablets=40,
        rate=80,
        duration_s=3,
        heartbeat_interval_s=1,
        offline_after_s=3,
        work_dir=tmp_path,
        only_heartbeats=True,
    )
    report = run_zones_bench(cfg, 20, Console(quiet=True))
    for run in ("without_zones", "with_zones"):
        hb = report[run]["heartbeats"]
        assert hb["send_failed"] == 0
        assert hb["committed"] == hb["sent"] == 240
        assert "offline_detection" not in report[run]
    entries = report["with_zones"]["zone_entries"]
    assert entries["entries"] > 0
    assert entries["latency_s"]["count"] + entries["unanswered"] > 0
    assert "zone_entries" not in report["without_zones"]
