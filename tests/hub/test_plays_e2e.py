"""Proof of play end to end: paho tablets → Mosquitto → hub → PostgreSQL → plays/ack."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg

from broker.runner import EmbeddedBroker
from config.settings import Settings
from store.retention import apply_retention
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import PahoTablet, eventually, hub_role_account

Conn = psycopg.Connection[tuple[Any, ...]]


def play(started_at: datetime, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "ad_id": "ad-1",
        "campaign_id": "c-1",
        "playlist_id": "pl-1",
        "playlist_etag": "e" * 32,
        "started_at": started_at.isoformat(),
        "duration_ms": 15_000,
        "result": "completed",
        "lat": 1.3,
        "lon": 103.8,
    }
    base.update(fields)
    return base


def noon(days_ago: int) -> datetime:
    return datetime.combine(datetime.now(UTC).date() - timedelta(days=days_ago), time(12), UTC)


def stored_ids(conn: Conn, tablet_id: str) -> set[str]:
    rows = conn.execute("SELECT event_id FROM plays WHERE tablet_id = %s", (tablet_id,))
    return {str(r[0]) for r in rows.fetchall()}


def daily(conn: Conn, tablet_id: str) -> list[tuple[date, str, str, int, int, int]]:
    rows = conn.execute(
        "SELECT day, campaign_id, fleet_id, plays, completed, duration_ms FROM plays_daily"
        " WHERE tablet_id = %s ORDER BY day, campaign_id",
        (tablet_id,),
    ).fetchall()
    return [(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows]


def statuses(ack: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {e["event_id"]: (e["status"], e["reason"]) for e in ack["events"]}


async def test_a_batch_is_stored_then_acked_and_a_resend_is_all_duplicate(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    hub = running_hub.hub
    assert hub is not None
    fleet = await fleet_factory(tablets=1)
    tid = fleet.tablet_ids[0]
    events = [play(noon(1)), play(noon(1), result="skipped", duration_ms=2_000)]
    tablet = fleet.tablet().connect(online=False)
    try:
        tablet.plays(events, batch_id="b-1")
        ack = await tablet.play_ack()
        assert (ack["accepted"], ack["duplicate"], ack["rejected"]) == (2, 0, 0)
        assert ack["batch_id"] == "b-1"
        assert ack["first_event_id"] == events[0]["event_id"]
        assert statuses(ack) == {e["event_id"]: ("accepted", None) for e in events}
        # Acknowledged only after commit: the rows are there when the ack arrives.
        assert stored_ids(conn, tid) == {e["event_id"] for e in events}
        row = conn.execute(
            "SELECT fleet_id, ad_id, playlist_etag, duration_ms, result, lat,"
            " received_at <= stored_at FROM plays WHERE event_id = %s",
            (events[1]["event_id"],),
        ).fetchone()
        assert row == (fleet.fleet_id, "ad-1", "e" * 32, 2_000, "skipped", 1.3, True)
        rollup = [(noon(1).date(), "c-1", fleet.fleet_id, 2, 1, 17_000)]
        assert daily(conn, tid) == rollup

        tablet.plays(events)  # the tablet missed the ack and sends the batch again
        again = await tablet.play_ack()
        assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 2, 0)
        assert again["batch_id"] is None
        assert daily(conn, tid) == rollup
        assert conn.execute(
            "SELECT count(*) FROM plays WHERE tablet_id = %s", (tid,)
        ).fetchone() == (2,)
        assert hub.metrics.plays_committed >= 2
        assert hub.metrics.plays_duplicate >= 2
        shard = f"% {running_hub.settings.hub_client_id}"
        # The shard's metrics row is written every few seconds: one may predate the commit.
        await eventually(
            lambda: conn.execute(
                "SELECT 1 FROM hub_metrics WHERE shard LIKE %s"
                " AND (counters->>'plays_committed')::bigint >= 2",
                (shard,),
            ).fetchall()
        )
    finally:
        tablet.close()


async def test_invalid_events_are_rejected_with_reasons_and_only_valid_ones_stored(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1)
    tid = fleet.tablet_ids[0]
    now = datetime.now(UTC)
    good = [play(noon(1)), play(now - timedelta(minutes=1), duration_ms=3_600_000)]
    bad = {
        "negative_duration": play(noon(1), duration_ms=-5),
        "duration_over_1h": play(noon(1), duration_ms=3_600_001),
        "started_in_future": play(now + timedelta(minutes=10)),
        "older_than_retention": play(now - timedelta(days=91)),
        "invalid_result": play(noon(1), result="maybe"),
        "invalid_lat": play(noon(1), lat=91.0),
        "invalid_lon": play(noon(1), lon=-181.0),
    }
    tablet = fleet.tablet().connect(online=False)
    try:
        tablet.plays([good[0], *bad.values(), good[1], play(noon(1), event_id="nope")])
        ack = await tablet.play_ack()
        assert (ack["accepted"], ack["duplicate"], ack["rejected"]) == (2, 0, 8)
        by_id = statuses(ack)
        for reason, event in bad.items():
            assert by_id[event["event_id"]] == ("rejected", reason)
        assert by_id["nope"] == ("rejected", "invalid_event_id")
        assert stored_ids(conn, tid) == {e["event_id"] for e in good}
        known = conn.execute(
            "SELECT count(*) FROM play_event_ids WHERE event_id = ANY(%s::uuid[])",
            ([e["event_id"] for e in bad.values()],),
        )
        assert known.fetchone() == (0,)
    finally:
        tablet.close()


async def test_daily_rollup_is_exact_across_days_campaigns_and_resends(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=2)
    tid = fleet.tablet_ids[0]
    first = [
        play(noon(2), campaign_id="c-a", duration_ms=10_000),
        play(noon(2), campaign_id="c-a", duration_ms=5_000, result="interrupted"),
        play(noon(2), campaign_id="c-b", duration_ms=7_000),
        play(noon(1), campaign_id="c-a", duration_ms=1_000, result="error"),
    ]
    second = [
        play(noon(1), campaign_id="c-b", duration_ms=20_000),
        play(noon(1), campaign_id="c-b", duration_ms=30_000),
    ]
    tablet = fleet.tablet().connect(online=False)
    other = fleet.tablet(1).connect(online=False)
    try:
        tablet.plays(first)
        assert (await tablet.play_ack())["accepted"] == 4
        # A resend overlapping the first batch, with new events, and the same events
        # sent by another tablet: only new event ids count, once each.
        tablet.plays([first[0], first[3], *second, second[0]])
        ack = await tablet.play_ack()
        assert (ack["accepted"], ack["duplicate"], ack["rejected"]) == (2, 3, 0)
        other.plays(first)
        assert (await other.play_ack())["duplicate"] == 4
        d2, d1 = noon(2).date(), noon(1).date()
        assert daily(conn, tid) == [
            (d2, "c-a", fleet.fleet_id, 2, 1, 15_000),
            (d2, "c-b", fleet.fleet_id, 1, 1, 7_000),
            (d1, "c-a", fleet.fleet_id, 1, 0, 1_000),
            (d1, "c-b", fleet.fleet_id, 2, 2, 50_000),
        ]
        assert daily(conn, fleet.tablet_ids[1]) == []
        # The rollup equals an aggregate of the raw rows.
        raw = conn.execute(
            "SELECT (started_at AT TIME ZONE 'UTC')::date, campaign_id, fleet_id, count(*),"
            " count(*) FILTER (WHERE result = 'completed'), sum(duration_ms) FROM plays"
            " WHERE tablet_id = %s GROUP BY 1, 2, 3 ORDER BY 1, 2",
            (tid,),
        ).fetchall()
        assert [(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5])) for r in raw] == daily(
            conn, tid
        )
    finally:
        tablet.close()
        other.close()


async def test_malformed_batches_and_unknown_tablets_are_rejected_whole_and_counted(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, broker: EmbeddedBroker
) -> None:
    hub = running_hub.hub
    assert hub is not None
    fleet = await fleet_factory(tablets=1)
    tablet = fleet.tablet().connect(online=False)
    ghost_id, password = hub_role_account(broker, f"ghost-{uuid.uuid4().hex[:8]}")
    ghost = PahoTablet(ghost_id, password, broker.host, broker.port, username=ghost_id)
    ghost.connect(subscribe=False, online=False)
    try:
        tablet.plays(b"{not json")
        assert (await tablet.play_ack())["error"] == "invalid_json"
        tablet.plays([play(noon(1))] * 501)
        too_many = await tablet.play_ack()
        assert (too_many["error"], too_many["events"]) == ("invalid_payload", [])
        ghost.plays([play(noon(1))])
        assert (await ghost.play_ack())["error"] == "unknown_tablet"
        assert hub.metrics.rejected["invalid_json"] >= 1
        assert hub.metrics.rejected["invalid_payload"] >= 1
        assert hub.metrics.rejected["unknown_tablet"] >= 1
        assert stored_ids(conn, ghost.tablet_id) == set()

        good = play(noon(1))  # still ingesting after all that
        tablet.plays([good])
        assert (await tablet.play_ack())["accepted"] == 1
    finally:
        tablet.close()
        ghost.close()


async def test_retention_forgets_old_plays_and_their_ids_but_keeps_the_rollup(
    database_url: str, conn: Conn
) -> None:
    tablet = f"ret-plays-{uuid.uuid4().hex[:8]}"
    old, recent = datetime.now(UTC) - timedelta(days=91), datetime.now(UTC) - timedelta(days=1)
    ids = [uuid.uuid4(), uuid.uuid4()]
    for event_id, at in zip(ids, (old, recent), strict=True):
        conn.execute("INSERT INTO play_event_ids VALUES (%s, %s)", (event_id, at))
        conn.execute(
            "INSERT INTO plays (started_at, event_id, tablet_id, fleet_id, ad_id, campaign_id,"
            " playlist_id, playlist_etag, duration_ms, result, received_at)"
            " VALUES (%s, %s, %s, 'f', 'a', 'c', 'p', 'e', 1, 'completed', %s)",
            (at, event_id, tablet, at),
        )
        conn.execute(
            "INSERT INTO plays_daily VALUES (%s, 'c', %s, 'f', 1, 1, 1)", (at.date(), tablet)
        )
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as aconn:
        await apply_retention(aconn, Settings(play_retention_days=90))
    kept = conn.execute("SELECT event_id FROM plays WHERE tablet_id = %s", (tablet,)).fetchall()
    assert [r[0] for r in kept] == [ids[1]]
    known = conn.execute("SELECT event_id FROM play_event_ids WHERE event_id = ANY(%s)", (ids,))
    assert [r[0] for r in known.fetchall()] == [ids[1]]
    rollup = conn.execute("SELECT count(*) FROM plays_daily WHERE tablet_id = %s", (tablet,))
    assert rollup.fetchone() == (2,)
