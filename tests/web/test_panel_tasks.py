"""The panel's long-lived tasks are supervised: one that fails is logged, counted, restarted."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Conn

LONG_LIVED = {
    "web.store_gate",
    "web.feed",
    "web.broker",
    "web.lead_feed",
    "web.lead_notices",
    "web.push_sender",
}


def test_the_lifespan_tasks_are_named_and_tracked(panel: TestClient) -> None:
    tasks = panel.app.state.tasks  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while tasks.running() != LONG_LIVED:  # the tile cache warm-up is a one-shot job
        assert time.monotonic() < deadline, tasks.running()
        time.sleep(0.05)


def test_the_change_feed_survives_a_notification_it_cannot_read(
    panel: TestClient, conn: Conn, caplog: pytest.LogCaptureFixture
) -> None:
    """A malformed alert notification raised out of the feed's LISTEN loop: with a bare
    create_task the live grid then stopped updating for good, silently."""
    tasks = panel.app.state.tasks  # type: ignore[attr-defined]
    feed = panel.app.state.feed  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while tasks.restarts["web.feed"] < 1:  # sent again until the feed's LISTEN is up
        conn.execute("NOTIFY fleethub_alerts, 'not json'")
        assert time.monotonic() < deadline, tasks.restarts
        time.sleep(0.2)
    while "web.feed" not in tasks.running():
        assert time.monotonic() < deadline, tasks.running()
        time.sleep(0.05)
    assert any(r.name == "web.live.tasks" and r.exc_info for r in caplog.records)
    caplog.clear()  # the logged traceback is what this test expects
    assert feed is panel.app.state.feed  # type: ignore[attr-defined]
