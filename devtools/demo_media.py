"""The demo's media library (``fleethub up``): a few seconds of generated video (PyAV) and a
few generated images (Pillow), uploaded into the demo tenant's library as the panel would
(media/ingest.py), so that a new user sees thumbnails, downloads and proof of play at once.

Generated once into ``var_dir/demo-media``; uploading the same files again on the next run
stores nothing new (the same bytes are the same media item).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from config.settings import Settings
from contract.media import LibraryItem
from devtools import media_samples
from media.blobs import open_blobs
from media.ingest import Upload, from_file, ingest


@dataclass(frozen=True, slots=True)
class DemoFile:
    name: str
    filename: str
    campaign_id: str
    ad_id: str


FILES = (
    DemoFile("Morning coffee (video)", "coffee.mp4", "camp-morning", "ad-coffee"),
    DemoFile("Bank offer (image)", "bank.png", "camp-finance", "ad-bank"),
    DemoFile("Travel insurance (video)", "travel.webm", "camp-sg", "ad-travel"),
    DemoFile("City guide (image)", "guide.jpg", "camp-sg", "ad-guide"),
)
IMAGE_SHOWS_MS = 5000


def _generate(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "coffee.mp4").exists():
        media_samples.video(
            directory / "coffee.mp4", seconds=6, size=(640, 360), label="Morning coffee"
        )
    if not (directory / "travel.webm").exists():
        media_samples.video(
            directory / "travel.webm",
            seconds=5,
            size=(640, 360),
            colour=(20, 120, 90),
            label="Travel insurance",
            container="webm",
        )
    if not (directory / "bank.png").exists():
        (directory / "bank.png").write_bytes(
            media_samples.image((1280, 720), (30, 60, 150), "Bank offer", "PNG")
        )
    if not (directory / "guide.jpg").exists():
        (directory / "guide.jpg").write_bytes(
            media_samples.image((1280, 720), (200, 140, 20), "City guide", "JPEG")
        )


async def seed_library(
    conn: psycopg.AsyncConnection[tuple[object, ...]], settings: Settings, tenant_id: str
) -> list[LibraryItem]:
    """The demo files in the tenant's library, as playlist items in play order."""
    directory = settings.var_dir / "demo-media"
    _generate(directory)
    blobs = open_blobs(settings)
    origin = settings.media_origin()
    items = []
    for n, demo in enumerate(FILES):
        received = await from_file(directory / demo.filename, blobs, settings.media_max_bytes)
        upload = Upload(tenant_id, "fleethub up", demo.name, ["demo"], demo.campaign_id)
        media = (await ingest(conn, blobs, received, upload)).media
        items.append(
            LibraryItem(
                ad_id=demo.ad_id,
                campaign_id=demo.campaign_id,
                url=f"{origin}/media/{media.sha256}",
                sha256=media.sha256,
                duration_ms=media.duration_ms or IMAGE_SHOWS_MS,
                position=n,
                media_id=media.media_id,
                media_version=media.version,
            )
        )
    return items
