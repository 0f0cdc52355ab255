"""`fleethub bench` end to end on a tiny fleet: it runs, counts right, and cleans up.

Counts only: figures are measured by the benchmark itself, never asserted in tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from devtools.bench.run import BenchConfig, run_bench


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_tiny_bench_counts_every_message(tmp_path: Path) -> None:
    cfg = BenchConfig(
        tablets=40,
        rate=80,
        duration_s=2,
        heartbeat_interval_s=1,
        offline_after_s=3,
        resident_actors=200,
        work_dir=tmp_path,
    )
    report = run_bench(cfg, Console(quiet=True))
    assert report["connect"]["tablets"] == 40
    hb = report["heartbeats"]
    assert hb["send_failed"] == 0
    assert hb["committed"] == hb["sent"] == 160
    assert report["offline_detection"]["timeouts_detected"] == 40
    assert report["fanout"]["received"] == report["fanout"]["targeted"] == 40
    assert report["command"]["succeeded"] == report["command"]["targets"] == 40
    assert report["command"]["all_results_stored_s"] is not None
    assert report["resident_actors"]["actors_resident"] == 200


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_tiny_alerts_bench_delivers_each_event_once_and_one_digest(tmp_path: Path) -> None:
    from devtools.bench.alerts import AlertsBenchConfig, run_alerts_bench

    cfg = AlertsBenchConfig(incidents=20, digest_s=1, settle_s=60, work_dir=tmp_path)
    report = run_alerts_bench(cfg, Console(quiet=True))
    assert report["each"]["delivered"] == report["each"]["posts"] == 20
    assert report["digest"]["events"] == 20
    assert report["digest"]["messages"] >= 1
