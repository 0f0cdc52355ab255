"""The blob store: one obstore API over the local disk (``LocalStore``) and any
S3-compatible object store (``S3Store``).

Media are content-addressed: a file is kept once under ``sha256/ab/cd/<digest>``, its
thumbnail under ``thumbnails/ab/<digest>.jpg``, whichever tenant uploaded it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import obstore
from obstore.store import LocalStore, S3Store

from config.errors import ConfigError
from config.settings import Settings

if TYPE_CHECKING:
    from obstore import GetOptions
    from obstore.store import S3Config

CHUNK = 64 * 1024


def blob_key(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def thumbnail_key(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256}.jpg"


class BlobStore:
    """Where media files live. ``local_root`` is the directory of a local store (None on S3)."""

    def __init__(self, store: LocalStore | S3Store, local_root: Path | None, staging: Path):
        self.store = store
        self.local_root = local_root
        self.staging = staging  # incoming uploads, on the store's disk when it is local

    @property
    def signs_urls(self) -> bool:
        """Whether tablets are given pre-signed URLs of the store itself (S3)."""
        return isinstance(self.store, S3Store)

    def staging_file(self) -> Path:
        self.staging.mkdir(parents=True, exist_ok=True)
        return self.staging / f"upload-{uuid.uuid4().hex}"

    async def put_file(self, key: str, path: Path) -> None:
        """Store the local file ``path`` under ``key`` (moved when the store is local)."""
        if self.local_root is not None and path.parent == self.staging:
            await asyncio.to_thread(_move, path, self.local_root / key)  # same disk: no copy
            return
        await obstore.put_async(self.store, key, path)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await obstore.put_async(self.store, key, data)

    async def size(self, key: str) -> int | None:
        """The stored object's size; None when there is none."""
        try:
            meta = await obstore.head_async(self.store, key)
        except FileNotFoundError:
            return None
        return int(meta["size"])

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes ``start``..``end`` (exclusive; None: to the end) of the object, in chunks."""
        options: GetOptions = {"range": {"offset": start} if end is None else (start, end)}
        result = await obstore.get_async(self.store, key, options=options)
        async for chunk in result.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)

    async def read_all(self, key: str) -> bytes:
        result = await obstore.get_async(self.store, key)
        return bytes(await result.bytes_async())

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self.store, key)

    def sweep_staging(self, older_than_s: float = 86_400) -> int:
        """Delete staging files an interrupted process left (older than any upload in progress
        could be); how many. Blocking: run it in a thread."""
        if not self.staging.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        swept = 0
        for path in self.staging.glob("upload-*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    swept += 1
        return swept

    async def signed_url(self, key: str, expires: timedelta) -> str:
        """A pre-signed GET URL of the object (S3 only)."""
        assert isinstance(self.store, S3Store)
        return await obstore.sign_async(self.store, "GET", key, expires)


def open_blobs(settings: Settings, for_tablets: bool = False) -> BlobStore:
    """The media store of the settings (``FLEETHUB_MEDIA_STORE``); ``for_tablets``: an S3
    store signs its URLs for the address tablets reach it at
    (``FLEETHUB_MEDIA_S3_PUBLIC_ENDPOINT``)."""
    url = settings.media_store_url()
    parts = urlsplit(url)
    if parts.scheme == "file":
        root = Path(unquote(parts.path))
        root.mkdir(parents=True, exist_ok=True)
        return BlobStore(LocalStore(root, mkdir=True), root, root / "incoming")
    if parts.scheme == "s3":
        config: S3Config = {"region": settings.media_s3_region}
        endpoint = settings.media_s3_endpoint
        if for_tablets and settings.media_s3_public_endpoint:
            endpoint = settings.media_s3_public_endpoint
        if endpoint:
            config["endpoint"] = endpoint
        if settings.media_s3_access_key_id:
            config["access_key_id"] = settings.media_s3_access_key_id
        if settings.media_s3_secret_access_key:
            config["secret_access_key"] = settings.media_s3_secret_access_key.get_secret_value()
        http = (endpoint or "").startswith("http://")
        store = S3Store.from_url(url, config=config, client_options={"allow_http": http})
        return BlobStore(store, None, settings.var_dir / "media-incoming")
    raise ConfigError(f"FLEETHUB_MEDIA_STORE must be s3://bucket/prefix or file:///path: {url!r}")


def _move(path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
