"""Uploading into the media library through the API: types read from the content, metadata,
thumbnails, dedupe, and refusals that leave nothing behind."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from media.blobs import blob_key, thumbnail_key
from store.media import grant_campaigns
from store.users import add_user
from tests.helpers import Conn as AsyncConn
from tests.helpers import store
from tests.web.conftest import PASSWORD, Conn, TenantFactory, api_token, sign_in
from tests.web.media_helpers import (
    Samples,
    media_rows,
    samples,
    staging_files,
    stored_files,
    upload,
)
from web.app import create_app

__all__ = ["samples"]  # the fixture


def media_root(panel: TestClient) -> Path:
    settings: Settings = panel.app.state.settings  # type: ignore[attr-defined]
    return settings.var_dir / "media"


def test_a_video_is_stored_once_with_its_metadata_and_thumbnail(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, samples: Samples
) -> None:
    tenant = tenant_factory()
    headers = api_token(panel, tenant.admin)
    status, body = upload(panel, headers, samples.mp4, "Morning coffee", tags="food, morning")
    assert status == 201, body
    sha = hashlib.sha256(samples.mp4).hexdigest()
    assert body["sha256"] == sha
    assert body["kind"] == "video"
    assert body["content_type"] == "video/mp4"
    assert body["codec"] == "h264"
    assert (body["width"], body["height"], body["duration_ms"]) == (320, 180, 3000)
    assert body["bytes"] == len(samples.mp4)
    assert body["tags"] == ["food", "morning"]
    assert body["version"] == 1
    assert body["created"] is True
    root = media_root(panel)
    assert (root / blob_key(sha)).read_bytes() == samples.mp4
    assert (root / thumbnail_key(sha)).stat().st_size > 0

    # The same bytes again: the same media item, nothing stored twice.
    status, again = upload(panel, headers, samples.mp4, "Coffee again")
    assert status == 200
    assert again["media_id"] == body["media_id"]
    assert again["created"] is False
    assert stored_files(root) == [root / blob_key(sha), root / thumbnail_key(sha)]
    assert media_rows(conn, tenant.tenant_id) == 1
    assert list(staging_files(root)) == []

    # Audited, listed, and its thumbnail shown to the signed-in admin.
    row = conn.execute(
        "SELECT count(*) FROM audit_log WHERE tenant_id = %s AND action = 'media.upload'",
        (tenant.tenant_id,),
    ).fetchone()
    assert row == (1,)
    listed = panel.get("/api/v1/media", headers=headers).json()
    assert [m["media_id"] for m in listed] == [body["media_id"]]
    sign_in(panel, tenant.admin)
    thumb = panel.get(str(body["thumbnail_url"]))
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    ("kind", "content_type", "codec"),
    [
        ("webm", "video/webm", "vp9"),
        ("png", "image/png", "png"),
        ("jpeg", "image/jpeg", "jpeg"),
        ("webp", "image/webp", "webp"),
    ],
)
def test_each_supported_type_is_read_from_the_content(
    panel: TestClient,
    tenant_factory: TenantFactory,
    samples: Samples,
    kind: str,
    content_type: str,
    codec: str,
) -> None:
    headers = api_token(panel, tenant_factory().admin)
    data: bytes = getattr(samples, kind)
    # A misleading name and Content-Type change nothing: the bytes decide.
    headers = {**headers, "Content-Type": "text/plain"}
    status, body = upload(panel, headers, data, "looks-like-a.txt")
    assert status == 201, body
    assert (body["content_type"], body["codec"]) == (content_type, codec)
    if content_type.startswith("image/"):
        assert body["kind"] == "image"
        assert body["duration_ms"] is None
        assert body["play_ms"] == 10_000  # an image's default, changeable by the admin
        assert (body["width"], body["height"]) == (640, 360)
    else:
        assert body["duration_ms"] == 3000


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("junk", "not a readable video or image"),
        ("truncated_mp4", "truncated"),
        ("gif", "GIF images are not supported"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_left_behind(
    panel: TestClient,
    tenant_factory: TenantFactory,
    conn: Conn,
    samples: Samples,
    kind: str,
    reason: str,
) -> None:
    tenant = tenant_factory()
    headers = api_token(panel, tenant.admin)
    status, body = upload(panel, headers, getattr(samples, kind), "bad")
    assert status == 422
    assert reason in str(body["detail"])
    root = media_root(panel)
    assert stored_files(root) == []
    assert list(staging_files(root)) == []
    assert media_rows(conn, tenant.tenant_id) == 0


def test_an_empty_file_is_refused(panel: TestClient, tenant_factory: TenantFactory) -> None:
    headers = api_token(panel, tenant_factory().admin)
    status, body = upload(panel, headers, b"", "empty")
    assert status == 422
    assert body["detail"] == "the file is empty"


@pytest.fixture
def small_panel(
    panel_settings: Settings, database_url: str, samples: Samples
) -> Iterator[TestClient]:
    """A panel whose size limit is below the sample video's size."""
    settings = panel_settings.model_copy(update={"media_max_bytes": len(samples.mp4) - 1})
    with TestClient(create_app(settings, database_url)) as client:
        yield client


