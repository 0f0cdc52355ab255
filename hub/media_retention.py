"""The hub's hourly collection of unreferenced media (store/media_retention.py) and of old
screenshots (store/screenshots.py): rows first, in one transaction, then the files nothing
holds any more from the blob store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from psycopg_pool import AsyncConnectionPool

from config.settings import Settings
from media.blobs import blob_key, open_blobs, thumbnail_key
from media.screenshots import screenshot_key
from store import screenshots
from store.media_retention import collect

log = logging.getLogger(__name__)


async def collect_media(pool: AsyncConnectionPool, settings: Settings) -> int:
    """Collect what is past ``media_retention_days``; the files deleted."""
    keep = timedelta(days=settings.media_retention_days)
    async with pool.connection() as conn:
        media, files = await collect(conn, keep)
    await _delete_files(settings, files, lambda sha: (blob_key(sha), thumbnail_key(sha)), "media")
    if media or files:
        log.info("media retention: %d media items and %d files collected", media, len(files))
    return len(files)


async def collect_screenshots(pool: AsyncConnectionPool, settings: Settings) -> int:
    """Delete screenshots older than ``screenshot_retention_days``; the files deleted."""
    files = await screenshots.collect(pool, timedelta(days=settings.screenshot_retention_days))
    deleted = await _delete_files(settings, files, lambda sha: (screenshot_key(sha),), "screenshot")
    if files:
        log.info("screenshot retention: %d files collected", deleted)
    return deleted


async def _delete_files(
    settings: Settings, digests: list[str], keys: Callable[[str], tuple[str, ...]], what: str
) -> int:
    """Delete each digest's files (``keys``) from the blob store, after the rows' commit; the
    digests whose files are all gone."""
    blobs = open_blobs(settings)
    deleted = 0
    for sha in digests:
        try:
            for key in keys(sha):
                await blobs.delete(key)
            deleted += 1
        except Exception as exc:  # the store's own errors: the file stays, nothing holds it
            log.warning("%s retention: file %s not deleted: %s", what, sha, exc)
    return deleted
