"""The HTTP device API: device tokens, proof of play over HTTP, and the playout plan."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

from actors.rules.dayparts import Daypart
from contract.payloads import PlaylistItem
from store import device_tokens
from store.playlists import PushResult, Target, empty_manifest, push, resolve
from tests.helpers import store
from tests.web.conftest import Conn, TenantFactory
from web.device.plan import playout_plan

Headers = dict[str, str]
Device = tuple[str, Headers]  # tablet id, its Authorization header
DeviceFactory = Callable[[], Device]


def items(tag: str) -> list[PlaylistItem]:
    return [
        PlaylistItem(
            ad_id=f"ad-{tag}",
            campaign_id=f"c-{tag}",
            url=f"https://cdn.example/{tag}.mp4",
            sha256="cd" * 32,
            duration_ms=15_000,
        )
    ]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def device_factory(conn: Conn, tenant_factory: TenantFactory) -> DeviceFactory:
    """A tablet of a new tenant (one fleet, one tablet) with a device token."""

    def make() -> Device:
        tablet_id = tenant_factory(fleets=1, tablets=1).all_tablets[0]
        return tablet_id, bearer(
            store(conn, lambda aconn: device_tokens.issue(aconn, tablet_id, "test"))
        )

    return make


def to(conn: Conn, tablet_id: str, target: str, tag: str, **kw: Any) -> PushResult:
    """Push a playlist to ``target`` (tablet, car or fleet of ``tablet_id``), in its tenant."""
    row = conn.execute(
        "SELECT t.fleet_id, t.car_id, f.tenant_id FROM tablets t"
        " JOIN fleets f USING (fleet_id) WHERE tablet_id = %s",
        (tablet_id,),
    ).fetchone()
    assert row is not None
    fleet_id, car_id, tenant_id = (str(v) for v in row)
    ident = {"tablet": tablet_id, "car": car_id, "fleet": fleet_id}[target]
    options: dict[str, Any] = {"emergency": False, "expires_s": None, **kw}
    return store(
        conn,
        lambda aconn: push(
            aconn,
            Target(target, ident),
            items(tag),
            reason=tag,
            actor="test",
            refresh_s=300,
            tenant_id=tenant_id,
            **options,
        ),
    )


def event(**over: Any) -> dict[str, Any]:
    started = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "event_id": str(uuid.uuid4()),
        "ad_id": "ad-1",
        "campaign_id": "c-1",
        "playlist_id": "pl-a9e629aa21440988",
        "playlist_etag": "0de49d2f",
        "started_at": started.isoformat(),
        "duration_ms": 15_000,
        "result": "completed",
        "lat": 1.35,
        "lon": 103.8,
        **over,
    }


def stored(conn: Conn, tablet_id: str) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM plays WHERE tablet_id = %(t)s),"
        " (SELECT array_agg((day, campaign_id, plays, completed, duration_ms)::text ORDER BY day)"
        "  FROM plays_daily WHERE tablet_id = %(t)s)",
        {"t": tablet_id},
    ).fetchone()
    assert row is not None
    return row


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# --- tokens ---------------------------------------------------------------------------


def test_a_live_token_of_a_live_tablet_is_required(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    tablet_id, headers = device_factory()
    assert panel.get("/v1/device/plan", headers=headers).status_code == 200
    for wrong in (
        {},
        bearer("fht_not-a-token"),
        {"Authorization": "Basic dGFiOnB3"},
        {"Authorization": headers["Authorization"] + "x"},
    ):
        for response in (
            panel.get("/v1/device/plan", headers=wrong),
            panel.post("/v1/device/events", headers=wrong, json={"events": [event()]}),
        ):
            assert response.status_code == 401, (wrong, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert stored(conn, tablet_id)[0] == 0

    store(conn, lambda aconn: device_tokens.revoke(aconn, tablet_id, "test"))
    assert panel.get("/v1/device/plan", headers=headers).status_code == 401

    fresh = bearer(store(conn, lambda aconn: device_tokens.issue(aconn, tablet_id, "test")))
    assert panel.get("/v1/device/plan", headers=fresh).status_code == 200
    conn.execute("UPDATE tablets SET revoked_at = now() WHERE tablet_id = %s", (tablet_id,))
    revoked = panel.get("/v1/device/plan", headers=fresh)
    assert revoked.status_code == 401
    assert revoked.headers["www-authenticate"] == "Bearer"


# --- proof of play ----------------------------------------------------------------------


def test_a_batch_is_stored_once_and_a_resent_batch_is_all_duplicate(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    tablet_id, headers = device_factory()
    events = [event(), event(result="skipped", duration_ms=2_000), event(campaign_id="c-2")]
    batch = {"batch_id": "b-1", "events": events}
    first = panel.post("/v1/device/events", headers=headers, json=batch)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 0, 0)
    assert body["batch_id"] == "b-1"
    assert body["first_event_id"] == events[0]["event_id"]
    assert body["events"] == [
        {"event_id": e["event_id"], "status": "accepted", "reason": None} for e in events
    ]
    count, daily = stored(conn, tablet_id)
    assert count == 3
    assert daily is not None
    assert len(daily) == 2  # two campaigns, one UTC day
    assert conn.execute(
        "SELECT DISTINCT fleet_id FROM plays WHERE tablet_id = %s", (tablet_id,)
    ).fetchall() == [(tablet_id.rsplit("-t", 1)[0],)]

    again = panel.post("/v1/device/events", headers=headers, json=batch)
    assert again.status_code == 200
    body = again.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (0, 3, 0)
    assert {e["status"] for e in body["events"]} == {"duplicate"}
    assert stored(conn, tablet_id) == (count, daily)


def test_bad_durations_are_rejected_event_by_event(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    tablet_id, headers = device_factory()
    good, negative, long = event(), event(duration_ms=-1), event(duration_ms=3_600_001)
    response = panel.post(
        "/v1/device/events", headers=headers, json={"events": [good, negative, long]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 0, 2)
    assert [(e["event_id"], e["status"], e["reason"]) for e in body["events"]] == [
        (good["event_id"], "accepted", None),
        (negative["event_id"], "rejected", "negative_duration"),
        (long["event_id"], "rejected", "duration_over_1h"),
    ]
    assert conn.execute(
        "SELECT event_id::text FROM plays WHERE tablet_id = %s", (tablet_id,)
    ).fetchall() == [(good["event_id"],)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"batch_id": "b"}', "events"),
        (b'{"events": []}', "events"),
        (b'{"events": "nope"}', "events"),
        (b"[1, 2]", "should be an object"),
        (json.dumps({"events": [1] * 501}).encode(), "at most 500"),
    ],
)
def test_a_malformed_batch_is_422_and_stores_nothing(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory, body: bytes, message: str
) -> None:
    tablet_id, headers = device_factory()
    response = panel.post(
        "/v1/device/events", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert stored(conn, tablet_id) == (0, None)


def test_a_nul_character_rejects_only_its_event(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    """U+0000, which the store's text columns refuse, is refused at validation (issue #18):
    that event is rejected with its reason, the others are stored."""
    tablet_id, headers = device_factory()
    response = panel.post(
        "/v1/device/events",
        headers=headers,
        json={"events": [event(), event(ad_id="nul\u0000byte")]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["events"][1]["reason"] == "invalid_ad_id"
    assert stored(conn, tablet_id)[0] == 1


def test_a_batch_over_the_size_limit_is_413(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    tablet_id, headers = device_factory()
    big = {"events": [event(playlist_etag="e" * 256) for _ in range(400)]}
    raw = json.dumps(big).encode()
    assert len(raw) > 160 * 1024
    response = panel.post(
        "/v1/device/events", content=raw, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert "larger than 163840 bytes" in response.json()["detail"]

    def chunks() -> Any:  # no Content-Length: the limit holds while reading
        for n in range(0, len(raw), 8192):
            yield raw[n : n + 8192]

    chunked = panel.post(
        "/v1/device/events",
        content=chunks(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413, chunked.text
    assert stored(conn, tablet_id) == (0, None)


# --- the plan ---------------------------------------------------------------------------


def get_plan(client: TestClient, headers: Headers, **extra: str) -> Any:
    response = client.get("/v1/device/plan", headers={**headers, **extra})
    assert response.status_code == 200, response.text
    return response


def assert_covers_72h(plan: dict[str, Any], since: datetime) -> None:
    """Contiguous, non-empty segments from at most ``since`` to at least 72 h later."""
    segments = plan["segments"]
    starts = [at(s["from"]) or datetime.min.replace(tzinfo=UTC) for s in segments]
    ends = [at(s["until"]) or datetime.max.replace(tzinfo=UTC) for s in segments]
    assert starts[0] <= since
    assert ends[-1] >= since + timedelta(hours=72)
    assert starts[1:] == ends[:-1]
    assert all(start < end for start, end in zip(starts, ends, strict=True))


def test_an_emergency_with_expiry_is_followed_by_the_schedule(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    tablet_id, headers = device_factory()
    empty = get_plan(panel, headers).json()
    assert [s["playlist"]["playlist_id"] for s in empty["segments"]] == ["pl-none"]
    assert empty["segments"][0]["playlist"]["items"] == []

    scheduled = to(conn, tablet_id, "fleet", "scheduled")
    t0 = datetime.now(UTC)
    emergency = to(conn, tablet_id, "car", "storm", emergency=True, expires_s=3600, now=t0)
    plan = get_plan(panel, headers).json()
    assert plan["tablet_id"] == tablet_id
    assert_covers_72h(plan, datetime.now(UTC))
    assert [
        (
            at(s["from"]),
            at(s["until"]),
            s["playlist"]["playlist_id"],
            s["playlist"]["priority"],
            s["playlist"]["etag"],
        )
        for s in plan["segments"]
    ] == [
        (t0, t0 + timedelta(hours=1), emergency.playlist_id, "emergency", emergency.etag),
        (t0 + timedelta(hours=1), None, scheduled.playlist_id, "normal", scheduled.etag),
    ]
    assert plan["segments"][0]["playlist"]["items"] == [
        {**items("storm")[0].model_dump(), "position": 0}
    ]


def test_future_windows_cut_the_plan_and_the_horizon_bounds_it(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    tablet_id, headers = device_factory()
    t0 = datetime.now(UTC)
    scheduled = to(conn, tablet_id, "fleet", "base", now=t0 - timedelta(days=1))
    soon = to(
        conn,
        tablet_id,
        "tablet",
        "soon",
        emergency=True,
        expires_s=7200,
        now=t0 + timedelta(hours=5),
    )
    to(
        conn,
        tablet_id,
        "tablet",
        "later",
        emergency=True,
        expires_s=600,
        now=t0 + timedelta(hours=100),
    )
    plan = get_plan(panel, headers).json()
    assert_covers_72h(plan, datetime.now(UTC))
    got = [(at(s["from"]), at(s["until"]), s["playlist"]["playlist_id"]) for s in plan["segments"]]
    assert got == [
        (t0 - timedelta(days=1), t0 + timedelta(hours=5), scheduled.playlist_id),
        (t0 + timedelta(hours=5), t0 + timedelta(hours=7), soon.playlist_id),
        (t0 + timedelta(hours=7), t0 + timedelta(hours=100), scheduled.playlist_id),
    ]


def test_the_etag_is_stable_and_moves_with_the_assignments(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    tablet_id, headers = device_factory()
    to(conn, tablet_id, "fleet", "etag-base")
    first, second = get_plan(panel, headers), get_plan(panel, headers)
    etag = first.headers["etag"]
    assert len(etag) == 34
    assert etag[0] == etag[-1] == '"'
    assert second.headers["etag"] == etag
    a, b = first.json(), second.json()
    assert {**a, "generated_at": None} == {**b, "generated_at": None}

    cached = panel.get("/v1/device/plan", headers={**headers, "If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert (
        panel.get(
            "/v1/device/plan", headers={**headers, "If-None-Match": f'"other", W/{etag}'}
        ).status_code
        == 304
    )
    assert (
        panel.get("/v1/device/plan", headers={**headers, "If-None-Match": '"other"'}).status_code
        == 200
    )

    newer = to(conn, tablet_id, "tablet", "etag-newer")
    changed = panel.get("/v1/device/plan", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["segments"][-1]["playlist"]["etag"] == newer.etag


def test_a_token_sees_only_its_own_tablet(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory, tenant_factory: TenantFactory
) -> None:
    mine, my_headers = device_factory()
    theirs, their_headers = device_factory()
    neighbour = tenant_factory(fleets=1, tablets=1).all_tablets[0]  # same kind, no token
    my_push = to(conn, mine, "tablet", "mine")
    their_push = to(conn, theirs, "tablet", "theirs")
    to(conn, neighbour, "fleet", "neighbour")

    mine_plan = get_plan(panel, my_headers)
    assert mine_plan.json()["tablet_id"] == mine
    assert my_push.playlist_id in mine_plan.text
    for other in (theirs, their_push.playlist_id, neighbour):
        assert other not in mine_plan.text
    their_plan = get_plan(panel, their_headers)
    assert their_plan.json()["tablet_id"] == theirs
    assert my_push.playlist_id not in their_plan.text
    assert mine_plan.headers["etag"] != their_plan.headers["etag"]

    response = panel.post("/v1/device/events", headers=my_headers, json={"events": [event()]})
    assert response.json()["accepted"] == 1
    assert stored(conn, mine)[0] == 1
    assert stored(conn, theirs)[0] == 0


# --- dayparts in the plan -------------------------------------------------------------


def local_edges(
    tz: str, start: time, end: time, since: datetime, until: datetime
) -> list[datetime]:
    """Every day's window edges (same-day window) as UTC instants in ``(since, until)``."""
    zone = ZoneInfo(tz)
    first = since.astimezone(zone).date() - timedelta(days=1)
    out = []
    for n in range((until - since).days + 3):
        day = first + timedelta(days=n)
        for wall in (start, end):
            edge = datetime.combine(day, wall, zone).astimezone(UTC)
            if since < edge < until:
                out.append(edge)
    return sorted(out)


