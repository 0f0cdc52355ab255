"""`fleethub bench --plays` end to end on a tiny fleet: it runs, counts right, and cleans up.

Counts only: figures are measured by the benchmark itself, never asserted in tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from devtools.bench.plays import PlaysBenchConfig, run_plays_bench


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_tiny_plays_bench_commits_every_event_once(tmp_path: Path) -> None:
    cfg = PlaysBenchConfig(tablets=20, rate=300, duration_s=3, per_publisher=10, work_dir=tmp_path)
    report = run_plays_bench(cfg, Console(quiet=True))
    assert report["connect"]["tablets"] == 20
    plays = report["plays"]
    assert plays["events_failed"] == plays["puback_failures"] == 0
    assert plays["events_sent"] == 900
    assert plays["committed"] == plays["acked_accepted"] == plays["events_sent"]
    assert plays["batches_acked"] == plays["batches_sent"]
    assert plays["batches_unacked"] == plays["batch_errors"] == 0
    assert plays["acked_duplicate"] == plays["duplicate_rows"] == 0
    assert plays["acked_rejected"] == 0
