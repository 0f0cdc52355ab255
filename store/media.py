"""The media library: each tenant's media, their versions and the files they share.

A file is stored once (``media_blobs``, keyed by its SHA-256); a tenant's media item has
versions, each naming a file; the item's ``version`` is its current one. Playlist items
pin a version (``playlist_items.media_version``): a version a playlist holds is never
deleted. Every query is limited to one tenant; an advertiser sees only the media of
their campaigns (``user_campaigns``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

AsyncConn = psycopg.AsyncConnection[Any]
MAX_LISTED = 500


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A probed, stored file about to become a media version."""

    sha256: str
    bytes: int
    content_type: str
    kind: str
    codec: str
    width: int
    height: int
    duration_ms: int | None


@dataclass(frozen=True, slots=True)
class Media:
    """A media item with its current version."""

    media_id: str
    name: str
    kind: str
    tags: list[str]
    campaign_id: str | None
    version: int
    sha256: str
    bytes: int
    content_type: str
    codec: str
    width: int
    height: int
    duration_ms: int | None  # the video's
    image_duration_ms: int
    created_by: str
    created_at: datetime
    uploaded_at: datetime
    playlists: int  # the tenant's playlists holding any version of it
    play_ms: int  # how long it plays in a playlist: a video's duration, an image's setting


@dataclass(frozen=True, slots=True)
class MediaVersion:
    version: int
    sha256: str
    bytes: int
    content_type: str
    codec: str
    width: int
    height: int
    duration_ms: int | None
    uploaded_by: str
    uploaded_at: datetime
    playlists: int  # playlists pinning this version


@dataclass(frozen=True, slots=True)
class Use:
    """A playlist of the tenant holding a version of the media, and where it is assigned."""

    playlist_id: str
    name: str
    media_version: int
    assigned: list[str]


@dataclass(frozen=True, slots=True)
class Storage:
    files: int
    bytes: int


MEDIA_COLUMNS = """
m.media_id, m.name, m.kind, m.tags, m.campaign_id, m.version, v.sha256, v.bytes,
v.content_type, v.codec, v.width, v.height, v.duration_ms, m.image_duration_ms, m.created_by,
m.created_at, v.uploaded_at,
(SELECT count(DISTINCT pi.playlist_id) FROM playlist_items pi
 WHERE pi.tenant_id = m.tenant_id AND pi.media_id = m.media_id)::int AS playlists,
COALESCE(NULLIF(v.duration_ms, 0), m.image_duration_ms) AS play_ms
"""

LIST = f"""
SELECT {MEDIA_COLUMNS}
FROM media m
JOIN media_versions v
  ON v.tenant_id = m.tenant_id AND v.media_id = m.media_id AND v.version = m.version
WHERE m.tenant_id = %(tenant)s
  AND (%(media)s::text IS NULL OR m.media_id = %(media)s)
  AND (%(campaigns)s::text[] IS NULL OR m.campaign_id = ANY(%(campaigns)s))
  AND (%(search)s::text IS NULL OR m.name ILIKE '%%' || %(search)s || '%%'
       OR %(search)s = ANY(m.tags) OR m.campaign_id = %(search)s)
ORDER BY m.created_at DESC, m.media_id
LIMIT {MAX_LISTED}
"""  # noqa: S608 - constant fragments only

BY_SHA = f"""
SELECT {MEDIA_COLUMNS}
FROM media m
JOIN media_versions v
  ON v.tenant_id = m.tenant_id AND v.media_id = m.media_id AND v.version = m.version
WHERE m.tenant_id = %s AND v.sha256 = %s
ORDER BY m.created_at LIMIT 1
"""  # noqa: S608 - constant fragments only

VERSIONS = """
SELECT v.version, v.sha256, v.bytes, v.content_type, v.codec, v.width, v.height, v.duration_ms,
       v.uploaded_by, v.uploaded_at,
       (SELECT count(DISTINCT pi.playlist_id) FROM playlist_items pi
        WHERE pi.tenant_id = v.tenant_id AND pi.media_id = v.media_id
          AND pi.media_version = v.version)::int AS playlists
FROM media_versions v WHERE v.tenant_id = %s AND v.media_id = %s ORDER BY v.version DESC
"""