def resolved_etag(database_url: str, tablet_id: str, when: datetime) -> str:
    """What the hub would publish to the tablet at ``when``."""

    async def run() -> str:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
            won = await resolve(c, 300, [tablet_id], when)
        return won[tablet_id].etag if tablet_id in won else empty_manifest(300).etag

    return asyncio.run(run())


def in_zone(conn: Conn, tablet_id: str, tz: str) -> None:
    conn.execute(
        "UPDATE fleets SET timezone = %s WHERE fleet_id ="
        " (SELECT fleet_id FROM tablets WHERE tablet_id = %s)",
        (tz, tablet_id),
    )


def assert_segments_match_resolve(
    database_url: str, tablet_id: str, plan: dict[str, Any], now: datetime
) -> None:
    for s in plan["segments"]:
        start = at(s["from"]) or now
        end = at(s["until"]) or start + timedelta(hours=1)
        for instant in (
            max(start, now - timedelta(days=7)),
            start + (end - start) / 2,
            end - timedelta(seconds=1),
        ):
            assert resolved_etag(database_url, tablet_id, instant) == s["playlist"]["etag"], (
                instant,
                s,
            )


def test_daypart_edges_cut_the_plan_in_the_fleets_local_time(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory, database_url: str
) -> None:
    tablet_id, headers = device_factory()
    in_zone(conn, tablet_id, "Europe/Berlin")
    t0 = datetime.now(UTC)
    base = to(conn, tablet_id, "fleet", "dp-base", now=t0 - timedelta(days=10))
    morning = to(
        conn,
        tablet_id,
        "tablet",
        "dp-morning",
        now=t0 - timedelta(days=10),
        daypart=Daypart.of(None, time(6), time(10)),
    )
    plan = get_plan(panel, headers).json()
    now = datetime.now(UTC)
    assert_covers_72h(plan, now)
    segments = plan["segments"]
    expected = local_edges("Europe/Berlin", time(6), time(10), t0, t0 + timedelta(hours=72))
    cuts = [at(s["from"]) for s in segments[1:]]
    assert cuts == expected
    assert (
        at(segments[-1]["until"])
        == local_edges(
            "Europe/Berlin", time(6), time(10), t0 + timedelta(hours=72), t0 + timedelta(days=4)
        )[0]
    )
    # The first segment starts at the last edge before now (not at now, not 10 days ago).
    last = local_edges("Europe/Berlin", time(6), time(10), t0 - timedelta(days=2), t0)[-1]
    assert at(segments[0]["from"]) == last
    assert {s["playlist"]["etag"] for s in segments} == {base.etag, morning.etag}
    assert_segments_match_resolve(database_url, tablet_id, plan, now)


