"""An upload, from its first byte to a media version in the library.

1. :func:`receive` streams the bytes to a staging file (never the whole file in memory),
   computing the SHA-256 and counting as it goes; past the size limit it stops and
   deletes what it wrote.
2. :func:`ingest` decides what the file is from its content (:mod:`media.probe`), stores
   it once under its content address (a file already stored is not stored again) with its
   thumbnail, then records the media (or its new version) and the audit row in one
   transaction. A refused file leaves nothing behind: no staging file, no blob, no row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import psycopg

from config.errors import HubError
from media.blobs import BlobStore, blob_key, thumbnail_key
from media.probe import MediaRefused, Probed, probe
from store import media as media_store
from store.audit import record

log = logging.getLogger(__name__)
AsyncConn = psycopg.AsyncConnection[tuple[object, ...]]
WRITE_BATCH = 1024 * 1024  # bytes gathered before a write (and hash) in a worker thread


class TooLarge(MediaRefused):
    """Over ``FLEETHUB_MEDIA_MAX_BYTES``."""


class NotInLibrary(HubError):
    """A new version for a media id the tenant does not have."""


def size_refusal(limit: int) -> TooLarge:
    return TooLarge(f"the file is larger than the {_size(limit)} limit")


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True, slots=True)
class Received:
    path: Path
    sha256: str
    bytes: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


async def receive(
    chunks: AsyncIterator[bytes],
    blobs: BlobStore,
    limit: int,
    on_progress: Callable[[int], None] | None = None,
) -> Received:
    """Stream ``chunks`` to a staging file; raise :class:`TooLarge` past ``limit`` bytes.
    ``on_progress`` gets the bytes received so far after each write."""
    path = blobs.staging_file()
    digest = hashlib.sha256()
    total = 0
    pending: list[bytes] = []
    held = 0
    try:
        with path.open("wb") as out:  # written in worker threads below
            async for chunk in chunks:
                total += len(chunk)
                if total > limit:
                    raise size_refusal(limit)
                pending.append(chunk)
                held += len(chunk)
                if held >= WRITE_BATCH:
                    await asyncio.to_thread(_write, out, digest, pending)
                    pending, held = [], 0
                    if on_progress is not None:
                        on_progress(total)
            await asyncio.to_thread(_write, out, digest, pending)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if total == 0:
        path.unlink(missing_ok=True)
        raise MediaRefused("the file is empty")
    return Received(path, digest.hexdigest(), total)


def _write(out: BinaryIO, digest: hashlib._Hash, chunks: list[bytes]) -> None:
    data = b"".join(chunks)
    digest.update(data)
    out.write(data)


async def from_file(
    path: Path, blobs: BlobStore, limit: int, on_progress: Callable[[int], None] | None = None
) -> Received:
    """A local file (the CLI, the demo) received as an upload is."""

    async def chunks() -> AsyncIterator[bytes]:
        with path.open("rb") as f:  # read in worker threads
            while block := await asyncio.to_thread(f.read, WRITE_BATCH):
                yield block

    return await receive(chunks(), blobs, limit, on_progress)


@dataclass(frozen=True, slots=True)
class Upload:
    """Who uploads what into which tenant's library."""

    tenant_id: str
    actor: str
    name: str
    tags: list[str]
    campaign_id: str | None = None
    media_id: str | None = None  # a new version of this media item


@dataclass(frozen=True, slots=True)
class Ingested:
    media: media_store.Media
    created: bool  # False: these bytes were already the tenant's (nothing new stored)


async def ingest(conn: AsyncConn, blobs: BlobStore, received: Received, upload: Upload) -> Ingested:
    """Probe, store and record a received file; the staging file is gone afterwards.

    Raises :class:`MediaRefused` (nothing left behind) or :class:`NotInLibrary`."""
    try:
        probed = await asyncio.to_thread(probe, received.path)
        if upload.media_id is None:
            known = await media_store.by_sha256(conn, upload.tenant_id, received.sha256)
            if known is not None:
                return Ingested(known, created=False)
        stored = await _store(conn, blobs, received, probed)
    finally:
        received.discard()
    try:
        media = await _record(conn, received, probed, upload)
    except BaseException:
        if stored:  # this upload put the file there and nothing records it
            await blobs.delete(blob_key(received.sha256))
            await blobs.delete(thumbnail_key(received.sha256))
        raise
    return Ingested(media, created=True)


async def _store(conn: AsyncConn, blobs: BlobStore, received: Received, probed: Probed) -> bool:
    """Put the file and its thumbnail in the blob store unless they are there; True when
    this call stored them."""
    key = blob_key(received.sha256)
    known = await media_store.blob_size(conn, received.sha256) == received.bytes
    if known and await blobs.size(key) == received.bytes:
        return False
    await blobs.put_bytes(thumbnail_key(received.sha256), probed.thumbnail)
    await blobs.put_file(key, received.path)
    return True


async def _record(
    conn: AsyncConn, received: Received, probed: Probed, upload: Upload
) -> media_store.Media:
    version = media_store.NewVersion(
        received.sha256,
        received.bytes,
        probed.content_type,
        probed.kind,
        probed.codec,
        probed.width,
        probed.height,
        probed.duration_ms,
    )
    tenant = upload.tenant_id
    async with conn.transaction():
        if upload.media_id is None:
            media_id = await media_store.create(
                conn, tenant, upload.name, upload.tags, upload.campaign_id, version, upload.actor
            )
            number = 1
            action = "media.upload"
        else:
            media_id = upload.media_id
            kind = await media_store.lock_kind(conn, tenant, media_id)
            if kind is None:
                raise NotInLibrary(media_id)
            if kind != probed.kind:
                raise MediaRefused(f"a new version of this {kind} must be a {kind} too")
            number = await media_store.add_version(conn, tenant, media_id, version, upload.actor)
            action = "media.version"
        details = {
            "name": upload.name,
            "version": number,
            "sha256": received.sha256,
            "bytes": received.bytes,
            "content_type": probed.content_type,
        }
        await record(conn, tenant, upload.actor, action, f"media:{media_id}", details)
        media = await media_store.one(conn, tenant, media_id)
    assert media is not None
    return media
