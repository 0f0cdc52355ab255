"""Cache reports through a real hub: a manifest with library files is applied only once the
tablet reports them cached, whatever it acknowledged before; repeated download failures
open one download_failed incident; bad reports are rejected and counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from config.settings import Settings
from contract.media import LibraryItem
from devtools import media_samples
from media.blobs import open_blobs
from media.ingest import Upload, from_file, ingest
from store import playlists
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import PahoTablet, TestFleet, eventually, on_store

Conn = psycopg.Connection[tuple[Any, ...]]


async def pushed(
    database_url: str, settings: Settings, fleet: TestFleet, tmp_path: Path
) -> tuple[str, str]:
    """A playlist of one library video assigned to the fleet: (etag, the file's SHA-256)."""
    blobs = open_blobs(settings)
    path = media_samples.video(tmp_path / "v.mp4", seconds=1)
    received = await from_file(path, blobs, settings.media_max_bytes)

    async def work(conn: Any) -> tuple[str, str]:
        media = (await ingest(conn, blobs, received, Upload("default", "test", "v", []))).media
        item = LibraryItem(
            ad_id="ad-v",
            campaign_id="c-v",
            url=f"http://127.0.0.1:1/media/{media.sha256}",
            sha256=media.sha256,
            duration_ms=1000,
            media_id=media.media_id,
            media_version=1,
        )
        result = await playlists.push(
            conn,
            playlists.Target("fleet", fleet.fleet_id),
            [item],
            emergency=False,
            expires_s=None,
            reason="status",
            actor="test",
            refresh_s=300,
        )
        return result.etag, media.sha256

    return await on_store(database_url, work)


def delivery(conn: Conn, tablet_id: str, etag: str) -> tuple[str, str | None] | None:
    row = conn.execute(
        "SELECT status, detail FROM deliveries WHERE tablet_id = %s AND etag = %s",
        (tablet_id, etag),
    ).fetchone()
    return None if row is None else (row[0], row[1])


async def pushed_manifest(tablet: Any, etag: str) -> dict[str, Any]:
    """The pushed manifest as the tablet got it (the empty one, pl-none, may come first: the
    hub publishes it when the new tablet registers)."""
    for _ in range(10):
        for message in await tablet.messages(2):
            body = json.loads(message.payload) if message.topic.endswith("/playlist") else {}
            if body.get("etag") == etag:
                return dict(body)
    raise AssertionError(f"the manifest {etag} never arrived")


def report(cached: list[str], failed: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"v": 1, "cached": cached, "downloading": [], "failed": failed or []}


async def test_applied_waits_for_the_cache_report(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    database_url: str,
    settings: Settings,
    conn: Conn,
    tmp_path: Path,
) -> None:
    fleet = await fleet_factory(tablets=1, offline_after_s=30)
    tablet = fleet.tablet().connect()  # acknowledges every manifest "applied" at once
    try:
        etag, sha = await pushed(database_url, settings, fleet, tmp_path)
        manifest = await pushed_manifest(tablet, etag)
        (item,) = manifest["items"]
        assert (item["media_id"], item["media_version"]) == (item["media_id"], 1)
        assert item["download_url"].startswith(f"http://127.0.0.1:8080/media/{sha}?tablet=")
        assert item["bytes"] > 0
        assert "download_expires_at" in manifest

        waiting = await eventually(lambda: delivery(conn, tablet.tablet_id, etag))
        assert waiting == ("published", "acknowledged; waiting for 1 of 1 media files")
        tablet.publish("media/status", report([]))
        tablet.heartbeat()
        await eventually(
            lambda: (
                conn.execute(
                    "SELECT ready FROM tablet_media WHERE tablet_id = %s", (tablet.tablet_id,)
                ).fetchone()
                == (0,)
            )
        )
        assert delivery(conn, tablet.tablet_id, etag) == waiting

        tablet.publish("media/status", report([sha]))
        await eventually(lambda: delivery(conn, tablet.tablet_id, etag) == ("applied", None))
        row = conn.execute(
            "SELECT applied_etag FROM tablet_state WHERE tablet_id = %s", (tablet.tablet_id,)
        ).fetchone()
        assert row == (etag,)
    finally:
        tablet.close()


def incidents(conn: Conn, tablet_id: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT kind, resolved_at IS NOT NULL FROM incidents WHERE tablet_id = %s",
        (tablet_id,),
    ).fetchall()


async def test_repeated_failures_open_and_resolve_one_incident(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    database_url: str,
    settings: Settings,
    conn: Conn,
    tmp_path: Path,
) -> None:
    fleet = await fleet_factory(tablets=1, offline_after_s=30)
    tablet = PahoTablet(
        fleet.tablet_ids[0], fleet.passwords[fleet.tablet_ids[0]], fleet.host, fleet.port
    ).connect()
    try:
        _, sha = await pushed(database_url, settings, fleet, tmp_path)
        await tablet.messages(10)
        for attempts in (1, 2, 3, 4):
            failure = {"sha256": sha, "attempts": attempts, "error": "HTTP 403"}
            tablet.publish("media/status", report([], [failure]))
        await eventually(lambda: incidents(conn, tablet.tablet_id) == [("download_failed", False)])
        tablet.publish("media/status", report([sha]))
        await eventually(lambda: incidents(conn, tablet.tablet_id) == [("download_failed", True)])
    finally:
        tablet.close()


async def test_bad_reports_are_rejected_and_counted(
    running_hub: RunningHub, fleet_factory: TestFleetFactory
) -> None:
    fleet = await fleet_factory(tablets=1)
    tablet = fleet.tablet().connect()
    hub = running_hub.hub
    assert hub is not None
    try:
        before = hub.metrics.rejected["invalid_payload"]
        tablet.publish("media/status", report(["not-a-digest"]))
        tablet.publish(
            "media/status",
            {
                "v": 1,
                "cached": [],
                "downloading": [{"sha256": "a" * 64, "bytes_done": 9, "bytes_total": 1}],
                "failed": [],
            },
        )
        tablet.publish("media/status", report(["a" * 64] * 1001))
        await eventually(lambda: hub.metrics.rejected["invalid_payload"] - before == 3)
    finally:
        tablet.close()