async def test_a_plan_across_the_march_dst_change(
    conn: Conn, device_factory: DeviceFactory, database_url: str
) -> None:
    tablet_id, _ = device_factory()
    in_zone(conn, tablet_id, "Europe/Berlin")
    start = datetime(2024, 3, 1, tzinfo=UTC)
    keep = 60 * 24 * 3600  # over by the end of April 2024: not live any more
    base = to(conn, tablet_id, "fleet", "dst-base", now=start, expires_s=keep)
    # Saturdays and Sundays 08:00-09:00 Berlin time: CET on the 30th, CEST on the 31st.
    weekend = to(
        conn,
        tablet_id,
        "car",
        "dst-weekend",
        now=start,
        expires_s=keep,
        daypart=Daypart.of([6, 7], time(8), time(9)),
    )
    now = datetime(2024, 3, 29, 12, tzinfo=UTC)
    async with AsyncConnectionPool(database_url, open=False, kwargs={"autocommit": True}) as pool:
        plan = await playout_plan(pool, tablet_id, 300, now)
    got = [(s.from_, s.playlist.etag) for s in plan.segments]
    assert got == [
        (datetime(2024, 3, 24, 8, tzinfo=UTC), base.etag),  # the last edge: Sun 09:00 CET
        (datetime(2024, 3, 30, 7, tzinfo=UTC), weekend.etag),
        (datetime(2024, 3, 30, 8, tzinfo=UTC), base.etag),
        (datetime(2024, 3, 31, 6, tzinfo=UTC), weekend.etag),
        (datetime(2024, 3, 31, 7, tzinfo=UTC), base.etag),
    ]
    assert plan.segments[-1].until == datetime(2024, 4, 6, 6, tzinfo=UTC)  # Sat 08:00 CEST
    for s in plan.segments:
        assert s.from_ is not None
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
            won = await resolve(c, 300, [tablet_id], s.from_ + timedelta(minutes=30))
        assert won[tablet_id].etag == s.playlist.etag


