"""The hub's queue of play batches: bounded in batches and in bytes, the oldest dropped, counted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from config.settings import Settings
from hub.metrics import HubMetrics
from hub.play_ingest import PlayIngest, PlaysIn


def _ingest(**settings: Any) -> tuple[PlayIngest, HubMetrics]:
    metrics = HubMetrics()
    pool: Any = None  # put() never touches the store
    return PlayIngest(pool, metrics, Settings(**settings), lambda _publish: None), metrics


def _batch(n: int, size: int = 100) -> PlaysIn:
    return PlaysIn(f"t-{n}", b"x" * size, datetime.now(UTC))


def test_the_bound_in_batches_comes_from_the_setting_and_overflows_are_counted() -> None:
    ingest, metrics = _ingest(play_queue_max=3)
    for n in range(5):
        ingest.put(_batch(n))
    assert ingest.backlog() == 3
    assert metrics.dropped["plays_queue_overflow"] == 2
    assert [i.tablet_id for i in ingest._queue] == ["t-2", "t-3", "t-4"]  # the oldest went


def test_the_bound_in_bytes_drops_the_oldest_too() -> None:
    ingest, metrics = _ingest(play_queue_max=1_000, play_queue_max_bytes=2_500)
    for n in range(4):
        ingest.put(_batch(n, size=1_000))
    assert ingest.backlog() == 2
    assert metrics.dropped["plays_queue_overflow"] == 2
    assert metrics.as_dict()["dropped"] == {"plays_queue_overflow": 2}


def test_the_defaults_hold_a_minute_and_a_half_of_5000_events_per_second() -> None:
    """285 bytes per event (the bench's events, docs/operations.md): 1.43 MB/s of payload."""
    defaults = Settings()
    seconds = defaults.play_queue_max_bytes / (5_000 * 285)
    assert 90 < seconds < 100
    assert defaults.play_queue_max / (5_000 / 10) >= seconds  # batches of 10 fit too
