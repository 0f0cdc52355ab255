"""Sample media (generated once per session) and helpers for the media library's tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from devtools import media_samples
from tests.web.conftest import Conn


@dataclass(frozen=True)
class Samples:
    mp4: bytes
    mp4_other: bytes  # another video (a new version)
    webm: bytes
    png: bytes
    jpeg: bytes
    webp: bytes
    gif: bytes  # an image type the library refuses
    truncated_mp4: bytes
    junk: bytes


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    directory = tmp_path_factory.mktemp("media")
    mp4 = media_samples.video(directory / "a.mp4", label="a").read_bytes()
    other = media_samples.video(directory / "b.mp4", label="b", colour=(160, 40, 40), seconds=2)
    webm = media_samples.video(directory / "c.webm", container="webm", label="c")
    return Samples(
        mp4=mp4,
        mp4_other=other.read_bytes(),
        webm=webm.read_bytes(),
        png=media_samples.image(fmt="PNG"),
        jpeg=media_samples.image(fmt="JPEG", colour=(20, 160, 20)),
        webp=media_samples.image(fmt="WEBP", colour=(20, 20, 160)),
        gif=media_samples.image(fmt="GIF"),
        truncated_mp4=mp4[: len(mp4) * 2 // 3],
        junk=b"this is not a video at all\n" * 200,
    )


def upload(
    client: TestClient,
    headers: dict[str, str],
    body: bytes,
    name: str = "clip",
    **params: str,
) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/api/v1/media", params={"name": name, **params}, content=body, headers=headers
    )
    return response.status_code, response.json()


def stored_files(root: Path) -> list[Path]:
    """Every file under the media store's directory but the staging area."""
    return sorted(p for p in root.rglob("*") if p.is_file() and "incoming" not in p.parts)


def staging_files(root: Path) -> Iterator[Path]:
    return (p for p in (root / "incoming").rglob("*") if p.is_file())


def media_rows(conn: Conn, tenant_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM media WHERE tenant_id = %s", (tenant_id,)).fetchone()
    assert row is not None
    return int(str(row[0]))
