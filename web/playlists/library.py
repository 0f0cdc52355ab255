"""A tenant's playlist library and its assignments: what the panel reads and writes.

Playlists are content-addressed within their tenant (``playlists``, ``playlist_items``,
keyed by tenant and playlist id: the same items in two tenants are two playlists); a
tenant's library lists them by name (``tenant_playlists``).
Assignments are the desired state: every change is written with its audit row
in one transaction and wakes the hub with ``NOTIFY fleethub_playlists``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from actors.rules.dayparts import Daypart
from contract.manifest import items_id, normalise
from contract.payloads import PlaylistItem
from store.audit import record
from store.playlists import INSERT_ITEM, INSERT_PLAYLIST, INSERT_TENANT_PLAYLIST, Target, item_rows
from store.users import User
from web.playlists.forms import AssignRequest
from web.scope import IN_SCOPE, scope_params

AsyncConn = psycopg.AsyncConnection[tuple[object, ...]]


class NoSuchTarget(Exception):
    """The assignment's target is not a fleet, car or tablet the user sees."""


@dataclass(frozen=True, slots=True)
class PlaylistSummary:
    playlist_id: str
    name: str
    created_at: datetime
    items: int
    duration_ms: int
    assigned: list[str]


@dataclass(frozen=True, slots=True)
class Assignment:
    assignment_id: int
    playlist_id: str
    playlist_name: str | None
    target_kind: str
    target_id: str | None
    priority: str
    valid_from: datetime
    valid_until: datetime | None
    reason: str | None
    created_by: str
    created_at: datetime
    daypart_days: list[int] | None = None
    daypart_start: time | None = None
    daypart_end: time | None = None

    @property
    def target(self) -> str:
        return str(Target(self.target_kind, self.target_id))

    @property
    def daypart(self) -> Daypart:
        return Daypart(
            None if self.daypart_days is None else tuple(self.daypart_days),
            self.daypart_start,
            self.daypart_end,
        )


@dataclass(frozen=True, slots=True)
class Playlist:
    summary: PlaylistSummary
    items: list[PlaylistItem]


ACTIVE = "a.revoked_at IS NULL AND (a.valid_until IS NULL OR a.valid_until > now())"

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

ASSIGNMENTS = f"""
SELECT a.assignment_id, a.playlist_id, tp.name AS playlist_name, a.target_kind, a.target_id,
       a.priority, a.valid_from, a.valid_until, a.reason, a.created_by, a.created_at,
       a.daypart_days::int[] AS daypart_days, a.daypart_start, a.daypart_end
FROM playlist_assignments a
LEFT JOIN tenant_playlists tp ON tp.tenant_id = a.tenant_id AND tp.playlist_id = a.playlist_id
WHERE a.tenant_id = %(tenant)s AND {ACTIVE}
  AND (%(playlist)s::text IS NULL OR a.playlist_id = %(playlist)s)
  AND (%(assignment)s::bigint IS NULL OR a.assignment_id = %(assignment)s)
ORDER BY (a.priority = 'emergency') DESC, a.valid_from, a.assignment_id
"""  # noqa: S608 - constant fragments only

ITEMS = """
SELECT ad_id, campaign_id, url, sha256, duration_ms, position
FROM playlist_items WHERE tenant_id = %s AND playlist_id = %s ORDER BY position
"""

# Does the target exist within the user's scope? (the same answer for another tenant's ids)
TARGET_EXISTS = f"""
SELECT 1 FROM fleets f
WHERE {IN_SCOPE} AND CASE %(kind)s
    WHEN 'fleet' THEN f.fleet_id = %(id)s
    WHEN 'car' THEN EXISTS (SELECT 1 FROM cars c WHERE c.fleet_id = f.fleet_id
                                                   AND c.car_id = %(id)s)
    WHEN 'tablet' THEN EXISTS (SELECT 1 FROM tablets t WHERE t.fleet_id = f.fleet_id
                                                         AND t.tablet_id = %(id)s
                                                         AND t.revoked_at IS NULL)
    ELSE false END
LIMIT 1
"""  # noqa: S608 - constant fragments only

INSERT_ASSIGNMENT = """
INSERT INTO playlist_assignments (tenant_id, playlist_id, target_kind, target_id, priority,
                                  valid_from, valid_until, reason, created_by, daypart_days,
                                  daypart_start, daypart_end)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING assignment_id
"""

