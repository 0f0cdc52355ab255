"""`fleethub bench --actors` on a few tablets: every heartbeat and every pushed tablet comes
back through the actors (the counts), and the report has its figures. Counts only: the
figures are measured by the benchmark, never asserted in tests."""

from __future__ import annotations

import gc

from rich.console import Console

from devtools.bench.actor_cost import actor_cost, print_actor_cost


async def test_a_tiny_actor_cost_run_reports_both_figures() -> None:
    thresholds = gc.get_threshold()
    report = await actor_cost(tablets=20, rounds=2, pushes=2, repeats=2)
    assert report["heartbeats_per_repeat"] == 40
    assert report["pushed_tablets_per_repeat"] == 40
    for key in ("cpu_us_per_heartbeat", "cpu_us_per_pushed_tablet"):
        spread = report[key]
        assert 0 < spread["min"] <= spread["median"] <= spread["max"]
    assert report["gc_thresholds"] == list(thresholds)
    console = Console(record=True, width=120)
    print_actor_cost(report, console)
    assert "CPU per tablet of a push" in console.export_text()
