"""Playlist push end to end: desired state in the store → retained manifest → ack."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psycopg

from contract.manifest import EMPTY_PLAYLIST_ID
from contract.payloads import PlaylistItem
from store.playlists import Target, push
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import eventually

Conn = psycopg.Connection[tuple[Any, ...]]

ITEMS = [
    PlaylistItem(
        ad_id="ad-1",
        campaign_id="c-1",
        url="https://cdn.example/ad-1.mp4",
        sha256="a" * 64,
        duration_ms=15000,
    ),
    PlaylistItem(
        ad_id="ad-2",
        campaign_id="c-2",
        url="https://cdn.example/ad-2.mp4",
        sha256="b" * 64,
        duration_ms=30000,
    ),
]


async def manifests(
    tablet: Any, timeout: float = 5.0, empty: bool = False, holding: str | None = None
) -> list[dict[str, Any]]:
    """The manifests that arrive, a repeat of the one before folded as a tablet does (the
    contract: the hub publishes every manifest anew after the broker lost its session, and
    that republish may cross a push), a repeat of the one the tablet is ``holding`` too; the
    empty one (``pl-none``, every tablet's before any push) only with ``empty``."""
    deadline = time.monotonic() + timeout
    got: list[dict[str, Any]] = []
    while not got and time.monotonic() < deadline:
        msgs = await tablet.messages(max(0.05, deadline - time.monotonic()))
        got += [json.loads(m.payload) for m in msgs if m.topic.endswith("/playlist")]
        got = [m for m in got if empty or m["playlist_id"] != EMPTY_PLAYLIST_ID]
        while got and got[0]["etag"] == holding:
            del got[0]
    return [m for i, m in enumerate(got) if i == 0 or got[i - 1]["etag"] != m["etag"]]


def delivery(conn: Conn, tablet_id: str, etag: str) -> str | None:
    row = conn.execute(
        "SELECT status FROM deliveries WHERE tablet_id = %s AND etag = %s", (tablet_id, etag)
    ).fetchone()
    return str(row[0]) if row else None


async def test_push_publishes_retained_manifest_and_ack_is_recorded(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, aconn: AsyncConn
) -> None:
    fleet = await fleet_factory(tablets=2, heartbeat_s=30, offline_after_s=90)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet(0).connect()
    try:
        result = await push(
            aconn,
            Target("fleet", fleet.fleet_id),
            ITEMS,
            emergency=False,
            expires_s=None,
            reason="spring",
            actor="test",
            refresh_s=300,
        )
        assert result.targeted == 2
        got = await manifests(tablet)
        assert [m["etag"] for m in got] == [result.etag]
        manifest = got[0]
        assert manifest["priority"] == "normal"
        assert [i["ad_id"] for i in manifest["items"]] == ["ad-1", "ad-2"]
        assert [i["position"] for i in manifest["items"]] == [0, 1]
        await eventually(lambda: delivery(conn, tid, result.etag) == "applied")
        await eventually(
            lambda: (
                conn.execute(
                    "SELECT applied_etag = desired_etag FROM tablet_state WHERE tablet_id = %s",
                    (tid,),
                ).fetchone()
                == (True,)
            )
        )

        # The same items again: same etag, nothing new published to the tablet.
        again = await push(
            aconn,
            Target("fleet", fleet.fleet_id),
            ITEMS,
            emergency=False,
            expires_s=None,
            reason="spring",
            actor="test",
            refresh_s=300,
        )
        assert again.etag == result.etag
        assert await manifests(tablet, timeout=1.5, holding=result.etag) == []

        # The offline tablet gets the retained manifest when it connects.
        late = fleet.tablet(1).connect()
        assert [m["etag"] for m in await manifests(late)] == [result.etag]
        late.close()
    finally:
        tablet.close()


async def test_emergency_overrides_then_reverts_on_expiry(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, aconn: AsyncConn
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90, cars=True)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet(0).connect()
    try:
        normal = await push(
            aconn,
            Target("tablet", tid),
            ITEMS,
            emergency=False,
            expires_s=None,
            reason=None,
            actor="test",
            refresh_s=300,
        )
        assert [m["etag"] for m in await manifests(tablet)] == [normal.etag]
        car = f"{fleet.fleet_id}-car0"
        urgent = await push(
            aconn,
            Target("car", car),
            ITEMS[:1],
            emergency=True,
            expires_s=2,
            reason="flood warning",
            actor="test",
            refresh_s=300,
        )
        got = await manifests(tablet, holding=normal.etag)
        assert [(m["etag"], m["priority"]) for m in got] == [(urgent.etag, "emergency")]
        assert got[0]["valid_until"] is not None
        await eventually(lambda: delivery(conn, tid, urgent.etag) == "applied")
        await asyncio.sleep(2)
        reverted = await manifests(tablet, holding=urgent.etag)
        assert [m["etag"] for m in reverted] == [normal.etag]
        audit = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'playlist.push' AND target = %s",
            (f"car:{car}",),
        ).fetchone()
        assert audit == (1,)
    finally:
        tablet.close()
