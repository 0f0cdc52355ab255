"""Dayparts: the store's window functions, resolve and next_expiry, and the hub end to end."""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from actors.rules.dayparts import Daypart
from cli.main import app
from config.errors import ConfigError
from contract.manifest import EMPTY_PLAYLIST_ID
from contract.payloads import PlaylistItem
from store.playlists import Target, next_expiry, push, resolve
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import PahoTablet, eventually, store

Conn = psycopg.Connection[tuple[Any, ...]]
AConn = psycopg.AsyncConnection[tuple[Any, ...]]
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


def items(tag: str) -> list[PlaylistItem]:
    return [
        PlaylistItem(
            ad_id=f"ad-{tag}",
            campaign_id=f"c-{tag}",
            url=f"https://cdn.example/{tag}.mp4",
            sha256="e" * 64,
            duration_ms=15_000,
        )
    ]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def active(
    conn: Conn, days: list[int] | None, start: str | None, end: str | None, tz: str, at: datetime
) -> bool:
    row = conn.execute(
        "SELECT fleethub_daypart_active(%s::smallint[], %s::time, %s::time, %s, %s)",
        (days, start, end, tz, at),
    ).fetchone()
    assert row is not None
    return bool(row[0])


def edges(
    conn: Conn,
    days: list[int] | None,
    start: str | None,
    end: str | None,
    tz: str,
    from_at: datetime,
    until_at: datetime,
) -> list[datetime]:
    rows = conn.execute(
        "SELECT * FROM fleethub_daypart_edges(%s::smallint[], %s::time, %s::time, %s, %s, %s)",
        (days, start, end, tz, from_at, until_at),
    ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
async def aconn(database_url: str) -> AsyncIterator[AConn]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
        yield c


# --- the store's functions ------------------------------------------------------------
# 2024-03-06 is a Wednesday (ISO 3); 2024-03-08 a Friday, 2024-03-09 a Saturday.


def test_a_same_day_window_is_half_open_and_keeps_to_its_days(conn: Conn) -> None:
    weekdays = [1, 2, 3, 4, 5]
    assert active(conn, weekdays, "06:00", "10:00", "UTC", utc("2024-03-06T06:00:00"))
    assert active(conn, weekdays, "06:00", "10:00", "UTC", utc("2024-03-06T09:59:59"))
    assert not active(conn, weekdays, "06:00", "10:00", "UTC", utc("2024-03-06T05:59:59"))
    assert not active(conn, weekdays, "06:00", "10:00", "UTC", utc("2024-03-06T10:00:00"))
    assert not active(conn, weekdays, "06:00", "10:00", "UTC", utc("2024-03-09T07:00:00"))
    assert active(conn, None, "06:00", "10:00", "UTC", utc("2024-03-09T07:00:00"))
    assert active(conn, None, None, None, "UTC", utc("2024-03-09T07:00:00"))  # no daypart


def test_an_overnight_window_belongs_to_the_day_it_starts(conn: Conn) -> None:
    friday = [5]
    assert active(conn, friday, "22:00", "02:00", "UTC", utc("2024-03-08T23:00:00"))
    # Saturday 01:00 is Friday night's window; Saturday's own 22:00 is not.
    assert active(conn, friday, "22:00", "02:00", "UTC", utc("2024-03-09T01:00:00"))
    assert not active(conn, friday, "22:00", "02:00", "UTC", utc("2024-03-09T02:00:00"))
    assert not active(conn, friday, "22:00", "02:00", "UTC", utc("2024-03-09T23:00:00"))
    # Friday 01:00 is Thursday night, which is not a chosen day.
    assert not active(conn, friday, "22:00", "02:00", "UTC", utc("2024-03-08T01:00:00"))
    assert not active(conn, friday, "22:00", "02:00", "UTC", utc("2024-03-08T21:59:59"))


def test_all_day_on_chosen_days_runs_midnight_to_midnight(conn: Conn) -> None:
    weekend = [6, 7]
    assert not active(conn, weekend, None, None, "UTC", utc("2024-03-08T23:59:59"))
    assert active(conn, weekend, None, None, "UTC", utc("2024-03-09T00:00:00"))
    assert active(conn, weekend, None, None, "UTC", utc("2024-03-10T23:59:59"))
    assert not active(conn, weekend, None, None, "UTC", utc("2024-03-11T00:00:00"))
    assert edges(
        conn, weekend, None, None, "UTC", utc("2024-03-08T12:00:00"), utc("2024-03-12T00:00:00")
    ) == [utc("2024-03-09T00:00:00"), utc("2024-03-10T00:00:00"), utc("2024-03-11T00:00:00")]
    assert (
        edges(conn, None, None, None, "UTC", utc("2024-03-08T00:00:00"), utc("2024-03-12T00:00:00"))
        == []
    )


def test_windows_are_read_in_the_fleets_timezone(conn: Conn) -> None:
    # Singapore is UTC+8: Thursday 06:30 there is Wednesday 22:30 UTC.
    thursday = [4]
    sg = "Asia/Singapore"
    assert active(conn, thursday, "06:00", "10:00", sg, utc("2024-03-06T22:30:00"))
    assert not active(conn, thursday, "06:00", "10:00", "UTC", utc("2024-03-06T22:30:00"))
    assert not active(conn, thursday, "06:00", "10:00", sg, utc("2024-03-07T02:00:00"))
    assert edges(
        conn, thursday, "06:00", "10:00", sg, utc("2024-03-06T00:00:00"), utc("2024-03-08T00:00:00")
    ) == [utc("2024-03-06T22:00:00"), utc("2024-03-07T02:00:00")]


def test_a_dst_change_moves_the_window_with_the_wall_clock(conn: Conn) -> None:
    # Berlin leaves CET (UTC+1) for CEST (UTC+2) on Sunday 2024-03-31 at 01:00 UTC.
    berlin = "Europe/Berlin"
    assert active(conn, None, "08:00", "09:00", berlin, utc("2024-03-30T07:00:00"))
    assert not active(conn, None, "08:00", "09:00", berlin, utc("2024-03-30T06:30:00"))
    assert active(conn, None, "08:00", "09:00", berlin, utc("2024-03-31T06:00:00"))
    assert not active(conn, None, "08:00", "09:00", berlin, utc("2024-03-31T05:59:59"))
    assert not active(conn, None, "08:00", "09:00", berlin, utc("2024-03-31T07:00:00"))
    assert edges(
        conn, None, "08:00", "09:00", berlin, utc("2024-03-30T00:00:00"), utc("2024-04-01T00:00:00")
    ) == [
        utc("2024-03-30T07:00:00"),
        utc("2024-03-30T08:00:00"),
        utc("2024-03-31T06:00:00"),
        utc("2024-03-31T07:00:00"),
    ]
    # An overnight window across the change: Saturday 22:00 CET to Sunday 02:00 (which does
    # not exist that night: the clock jumps to 03:00 CEST, at 01:00 UTC).
    assert active(conn, [6], "22:00", "02:00", berlin, utc("2024-03-31T00:59:59"))
    assert not active(conn, [6], "22:00", "02:00", berlin, utc("2024-03-31T01:00:00"))


def test_the_sessions_timezone_changes_nothing(conn: Conn) -> None:
    def both() -> tuple[bool, list[datetime]]:
        at = utc("2024-03-31T06:30:00")
        return (
            active(conn, [7], "08:00", "09:00", "Europe/Berlin", at),
            edges(
                conn,
                [7],
                "08:00",
                "09:00",
                "Europe/Berlin",
                at - timedelta(days=2),
                at + timedelta(days=2),
            ),
        )

    expected = (True, [utc("2024-03-31T06:00:00"), utc("2024-03-31T07:00:00")])
    for zone in ("UTC", "America/New_York", "Pacific/Kiritimati", "Asia/Kathmandu"):
        conn.execute("SELECT set_config('TimeZone', %s, false)", (zone,))
        assert both() == expected, zone
    conn.execute("RESET TimeZone")


def test_the_store_refuses_bad_dayparts(conn: Conn, fleet_factory: TestFleetFactory) -> None:
    fleet = asyncio.run(fleet_factory())
    store(
        conn,
        lambda aconn: push(
            aconn,
            Target("fleet", fleet.fleet_id),
            items("ok"),
            emergency=False,
            expires_s=None,
            reason=None,
            actor="test",
            refresh_s=300,
        ),
    )
    bad = [
        ("normal", [8], None, None),
        ("normal", [], None, None),
        ("normal", None, "06:00", None),
        ("normal", None, "06:00", "06:00"),
        ("emergency", [1], None, None),
        ("emergency", None, "06:00", "07:00"),
    ]
    for priority, days, start, end in bad:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "UPDATE playlist_assignments SET priority = %s, daypart_days = %s::smallint[],"
                " daypart_start = %s, daypart_end = %s WHERE target_id = %s",
                (priority, days, start, end, fleet.fleet_id),
            )


