"""Tablets download library files: GET/HEAD /media/{sha256} with a signed, expiring,
per-tablet token; Range, ETag and caching; expired, tampered and foreign requests refused."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

from media.tokens import token_query
from store.revocation import revoke
from tests.helpers import store
from tests.web.conftest import Conn, Tenant, TenantFactory, api_token
from tests.web.media_helpers import Samples, samples, upload
from web.media.access import TTL_S, DownloadAccess

__all__ = ["samples"]  # the fixture


def link(
    panel: TestClient, tenant: Tenant, tablet_id: str, sha256: str, expires_in_s: int = 600
) -> str:
    key: bytes = panel.app.state.media_key  # type: ignore[attr-defined]
    expires = datetime.now(UTC) + timedelta(seconds=expires_in_s)
    return f"/media/{sha256}?{token_query(key, tablet_id, tenant.tenant_id, expires)}"


@pytest.fixture
def uploaded(
    panel: TestClient, tenant_factory: TenantFactory, samples: Samples
) -> tuple[Tenant, str]:
    tenant = tenant_factory()
    status, body = upload(panel, api_token(panel, tenant.admin), samples.mp4, "spot")
    assert status == 201
    return tenant, str(body["sha256"])


def test_the_whole_file_with_etag_and_immutable_caching(
    panel: TestClient, uploaded: tuple[Tenant, str], samples: Samples
) -> None:
    tenant, sha = uploaded
    url = link(panel, tenant, tenant.all_tablets[0], sha)
    response = panel.get(url)
    assert response.status_code == 200
    assert response.content == samples.mp4
    assert hashlib.sha256(response.content).hexdigest() == sha
    assert response.headers["etag"] == f'"{sha}"'
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(samples.mp4)

    head = panel.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(samples.mp4)
    assert head.headers["etag"] == f'"{sha}"'

    again = panel.get(url, headers={"If-None-Match": f'"{sha}"'})
    assert again.status_code == 304
    assert again.content == b""


def test_ranges_resume_a_download(
    panel: TestClient, uploaded: tuple[Tenant, str], samples: Samples
) -> None:
    tenant, sha = uploaded
    url = link(panel, tenant, tenant.all_tablets[0], sha)
    size = len(samples.mp4)
    first = panel.get(url, headers={"Range": "bytes=0-999"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-999/{size}"
    rest = panel.get(url, headers={"Range": "bytes=1000-", "If-Range": f'"{sha}"'})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 1000-{size - 1}/{size}"
    assert first.content + rest.content == samples.mp4

    tail = panel.get(url, headers={"Range": "bytes=-100"})
    assert (tail.status_code, tail.content) == (206, samples.mp4[-100:])
    past = panel.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    # A client holding other content (another validator) gets the whole file.
    stale = panel.get(url, headers={"Range": "bytes=1000-", "If-Range": '"something-else"'})
    assert (stale.status_code, stale.content) == (200, samples.mp4)


def test_expired_tampered_and_missing_tokens_are_403(
    panel: TestClient, uploaded: tuple[Tenant, str]
) -> None:
    tenant, sha = uploaded
    tablet = tenant.all_tablets[0]
    expired = panel.get(link(panel, tenant, tablet, sha, expires_in_s=-1))
    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"]
    good = link(panel, tenant, tablet, sha)
    other_tablet = good.replace(f"tablet={tablet}", f"tablet={tenant.all_tablets[1]}")
    assert panel.get(other_tablet).status_code == 403
    later = good.replace("expires=", "expires=9")
    assert panel.get(later).status_code == 403
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert panel.get(flipped).status_code == 403
    assert panel.get(f"/media/{sha}").status_code == 403
    assert panel.head(f"/media/{sha}").status_code == 403


def test_another_tenants_file_is_404(
    panel: TestClient, uploaded: tuple[Tenant, str], tenant_factory: TenantFactory
) -> None:
    owner, sha = uploaded
    other = tenant_factory()
    stranger = other.all_tablets[0]
    response = panel.get(link(panel, other, stranger, sha))
    assert response.status_code == 404
    assert panel.get(link(panel, other, stranger, "0" * 64)).status_code == 404
    # Naming the owner's tenant in another tenant's link breaks its signature.
    forged = link(panel, other, stranger, sha).replace(
        f"tenant={other.tenant_id}", f"tenant={owner.tenant_id}"
    )
    assert panel.get(forged).status_code == 403


def test_a_revoked_tablet_is_refused(
    panel: TestClient, uploaded: tuple[Tenant, str], conn: Conn
) -> None:
    tenant, sha = uploaded
    tablet = tenant.all_tablets[0]
    url = link(panel, tenant, tablet, sha)
    assert panel.head(url).status_code == 200
    store(conn, lambda aconn: revoke(aconn, tablet, "test", tenant.tenant_id))
    # Within the route's lookup lifetime (web/media/access.py, a few seconds).
    deadline = time.monotonic() + 4 * TTL_S
    while panel.get(url).status_code != 403:
        assert time.monotonic() < deadline, "a revoked tablet could still download"
        time.sleep(0.2)
    assert panel.get(link(panel, tenant, tenant.all_tablets[1], sha)).status_code == 200


def test_a_fleet_downloading_at_once_costs_the_store_one_lookup(
    panel: TestClient, uploaded: tuple[Tenant, str]
) -> None:
    """Once one request looked the file up, the next ones (any tablet of the tenant) need no
    store connection: 500 tablets at once exhausted the pool (503) when each asked it."""
    tenant, sha = uploaded
    urls = [link(panel, tenant, tablet, sha) for tablet in tenant.all_tablets]
    assert panel.head(urls[0]).status_code == 200
    state = panel.app.state  # type: ignore[attr-defined]
    access: DownloadAccess = state.download_access
    away = AsyncConnectionPool("postgresql://127.0.0.1:1/away", open=False)
    kept = state.pool, access._pool
    state.pool = access._pool = away  # every store lookup would now fail
    try:
        for url in urls * 5:
            response = panel.get(url, headers={"Range": "bytes=0-99"})
            assert response.status_code == 206
    finally:
        state.pool, access._pool = kept
