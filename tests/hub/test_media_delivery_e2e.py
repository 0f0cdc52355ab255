"""Library media end to end: a real hub publishes manifests with signed download links, a
`fleethub web` process serves the files, simulated tablets download them (resuming an
interrupted download with Range), verify them, report their cache, acknowledge, play the
loop and send proof of play; a new version of a file reaches them as a new manifest."""

from __future__ import annotations

import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
import pytest
from pydantic import SecretStr

from broker.processes import Child, free_port
from config.settings import Settings
from contract.media import LibraryItem
from devtools import media_samples
from devtools.simulator import ContentConfig, SimFleet
from media.blobs import open_blobs
from media.ingest import Upload, from_file, ingest
from store import playlists
from store.users import add_user
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import TestFleet, eventually, on_store
from tests.web.conftest import PASSWORD

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass
class Panel:
    url: str
    settings: Settings  # as the panel process reads them


@pytest.fixture
def panel_process(database_url: str, tmp_path: Path) -> Iterator[Panel]:
    """`fleethub web` with its own media store, sharing the test's secret key with the hub."""
    var = tmp_path / "panel"
    port = free_port()
    key = secrets.token_urlsafe(40)
    settings = Settings(var_dir=var, secret_key=SecretStr(key), web_port=port)
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_VAR_DIR": str(var),
        "FLEETHUB_WEB_PORT": str(port),
        "FLEETHUB_WEB_HOST": "127.0.0.1",
        "FLEETHUB_SECRET_KEY": key,
        "FLEETHUB_WEB_PUSH_SENDER": "false",
    }
    var.mkdir()
    child = Child("web", [sys.executable, "-m", "cli.main", "web"], var / "web.log", env=env)
    try:
        child.wait_port("127.0.0.1", port)
        yield Panel(f"http://127.0.0.1:{port}", settings)
    finally:
        child.stop()


@pytest.fixture
async def media_hub(
    settings: Settings, database_url: str, hub_mqtt: Any, panel_process: Panel
) -> AsyncIterator[RunningHub]:
    """A hub whose manifests send tablets to the panel process for their files."""
    hub_settings = settings.model_copy(
        update={
            "secret_key": panel_process.settings.secret_key,
            "media_base_url": panel_process.url,
        }
    )
    running = RunningHub(hub_settings, database_url, hub_mqtt)
    await running.start()
    yield running
    await running.stop()


async def library_file(database_url: str, panel: Panel, path: Path, name: str) -> LibraryItem:
    """Upload a file into the default tenant's library as the panel would."""
    blobs = open_blobs(panel.settings)
    received = await from_file(path, blobs, panel.settings.media_max_bytes)

    async def add(conn: Any) -> Any:
        return await ingest(conn, blobs, received, Upload("default", "test", name, []))

    media = (await on_store(database_url, add)).media
    return LibraryItem(
        ad_id=f"ad-{name}",
        campaign_id="camp-media",
        url=f"{panel.url}/media/{media.sha256}",
        sha256=media.sha256,
        duration_ms=media.play_ms,
        media_id=media.media_id,
        media_version=media.version,
    )


def credentials(fleet: TestFleet) -> list[tuple[str, str | None]]:
    return [(t, fleet.passwords[t]) for t in fleet.tablet_ids]


def applied(conn: Conn, fleet: TestFleet, etag: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM deliveries WHERE tablet_id = ANY(%s) AND etag = %s"
        " AND status = 'applied'",
        (fleet.tablet_ids, etag),
    ).fetchone()
    return row is not None and row[0] == len(fleet.tablet_ids)


def readiness(conn: Conn, tablet_id: str) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT etag, total, ready, downloading, failed, bytes_done, bytes_total"
        " FROM tablet_media WHERE tablet_id = %s",
        (tablet_id,),
    ).fetchone()


def plays_of(conn: Conn, fleet: TestFleet) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT tablet_id, ad_id, campaign_id, playlist_etag FROM plays WHERE tablet_id = ANY(%s)",
        (fleet.tablet_ids,),
    ).fetchall()