def test_push_refuses_a_dayparted_emergency(conn: Conn, fleet_factory: TestFleetFactory) -> None:
    fleet = asyncio.run(fleet_factory())
    with pytest.raises(ConfigError, match="emergency"):
        store(
            conn,
            lambda aconn: push(
                aconn,
                Target("fleet", fleet.fleet_id),
                items("em"),
                emergency=True,
                expires_s=60,
                reason=None,
                actor="test",
                refresh_s=300,
                daypart=Daypart.parse("1-5", "06:00-10:00"),
            ),
        )
    row = conn.execute(
        "SELECT count(*) FROM playlist_assignments WHERE target_id = %s", (fleet.fleet_id,)
    ).fetchone()
    assert row == (0,)


def test_daypart_text_parses_and_labels() -> None:
    assert Daypart.parse("1-5", "06:00-10:00").label() == "Mon–Fri 06:00–10:00"
    assert Daypart.parse("5", "22:00-02:00").label() == "Fri 22:00–02:00 (overnight)"
    assert Daypart.parse("6-7", None).label() == "Sat, Sun, all day"
    assert Daypart.parse("6-2", None).days == (1, 2, 6, 7)
    assert Daypart.parse("1-7", None).always
    for days, between in (
        ("0", None),
        ("1-8", None),
        (None, "06:00"),
        (None, "25:00-26:00"),
        (None, "06:00-06:00"),
    ):
        with pytest.raises(ConfigError):
            Daypart.parse(days, between)


