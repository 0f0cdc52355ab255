"""`fleethub bench --compare` on a tiny fleet: every leg runs, counts right, and cleans up.

Counts only: the figures are the benchmark's, never asserted in tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from devtools.bench.compare import CompareConfig, run_compare
from devtools.bench.compare_summary import print_compare_summary


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_tiny_compare_delivers_every_heartbeat_in_every_leg(tmp_path: Path) -> None:
    cfg = CompareConfig(
        tablets=40,
        rate=80,
        duration_s=2,
        repeats=1,
        per_worker=25,
        overload_s=2,
        work_dir=tmp_path,
    )
    report = run_compare(cfg, Console(quiet=True))
    assert report["simulators"]["processes"] == 2
    assert [leg["leg"] for leg in report["legs"]] == ["limit", "naive", "fleethub"]
    for leg in report["legs"]:
        assert leg["send_failed"] == 0
        assert leg["delivered"] == leg["sent"] == 160, leg["leg"]
        assert leg["drained_in_time"]
        # Measured (psutil's CPU times tick every 10 ms: a tiny leg's consumer may show 0).
        assert leg["consumer_cpu_us_per_message"] is not None
        assert leg["consumer_cpu_us_per_message"] >= 0
    assert set(report["ratios"]) == {"medians", "fleethub_to_limit", "fleethub_to_naive"}
    for part in ("limit", "limit_under_load", "idle", "under_load"):
        assert report["fanout"][part]["received"] == report["fanout"][part]["targeted"] == 40
        assert report["fanout"][part]["latency_s"]["min"] > 0  # this push's own receipts
    etags = {report["fanout"][part]["etag"] for part in report["fanout"]}
    assert len(etags) == 4
    over = report["overload"]
    assert over["committed"] == over["sent"] > 0
    assert over["duplicates"] == 0
    assert over["series"][-1]["backlog"] == 0
    printed = Console(record=True, width=200)
    print_compare_summary(report, printed)
    text = printed.export_text()
    assert "fleethub / limit = " in text
    assert "fleethub / naive = " in text
    assert "CPU per message" in text
    assert text.count("fan-out, ") == 2
    assert "fan-out limit, one publisher, no hub (" in text
    assert "fan-out limit, one publisher, no hub, under the heartbeat load" in text
    assert "× the limit's" in text
    assert "overload: " in text
