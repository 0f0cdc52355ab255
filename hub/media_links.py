"""The download links of library media in each tablet's manifest (contract/media.py).

For the local store a link is the panel's ``/media/{sha256}`` (or the CDN's, when
``FLEETHUB_MEDIA_CDN_URL`` is set) with the tablet's signed token (media/tokens.py); for an
S3 store it is a pre-signed URL of the object itself. Links live ``media_url_ttl_s``; the
hub publishes every manifest holding library media again at half of that
(``Hub._renew_loop``), so a tablet always holds a valid one. Neither the links nor their
expiry are covered by the etag: a renewal is the same manifest to the tablet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from config.settings import Settings
from contract.manifest import Manifest
from contract.media import Downloads, library_media
from media.blobs import BlobStore, blob_key, open_blobs
from media.tokens import media_key, token_query
from store.media import blob_sizes, tablet_tenants


@dataclass(frozen=True, slots=True)
class Links:
    """What one round of manifests needs: file sizes, pre-signed URLs (S3), the expiry."""

    sizes: dict[str, int]
    signed: dict[str, str]
    expires_at: datetime
    tenants: dict[str, str]  # tablet id -> tenant id (the local store's tokens name it)


class MediaLinks:
    def __init__(self, settings: Settings) -> None:
        self.key = media_key(settings)
        self.ttl = timedelta(seconds=settings.media_url_ttl_s)
        self.base = (settings.media_cdn_url or settings.media_origin()).rstrip("/")
        blobs = open_blobs(settings, for_tablets=True)
        self.blobs: BlobStore | None = blobs if blobs.signs_urls else None

    @property
    def renew_every_s(self) -> float:
        return self.ttl.total_seconds() / 2

    async def prepare(
        self,
        conn: psycopg.AsyncConnection[Any],
        manifests: Iterable[Manifest],
        tablet_ids: list[str],
        now: datetime,
        more_files: Iterable[str] = (),
    ) -> Links:
        """Sizes, signed URLs (S3) and tenants for these manifests' library files and
        ``more_files`` (campaign creatives the tablets' actors may add)."""
        files = sorted({sha for m in manifests for sha in library_media(m)} | set(more_files))
        sizes = await blob_sizes(conn, files) if files else {}
        signed: dict[str, str] = {}
        tenants: dict[str, str] = {}
        if self.blobs is not None:
            for sha in files:
                signed[sha] = await self.blobs.signed_url(blob_key(sha), self.ttl)
        else:
            tenants = await tablet_tenants(conn, tablet_ids)
        return Links(sizes, signed, now + self.ttl, tenants)

    def downloads(self, tablet_id: str, links: Links) -> Downloads:
        """This tablet's links as data (contract/media.py)."""
        if links.signed:
            return Downloads(links.expires_at, links.sizes, signed=links.signed)
        tenant = links.tenants.get(tablet_id, "")
        query = token_query(self.key, tablet_id, tenant, links.expires_at)
        return Downloads(links.expires_at, links.sizes, f"{self.base}/media/", query)

    def encode(
        self, tablet_id: str, manifest: Manifest, links: Links
    ) -> tuple[str, tuple[tuple[str, int], ...]]:
        """The manifest's JSON for this tablet, and its library files (SHA-256, bytes)."""
        return self.downloads(tablet_id, links).encode(manifest)
