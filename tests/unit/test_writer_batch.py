"""The store writer's pure parts: hour splitting and batching of effects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actors.effects import (
    DeliveryRow,
    HeartbeatRow,
    IncidentEvent,
    Publish,
    Rejected,
    TabletStateRow,
    TransitionRow,
    UptimeSpan,
)
from hub.writer import Batch, split_by_hour

H10 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return H10 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (at(0), at(0), []),
        (at(10), at(5), []),
        (at(0), at(3600), [(H10, 3600.0)]),
        (at(600), at(1200), [(H10, 600.0)]),
        (at(3590), at(3610), [(H10, 10.0), (at(3600), 10.0)]),
        (
            at(1800),
            at(3600 * 3 + 1),
            [(H10, 1800.0), (at(3600), 3600.0), (at(7200), 3600.0), (at(10800), 1.0)],
        ),
        (at(3599.75), at(3600.5), [(H10, 0.25), (at(3600), 0.5)]),
    ],
)
def test_split_by_hour(
    start: datetime, end: datetime, expected: list[tuple[datetime, float]]
) -> None:
    assert split_by_hour(start, end) == expected


def test_split_by_hour_across_midnight_sums_exactly() -> None:
    start = datetime(2024, 12, 31, 23, 17, 3, 250_000, tzinfo=UTC)
    end = datetime(2025, 1, 1, 2, 0, 0, tzinfo=UTC)
    parts = split_by_hour(start, end)
    assert [h for h, _ in parts] == [
        datetime(2024, 12, 31, 23, tzinfo=UTC),
        datetime(2025, 1, 1, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 1, tzinfo=UTC),
    ]
    assert parts[0][1] == 42 * 60 + 56.75
    assert sum(s for _, s in parts) == (end - start).total_seconds()
    assert all(0 < s <= 3600 for _, s in parts)


def state(tablet_id: str, state_: str, since: datetime) -> TabletStateRow:
    return TabletStateRow(
        tablet_id=tablet_id,
        state=state_,  # type: ignore[arg-type]
        state_since=since,
        last_heartbeat_at=since,
        boot_id="b",
        last_seq=1,
        desired_etag=None,
        applied_etag=None,
        uptime_until=since,
        open_incident_id=None,
        battery=None,
        app_version=None,
        ad_id=None,
        campaign_id=None,
    )


def heartbeat_row(tablet_id: str, when: datetime, seq: int) -> HeartbeatRow:
    return HeartbeatRow(
        tablet_id, when, None, seq, "b", None, None, None, None, None, None, None, None, None, None
    )


def test_add_keeps_the_newest_state_per_tablet() -> None:
    batch = Batch()
    batch.add(state("t1", "online", at(0)))
    batch.add(state("t2", "online", at(1)))
    batch.add(state("t1", "offline", at(2)))
    assert batch.states == {"t1": state("t1", "offline", at(2)), "t2": state("t2", "online", at(1))}
    assert len(batch) == 2


def test_add_sums_uptime_per_tablet_and_hour() -> None:
    batch = Batch()
    batch.add(UptimeSpan("t1", at(3500), at(3530)))
    batch.add(UptimeSpan("t1", at(3530), at(3660)))
    batch.add(UptimeSpan("t2", at(0), at(10)))
    assert batch.uptime == {
        ("t1", H10): 100.0,
        ("t1", at(3600)): 60.0,
        ("t2", H10): 10.0,
    }


def test_add_groups_every_effect_by_table() -> None:
    batch = Batch()
    hb = heartbeat_row("t1", at(0), 1)
    tr = TransitionRow(at(0), "t1", "unknown", "online", "heartbeat")
    ev = IncidentEvent("i1", "t1", "f1", "offline", "opened", at(5), at(5), at(0))
    dl = DeliveryRow("t1", "e1", "published", at(1), None)
    for effect in (hb, tr, ev, dl, Publish("x", b"", 1, True), Rejected("t1", "no")):
        batch.add(effect)
    assert list(batch.heartbeats) == [hb]
    assert batch.transitions == [tr]
    assert batch.incidents == [ev]
    assert batch.deliveries == [dl]
    assert len(batch) == 4  # publishes and rejections are not stored by the writer


def test_merge_back_puts_the_failed_batch_first() -> None:
    failed = Batch()
    failed.add(heartbeat_row("t1", at(0), 1))
    failed.add(state("t1", "online", at(0)))
    failed.add(state("t3", "online", at(0)))
    failed.add(UptimeSpan("t1", at(0), at(30)))
    failed.add(TransitionRow(at(0), "t1", "unknown", "online", "heartbeat"))

    newer = Batch()
    newer.add(heartbeat_row("t1", at(30), 2))
    newer.add(state("t1", "offline", at(30)))
    newer.add(state("t2", "online", at(30)))
    newer.add(UptimeSpan("t1", at(30), at(45)))
    newer.add(UptimeSpan("t2", at(3600), at(3610)))
    newer.add(IncidentEvent("i1", "t1", "f1", "offline", "opened", at(40), at(40), at(30)))
    newer.add(DeliveryRow("t1", "e1", "applied", at(41), None))

    failed.merge_back(newer)
    assert [h.seq for h in failed.heartbeats] == [1, 2]
    assert failed.states["t1"].state == "offline"  # the newer state wins
    assert set(failed.states) == {"t1", "t2", "t3"}
    assert failed.uptime == {("t1", H10): 45.0, ("t2", at(3600)): 10.0}
    assert len(failed.transitions) == 1
    assert [i.incident_id for i in failed.incidents] == ["i1"]
    assert [d.status for d in failed.deliveries] == ["applied"]
    assert len(failed) == 2 + 3 + 2 + 1 + 1 + 1


def test_empty_batch_has_no_length() -> None:
    assert len(Batch()) == 0
    batch = Batch()
    batch.merge_back(Batch())
    assert len(batch) == 0
