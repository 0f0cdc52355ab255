"""docs/mqtt-contract.md, "Proof of play": batches from a tablet on paho, answered on
``plays/ack`` after commit."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from tests.conftest import RunningHub
from tests.contract.conftest import Conn, Tablets, one, rows
from tests.contract.tablet import ContractTablet


def play(started_at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    at = started_at or datetime.now(UTC) - timedelta(minutes=5)
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "ad_id": "ad-1",
        "campaign_id": "c-1",
        "playlist_id": "pl-a9e629aa21440988",
        "playlist_etag": "0de49d2fcd2b04d3bc21277eccd2b4e0",
        "started_at": at.isoformat(),
        "duration_ms": 15000,
        "result": "completed",
        "lat": 1.3521,
        "lon": 103.8198,
    }
    body.update(fields)
    return body


async def connected(tablets: Tablets) -> ContractTablet:
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet)
    assert tablet.connect(subscribe=("plays/ack",)) == 0
    return tablet


async def send(tablet: ContractTablet, body: dict[str, Any] | bytes) -> dict[str, Any]:
    tablet.publish("plays", body)
    return await tablet.next_json("plays/ack")


def statuses(ack: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["status"], e["reason"]) for e in ack["events"]]


async def test_a_batch_is_acked_after_commit_and_a_resend_is_duplicate(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    events = [play(), play(result="skipped", lat=None, lon=None)]
    ack = await send(tablet, {"batch_id": "b-77", "events": events})
    assert ack == {
        "accepted": 2,
        "duplicate": 0,
        "rejected": 0,
        "batch_id": "b-77",
        "first_event_id": events[0]["event_id"],
        "events": [
            {"event_id": e["event_id"], "status": "accepted", "reason": None} for e in events
        ],
    }
    # Committed before the ack: the plays are in the store as the ack arrives.
    sql = "SELECT count(*) FROM plays WHERE tablet_id = %s"
    assert one(conn, sql, tablet.tablet_id) == 2
    again = await send(tablet, {"events": [*events, events[0]]})  # no batch_id: null
    assert again["batch_id"] is None
    assert (again["accepted"], again["duplicate"]) == (0, 3)
    assert one(conn, sql, tablet.tablet_id) == 2


async def test_every_event_is_judged_on_its_own(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    now = datetime.now(UTC)
    cases: list[tuple[dict[str, Any], str | None]] = [
        (play(), None),
        (play(event_id="not-a-uuid"), "invalid_event_id"),
        (play(result="paused"), "invalid_result"),
        (play(lat=90.5), "invalid_lat"),
        (play(lon=-181), "invalid_lon"),
        (play() | {"started_at": "2026-11-22T08:00:00"}, "invalid_started_at"),
        (play(ad_id=""), "invalid_ad_id"),
        (play(campaign_id="c" * 129), "invalid_campaign_id"),
        (play(playlist_id=""), "invalid_playlist_id"),
        (play(playlist_etag="e" * 257), "invalid_playlist_etag"),
        (play(ad_id="a\u0000"), "invalid_ad_id"),
        (play(duration_ms="15000"), "invalid_duration_ms"),
        (play(duration_ms=-1), "negative_duration"),
        (play(duration_ms=3_600_001), "duration_over_1h"),
        (play(duration_ms=3_600_000), None),
        (play(duration_ms=0), None),
        (play(now + timedelta(seconds=400)), "started_in_future"),
        (play(now + timedelta(seconds=200)), None),  # within the 300 s clock skew
        (play(now - timedelta(days=91)), "older_than_retention"),
        (play(extra_field={"kept": False}), None),  # unknown fields are ignored
    ]
    ack = await send(tablet, {"events": [c[0] for c in cases]})
    want = [("accepted", None) if r is None else ("rejected", r) for _, r in cases]
    assert statuses(ack) == want
    assert ack["accepted"] == want.count(("accepted", None))
    assert ack["rejected"] == len(cases) - ack["accepted"]
    assert ack["events"][1]["event_id"] == "not-a-uuid"
    assert (
        one(conn, "SELECT count(*) FROM plays WHERE tablet_id = %s", tablet.tablet_id)
        == (ack["accepted"])
    )


async def test_the_daily_rollup_is_keyed_by_the_utc_date(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    tablet = await connected(tablets)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    late = datetime.combine(yesterday, time(23, 30), UTC)
    # 07:10 the next day at +08:00 is 23:10 UTC of yesterday.
    local = (late - timedelta(minutes=20)).astimezone(UTC).replace(tzinfo=None)
    events = [
        play(late, duration_ms=1000),
        play(started_at=None, duration_ms=2000, result="error")
        | {"started_at": (local + timedelta(hours=8)).isoformat() + "+08:00"},
        play(late, campaign_id="c-2", duration_ms=4000),
    ]
    ack = await send(tablet, {"events": events})
    assert ack["accepted"] == 3
    sql = (
        "SELECT day, campaign_id, plays, completed, duration_ms FROM plays_daily"
        " WHERE tablet_id = %s ORDER BY campaign_id"
    )
    assert rows(conn, sql, tablet.tablet_id) == [
        (yesterday, "c-1", 2, 1, 3000),
        (yesterday, "c-2", 1, 1, 4000),
    ]


@pytest.mark.parametrize(
    ("body", "category"),
    [
        (b"{not json", "invalid_json"),
        ({"batch_id": "b-1", "events": []}, "invalid_payload"),
        ({"batch_id": "b-2"}, "invalid_payload"),
        ({"batch_id": "b-3", "events": "all"}, "invalid_payload"),
        ({"batch_id": "b-4", "events": [{}] * 501}, "invalid_payload"),
        ({"batch_id": "b" * 257, "events": [{}]}, "invalid_payload"),
    ],
    ids=["not-json", "empty", "no-events", "events-not-a-list", "501-events", "long-batch-id"],
)
async def test_a_batch_rejected_whole_is_answered_with_its_category(
    running_hub: RunningHub,
    tablets: Tablets,
    conn: Conn,
    body: dict[str, Any] | bytes,
    category: str,
) -> None:
    tablet = await connected(tablets)
    ack = await send(tablet, body)
    assert (ack["accepted"], ack["duplicate"], ack["rejected"], ack["events"]) == (0, 0, 0, [])
    assert ack["error"] == category
    assert isinstance(ack["detail"], str)
    assert ack["detail"]


async def test_a_batch_rejected_whole_names_its_batch_id_and_first_event(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    """Issue 17, defect 2: with several batches in flight, the tablet can tell which one
    was refused: every ack carries the batch's ``batch_id`` and first ``event_id``."""
    tablet = await connected(tablets)
    first = play()
    tablet.publish("plays", {"batch_id": "b-ok", "events": [play()]})
    tablet.publish("plays", {"batch_id": "b-501", "events": [first] + [play()] * 500})
    tablet.publish("plays", {"batch_id": "b-empty", "events": []})
    acks = [await tablet.next_json("plays/ack") for _ in range(3)]
    by_id = {a["batch_id"]: a for a in acks}
    assert set(by_id) == {"b-ok", "b-501", "b-empty"}
    assert by_id["b-501"]["error"] == "invalid_payload"
    assert by_id["b-501"]["first_event_id"] == first["event_id"]
    assert by_id["b-empty"]["first_event_id"] is None
    assert by_id["b-ok"]["accepted"] == 1
    # A batch over 160 KiB but within the broker's packet limit: too_large, with its ids.
    big = [play() for _ in range(400)]
    pad = {"batch_id": "b-big", "events": big, "pad": "x" * (165 * 1024 - len(json.dumps(big)))}
    raw = json.dumps(pad).encode()
    assert 160 * 1024 < len(raw) < 168 * 1024
    ack = await send(tablet, raw)
    assert (ack["error"], ack["batch_id"], ack["first_event_id"]) == (
        "too_large",
        "b-big",
        big[0]["event_id"],
    )


