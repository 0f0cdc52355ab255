"""The HTTP device plan carries library items' download links, signed for the tablet, and
its etag does not move when only the links are renewed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from contract.media import LibraryItem
from store import device_tokens
from store.playlists import Target, push
from tests.helpers import store
from tests.web.conftest import Conn, TenantFactory, api_token
from tests.web.media_helpers import Samples, samples, upload

__all__ = ["samples"]  # the fixture


def test_the_plan_gives_a_tablet_its_download_links(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, samples: Samples
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    tablet = tenant.all_tablets[0]
    _, media = upload(panel, api_token(panel, tenant.admin), samples.mp4, "spot")
    sha = str(media["sha256"])
    item = LibraryItem(
        ad_id="spot",
        campaign_id="c",
        url=f"http://127.0.0.1:8080/media/{sha}",
        sha256=sha,
        duration_ms=3000,
        media_id=str(media["media_id"]),
        media_version=1,
    )
    store(
        conn,
        lambda aconn: push(
            aconn,
            Target("fleet", tenant.fleets[0]),
            [item],
            emergency=False,
            expires_s=None,
            reason="plan",
            actor="test",
            refresh_s=300,
            tenant_id=tenant.tenant_id,
        ),
    )
    token = store(conn, lambda aconn: device_tokens.issue(aconn, tablet, "test"))
    device = {"Authorization": f"Bearer {token}"}
    first = panel.get("/v1/device/plan", headers=device)
    assert first.status_code == 200, first.text
    playlist = first.json()["segments"][-1]["playlist"]
    (planned,) = playlist["items"]
    assert (planned["media_id"], planned["media_version"]) == (media["media_id"], 1)
    assert planned["bytes"] == len(samples.mp4)
    assert playlist["download_expires_at"] is not None
    url = planned["download_url"]
    assert f"tablet={tablet}" in url
    path = url.split("://", 1)[1].split("/", 1)[1]
    fetched = panel.get(f"/{path}")
    assert (fetched.status_code, fetched.content) == (200, samples.mp4)

    etag = first.headers["etag"]
    again = panel.get("/v1/device/plan", headers={**device, "If-None-Match": etag})
    assert again.status_code == 304