USES = """
SELECT DISTINCT ON (pi.playlist_id, pi.media_version) pi.playlist_id,
       coalesce(tp.name, p.name) AS name, pi.media_version,
       coalesce((SELECT array_agg(DISTINCT CASE WHEN a.target_kind = 'all' THEN 'all'
                                          ELSE a.target_kind || ':' || a.target_id END)
                 FROM playlist_assignments a
                 WHERE a.tenant_id = pi.tenant_id AND a.playlist_id = pi.playlist_id
                   AND a.revoked_at IS NULL
                   AND (a.valid_until IS NULL OR a.valid_until > now())), '{}') AS assigned
FROM playlist_items pi
JOIN playlists p ON p.tenant_id = pi.tenant_id AND p.playlist_id = pi.playlist_id
LEFT JOIN tenant_playlists tp ON tp.tenant_id = pi.tenant_id AND tp.playlist_id = pi.playlist_id
WHERE pi.tenant_id = %s AND pi.media_id = %s
ORDER BY pi.playlist_id, pi.media_version
"""

STORAGE = """
SELECT count(*)::int, coalesce(sum(b.bytes), 0)::bigint FROM media_blobs b
WHERE b.sha256 IN (SELECT sha256 FROM media_versions WHERE tenant_id = %s)
"""

INSERT_BLOB = """
INSERT INTO media_blobs (sha256, bytes, content_type) VALUES (%s, %s, %s)
ON CONFLICT (sha256) DO NOTHING
"""

BLOB_KNOWN = "SELECT bytes FROM media_blobs WHERE sha256 = %s"

