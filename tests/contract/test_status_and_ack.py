"""docs/mqtt-contract.md: ``status``, presence rules, ``playlist/ack``, and the rules every
device payload shares (unknown fields, times without an offset, string limits)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHub
from tests.contract.conftest import Conn, Tablets, one, rows
from tests.contract.tablet import ContractTablet, now_iso
from tests.helpers import eventually


def state(conn: Conn, tablet_id: str) -> Any:
    return one(conn, "SELECT state FROM tablet_state WHERE tablet_id = %s", tablet_id)


def reasons(conn: Conn, tablet_id: str) -> list[tuple[Any, ...]]:
    sql = "SELECT to_state, reason FROM presence_transitions WHERE tablet_id = %s ORDER BY time"
    return rows(conn, sql, tablet_id)


def rejected(running_hub: RunningHub, category: str = "invalid_payload") -> int:
    assert running_hub.hub is not None
    return running_hub.hub.metrics.rejected[category]


async def handled(conn: Conn, tablet: ContractTablet) -> None:
    """Everything the tablet sent so far was handled: a heartbeat sent after it is stored."""
    boot, seq = tablet.boot_id, tablet.seq
    tablet.heartbeat()
    sql = "SELECT count(*) FROM heartbeats WHERE tablet_id = %s AND boot_id = %s AND seq = %s"
    await eventually(lambda: one(conn, sql, tablet.tablet_id, boot, seq) == 1)


async def test_presence_follows_status_will_and_silence(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    # Silence counts after 6 s: long enough that a busy hub reads the will before it.
    fleet = await tablets.fleet(heartbeat_s=2, offline_after_s=6)
    tid = fleet.tablet_ids[0]
    assert state(conn, tid) in (None, "unknown")  # unknown until first seen
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=()) == 0
    tablet.online()
    await eventually(lambda: state(conn, tid) == "online")
    tablet.drop()  # the broker publishes the will at once
    await eventually(lambda: state(conn, tid) == "offline")
    again = tablets.of(fleet)
    assert again.connect(subscribe=()) == 0
    again.heartbeat()
    await eventually(lambda: state(conn, tid) == "online")
    again.publish("status", {"state": "offline", "ts": now_iso()}, retain=True)
    await eventually(lambda: state(conn, tid) == "offline")
    again.heartbeat()
    await eventually(lambda: state(conn, tid) == "online")
    await eventually(lambda: state(conn, tid) == "offline", timeout=30)  # no heartbeat
    assert reasons(conn, tid) == [
        ("online", "status"),
        ("offline", "will"),
        ("online", "heartbeat"),
        ("offline", "status"),
        ("online", "heartbeat"),
        ("offline", "timeout"),
    ]


@pytest.mark.parametrize(
    "status",
    [
        {"state": "offline", "ts": "2026-11-22T08:00:00"},  # no offset
        {"state": "offline", "ts": "not a time"},
        {"state": "gone"},
        {"state": "offline", "ts": 1700000000},
        {"state": "offline\u0000"},
    ],
    ids=["naive-ts", "bad-ts", "bad-state", "number-ts", "nul"],
)
async def test_a_bad_status_is_rejected_and_changes_nothing(
    running_hub: RunningHub, tablets: Tablets, conn: Conn, status: dict[str, Any]
) -> None:
    """Issue 17, defect 5: a ``ts`` without an offset is rejected like any bad value."""
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=()) == 0
    tablet.online()
    await eventually(lambda: state(conn, tablet.tablet_id) == "online")
    before = rejected(running_hub)
    # Not retained: a retained bad status would be rejected again by every hub that
    # subscribes later (other tests' too), which counts those rejects.
    tablet.publish("status", status)
    await handled(conn, tablet)
    assert rejected(running_hub) == before + 1
    assert state(conn, tablet.tablet_id) == "online"
    assert [r for r in reasons(conn, tablet.tablet_id) if r[0] == "offline"] == []


async def test_a_retained_status_older_than_the_store_knows_is_ignored(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    fleet = await tablets.fleet()
    tid = fleet.tablet_ids[0]
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=()) == 0
    tablet.publish("status", {"state": "offline", "ts": "2020-01-01T00:00:00+00:00"}, retain=True)
    tablet.heartbeat()
    await eventually(lambda: state(conn, tid) == "online")
    await running_hub.restart()  # the hub reads the retained (older) offline status again
    tablet.heartbeat()
    await handled(conn, tablet)
    assert state(conn, tid) == "online"


async def test_unknown_fields_never_reject_a_message(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    """Issue 17, defect 5: one rule for every device payload: the heartbeat keeps its
    unknown top-level fields in ``extra``; anywhere else an unknown field is ignored."""
    fleet = await tablets.fleet()
    tid = fleet.tablet_ids[0]
    tablet = tablets.of(fleet)
    assert tablet.connect() == 0
    manifest = await tablet.manifest()
    before = sum(running_hub.hub.metrics.rejected.values()) if running_hub.hub else 0
    tablet.publish("status", {"state": "online", "ts": now_iso(), "net": "lte"}, retain=True)
    tablet.publish(
        "playlist/ack",
        {"etag": manifest["etag"], "status": "applied", "detail": None, "took_ms": 1200},
    )
    tablet.heartbeat(now_playing={"ad_id": "ad-1", "campaign_id": "c-1", "position_ms": 4000})
    await handled(conn, tablet)
    assert running_hub.hub is not None
    assert sum(running_hub.hub.metrics.rejected.values()) == before
    sql = "SELECT status FROM deliveries WHERE tablet_id = %s AND etag = %s"
    assert one(conn, sql, tid, manifest["etag"]) == "applied"
    sql = "SELECT ad_id, extra FROM heartbeats WHERE tablet_id = %s AND ad_id IS NOT NULL"
    assert rows(conn, sql, tid) == [("ad-1", None)]


@pytest.mark.parametrize(
    "ack",
    [
        {"etag": "e" * 257, "status": "applied", "detail": None},
        {"etag": "e", "status": "applied", "detail": "d" * 1025},
        {"etag": "e", "status": "maybe", "detail": None},
        {"etag": "e", "detail": None},
        {"status": "applied", "detail": None},
        {"etag": 7, "status": "applied", "detail": None},
        {"etag": "e\u0000", "status": "applied", "detail": None},
    ],
    ids=["long-etag", "long-detail", "bad-status", "no-status", "no-etag", "number", "nul"],
)
async def test_a_bad_ack_is_rejected(
    running_hub: RunningHub, tablets: Tablets, conn: Conn, ack: dict[str, Any]
) -> None:
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=()) == 0
    before = rejected(running_hub)
    tablet.publish("playlist/ack", ack)
    await handled(conn, tablet)
    assert rejected(running_hub) == before + 1
    acked = "SELECT count(*) FROM deliveries WHERE tablet_id = %s AND status <> 'published'"
    assert one(conn, acked, tablet.tablet_id) == 0


async def test_an_ack_within_the_limits_and_without_detail_is_taken(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=()) == 0
    tablet.publish("playlist/ack", {"etag": "e" * 256, "status": "failed", "detail": "d" * 1024})
    tablet.publish("playlist/ack", {"etag": "f", "status": "failed"})  # detail may be absent
    await handled(conn, tablet)
    sql = (
        "SELECT etag, status FROM deliveries WHERE tablet_id = %s AND status <> 'published'"
        " ORDER BY etag"
    )
    assert rows(conn, sql, tablet.tablet_id) == [("e" * 256, "failed"), ("f", "failed")]


async def test_over_16_kib_and_not_json_are_rejected_on_every_topic(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=()) == 0
    large, bad_json = rejected(running_hub, "too_large"), rejected(running_hub, "invalid_json")
    pad = "x" * (16 * 1024)
    tablet.publish("status", {"state": "online", "pad": pad})
    tablet.publish("playlist/ack", {"etag": "e", "status": "applied", "pad": pad})
    tablet.publish("status", b"[1, 2")
    tablet.publish("playlist/ack", b"\xff\xfe")
    tablet.publish("status", b'"online"')  # JSON, but not an object
    await handled(conn, tablet)
    assert rejected(running_hub, "too_large") == large + 2
    assert rejected(running_hub, "invalid_json") + rejected(running_hub) >= bad_json + 3