async def test_tablets_download_verify_play_and_prove_it(
    media_hub: RunningHub,
    panel_process: Panel,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
    tmp_path: Path,
) -> None:
    fleet = await fleet_factory(tablets=2, offline_after_s=30)
    video = media_samples.video(tmp_path / "v.mp4", seconds=2, label="spot")
    poster = tmp_path / "p.png"
    poster.write_bytes(media_samples.image(fmt="PNG"))
    items = [
        await library_file(database_url, panel_process, video, "spot"),
        (await library_file(database_url, panel_process, poster, "poster")).model_copy(
            update={"duration_ms": 1000}
        ),
    ]

    async def push(conn: Any) -> playlists.PushResult:
        return await playlists.push(
            conn,
            playlists.Target("fleet", fleet.fleet_id),
            list(items),
            emergency=False,
            expires_s=None,
            reason="media e2e",
            actor="test",
            refresh_s=300,
            name="Media e2e",
        )

    content = ContentConfig(
        speed=4, batch_every_s=0.5, report_every_s=1, retry_backoff_s=(0.1, 0.5)
    )
    sim = SimFleet(credentials(fleet), host=fleet.host, port=fleet.port, content=content)
    first = sim.tablet(fleet.tablet_ids[0]).content
    assert first is not None
    first.interrupt_after = 1000  # its first attempt at each file breaks off: Range resumes it
    async with sim.running():
        result = await on_store(database_url, push)
        await eventually(lambda: applied(conn, fleet, result.etag), timeout=30)
        for tablet_id in fleet.tablet_ids:
            state = readiness(conn, tablet_id)
            assert state is not None
            etag, total, ready, downloading, failed, done, size = state
            assert (etag, total, ready, downloading, failed) == (result.etag, 2, 2, 0, 0)
            assert done == size == video.stat().st_size + poster.stat().st_size
        assert sim.stats.downloads_verified == 4
        assert sim.stats.downloads_resumed >= 2
        assert sim.stats.downloads_failed >= 2  # the interruptions, each resumed

        await eventually(lambda: len(plays_of(conn, fleet)) >= 4, 30)
        played = plays_of(conn, fleet)
        assert {p[1] for p in played} <= {"ad-spot", "ad-poster"}
        assert {p[3] for p in played} == {result.etag}
        await eventually(lambda: sim.stats.play_batches_acked >= 1)


async def test_a_new_version_reaches_the_tablets_as_a_new_manifest(
    media_hub: RunningHub,
    panel_process: Panel,
    fleet_factory: TestFleetFactory,
    database_url: str,
    conn: Conn,
    tmp_path: Path,
) -> None:
    fleet = await fleet_factory(tablets=1, offline_after_s=30)
    item = await library_file(
        database_url, panel_process, media_samples.video(tmp_path / "v1.mp4", label="v1"), "clip"
    )
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"

    async def setup(conn: Any) -> playlists.PushResult:
        await add_user(
            conn,
            tenant_id="default",
            email=email,
            name="Media admin",
            role="admin",
            password=PASSWORD,
            fleets=[],
            actor="test",
        )
        return await playlists.push(
            conn,
            playlists.Target("fleet", fleet.fleet_id),
            [item],
            emergency=False,
            expires_s=None,
            reason="versions",
            actor="test",
            refresh_s=300,
            name="Versions",
        )

    content = ContentConfig(speed=4, batch_every_s=0.5, report_every_s=1)
    sim = SimFleet(credentials(fleet), host=fleet.host, port=fleet.port, content=content)
    received: list[Any] = []
    sim_tablet = sim.tablet(fleet.tablet_ids[0])
    sim_tablet.on_playlist = lambda tablet_id, manifest, at: received.append(manifest)
    async with sim.running():
        first = await on_store(database_url, setup)
        await eventually(lambda: applied(conn, fleet, first.etag), timeout=30)

        newer = media_samples.video(tmp_path / "v2.mp4", label="v2", colour=(150, 20, 20))
        async with httpx.AsyncClient(base_url=panel_process.url, timeout=30) as client:
            token = await client.post(
                "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            response = await client.post(
                f"/api/v1/media/{item.media_id}/versions",
                params={"update_playlists": "true"},
                content=newer.read_bytes(),
                headers=headers,
            )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["media"]["version"] == 2
        (moved,) = body["playlists_updated"]
        assert moved["assignments_moved"] == 1

        def new_etag() -> str | None:
            row = conn.execute(
                "SELECT applied_etag FROM tablet_state WHERE tablet_id = %s", (fleet.tablet_ids[0],)
            ).fetchone()
            return row[0] if row and row[0] not in (None, first.etag) else None

        etag = await eventually(new_etag, timeout=30)
        latest = received[-1]
        assert latest.etag == etag
        (library_item,) = latest.items
        assert (library_item.media_id, library_item.media_version) == (item.media_id, 2)
        assert library_item.sha256 == body["media"]["sha256"]
        assert sim_tablet.content is not None
        assert body["media"]["sha256"] in sim_tablet.content.cached