# --- resolve and next_expiry ----------------------------------------------------------


async def test_resolve_picks_the_dayparted_assignment_only_inside_its_window(
    conn: Conn, aconn: AConn, fleet_factory: TestFleetFactory
) -> None:
    fleet = await fleet_factory(timezone="Asia/Singapore")
    tid = fleet.tablet_ids[0]
    until = 200 * 24 * 3600  # over by mid-July 2024: leaves the live assignments alone
    fallback = await push(
        aconn,
        Target("fleet", fleet.fleet_id),
        items("fb"),
        emergency=False,
        expires_s=until,
        reason=None,
        actor="test",
        refresh_s=300,
        now=LONG_AGO,
    )
    # More specific (a tablet) but Mon-Fri 06:00-10:00 Singapore time only.
    morning = await push(
        aconn,
        Target("tablet", tid),
        items("am"),
        emergency=False,
        expires_s=until,
        reason=None,
        actor="test",
        refresh_s=300,
        now=LONG_AGO,
        daypart=Daypart.parse("1-5", "06:00-10:00"),
    )

    async def etag(at: datetime) -> str | None:
        won = await resolve(aconn, 300, [tid], at)
        return won[tid].etag if tid in won else None

    assert await etag(utc("2024-03-06T22:00:00")) == morning.etag  # Thu 06:00 SGT
    assert await etag(utc("2024-03-07T01:59:59")) == morning.etag
    assert await etag(utc("2024-03-07T02:00:00")) == fallback.etag  # Thu 10:00 SGT
    assert await etag(utc("2024-03-06T21:59:59")) == fallback.etag
    assert await etag(utc("2024-03-08T23:00:00")) == fallback.etag  # Sat 07:00 SGT
    # Without a fallback, outside the window nothing is assigned (the empty manifest).
    conn.execute(
        "UPDATE playlist_assignments SET revoked_at = now() WHERE assignment_id = %s",
        (fallback.assignment_id,),
    )
    assert await etag(utc("2024-03-08T23:00:00")) is None
    assert await etag(utc("2024-03-07T00:00:00")) == morning.etag


def local_window(tz: str, opens_in: float, lasts: float) -> tuple[datetime, datetime, Daypart]:
    """A daily window opening ``opens_in`` s from now (whole seconds), in ``tz`` wall time."""
    from zoneinfo import ZoneInfo

    opens = (datetime.now(UTC) + timedelta(seconds=opens_in + 1)).replace(microsecond=0)
    closes = opens + timedelta(seconds=lasts)
    zone = ZoneInfo(tz)
    start: time = opens.astimezone(zone).time()
    end: time = closes.astimezone(zone).time()
    return opens, closes, Daypart.of(None, start, end)


async def test_next_expiry_returns_the_next_window_edge_in_the_fleets_timezone(
    conn: Conn, aconn: AConn, fleet_factory: TestFleetFactory
) -> None:
    fleet = await fleet_factory(timezone="Asia/Singapore", cars=True)
    opens, closes, daypart = local_window("Asia/Singapore", 30, 20)
    car = conn.execute(
        "SELECT car_id FROM tablets WHERE tablet_id = %s", (fleet.tablet_ids[0],)
    ).fetchone()
    assert car is not None
    pushed = await push(
        aconn,
        Target("car", str(car[0])),
        items("car"),
        emergency=False,
        expires_s=None,
        reason=None,
        actor="test",
        refresh_s=300,
        daypart=daypart,
    )
    # Nothing else in the store changes within the next half minute or so, so the next
    # change is this window's opening (read as UTC it would be 8 h off).
    wake = await next_expiry(aconn)
    assert wake == opens, (wake, opens, closes)
    conn.execute(
        "UPDATE playlist_assignments SET revoked_at = now() WHERE assignment_id = %s",
        (pushed.assignment_id,),
    )
    assert await next_expiry(aconn) != opens


