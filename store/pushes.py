"""Emergency pushes: one ``pushes`` row grouping one emergency assignment per target.

All of a push's assignments have the same playlist and validity, so the same manifest
etag; its progress is read from ``tablet_state`` and ``deliveries`` for that etag, and once
it is reverted or expired, the way back's: each tablet's next playlist and its delivery.
Every query is limited to the tenant. The callers hold the transaction: checking,
sending and reverting are several statements in one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg_pool import AsyncConnectionPool

AsyncConn = psycopg.AsyncConnection[Any]
SHOWN_TABLETS = 200

MATCHES = """(   (a.target_kind = 'tablet' AND a.target_id = t.tablet_id)
             OR (a.target_kind = 'car' AND a.target_id = t.car_id)
             OR (a.target_kind = 'fleet' AND a.target_id = t.fleet_id)
             OR a.target_kind = 'all')"""

UNKNOWN_TARGETS = """
SELECT
  ARRAY(SELECT x FROM unnest(%(fleets)s::text[]) x WHERE NOT EXISTS (
        SELECT 1 FROM fleets f WHERE f.fleet_id = x AND f.tenant_id = %(tenant)s)),
  ARRAY(SELECT x FROM unnest(%(cars)s::text[]) x WHERE NOT EXISTS (
        SELECT 1 FROM cars c JOIN fleets f ON f.fleet_id = c.fleet_id
        WHERE c.car_id = x AND f.tenant_id = %(tenant)s)),
  ARRAY(SELECT x FROM unnest(%(tablets)s::text[]) x WHERE NOT EXISTS (
        SELECT 1 FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
        WHERE t.tablet_id = x AND t.revoked_at IS NULL AND f.tenant_id = %(tenant)s))
"""

REACH = """
SELECT count(*), count(*) FILTER (WHERE s.state = 'online')
FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
LEFT JOIN tablet_state s ON s.tablet_id = t.tablet_id
WHERE t.revoked_at IS NULL AND f.tenant_id = %(tenant)s
  AND (%(all)s OR t.fleet_id = ANY(%(fleets)s) OR t.car_id = ANY(%(cars)s)
       OR t.tablet_id = ANY(%(tablets)s))
"""

LIBRARY_PLAYLIST = """
SELECT tp.name, p.version, (SELECT count(*) FROM playlist_items i
                            WHERE i.tenant_id = tp.tenant_id
                              AND i.playlist_id = tp.playlist_id) AS items
FROM tenant_playlists tp
JOIN playlists p ON p.tenant_id = tp.tenant_id AND p.playlist_id = tp.playlist_id
WHERE tp.tenant_id = %s AND tp.playlist_id = %s
"""

LIBRARY = """
SELECT tp.playlist_id, tp.name, (SELECT count(*) FROM playlist_items i
                                 WHERE i.tenant_id = tp.tenant_id
                                   AND i.playlist_id = tp.playlist_id) AS items
FROM tenant_playlists tp WHERE tp.tenant_id = %s ORDER BY tp.created_at DESC, tp.name LIMIT 500
"""

PUSH_COLUMNS = """
p.push_id, p.created_by, p.created_at, p.reason, p.playlist_id,
coalesce(tp.name, p.playlist_id) AS playlist_name, p.etag, p.targets, p.targeted, p.expires_at,
p.reverted_at, p.reverted_by,
CASE WHEN p.reverted_at IS NOT NULL THEN 'reverted'
     WHEN p.expires_at <= now() THEN 'expired' ELSE 'active' END AS status
