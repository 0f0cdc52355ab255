"""The S3 media store, tested against moto's standalone server (ThreadedMotoServer): a
protocol-level stand-in for S3 (and MinIO) that runs here; no real object store does.

The same obstore API as the local disk: uploads land under the bucket's prefix, content
addressed; the panel's download route streams ranges from the bucket; the hub gives tablets
pre-signed URLs of the objects themselves; a refused file leaves nothing in the bucket.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from config.settings import Settings
from contract.manifest import Manifest
from contract.media import LibraryItem
from hub.media_links import MediaLinks
from media.blobs import blob_key, thumbnail_key
from media.tokens import token_query
from tests.helpers import store
from tests.web.conftest import TenantFactory, api_token
from tests.web.media_helpers import Samples, samples, upload
from web.app import create_app

__all__ = ["samples"]  # the fixture

BUCKET = "fleethub-media"
PREFIX = "tenant-files"


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """moto's S3 on a free loopback port, with the test bucket; its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # moto's
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def objects(endpoint: str) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # moto's
        region_name="us-east-1",
    )
    listed = client.list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture
def s3_settings(panel_settings: Settings, s3: str) -> Settings:
    return panel_settings.model_copy(
        update={
            "media_store": f"s3://{BUCKET}/{PREFIX}",
            "media_s3_endpoint": s3,
            "media_s3_access_key_id": "test",
            "media_s3_secret_access_key": SecretStr("test"),
        }
    )


@pytest.fixture
def s3_panel(s3_settings: Settings, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(s3_settings, database_url)) as client:
        yield client


def test_uploads_downloads_and_presigned_links_on_s3(
    s3_panel: TestClient,
    s3_settings: Settings,
    s3: str,
    tenant_factory: TenantFactory,
    samples: Samples,
    database_url: str,
) -> None:
    tenant = tenant_factory()
    headers = api_token(s3_panel, tenant.admin)
    before = objects(s3)
    status, body = upload(s3_panel, headers, samples.mp4, "on s3")
    assert status == 201, body
    sha = hashlib.sha256(samples.mp4).hexdigest()
    added = set(objects(s3)) - set(before)
    assert added == {f"{PREFIX}/{blob_key(sha)}", f"{PREFIX}/{thumbnail_key(sha)}"}

    # The panel's route streams the object's ranges from the bucket.
    key: bytes = s3_panel.app.state.media_key  # type: ignore[attr-defined]
    expires = datetime.now(UTC) + timedelta(minutes=5)
    query = token_query(key, tenant.all_tablets[0], tenant.tenant_id, expires)
    part = s3_panel.get(f"/media/{sha}?{query}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == samples.mp4[100:200]

    # The hub hands tablets pre-signed URLs of the object itself.
    item = LibraryItem(
        ad_id="a",
        campaign_id="c",
        url=f"http://panel.invalid/media/{sha}",
        sha256=sha,
        duration_ms=1000,
        position=0,
        media_id=str(body["media_id"]),
        media_version=1,
    )
    manifest = Manifest("pl-x", 1, "normal", datetime.now(UTC), None, 300, (item.model_dump(),))
    links = MediaLinks(s3_settings)

    async def prepare(conn: Any) -> Any:
        return await links.prepare(conn, [manifest], [tenant.all_tablets[0]], datetime.now(UTC))

    prepared = store(database_url, prepare)
    body_json, media = links.encode(tenant.all_tablets[0], manifest, prepared)
    assert media == ((sha, len(samples.mp4)),)
    url = prepared.signed[sha]
    assert "X-Amz-Signature=" in url
    assert url in body_json
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - moto on loopback
        assert response.read() == samples.mp4


def test_a_refused_upload_leaves_nothing_in_the_bucket(
    s3_panel: TestClient, s3: str, tenant_factory: TenantFactory, samples: Samples
) -> None:
    headers = api_token(s3_panel, tenant_factory().admin)
    before = objects(s3)
    assert upload(s3_panel, headers, samples.truncated_mp4, "cut")[0] == 422
    assert objects(s3) == before
