"""Content readiness next to acknowledgement: the push and playlist pages count the tablets
holding a manifest's library files ("1 ready · 1 downloading 50 % · 1 failed")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from actors.effects import MediaStateRow
from contract.media import LibraryItem
from store import library
from store.media_state import Readiness, upsert_media_states
from tests.helpers import store
from tests.web.conftest import Conn, TenantFactory, api_token, sign_in
from tests.web.media_helpers import Samples, samples, upload

__all__ = ["samples"]  # the fixture


def test_the_label_names_what_is_not_zero() -> None:
    assert Readiness().label() == "0 ready"
    assert Readiness(ready=47, downloading=2, failed=1, bytes_done=61, bytes_total=100).label() == (
        "47 ready · 2 downloading 61 % · 1 failed"
    )
    assert Readiness(downloading=3, bytes_done=1, bytes_total=3).label() == "3 downloading 33 %"


def test_push_and_playlist_pages_show_readiness(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, samples: Samples
) -> None:
    tenant = tenant_factory(fleets=1, tablets=3)
    headers = api_token(panel, tenant.admin)
    _, media = upload(panel, headers, samples.mp4, "spot")
    item = LibraryItem(
        ad_id="spot",
        campaign_id="c",
        url=f"http://127.0.0.1:8080/media/{media['sha256']}",
        sha256=str(media["sha256"]),
        duration_ms=3000,
        media_id=str(media["media_id"]),
        media_version=1,
    )
    playlist_id, _ = store(
        conn, lambda aconn: library.store_playlist(aconn, tenant.tenant_id, "spots", [item])
    )
    created = panel.post(
        "/api/v1/pushes",
        headers=headers,
        json={"playlist_id": playlist_id, "targets": ["all"], "expires_minutes": 30, "reason": "r"},
    )
    assert created.status_code == 201, created.text
    push = created.json()
    etag = push["push"]["etag"]
    assert push["content"]["ready"] == 0

    t0, t1, t2 = tenant.all_tablets
    now = datetime.now(UTC)
    size = 1000  # the bytes each tablet counts (any: only their sums are shown)
    rows = [
        MediaStateRow(t0, playlist_id, etag, 1, 1, 0, 0, size, size, None, now),
        MediaStateRow(t1, playlist_id, etag, 1, 0, 1, 0, size // 2, size, None, now),
        MediaStateRow(t2, playlist_id, etag, 1, 0, 0, 1, 0, size, "x: HTTP 403 (3 attempts)", now),
    ]

    async def write(aconn: Any) -> None:
        async with aconn.cursor() as cur:
            await upsert_media_states(cur, rows)
        for tablet_id in tenant.all_tablets:  # their desired manifest, as the hub writes it
            await aconn.execute(
                "INSERT INTO tablet_state (tablet_id, desired_etag) VALUES (%s, %s)"
                " ON CONFLICT (tablet_id) DO UPDATE SET desired_etag = excluded.desired_etag",
                (tablet_id, etag),
            )

    store(conn, write)
    label = "1 ready · 1 downloading 50 % · 1 failed"
    read = panel.get(f"/api/v1/pushes/{push['push_id']}", headers=headers).json()
    assert read["content"] == {
        "ready": 1,
        "downloading": 1,
        "failed": 1,
        "unknown": 0,
        "bytes_done": size // 2,
        "bytes_total": size,
    }
    sign_in(panel, tenant.admin)
    assert label in panel.get(f"/push/{push['push_id']}").text
    assert label in panel.get(f"/playlists/{playlist_id}").text