INSERT_MEDIA = """
INSERT INTO media (tenant_id, media_id, name, kind, tags, campaign_id, created_by)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""

INSERT_VERSION = """
INSERT INTO media_versions (tenant_id, media_id, version, sha256, bytes, content_type, codec,
                            width, height, duration_ms, uploaded_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""

NEXT_VERSION = """
UPDATE media SET version = (SELECT max(version) + 1 FROM media_versions
                            WHERE tenant_id = %(tenant)s AND media_id = %(media)s),
                 updated_at = now()
WHERE tenant_id = %(tenant)s AND media_id = %(media)s AND kind = %(kind)s
RETURNING version
"""

LOCK = "SELECT kind FROM media WHERE tenant_id = %s AND media_id = %s FOR UPDATE"

UPDATE_DETAILS = """
UPDATE media SET name = %s, tags = %s, image_duration_ms = %s, updated_at = now()
WHERE tenant_id = %s AND media_id = %s
"""

# An advertiser's campaigns: those granted to them, and those of the account they act for.
CAMPAIGNS = """
SELECT campaign_id FROM user_campaigns WHERE user_id = %(user)s
UNION
SELECT c.campaign_id FROM user_advertisers ua
JOIN campaigns c ON c.tenant_id = ua.tenant_id AND c.advertiser_id = ua.advertiser_id
WHERE ua.user_id = %(user)s
ORDER BY 1
"""
GRANT_CAMPAIGN = (
    "INSERT INTO user_campaigns (user_id, campaign_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
)


def new_media_id() -> str:
    return "m-" + secrets.token_hex(8)


async def listing(
    conn: AsyncConn,
    tenant_id: str,
    *,
    campaigns: list[str] | None = None,
    search: str | None = None,
    media_id: str | None = None,
) -> list[Media]:
    """The tenant's media, newest first (at most :data:`MAX_LISTED`); ``campaigns``: only
    those tagged with one of them (an advertiser's)."""
    params = {"tenant": tenant_id, "media": media_id, "campaigns": campaigns, "search": search}
    async with conn.cursor(row_factory=class_row(Media)) as cur:
        await cur.execute(LIST, params)
        return await cur.fetchall()


async def one(
    conn: AsyncConn, tenant_id: str, media_id: str, campaigns: list[str] | None = None
) -> Media | None:
    found = await listing(conn, tenant_id, campaigns=campaigns, media_id=media_id)
    return found[0] if found else None


async def by_sha256(conn: AsyncConn, tenant_id: str, sha256: str) -> Media | None:
    """The tenant's media whose current version is this file (the oldest such)."""
    async with conn.cursor(row_factory=class_row(Media)) as cur:
        await cur.execute(BY_SHA, (tenant_id, sha256))
        return await cur.fetchone()


async def versions(conn: AsyncConn, tenant_id: str, media_id: str) -> list[MediaVersion]:
    async with conn.cursor(row_factory=class_row(MediaVersion)) as cur:
        await cur.execute(VERSIONS, (tenant_id, media_id))
        return await cur.fetchall()


async def uses(conn: AsyncConn, tenant_id: str, media_id: str) -> list[Use]:
    """The playlists holding any version of the media, with their live assignments."""
    async with conn.cursor(row_factory=class_row(Use)) as cur:
        await cur.execute(USES, (tenant_id, media_id))
        return await cur.fetchall()


async def storage(conn: AsyncConn, tenant_id: str) -> Storage:
    """The files the tenant's media versions hold, each counted once."""
    row = await (await conn.execute(STORAGE, (tenant_id,))).fetchone()
    assert row is not None
    return Storage(int(row[0]), int(row[1]))


async def blob_size(conn: AsyncConn, sha256: str) -> int | None:
    """The size of the stored file with this digest; None when none is stored."""
    row = await (await conn.execute(BLOB_KNOWN, (sha256,))).fetchone()
    return None if row is None else int(row[0])


async def add_blob(conn: AsyncConn, version: NewVersion) -> None:
    await conn.execute(INSERT_BLOB, (version.sha256, version.bytes, version.content_type))


async def create(
    conn: AsyncConn,
    tenant_id: str,
    name: str,
    tags: list[str],
    campaign_id: str | None,
    version: NewVersion,
    actor: str,
) -> str:
    """A new media item whose version 1 is the (stored) file; its id."""
    media_id = new_media_id()
    await add_blob(conn, version)
    await conn.execute(
        INSERT_MEDIA, (tenant_id, media_id, name, version.kind, tags, campaign_id, actor)
    )
    await _insert_version(conn, tenant_id, media_id, 1, version, actor)
    return media_id


async def lock_kind(conn: AsyncConn, tenant_id: str, media_id: str) -> str | None:
    """The media's kind, its row locked for a new version; None when the tenant has none."""
    row = await (await conn.execute(LOCK, (tenant_id, media_id))).fetchone()
    return None if row is None else str(row[0])


async def add_version(
    conn: AsyncConn, tenant_id: str, media_id: str, version: NewVersion, actor: str
) -> int:
    """The file as the media's next (and current) version; its number. The media is locked
    (:func:`lock_kind`) and of the file's kind."""
    await add_blob(conn, version)
    params = {"tenant": tenant_id, "media": media_id, "kind": version.kind}
    row = await (await conn.execute(NEXT_VERSION, params)).fetchone()
    assert row is not None
    number = int(row[0])
    await _insert_version(conn, tenant_id, media_id, number, version, actor)
    return number


async def _insert_version(
    conn: AsyncConn, tenant_id: str, media_id: str, number: int, v: NewVersion, actor: str
) -> None:
    await conn.execute(
        INSERT_VERSION,
        (
            tenant_id,
            media_id,
            number,
            v.sha256,
            v.bytes,
            v.content_type,
            v.codec,
            v.width,
            v.height,
            v.duration_ms,
            actor,
        ),
    )


async def update_details(
    conn: AsyncConn,
    tenant_id: str,
    media_id: str,
    name: str,
    tags: list[str],
    image_duration_ms: int,
) -> None:
    await conn.execute(UPDATE_DETAILS, (name, tags, image_duration_ms, tenant_id, media_id))


async def campaigns(conn: AsyncConn, user_id: int) -> list[str]:
    """The campaigns an advertiser may upload for (granted, or their account's)."""
    cur = await conn.execute(CAMPAIGNS, {"user": user_id})
    return [str(r[0]) for r in await cur.fetchall()]


async def grant_campaigns(conn: AsyncConn, user_id: int, campaign_ids: list[str]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(GRANT_CAMPAIGN, [(user_id, c) for c in campaign_ids])


REVOKED = """
SELECT t.tablet_id FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
WHERE f.tenant_id = %s AND t.revoked_at IS NOT NULL
"""


async def revoked_tablets(conn: AsyncConn, tenant_id: str) -> frozenset[str]:
    """The tenant's revoked tablets (their download links no longer work)."""
    cur = await conn.execute(REVOKED, (tenant_id,))
    return frozenset(str(r[0]) for r in await cur.fetchall())


TENANT_FILE = """
SELECT b.bytes, b.content_type FROM media_blobs b
WHERE b.sha256 = %(sha)s AND EXISTS (
    SELECT 1 FROM media_versions v JOIN media m USING (tenant_id, media_id)
    WHERE v.sha256 = %(sha)s AND v.tenant_id = %(tenant)s
      AND (%(campaigns)s::text[] IS NULL OR m.campaign_id = ANY(%(campaigns)s)))
"""


async def tenant_file(
    conn: AsyncConn, tenant_id: str, sha256: str, campaigns: list[str] | None = None
) -> tuple[int, str] | None:
    """The size and type of a file a media version of the tenant holds (of ``campaigns``
    only, for an advertiser); None when it holds none."""
    params = {"tenant": tenant_id, "sha": sha256, "campaigns": campaigns}
    row = await (await conn.execute(TENANT_FILE, params)).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


async def blob_sizes(conn: AsyncConn, sha256s: list[str]) -> dict[str, int]:
    """The sizes of the stored files among these digests."""
    cur = await conn.execute(
        "SELECT sha256, bytes FROM media_blobs WHERE sha256 = ANY(%s)", (sha256s,)
    )
    return {str(r[0]): int(r[1]) for r in await cur.fetchall()}


async def fleet_plays_library(conn: AsyncConn, fleet_id: str) -> bool:
    """Whether a live assignment to the fleet itself plays a playlist of library media."""
    cur = await conn.execute(
        "SELECT 1 FROM playlist_assignments a"
        " JOIN playlist_items pi ON pi.tenant_id = a.tenant_id AND pi.playlist_id = a.playlist_id"
        " WHERE a.target_kind = 'fleet' AND a.target_id = %s AND a.revoked_at IS NULL"
        " AND (a.valid_until IS NULL OR a.valid_until > now()) AND pi.media_id IS NOT NULL"
        " LIMIT 1",
        (fleet_id,),
    )
    return await cur.fetchone() is not None


async def version_files(
    conn: AsyncConn, tenant_id: str, wanted: list[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """The file (SHA-256) of each of these (media id, version) pairs the tenant has."""
    cur = await conn.execute(
        "SELECT media_id, version, sha256 FROM media_versions WHERE tenant_id = %s"
        " AND (media_id, version) IN (SELECT * FROM unnest(%s::text[], %s::int[]))",
        (tenant_id, [w[0] for w in wanted], [w[1] for w in wanted]),
    )
    return {(str(r[0]), int(r[1])): str(r[2]) for r in await cur.fetchall()}


async def tablet_tenants(conn: AsyncConn, tablet_ids: list[str]) -> dict[str, str]:
    """The tenant of each of these tablets."""
    cur = await conn.execute(
        "SELECT t.tablet_id, f.tenant_id FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id"
        " WHERE t.tablet_id = ANY(%s)",
        (tablet_ids,),
    )
    return {str(r[0]): str(r[1]) for r in await cur.fetchall()}