def test_an_oversized_file_is_refused_declared_or_streamed(
    small_panel: TestClient, tenant_factory: TenantFactory, conn: Conn, samples: Samples
) -> None:
    tenant = tenant_factory()
    headers = api_token(small_panel, tenant.admin)
    status, body = upload(small_panel, headers, samples.mp4, "big")
    assert status == 413
    assert "larger than" in str(body["detail"])

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off once past the limit
        for start in range(0, len(samples.mp4), 1000):
            yield samples.mp4[start : start + 1000]

    response = small_panel.post(
        "/api/v1/media", params={"name": "big"}, content=chunks(), headers=headers
    )
    assert response.status_code == 413
    root = media_root(small_panel)
    assert stored_files(root) == []
    assert list(staging_files(root)) == []
    assert media_rows(conn, tenant.tenant_id) == 0


def test_a_new_version_keeps_the_media_and_its_history(
    panel: TestClient, tenant_factory: TenantFactory, samples: Samples
) -> None:
    headers = api_token(panel, tenant_factory().admin)
    _, first = upload(panel, headers, samples.mp4, "Spot")
    media_id = first["media_id"]
    response = panel.post(
        f"/api/v1/media/{media_id}/versions", content=samples.mp4_other, headers=headers
    )
    assert response.status_code == 201, response.text
    second = response.json()["media"]
    assert (second["media_id"], second["version"]) == (media_id, 2)
    assert second["duration_ms"] == 2000
    assert second["sha256"] == hashlib.sha256(samples.mp4_other).hexdigest()
    detail = panel.get(f"/api/v1/media/{media_id}", headers=headers).json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["versions"][1]["sha256"] == first["sha256"]

    # An image cannot become a video's next version.
    refused = panel.post(f"/api/v1/media/{media_id}/versions", content=samples.png, headers=headers)
    assert refused.status_code == 422
    assert "must be a video" in refused.json()["detail"]
    assert panel.get(f"/api/v1/media/{media_id}", headers=headers).json()["media"]["version"] == 2


def test_image_duration_and_details_can_be_changed(
    panel: TestClient, tenant_factory: TenantFactory, samples: Samples
) -> None:
    headers = api_token(panel, tenant_factory().admin)
    _, image = upload(panel, headers, samples.png, "Poster")
    response = panel.patch(
        f"/api/v1/media/{image['media_id']}",
        json={"name": "Poster (red)", "tags": ["sale"], "image_duration_ms": 7500},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["tags"], body["play_ms"]) == ("Poster (red)", ["sale"], 7500)