async def test_a_batch_over_the_broker_packet_limit_closes_the_connection(
    running_hub: RunningHub, tablets: Tablets, conn: Conn
) -> None:
    """Issue 17, defect 2: the broker's ``max_packet_size`` (172,032 bytes, the whole
    packet) is the limit before the hub's; a bigger packet gets no ``plays/ack``: the
    broker drops it and closes the tablet's connection (MQTT 5: reason 0x95)."""
    tablet = await connected(tablets)
    body = json.dumps({"batch_id": "b-huge", "events": [play()], "pad": "x" * 200_000})
    tablet.client.publish(tablet.topic("plays"), body.encode(), qos=1)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while tablet.disconnected is None and datetime.now(UTC) < deadline:
        await tablet.quiet("plays/ack", 0.1)
    assert tablet.disconnected is not None
    assert [m for m in tablet.seen if m.topic == tablet.topic("plays/ack")] == []


async def test_an_mqtt5_tablet_is_told_the_packet_limit_at_connect(
    running_hub: RunningHub, tablets: Tablets
) -> None:
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet, mqtt5=True)
    props: list[Any] = []

    def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, p: Any = None) -> None:
        props.append(p)
        tablet.connack = rc

    tablet.client.on_connect = on_connect
    assert tablet.connect(subscribe=()) == 0
    assert props[0].MaximumPacketSize == 172032


async def test_a_plays_ack_waits_at_most_10_minutes_in_the_broker(
    running_hub: RunningHub, tablets: Tablets
) -> None:
    fleet = await tablets.fleet()
    tablet = tablets.of(fleet, mqtt5=True)
    assert tablet.connect(subscribe=("plays/ack",)) == 0
    tablet.publish("plays", {"batch_id": "b-x", "events": [play()]})
    msg = await tablet.next("plays/ack")
    assert msg.qos == 1
    assert not msg.retain
    assert 0 < msg.properties.MessageExpiryInterval <= 600  # type: ignore[union-attr]
