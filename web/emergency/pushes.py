"""Emergency pushes in the store: checking, sending, progress and revert, within a tenant.

A push is one ``pushes`` row grouping one emergency assignment per target, all with
the same playlist, validity and so the same manifest etag; its progress is read from
``tablet_state`` and ``deliveries`` for that etag. Like :func:`store.playlists.push`,
sending writes desired state and wakes the hub with ``NOTIFY fleethub_playlists``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg_pool import AsyncConnectionPool

from contract.manifest import Manifest
from store.audit import record
from store.users import User
from web.emergency.form import Draft, Errors
from web.playlists.library import store_playlist

AsyncConn = psycopg.AsyncConnection[tuple[Any, ...]]
BUCKETS = ("acknowledged", "published", "offline", "pending", "failed")
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
# and the first tablets, problems first.
PROGRESS = f"""
WITH p AS (
    SELECT * FROM pushes WHERE push_id = %(push)s AND tenant_id = %(tenant)s
), targeted AS (
    SELECT DISTINCT t.tablet_id, t.fleet_id, t.car_id
    FROM p
    JOIN playlist_assignments a ON a.assignment_id = ANY(p.assignment_ids)
    JOIN tablets t ON t.revoked_at IS NULL AND {MATCHES}
    JOIN fleets f ON f.fleet_id = t.fleet_id AND f.tenant_id = p.tenant_id
), progress AS (
    SELECT t.tablet_id, t.fleet_id, t.car_id, coalesce(s.state, 'unknown') AS state,
           CASE WHEN d.status = 'applied' OR s.applied_etag = p.etag THEN 'acknowledged'
                WHEN d.status = 'failed' THEN 'failed'
                WHEN coalesce(s.state, 'unknown') <> 'online' THEN 'offline'
                WHEN d.status = 'published' THEN 'published'
                ELSE 'pending' END AS bucket,
           d.published_at, d.acked_at, d.detail
    FROM targeted t CROSS JOIN p
    LEFT JOIN tablet_state s ON s.tablet_id = t.tablet_id
    LEFT JOIN deliveries d ON d.tablet_id = t.tablet_id AND d.etag = p.etag
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
class Reach:
    """What a checked draft will reach: tablets now registered, and how many are online."""

    playlist_name: str
    items: int
    tablets: int
    online: int


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


@dataclass(frozen=True, slots=True)
class Counts:
    targeted: int = 0
    acknowledged: int = 0
    published: int = 0  # published, awaiting the tablet's ack
    offline: int = 0  # not online: gets the retained manifest when it reconnects
    pending: int = 0  # online, not published yet
    failed: int = 0


@dataclass(frozen=True, slots=True)
class TabletProgress:
    tablet_id: str
    fleet_id: str
    car_id: str | None
    state: str
    status: str
    published_at: datetime | None
    acked_at: datetime | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Progress:
    push: Push
    counts: Counts
    tablets: tuple[TabletProgress, ...]  # the first SHOWN_TABLETS, problems first


async def library(pool: AsyncConnectionPool, user: User) -> list[LibraryPlaylist]:
    async with (
        pool.connection() as conn,
        conn.cursor(row_factory=class_row(LibraryPlaylist)) as cur,
    ):
        await cur.execute(LIBRARY, (user.tenant_id,))
        return await cur.fetchall()


async def check(pool: AsyncConnectionPool, user: User, draft: Draft) -> tuple[Reach | None, Errors]:
    async with pool.connection() as conn:
        return await _check(conn, user, draft)


async def _check(conn: AsyncConn, user: User, draft: Draft) -> tuple[Reach | None, Errors]:
    """The store's side of the checks: the playlist and every target are the tenant's."""
    errors: Errors = {}
    name, items = draft.reason, len(draft.items)
    if draft.playlist_id is not None:
        row = await (
            await conn.execute(LIBRARY_PLAYLIST, (user.tenant_id, draft.playlist_id))
        ).fetchone()
        if row is None:
            errors["playlist_id"] = f"No playlist {draft.playlist_id!r} in your library."
        elif not row[2]:
            errors["playlist_id"] = f"The playlist {row[0]!r} has no items."
        else:
            name, items = str(row[0]), int(row[2])
    params = {
        "tenant": user.tenant_id,
        "all": draft.all_tablets,
        "fleets": list(draft.fleets),
        "cars": list(draft.cars),
        "tablets": list(draft.tablets),
    }
    unknown = await (await conn.execute(UNKNOWN_TARGETS, params)).fetchone()
    assert unknown is not None
    for key, kind, missing in zip(
        ("fleets", "cars", "tablets"), ("fleet", "car", "tablet"), unknown, strict=True
    ):
        if missing:
            errors[key] = f"No {kind} {', '.join(missing[:5])} in your tenant."
    reach = await (await conn.execute(REACH, params)).fetchone()
    assert reach is not None
    tablets, online = int(reach[0]), int(reach[1])
    if (
        tablets == 0
        and "targets" not in errors
        and not errors.keys() & {"fleets", "cars", "tablets"}
    ):
        errors["targets"] = "No registered tablet matches these targets."
    if errors:
        return None, errors
    return Reach(name, items, tablets, online), {}


async def send(
    pool: AsyncConnectionPool,
    user: User,
    draft: Draft,
    refresh_s: int,
    push_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID | None, Errors]:
    """Store the push (one emergency assignment per target), audit it and wake the hub.

    ``push_id`` comes from the confirm step: sending the same confirmation twice
    (a double click, a resubmitted form) gives back the push it already made.
    """
    push_id = push_id or uuid.uuid4()
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"push:{push_id}",)
        )
        row = await (
            await conn.execute("SELECT tenant_id FROM pushes WHERE push_id = %s", (push_id,))
        ).fetchone()
        if row is not None and row[0] == user.tenant_id:
            return push_id, {}
        if row is not None:  # not this tenant's: never say so, just make a new push
            push_id = uuid.uuid4()
        reach, errors = await _check(conn, user, draft)
        if reach is None:
            return None, errors
        playlist_id = draft.playlist_id or await _store_items(conn, user, draft)
        version, items = await _playlist(conn, user.tenant_id, playlist_id)
        now = datetime.now(UTC)
        valid_until = now + timedelta(minutes=draft.expires_min)
        assignment_ids: list[int] = []
        for target in draft.targets:
            row = await (
                await conn.execute(
                    "INSERT INTO playlist_assignments"
                    " (tenant_id, playlist_id, target_kind, target_id, priority,"
                    " valid_from, valid_until, reason, created_by)"
                    " VALUES (%s, %s, %s, %s, 'emergency', %s, %s, %s, %s)"
                    " RETURNING assignment_id, valid_until",
                    (
                        user.tenant_id,
                        playlist_id,
                        target.kind,
                        target.id,
                        now,
                        valid_until,
                        draft.reason,
                        user.email,
                    ),
                )
            ).fetchone()
            assert row is not None
            assignment_ids.append(int(row[0]))
            valid_until = row[1]  # as the hub reads it back, so the etags agree
        manifest = Manifest(playlist_id, version, "emergency", now, valid_until, refresh_s, items)
        targets = [str(t) for t in draft.targets]
        await conn.execute(
            "INSERT INTO pushes (push_id, tenant_id, created_by, created_at, reason, playlist_id,"
            " etag, targets, assignment_ids, targeted, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                push_id,
                user.tenant_id,
                user.email,
                now,
                draft.reason,
                playlist_id,
                manifest.etag,
                targets,
                assignment_ids,
                reach.tablets,
                valid_until,
            ),
        )
        await record(
            conn,
            user.tenant_id,
            user.email,
            "playlist.push",
            f"push:{push_id}",
            {
                "push_id": str(push_id),
                "playlist_id": playlist_id,
                "etag": manifest.etag,
                "priority": "emergency",
                "reason": draft.reason,
                "targets": targets,
                "assignment_ids": assignment_ids,
                "targeted": reach.tablets,
                "valid_until": valid_until.isoformat(),
            },
        )
        await conn.execute("SELECT pg_notify('fleethub_playlists', %s)", (f"push:{push_id}",))
    return push_id, {}