REVOKE = """
WITH r AS (
    UPDATE playlist_assignments SET revoked_at = now()
    WHERE assignment_id = %(id)s AND tenant_id = %(tenant)s AND revoked_at IS NULL
    RETURNING *)
SELECT r.assignment_id, r.playlist_id, tp.name AS playlist_name, r.target_kind, r.target_id,
       r.priority, r.valid_from, r.valid_until, r.reason, r.created_by, r.created_at,
       r.daypart_days::int[] AS daypart_days, r.daypart_start, r.daypart_end
FROM r
LEFT JOIN tenant_playlists tp ON tp.tenant_id = r.tenant_id AND tp.playlist_id = r.playlist_id
"""

REVOKE_ALL = f"""
UPDATE playlist_assignments a SET revoked_at = now()
WHERE a.tenant_id = %s AND a.playlist_id = %s AND {ACTIVE}
RETURNING a.assignment_id, a.target_kind, a.target_id, a.priority, a.valid_from, a.valid_until,
          a.reason, a.daypart_days, a.daypart_start, a.daypart_end
"""  # noqa: S608 - constant fragments only

NOTIFY = "SELECT pg_notify('fleethub_playlists', %s)"


async def library(
    pool: AsyncConnectionPool, user: User, playlist_id: str | None = None
) -> list[PlaylistSummary]:
    async with pool.connection() as conn:
        return await _library(conn, user, playlist_id)


async def _library(
    conn: AsyncConn, user: User, playlist_id: str | None = None
) -> list[PlaylistSummary]:
    async with conn.cursor(row_factory=class_row(PlaylistSummary)) as cur:
        await cur.execute(LIBRARY, scope_params(user, playlist=playlist_id))
        return await cur.fetchall()


async def assignments(
    pool: AsyncConnectionPool, user: User, playlist_id: str | None = None
) -> list[Assignment]:
    """Active and scheduled (not revoked, not expired) assignments, emergencies first."""
    async with pool.connection() as conn:
        return await _assignments(conn, user, playlist_id)


async def _assignments(
    conn: AsyncConn, user: User, playlist_id: str | None, assignment_id: int | None = None
) -> list[Assignment]:
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(
            ASSIGNMENTS, scope_params(user, playlist=playlist_id, assignment=assignment_id)
        )
        return await cur.fetchall()


async def assignment(
    pool: AsyncConnectionPool, user: User, assignment_id: int
) -> Assignment | None:
    """One active or scheduled assignment of the user's tenant."""
    async with pool.connection() as conn:
        found = await _assignments(conn, user, None, assignment_id)
    return found[0] if found else None


async def playlist(pool: AsyncConnectionPool, user: User, playlist_id: str) -> Playlist | None:
    """One playlist of the user's library with its items; None outside the library."""
    async with pool.connection() as conn:
        found = await _library(conn, user, playlist_id)
        if not found:
            return None
        async with conn.cursor(row_factory=class_row(PlaylistItem)) as cur:
            await cur.execute(ITEMS, (user.tenant_id, playlist_id))
            return Playlist(found[0], await cur.fetchall())


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


async def create(
    pool: AsyncConnectionPool, user: User, name: str, items: list[PlaylistItem]
) -> tuple[str, bool]:
    async with pool.connection() as conn, conn.transaction():
        playlist_id, added = await store_playlist(conn, user.tenant_id, name, items)
        if added:
            await record(
                conn,
                user.tenant_id,
                user.email,
                "playlist.create",
                f"playlist:{playlist_id}",
                {"name": name, "items": len(items)},
            )
    return playlist_id, added


@dataclass(frozen=True, slots=True)
class Edited:
    playlist_id: str
    renamed: bool
    replaced: list[tuple[int, int]]  # (old assignment id, new assignment id)


async def edit(
    pool: AsyncConnectionPool,
    user: User,
    old_id: str,
    name: str,
    items: list[PlaylistItem],
    replace: bool,
) -> Edited | None:
    """Save an edit: same items rename; new items make a new playlist (old ones stay).

    With ``replace``, the old playlist's active assignments move to the new one
    (new rows for the same targets and windows, the old ones revoked). None when
    ``old_id`` is not in the user's library.
    """
    new_id = items_id(normalise(items))
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT name FROM tenant_playlists WHERE tenant_id = %s AND playlist_id = %s"
            " FOR UPDATE",
            (user.tenant_id, old_id),
        )
        old = await cur.fetchone()
        if old is None:
            return None
        target = f"playlist:{old_id}"
        if new_id == old_id:
            renamed = old[0] != name
            if renamed:
                await conn.execute(
                    "UPDATE tenant_playlists SET name = %s WHERE tenant_id = %s"
                    " AND playlist_id = %s",
                    (name, user.tenant_id, old_id),
                )
                await record(
                    conn,
                    user.tenant_id,
                    user.email,
                    "playlist.rename",
                    target,
                    {"from": old[0], "to": name},
                )
            return Edited(old_id, renamed, [])
        _, added = await store_playlist(conn, user.tenant_id, name, items)
        if not added:
            await conn.execute(
                "UPDATE tenant_playlists SET name = %s WHERE tenant_id = %s AND playlist_id = %s",
                (name, user.tenant_id, new_id),
            )
        await record(
            conn,
            user.tenant_id,
            user.email,
            "playlist.edit",
            target,
            {"new_playlist_id": new_id, "name": name, "items": len(items)},
        )
        replaced = await _replace(conn, user, old_id, new_id) if replace else []
    return Edited(new_id, False, replaced)