"""

RECENT = f"""
SELECT {PUSH_COLUMNS}
FROM pushes p
LEFT JOIN tenant_playlists tp ON tp.tenant_id = p.tenant_id AND tp.playlist_id = p.playlist_id
WHERE p.tenant_id = %s ORDER BY p.created_at DESC LIMIT %s
"""  # noqa: S608 (constant fragments only)

# One query: the push, its counts (window aggregates over every targeted tablet)
# and the first tablets, problems first. While the push is active its progress is the
# push's (its etag acknowledged); once reverted or expired, the way back's: each tablet's
# new desired playlist (not the push's) acknowledged, read from its own delivery.
PROGRESS = f"""
WITH p AS (
    SELECT *, reverted_at IS NOT NULL OR expires_at <= now() AS ended
    FROM pushes WHERE push_id = %(push)s AND tenant_id = %(tenant)s
), targeted AS (
    SELECT DISTINCT t.tablet_id, t.fleet_id, t.car_id
    FROM p
    JOIN playlist_assignments a ON a.assignment_id = ANY(p.assignment_ids)
    JOIN tablets t ON t.revoked_at IS NULL AND {MATCHES}
    JOIN fleets f ON f.fleet_id = t.fleet_id AND f.tenant_id = p.tenant_id
), progress AS (
    SELECT t.tablet_id, t.fleet_id, t.car_id, coalesce(s.state, 'unknown') AS state,
           CASE WHEN NOT p.ended THEN
                CASE WHEN d.status = 'applied' OR s.applied_etag = p.etag THEN 'acknowledged'
                     WHEN d.status = 'failed' THEN 'failed'
                     WHEN coalesce(s.state, 'unknown') <> 'online' THEN 'offline'
                     WHEN d.status = 'published' THEN 'published'
                     ELSE 'pending' END
           ELSE
                CASE WHEN s.desired_etag IS NOT DISTINCT FROM p.etag THEN
                          CASE WHEN coalesce(s.state, 'unknown') <> 'online' THEN 'offline'
                               ELSE 'pending' END
                     WHEN s.applied_etag IS NOT DISTINCT FROM s.desired_etag
                          OR b.status = 'applied' THEN 'acknowledged'
                     WHEN b.status = 'failed' THEN 'failed'
                     WHEN coalesce(s.state, 'unknown') <> 'online' THEN 'offline'
                     WHEN b.status = 'published' THEN 'published'
                     ELSE 'pending' END
           END AS bucket,
           CASE WHEN p.ended THEN b.published_at ELSE d.published_at END AS published_at,
           CASE WHEN p.ended THEN b.acked_at ELSE d.acked_at END AS acked_at,
           CASE WHEN p.ended THEN b.detail ELSE d.detail END AS detail
    FROM targeted t CROSS JOIN p
    LEFT JOIN tablet_state s ON s.tablet_id = t.tablet_id
    LEFT JOIN deliveries d ON d.tablet_id = t.tablet_id AND d.etag = p.etag
    LEFT JOIN deliveries b ON b.tablet_id = t.tablet_id AND b.etag = s.desired_etag
         AND s.desired_etag IS DISTINCT FROM p.etag
)
SELECT {PUSH_COLUMNS},
       r.tablet_id, r.fleet_id, r.car_id, r.state, r.bucket, r.published_at, r.acked_at,
       r.detail,
       count(r.tablet_id) OVER () AS n_targeted,
       count(*) FILTER (WHERE r.bucket = 'acknowledged') OVER () AS n_acknowledged,
       count(*) FILTER (WHERE r.bucket = 'published') OVER () AS n_published,
       count(*) FILTER (WHERE r.bucket = 'offline') OVER () AS n_offline,
       count(*) FILTER (WHERE r.bucket = 'pending') OVER () AS n_pending,
       count(*) FILTER (WHERE r.bucket = 'failed') OVER () AS n_failed
FROM p
LEFT JOIN tenant_playlists tp ON tp.tenant_id = p.tenant_id AND tp.playlist_id = p.playlist_id
LEFT JOIN progress r ON true
ORDER BY CASE r.bucket WHEN 'failed' THEN 0 WHEN 'pending' THEN 1 WHEN 'published' THEN 2
                       WHEN 'offline' THEN 3 ELSE 4 END, r.tablet_id
LIMIT {SHOWN_TABLETS}
"""  # noqa: S608 (constant fragments only)


@dataclass(frozen=True, slots=True)
class LibraryPlaylist:
    playlist_id: str
    name: str
    items: int


@dataclass(frozen=True, slots=True)
class Push:
    push_id: uuid.UUID
    created_by: str
    created_at: datetime
    reason: str
    playlist_id: str
    playlist_name: str
    etag: str
    targets: list[str]
    targeted: int  # tablets matched when it was sent
    expires_at: datetime
    reverted_at: datetime | None
    reverted_by: str | None
    status: Literal["active", "expired", "reverted"]


async def library(pool: AsyncConnectionPool, tenant_id: str) -> list[LibraryPlaylist]:
    """The tenant's playlists to push from, newest first (at most 500)."""
    async with (
        pool.connection() as conn,
        conn.cursor(row_factory=class_row(LibraryPlaylist)) as cur,
    ):
        await cur.execute(LIBRARY, (tenant_id,))
        return await cur.fetchall()


async def library_playlist(
    conn: AsyncConn, tenant_id: str, playlist_id: str
) -> tuple[str, int] | None:
    """The name and number of items of the tenant's playlist; None outside its library."""
    row = await (await conn.execute(LIBRARY_PLAYLIST, (tenant_id, playlist_id))).fetchone()
    return None if row is None else (row[0], row[2])


