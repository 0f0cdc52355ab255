"""`fleethub bench --media` end to end on a tiny scale: it runs, every download is verified,
every byte of both curl runs arrives, the upload is stored, and it cleans up.

Counts only: figures are measured by the benchmark itself, never asserted in tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from devtools.bench.media import MediaBenchConfig, run_media_bench


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_tiny_media_bench_delivers_every_byte(tmp_path: Path, database_url: str) -> None:
    cfg = MediaBenchConfig(
        tablets=4, file_mb=1, upload_mib=2, work_dir=tmp_path, database_url=database_url
    )
    report = run_media_bench(cfg, Console(quiet=True))
    size = report["file_bytes"]
    phases = report["phases"]
    assert phases["tablets_via_panel"]["time_to_ready_s"]["count"] == 4  # each one verified
    assert phases["curl_via_panel"]["complete"] == 4
    assert phases["curl_via_http_server"]["complete"] == 4
    assert phases["curl_via_panel"]["bytes"] == 4 * size
    assert report["upload"]["bytes"] >= 2 * 2**20
    assert report["panel_to_http_server_ratio"] > 0