async def _replace(conn: AsyncConn, user: User, old_id: str, new_id: str) -> list[tuple[int, int]]:
    cur = await conn.execute(REVOKE_ALL, (user.tenant_id, old_id))
    pairs: list[tuple[int, int]] = []
    for old_assignment, kind, ident, priority, valid_from, valid_until, reason, *daypart in sorted(
        await cur.fetchall(), key=lambda r: int(str(r[0]))
    ):
        new_cur = await conn.execute(
            INSERT_ASSIGNMENT,
            (
                user.tenant_id,
                new_id,
                kind,
                ident,
                priority,
                valid_from,
                valid_until,
                reason,
                user.email,
                *daypart,
            ),
        )
        row = await new_cur.fetchone()
        assert row is not None
        pairs.append((int(str(old_assignment)), int(str(row[0]))))
        await conn.execute(NOTIFY, (str(old_assignment),))
        await conn.execute(NOTIFY, (str(row[0]),))
    if pairs:
        moved = [{"revoked": old, "created": new} for old, new in pairs]
        await record(
            conn,
            user.tenant_id,
            user.email,
            "playlist.replace",
            f"playlist:{old_id}",
            {"new_playlist_id": new_id, "assignments": moved},
        )
    return pairs


async def target_exists(conn: AsyncConn, user: User, target: Target) -> bool:
    if target.kind == "all":
        return True
    cur = await conn.execute(TARGET_EXISTS, scope_params(user, kind=target.kind, id=target.id))
    return await cur.fetchone() is not None


async def assign(
    pool: AsyncConnectionPool, user: User, playlist_id: str, request: AssignRequest
) -> int | None:
    """Store the assignment, audit it and wake the hub; None when the playlist is not ours.

    Raises :class:`NoSuchTarget` when the target is not in the user's scope.
    """
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT 1 FROM tenant_playlists WHERE tenant_id = %s AND playlist_id = %s FOR SHARE",
            (user.tenant_id, playlist_id),
        )
        if await cur.fetchone() is None:
            return None
        if not await target_exists(conn, user, request.target):
            raise NoSuchTarget(str(request.target))
        t = request.target
        d = request.daypart
        cur = await conn.execute(
            INSERT_ASSIGNMENT,
            (
                user.tenant_id,
                playlist_id,
                t.kind,
                t.id,
                request.priority,
                request.valid_from,
                request.valid_until,
                request.reason,
                user.email,
                d.day_list,
                d.start,
                d.end,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        assignment_id = int(str(row[0]))
        details: dict[str, Any] = {
            "assignment_id": assignment_id,
            "playlist_id": playlist_id,
            "priority": request.priority,
            "valid_from": request.valid_from.isoformat(),
            "valid_until": request.valid_until.isoformat() if request.valid_until else None,
            "reason": request.reason,
            "daypart": d.details(),
        }
        await record(conn, user.tenant_id, user.email, "playlist.assign", str(t), details)
        await conn.execute(NOTIFY, (str(assignment_id),))
    return assignment_id


async def revoke(pool: AsyncConnectionPool, user: User, assignment_id: int) -> Assignment | None:
    """Revoke an active assignment of the user's tenant; None when there is no such one."""
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor(row_factory=class_row(Assignment)) as cur:
            await cur.execute(REVOKE, {"id": assignment_id, "tenant": user.tenant_id})
            revoked = await cur.fetchone()
        if revoked is None:
            return None
        await record(
            conn,
            user.tenant_id,
            user.email,
            "playlist.revoke",
            revoked.target,
            {
                "assignment_id": assignment_id,
                "playlist_id": revoked.playlist_id,
                "priority": revoked.priority,
                "daypart": revoked.daypart.details(),
            },
        )
        await conn.execute(NOTIFY, (str(assignment_id),))
    return revoked
