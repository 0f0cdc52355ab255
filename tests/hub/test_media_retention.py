"""Retention of the media library: what no playlist holds goes after the retention period,
files and all; nothing a playlist holds, nothing recent, no file another tenant holds."""

from __future__ import annotations

import functools
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from config.settings import Settings
from contract.media import LibraryItem
from devtools import media_samples
from hub.media_retention import collect_media
from media.blobs import blob_key, open_blobs, thumbnail_key
from media.ingest import Upload, from_file, ingest
from store import library
from store.media import Media
from store.users import add_tenant
from tests.helpers import on_store

Conn = psycopg.Connection[tuple[Any, ...]]


async def add(
    database_url: str, settings: Settings, tenant: str, path: Path, media_id: str | None = None
) -> Media:
    blobs = open_blobs(settings)
    received = await from_file(path, blobs, settings.media_max_bytes)

    async def work(conn: Any) -> Media:
        upload = Upload(tenant, "test", path.name, [], None, media_id)
        return (await ingest(conn, blobs, received, upload)).media

    return await on_store(database_url, work)


def age(conn: Conn, tenant: str, media_id: str, days: int, version: int | None = None) -> None:
    conn.execute(
        "UPDATE media_versions SET uploaded_at = now() - make_interval(days => %s::int)"
        " WHERE tenant_id = %s AND media_id = %s AND (%s::int IS NULL OR version = %s::int)",
        (days, tenant, media_id, version, version),
    )
    conn.execute(
        "UPDATE media SET updated_at = now() - make_interval(days => %s::int), created_at ="
        " now() - make_interval(days => %s::int) WHERE tenant_id = %s AND media_id = %s",
        (days, days, tenant, media_id),
    )


async def _tenant(tenant_id: str, conn: Any) -> bool:
    return await add_tenant(conn, tenant_id, tenant_id, "test")


def versions(conn: Conn, tenant: str) -> set[tuple[str, int]]:
    rows = conn.execute(
        "SELECT media_id, version FROM media_versions WHERE tenant_id = %s", (tenant,)
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


async def test_unreferenced_media_are_collected_after_the_retention_period(
    database_url: str, conn: Conn, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path / "var", media_retention_days=30)
    root = tmp_path / "var" / "media"
    tenant, other = f"tn-{uuid.uuid4().hex[:8]}", f"tn-{uuid.uuid4().hex[:8]}"
    for t in (tenant, other):
        await on_store(database_url, functools.partial(_tenant, t))
    files = {}
    for n in range(5):
        path = tmp_path / f"f{n}.png"
        path.write_bytes(media_samples.image(label=f"file {n}", colour=(40 * n, 90, 90)))
        files[n] = path
    old_unused = await add(database_url, settings, tenant, files[0])
    old_used = await add(database_url, settings, tenant, files[1])
    recent = await add(database_url, settings, tenant, files[2])
    versioned = await add(database_url, settings, tenant, files[3])
    versioned = await add(database_url, settings, tenant, files[4], versioned.media_id)
    shared = await add(database_url, settings, other, files[0])  # the same bytes, elsewhere
    for m in (old_unused, old_used, versioned):
        age(conn, tenant, m.media_id, 40)

    item = LibraryItem(
        ad_id="a",
        campaign_id="c",
        url=f"http://x.invalid/media/{old_used.sha256}",
        sha256=old_used.sha256,
        duration_ms=5000,
        media_id=old_used.media_id,
        media_version=1,
    )
    item2 = item.model_copy(
        update={"media_id": versioned.media_id, "media_version": 2, "sha256": versioned.sha256}
    )
    await on_store(database_url, lambda c: library.store_playlist(c, tenant, "kept", [item, item2]))
    v1_sha = conn.execute(
        "SELECT sha256 FROM media_versions WHERE media_id = %s AND version = 1",
        (versioned.media_id,),
    ).fetchone()
    assert v1_sha is not None

    pool = AsyncConnectionPool(database_url, open=False)
    await pool.open()
    try:
        await collect_media(pool, settings)
    finally:
        await pool.close()

    assert versions(conn, tenant) == {
        (old_used.media_id, 1),
        (recent.media_id, 1),
        (versioned.media_id, 2),
    }
    assert versions(conn, other) == {(shared.media_id, 1)}
    # The collected versions' own files are gone; a file another tenant holds stays.
    assert not (root / blob_key(v1_sha[0])).exists()
    assert not (root / thumbnail_key(v1_sha[0])).exists()
    assert (root / blob_key(old_unused.sha256)).exists()
    for kept in (old_used, recent, versioned):
        assert (root / blob_key(kept.sha256)).exists()
    audit = conn.execute(
        "SELECT target FROM audit_log WHERE tenant_id = %s AND action = 'media.collect'",
        (tenant,),
    ).fetchall()
    assert audit == [(f"media:{old_unused.media_id}",)]