def test_storage_counts_each_file_once(
    panel: TestClient, tenant_factory: TenantFactory, samples: Samples
) -> None:
    headers = api_token(panel, tenant_factory().admin)
    upload(panel, headers, samples.mp4, "a")
    upload(panel, headers, samples.png, "b")
    upload(panel, headers, samples.mp4, "a again")
    used = panel.get("/api/v1/media/storage", headers=headers).json()
    assert used["files"] == 2
    assert used["bytes"] == len(samples.mp4) + len(samples.png)


def test_another_tenants_media_are_404(
    panel: TestClient, tenant_factory: TenantFactory, samples: Samples
) -> None:
    first, second = tenant_factory(), tenant_factory()
    _, mine = upload(panel, api_token(panel, first.admin), samples.mp4, "mine")
    theirs = api_token(panel, second.admin)
    assert panel.get(f"/api/v1/media/{mine['media_id']}", headers=theirs).status_code == 404
    assert panel.get("/api/v1/media", headers=theirs).json() == []
    replaced = panel.post(
        f"/api/v1/media/{mine['media_id']}/versions", content=samples.png, headers=theirs
    )
    assert replaced.status_code == 404
    sign_in(panel, second.admin)
    assert panel.get(f"/library/{mine['media_id']}").status_code == 404
    assert panel.get(str(mine["thumbnail_url"])).status_code == 404
    assert panel.get(f"/library/files/{mine['sha256']}").status_code == 404
    # The same bytes uploaded by the second tenant are its own media item.
    status, own = upload(panel, theirs, samples.mp4, "same bytes")
    assert status == 201
    assert own["media_id"] != mine["media_id"]


def test_fleet_owners_have_no_library(
    panel: TestClient, tenant_factory: TenantFactory, samples: Samples
) -> None:
    tenant = tenant_factory()
    headers = api_token(panel, tenant.owner)
    assert upload(panel, headers, samples.png)[0] == 403
    assert panel.get("/api/v1/media", headers=headers).status_code == 403


def test_advertisers_upload_to_their_own_campaigns_only(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, samples: Samples
) -> None:
    tenant = tenant_factory()
    email = f"ads-{tenant.tenant_id}@example.com"

    async def add(aconn: AsyncConn) -> None:
        user_id = await add_user(
            aconn,
            tenant_id=tenant.tenant_id,
            email=email,
            name="Advertiser",
            role="advertiser",
            password=PASSWORD,
            fleets=[],
            actor="test",
        )
        await grant_campaigns(aconn, user_id, ["c-mine", "c-also-mine"])

    store(conn, add)
    ads = api_token(panel, email)
    status, body = upload(panel, ads, samples.png, "no campaign named")
    assert status == 403
    assert "c-also-mine, c-mine" in str(body["detail"])
    assert upload(panel, ads, samples.png, "theirs", campaign_id="c-other")[0] == 403
    status, mine = upload(panel, ads, samples.png, "mine", campaign_id="c-mine")
    assert status == 201
    assert mine["campaign_id"] == "c-mine"

    admin = api_token(panel, tenant.admin)
    _, untagged = upload(panel, admin, samples.jpeg, "the admin's")
    assert [m["media_id"] for m in panel.get("/api/v1/media", headers=ads).json()] == [
        mine["media_id"]
    ]
    assert panel.get(f"/api/v1/media/{untagged['media_id']}", headers=ads).status_code == 404
    assert len(panel.get("/api/v1/media", headers=admin).json()) == 2


def test_staging_files_a_crash_left_are_swept_at_start(
    panel_settings: Settings, database_url: str
) -> None:
    incoming = panel_settings.var_dir / "media" / "incoming"
    incoming.mkdir(parents=True)
    stale, fresh = incoming / "upload-stale", incoming / "upload-fresh"
    stale.write_bytes(b"half an upload")
    fresh.write_bytes(b"an upload in progress")
    day_ago = time.time() - 2 * 86_400
    os.utime(stale, (day_ago, day_ago))
    with TestClient(create_app(panel_settings, database_url)):
        assert not stale.exists()
        assert fresh.exists()