async def _store_items(conn: AsyncConn, user: User, draft: Draft) -> str:
    """The composed items as a content-addressed playlist in the tenant's library."""
    playlist_id, _ = await store_playlist(conn, user.tenant_id, draft.reason, list(draft.items))
    return playlist_id


async def _playlist(
    conn: AsyncConn, tenant_id: str, playlist_id: str
) -> tuple[int, tuple[dict[str, Any], ...]]:
    """The version and items of the tenant's playlist, as the hub's resolver reads them."""
    row = await (
        await conn.execute(
            "SELECT version FROM playlists WHERE tenant_id = %s AND playlist_id = %s",
            (tenant_id, playlist_id),
        )
    ).fetchone()
    assert row is not None
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT position, ad_id, campaign_id, url, sha256, duration_ms FROM playlist_items"
            " WHERE tenant_id = %s AND playlist_id = %s ORDER BY position",
            (tenant_id, playlist_id),
        )
        return int(row[0]), tuple(await cur.fetchall())


def push_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def progress(pool: AsyncConnectionPool, user: User, push_id: uuid.UUID) -> Progress | None:
    """The push with its counts and first tablets; ``None`` when it is not the tenant's."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(PROGRESS, {"push": push_id, "tenant": user.tenant_id})
        rows = await cur.fetchall()
    if not rows:
        return None
    first = rows[0]
    push = Push(**{k: first[k] for k in Push.__dataclass_fields__})
    counts = Counts(**{k: int(first[f"n_{k}"]) for k in Counts.__dataclass_fields__})
    tablets = tuple(
        TabletProgress(
            r["tablet_id"],
            r["fleet_id"],
            r["car_id"],
            r["state"],
            r["bucket"],
            r["published_at"],
            r["acked_at"],
            r["detail"],
        )
        for r in rows
        if r["tablet_id"] is not None
    )
    return Progress(push, counts, tablets)


async def recent(pool: AsyncConnectionPool, user: User, limit: int = 20) -> list[Push]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Push)) as cur:
        await cur.execute(RECENT, (user.tenant_id, limit))
        return await cur.fetchall()


async def revert(
    pool: AsyncConnectionPool, user: User, push_id: uuid.UUID
) -> Literal["reverted", "expired", "already"] | None:
    """Revoke the push's assignments now; ``None`` when the push is not the tenant's."""
    async with pool.connection() as conn, conn.transaction():
        row = await (
            await conn.execute(
                "SELECT reverted_at IS NOT NULL, expires_at <= now(), assignment_ids FROM pushes"
                " WHERE push_id = %s AND tenant_id = %s FOR UPDATE",
                (push_id, user.tenant_id),
            )
        ).fetchone()
        if row is None:
            return None
        if row[0]:
            return "already"
        if row[1]:
            return "expired"
        await conn.execute(
            "UPDATE pushes SET reverted_at = now(), reverted_by = %s WHERE push_id = %s",
            (user.email, push_id),
        )
        cur = await conn.execute(
            "UPDATE playlist_assignments SET revoked_at = now() WHERE assignment_id = ANY(%s)"
            " AND tenant_id = %s AND revoked_at IS NULL RETURNING assignment_id",
            (row[2], user.tenant_id),
        )
        revoked = sorted(int(r[0]) for r in await cur.fetchall())
        await record(
            conn,
            user.tenant_id,
            user.email,
            "playlist.revert",
            f"push:{push_id}",
            {"push_id": str(push_id), "assignment_ids": revoked},
        )
        await conn.execute("SELECT pg_notify('fleethub_playlists', %s)", (f"push:{push_id}",))
    return "reverted"