def test_the_plan_etag_is_stable_with_dayparts_and_moves_when_one_is_edited(
    panel: TestClient, conn: Conn, device_factory: DeviceFactory
) -> None:
    tablet_id, headers = device_factory()
    in_zone(conn, tablet_id, "Asia/Singapore")
    t0 = datetime.now(UTC) - timedelta(days=3)
    to(conn, tablet_id, "fleet", "st-base", now=t0)
    windowed = to(
        conn, tablet_id, "tablet", "st-window", now=t0, daypart=Daypart.parse("1-5", "06:00-10:00")
    )
    first = get_plan(panel, headers)
    etag = first.headers["etag"]
    second = get_plan(panel, headers)
    assert second.headers["etag"] == etag
    assert (
        panel.get("/v1/device/plan", headers={**headers, "If-None-Match": etag}).status_code == 304
    )
    conn.execute(
        "UPDATE playlist_assignments SET daypart_end = '11:00' WHERE assignment_id = %s",
        (windowed.assignment_id,),
    )
    edited = get_plan(panel, headers)
    assert edited.headers["etag"] != etag
    ends = {
        at(s["until"]).astimezone(ZoneInfo("Asia/Singapore")).time()  # type: ignore[union-attr]
        for s in edited.json()["segments"][:-1]
        if s["playlist"]["etag"] == windowed.etag
    }
    assert ends == {time(11)}