# --- end to end -----------------------------------------------------------------------


def drain(tablet: PahoTablet, seen: list[str]) -> list[str]:
    """Append the etags of the manifests received so far to ``seen``, a repeat of the one
    before folded as a tablet does (the hub republishes every manifest after the broker lost
    its session, as at each test hub's start, and that may cross a push)."""
    while True:
        try:
            msg = tablet.received.get_nowait()
        except queue.Empty:
            return seen
        manifest = json.loads(msg.payload) if msg.topic.endswith("/playlist") else None
        if (
            manifest
            and manifest["playlist_id"] != EMPTY_PLAYLIST_ID  # before the push
            and (not seen or seen[-1] != manifest["etag"])
        ):
            seen.append(manifest["etag"])


def published_at(conn: Conn, tablet_id: str, etag: str) -> datetime | None:
    row = conn.execute(
        "SELECT max(published_at) FROM deliveries WHERE tablet_id = %s AND etag = %s",
        (tablet_id, etag),
    ).fetchone()
    return row[0] if row else None


async def test_the_hub_publishes_the_dayparted_playlist_inside_its_window_only(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, aconn: AsyncConn
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet(0).connect()
    seen: list[str] = []
    try:
        fallback = await push(
            aconn,
            Target("fleet", fleet.fleet_id),
            items("all-day"),
            emergency=False,
            expires_s=None,
            reason=None,
            actor="test",
            refresh_s=300,
        )
        await eventually(lambda: drain(tablet, seen) == [fallback.etag])
        opens, closes, daypart = local_window("UTC", 3, 4)
        windowed = await push(
            aconn,
            Target("tablet", tid),
            items("window"),
            emergency=False,
            expires_s=None,
            reason=None,
            actor="test",
            refresh_s=300,
            daypart=daypart,
        )
        await eventually(lambda: drain(tablet, seen)[-1] == windowed.etag, timeout=15)
        assert seen == [fallback.etag, windowed.etag]
        await eventually(lambda: drain(tablet, seen)[-1] == fallback.etag, timeout=15)
        assert seen == [fallback.etag, windowed.etag, fallback.etag]
        opened_at = published_at(conn, tid, windowed.etag)
        assert opened_at is not None
        assert opens <= opened_at < closes
        # The tablet may get the publish before the writer commits its delivery row.
        await eventually(
            lambda: (at := published_at(conn, tid, fallback.etag)) is not None and at >= closes
        )
    finally:
        tablet.close()


# --- the CLI --------------------------------------------------------------------------


def test_cli_playlist_push_takes_days_and_between(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    conn: Conn,
    fleet_factory: TestFleetFactory,
) -> None:
    monkeypatch.setenv("FLEETHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:secret@127.0.0.1:1")
    monkeypatch.setenv("FLEETHUB_VAR_DIR", str(tmp_path))
    fleet = asyncio.run(fleet_factory())
    path = tmp_path / "items.json"
    path.write_text(json.dumps([i.model_dump() for i in items("cli")]))
    base = ["playlist", "push", "--to", f"fleet:{fleet.fleet_id}", "--items", str(path)]
    ok = CliRunner().invoke(app, [*base, "--days", "1-5", "--between", "06:00-10:00"])
    assert ok.exit_code == 0, ok.output
    stored = (
        "SELECT daypart_days, daypart_start, daypart_end FROM playlist_assignments"
        " WHERE target_id = %s"
    )
    assert conn.execute(stored, (fleet.fleet_id,)).fetchall() == [
        ([1, 2, 3, 4, 5], time(6), time(10))
    ]
    for extra, message in (
        (["--between", "06:00"], "invalid time window"),
        (["--days", "mon"], "invalid days"),
        (["--between", "07:00-07:00"], "equals the start time"),
        (["--emergency", "--expires", "1h", "--days", "6-7"], "emergency"),
    ):
        result = CliRunner().invoke(app, [*base, *extra])
        assert result.exit_code != 0
        assert message in str(result.exception) + result.output
    assert len(conn.execute(stored, (fleet.fleet_id,)).fetchall()) == 1
