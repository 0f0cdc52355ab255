"""A tenant's playlist library: its playlists by name, their items, and storing new ones.

Playlists are content-addressed within their tenant (``playlists``, ``playlist_items``,
keyed by tenant and playlist id: the same items in two tenants are two playlists); a
tenant's library lists them by name (``tenant_playlists``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from contract.manifest import items_id, normalise
from contract.media import item_of, manifest_item
from contract.payloads import PlaylistItem
from store.assignments import ACTIVE
from store.playlists import INSERT_ITEM, INSERT_PLAYLIST, INSERT_TENANT_PLAYLIST, item_rows
from store.scope import scope_params
from store.users import User

AsyncConn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class PlaylistSummary:
    playlist_id: str
    name: str
    created_at: datetime
    items: int
    duration_ms: int
    assigned: list[str]


LIBRARY = f"""
SELECT tp.playlist_id, tp.name, tp.created_at,
       coalesce(i.items, 0)::int AS items, coalesce(i.duration_ms, 0)::bigint AS duration_ms,
       coalesce((SELECT array_agg(DISTINCT CASE WHEN a.target_kind = 'all' THEN 'all'
                                           ELSE a.target_kind || ':' || a.target_id END)
                 FROM playlist_assignments a
                 WHERE a.tenant_id = tp.tenant_id AND a.playlist_id = tp.playlist_id
                   AND {ACTIVE}), '{{}}') AS assigned
FROM tenant_playlists tp
LEFT JOIN LATERAL (SELECT count(*) AS items, sum(duration_ms) AS duration_ms
                   FROM playlist_items pi
                   WHERE pi.tenant_id = tp.tenant_id AND pi.playlist_id = tp.playlist_id) i ON true
WHERE tp.tenant_id = %(tenant)s AND (%(playlist)s::text IS NULL OR tp.playlist_id = %(playlist)s)
ORDER BY tp.created_at DESC, tp.playlist_id
"""  # noqa: S608 - constant fragments only

ITEMS = """
SELECT ad_id, campaign_id, url, sha256, duration_ms, position, media_id, media_version
FROM playlist_items WHERE tenant_id = %s AND playlist_id = %s ORDER BY position
"""

# The version and items of a tenant's playlist as the hub's resolver reads them.
VERSION = "SELECT version FROM playlists WHERE tenant_id = %s AND playlist_id = %s"
MANIFEST_ITEMS = (
    "SELECT position, ad_id, campaign_id, url, sha256, duration_ms, media_id, media_version"
    " FROM playlist_items"
    " WHERE tenant_id = %s AND playlist_id = %s ORDER BY position"
)

LOCK_NAME = "SELECT name FROM tenant_playlists WHERE tenant_id = %s AND playlist_id = %s FOR UPDATE"
LOCK_SHARED = "SELECT 1 FROM tenant_playlists WHERE tenant_id = %s AND playlist_id = %s FOR SHARE"
RENAME = "UPDATE tenant_playlists SET name = %s WHERE tenant_id = %s AND playlist_id = %s"


async def summaries(
    conn: AsyncConn, user: User, playlist_id: str | None = None
) -> list[PlaylistSummary]:
    """The tenant's playlists (or the one), newest first, with their active targets."""
    async with conn.cursor(row_factory=class_row(PlaylistSummary)) as cur:
        await cur.execute(LIBRARY, scope_params(user, playlist=playlist_id))
        return await cur.fetchall()


async def items(conn: AsyncConn, tenant_id: str, playlist_id: str) -> list[PlaylistItem]:
    """The playlist's items in order (a :class:`~contract.media.LibraryItem` for library media)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(ITEMS, (tenant_id, playlist_id))
        return [item_of(row) for row in await cur.fetchall()]


async def manifest_parts(
    conn: AsyncConn, tenant_id: str, playlist_id: str
) -> tuple[int, tuple[dict[str, Any], ...]]:
    """The version and items of the tenant's playlist, as the hub's resolver reads them."""
    row = await (await conn.execute(VERSION, (tenant_id, playlist_id))).fetchone()
    assert row is not None
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(MANIFEST_ITEMS, (tenant_id, playlist_id))
        return int(row[0]), tuple(manifest_item(r) for r in await cur.fetchall())


async def store_playlist(
    conn: AsyncConn, tenant_id: str, name: str, items: list[PlaylistItem]
) -> tuple[str, bool]:
    """Insert the playlist (content-addressed) into the tenant's library.

    Returns its id and whether the library gained it (False: it was there already).
    """
    items = normalise(items)
    playlist_id = items_id(items)
    async with conn.transaction():
        await conn.execute(INSERT_PLAYLIST, (tenant_id, playlist_id, name))
        async with conn.cursor() as cur:
            await cur.executemany(INSERT_ITEM, item_rows(tenant_id, playlist_id, items))
        cur2 = await conn.execute(INSERT_TENANT_PLAYLIST, (tenant_id, playlist_id, name))
        added = await cur2.fetchone() is not None
    return playlist_id, added


async def lock_name(conn: AsyncConn, tenant_id: str, playlist_id: str) -> str | None:
    """The playlist's name, its library row locked for update; None outside the library."""
    row = await (await conn.execute(LOCK_NAME, (tenant_id, playlist_id))).fetchone()
    return None if row is None else str(row[0])


async def lock_shared(conn: AsyncConn, tenant_id: str, playlist_id: str) -> bool:
    """Whether the playlist is in the library, its row locked against a concurrent edit."""
    cur = await conn.execute(LOCK_SHARED, (tenant_id, playlist_id))
    return await cur.fetchone() is not None


async def rename(conn: AsyncConn, tenant_id: str, playlist_id: str, name: str) -> None:
    await conn.execute(RENAME, (name, tenant_id, playlist_id))
