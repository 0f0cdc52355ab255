"""Playlist assignments as the panel writes them: active ones, new ones, revocations.

An assignment is desired state; every change wakes the hub with
``NOTIFY fleethub_playlists`` (:func:`notify`), in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import psycopg
from psycopg.rows import class_row

from actors.rules.dayparts import Daypart
from store.playlists import Target
from store.scope import IN_SCOPE, scope_params
from store.users import User

AsyncConn = psycopg.AsyncConnection[Any]


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


ACTIVE = "a.revoked_at IS NULL AND (a.valid_until IS NULL OR a.valid_until > now())"

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


async def active(
    conn: AsyncConn, user: User, playlist_id: str | None, assignment_id: int | None = None
) -> list[Assignment]:
    """Active and scheduled (not revoked, not expired) assignments, emergencies first."""
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(
            ASSIGNMENTS, scope_params(user, playlist=playlist_id, assignment=assignment_id)
        )
        return await cur.fetchall()


async def target_exists(conn: AsyncConn, user: User, target: Target) -> bool:
    if target.kind == "all":
        return True
    cur = await conn.execute(TARGET_EXISTS, scope_params(user, kind=target.kind, id=target.id))
    return await cur.fetchone() is not None


async def insert(conn: AsyncConn, row: tuple[object, ...]) -> int:
    """Store one assignment; ``row`` holds the columns of :data:`INSERT_ASSIGNMENT` in order."""
    cur = await conn.execute(INSERT_ASSIGNMENT, row)
    found = await cur.fetchone()
    assert found is not None
    return int(str(found[0]))


async def revoke(conn: AsyncConn, tenant_id: str, assignment_id: int) -> Assignment | None:
    """Revoke an active assignment of the tenant; None when there is no such one."""
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(REVOKE, {"id": assignment_id, "tenant": tenant_id})
        return await cur.fetchone()


async def revoke_all(conn: AsyncConn, tenant_id: str, playlist_id: str) -> list[tuple[Any, ...]]:
    """Revoke the playlist's active assignments; their (id, target kind, target id, priority,
    valid_from, valid_until, reason, daypart days, start, end)."""
    cur = await conn.execute(REVOKE_ALL, (tenant_id, playlist_id))
    return await cur.fetchall()


async def notify(conn: AsyncConn, payload: str) -> None:
    """Wake the hub's reconciler (``NOTIFY fleethub_playlists``) when the transaction commits."""
    await conn.execute(NOTIFY, (payload,))