async def unknown_targets(
    conn: AsyncConn, tenant_id: str, fleets: list[str], cars: list[str], tablets: list[str]
) -> tuple[list[str], list[str], list[str]]:
    """The fleets, cars and (registered) tablets given that are not the tenant's."""
    params = {"tenant": tenant_id, "fleets": fleets, "cars": cars, "tablets": tablets}
    row = await (await conn.execute(UNKNOWN_TARGETS, params)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


async def reach(
    conn: AsyncConn,
    tenant_id: str,
    all_tablets: bool,
    fleets: list[str],
    cars: list[str],
    tablets: list[str],
) -> tuple[int, int]:
    """How many of the tenant's registered tablets the targets match, and how many are online."""
    params = {
        "tenant": tenant_id,
        "all": all_tablets,
        "fleets": fleets,
        "cars": cars,
        "tablets": tablets,
    }
    row = await (await conn.execute(REACH, params)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def lock(conn: AsyncConn, push_id: uuid.UUID) -> None:
    """Serialise sends of one push id until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"push:{push_id}",)
    )


async def tenant_of(conn: AsyncConn, push_id: uuid.UUID) -> str | None:
    """The tenant of the push with this id; None when there is none."""
    row = await (
        await conn.execute("SELECT tenant_id FROM pushes WHERE push_id = %s", (push_id,))
    ).fetchone()
    return None if row is None else str(row[0])


async def insert_assignment(
    conn: AsyncConn,
    tenant_id: str,
    playlist_id: str,
    target_kind: str,
    target_id: str | None,
    valid_from: datetime,
    valid_until: datetime,
    reason: str,
    created_by: str,
) -> tuple[int, datetime]:
    """One emergency assignment; its id and ``valid_until`` as stored (as the hub reads it)."""
    row = await (
        await conn.execute(
            "INSERT INTO playlist_assignments"
            " (tenant_id, playlist_id, target_kind, target_id, priority,"
            " valid_from, valid_until, reason, created_by)"
            " VALUES (%s, %s, %s, %s, 'emergency', %s, %s, %s, %s)"
            " RETURNING assignment_id, valid_until",
            (
                tenant_id,
                playlist_id,
                target_kind,
                target_id,
                valid_from,
                valid_until,
                reason,
                created_by,
            ),
        )
    ).fetchone()
    assert row is not None
    return int(row[0]), row[1]


async def insert(
    conn: AsyncConn,
    push_id: uuid.UUID,
    tenant_id: str,
    created_by: str,
    created_at: datetime,
    reason: str,
    playlist_id: str,
    etag: str,
    targets: list[str],
    assignment_ids: list[int],
    targeted: int,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO pushes (push_id, tenant_id, created_by, created_at, reason, playlist_id,"
        " etag, targets, assignment_ids, targeted, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            push_id,
            tenant_id,
            created_by,
            created_at,
            reason,
            playlist_id,
            etag,
            targets,
            assignment_ids,
            targeted,
            expires_at,
        ),
    )


async def progress_rows(
    pool: AsyncConnectionPool, tenant_id: str, push_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The push's columns, its counts (``n_*``) and its first :data:`SHOWN_TABLETS` tablets,
    problems first, one row each (one row with a null tablet when it targets none); no rows
    when the push is not the tenant's."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(PROGRESS, {"push": push_id, "tenant": tenant_id})
        return await cur.fetchall()


async def recent(pool: AsyncConnectionPool, tenant_id: str, limit: int) -> list[Push]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Push)) as cur:
        await cur.execute(RECENT, (tenant_id, limit))
        return await cur.fetchall()


async def lock_for_revert(
    conn: AsyncConn, tenant_id: str, push_id: uuid.UUID
) -> tuple[bool, bool, list[int]] | None:
    """The push's row locked: (reverted, expired, assignment ids); None when not the tenant's."""
    row = await (
        await conn.execute(
            "SELECT reverted_at IS NOT NULL, expires_at <= now(), assignment_ids FROM pushes"
            " WHERE push_id = %s AND tenant_id = %s FOR UPDATE",
            (push_id, tenant_id),
        )
    ).fetchone()
    return None if row is None else (bool(row[0]), bool(row[1]), row[2])


async def mark_reverted(conn: AsyncConn, push_id: uuid.UUID, reverted_by: str) -> None:
    await conn.execute(
        "UPDATE pushes SET reverted_at = now(), reverted_by = %s WHERE push_id = %s",
        (reverted_by, push_id),
    )


async def revoke_assignments(
    conn: AsyncConn, tenant_id: str, assignment_ids: list[int]
) -> list[int]:
    """Revoke those of the tenant's assignments still live; the ids revoked, sorted."""
    cur = await conn.execute(
        "UPDATE playlist_assignments SET revoked_at = now() WHERE assignment_id = ANY(%s)"
        " AND tenant_id = %s AND revoked_at IS NULL RETURNING assignment_id",
        (assignment_ids, tenant_id),
    )
    return sorted(int(r[0]) for r in await cur.fetchall())
