"""Incidents and their notes: read and written within a user's scope.

An incident belongs to the fleet it was opened in (``incidents.fleet_id``, the same
fleet the change feed routes its alert by); every query joins that fleet and is
limited by :data:`~store.scope.IN_SCOPE`, so an incident outside the scope reads
as missing. Acknowledging and noting write the audit log in the same transaction.

The hub's writer opens and resolves them (:func:`write_incident`) on its own cursor, in
its own transaction, each with its notification and ``NOTIFY fleethub_alerts``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from actors.effects import IncidentEvent
from actors.rules.incidents import alert_payload
from store.audit import record
from store.scope import IN_SCOPE, scope_params
from store.users import User

Cursor = psycopg.AsyncCursor[Any]
# Every incident kind, in the words the panel shows (and filters by).
KIND_WORDS = {
    "offline": "offline",
    "flapping": "flapping",
    "download_failed": "download failed",
    "low_storage": "low storage",
    "crash_loop": "crash loop",
    "playback_stuck": "playback stuck",
    "not_charging": "not charging",
    "clock_skew": "clock skew",
    "app_outdated": "app outdated",
}
# What alert channels carry: every incident kind, and a halted app rollout (store/rollouts.py).
ALERT_WORDS = {**KIND_WORDS, "rollout_halted": "app rollout halted"}

OPEN_INCIDENT = """
INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, offline_since, detail)
VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (incident_id) DO NOTHING
"""
RESOLVE_INCIDENT = """
UPDATE incidents SET resolved_at = %s WHERE incident_id = %s AND resolved_at IS NULL
"""
NOTIFY = """
INSERT INTO notifications (fleet_id, tablet_id, kind, payload, dedupe_key)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT (dedupe_key) DO NOTHING
"""
NOTIFY_ALERTS = "SELECT pg_notify('fleethub_alerts', %s)"


async def write_incident(cur: Cursor, ev: IncidentEvent) -> None:
    """Open or resolve the incident, record its notification and notify the alert."""
    if ev.event == "opened":
        row = (ev.incident_id, ev.tablet_id, ev.fleet_id, ev.kind, ev.opened_at, ev.offline_since)
        await cur.execute(OPEN_INCIDENT, (*row, ev.detail))
    else:
        await cur.execute(RESOLVE_INCIDENT, (ev.at, ev.incident_id))
    payload = alert_payload(ev).decode()
    await cur.execute(
        NOTIFY,
        (
            ev.fleet_id,
            ev.tablet_id,
            f"incident.{ev.event}",
            payload,
            f"{ev.incident_id}:{ev.event}",
        ),
    )
    await cur.execute(NOTIFY_ALERTS, (payload,))


@dataclass(frozen=True, slots=True)
class Incident:
    incident_id: uuid.UUID
    tablet_id: str
    car_id: str | None
    fleet_id: str
    fleet_name: str
    kind: str
    opened_at: datetime
    offline_since: datetime | None
    resolved_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None
    notes: int
    tablet_state: str = "unknown"  # the tablet's state now
    tablet_since: datetime | None = None  # since when it is in that state
    detail: str | None = None  # what a health incident saw

    @property
    def about_presence(self) -> bool:
        """Offline or flapping: the incidents whose "offline since" means something."""
        return self.kind in ("offline", "flapping")

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def still_offline(self) -> bool:
        """Open, and the tablet has not come back: only then is it "offline since"."""
        return self.is_open and self.tablet_state != "online" and self.about_presence

    def lasted(self, now: datetime) -> str:
        """How long it has lasted (open) or lasted (resolved), e.g. ``2 h 05 min``."""
        seconds = int(
            ((self.resolved_at or now) - (self.offline_since or self.opened_at)).total_seconds()
        )
        return human_duration(seconds)


@dataclass(frozen=True, slots=True)
class Note:
    note_id: int
    incident_id: uuid.UUID
    author: str
    body: str
    created_at: datetime


def human_duration(seconds: int) -> str:
    seconds = max(0, seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


SELECT = """
SELECT i.incident_id, i.tablet_id, t.car_id, i.fleet_id, f.name AS fleet_name, i.kind,
       i.opened_at, i.offline_since, i.resolved_at, i.acked_at, i.acked_by,
       (SELECT count(*) FROM incident_notes n WHERE n.incident_id = i.incident_id)::int AS notes,
       coalesce(s.state, 'unknown') AS tablet_state, s.state_since AS tablet_since, i.detail
FROM incidents i
JOIN fleets f ON f.fleet_id = i.fleet_id
LEFT JOIN tablets t ON t.tablet_id = i.tablet_id
LEFT JOIN tablet_state s ON s.tablet_id = i.tablet_id
"""

LISTING = (
    SELECT
    + f"""
WHERE {IN_SCOPE}
  AND (%(fleet)s::text IS NULL OR i.fleet_id = %(fleet)s)
  AND (%(kind)s::text IS NULL OR i.kind = %(kind)s)
  AND CASE %(status)s::text
        WHEN 'open' THEN i.resolved_at IS NULL
        WHEN 'unacked' THEN i.resolved_at IS NULL AND i.acked_at IS NULL
        WHEN 'acked' THEN i.resolved_at IS NULL AND i.acked_at IS NOT NULL
        WHEN 'resolved' THEN i.resolved_at >= %(resolved_since)s
      END
ORDER BY coalesce(i.resolved_at, i.opened_at) DESC, i.incident_id
LIMIT %(limit)s
"""
)

FOR_TABLET = (
    SELECT
    + f"""
WHERE i.tablet_id = %(tablet)s AND {IN_SCOPE}
ORDER BY i.opened_at DESC LIMIT %(limit)s
"""
)

ONE = SELECT + f"WHERE i.incident_id = %(incident)s AND {IN_SCOPE}"

NOTES = f"""
SELECT n.note_id, n.incident_id, n.author, n.body, n.created_at
FROM incident_notes n
JOIN incidents i ON i.incident_id = n.incident_id
JOIN fleets f ON f.fleet_id = i.fleet_id
WHERE n.incident_id = ANY(%(incidents)s) AND {IN_SCOPE}
ORDER BY n.created_at, n.note_id
"""  # noqa: S608 - constant fragments only

ACK = f"""
UPDATE incidents i SET acked_at = now(), acked_by = %(email)s
FROM fleets f
WHERE f.fleet_id = i.fleet_id AND i.incident_id = %(incident)s AND i.acked_at IS NULL
  AND {IN_SCOPE}
RETURNING i.tablet_id, i.fleet_id, i.kind
"""  # noqa: S608 - constant fragments only

ADD_NOTE = f"""
INSERT INTO incident_notes (incident_id, author, body)
SELECT i.incident_id, %(email)s, %(body)s
FROM incidents i JOIN fleets f ON f.fleet_id = i.fleet_id
WHERE i.incident_id = %(incident)s AND {IN_SCOPE}
RETURNING note_id, incident_id, author, body, created_at
"""  # noqa: S608 - constant fragments only


async def listing(
    pool: AsyncConnectionPool,
    user: User,
    status: str,
    resolved_since: datetime,
    fleet: str | None,
    limit: int,
    kind: str | None = None,
) -> list[Incident]:
    """Incidents of one status (open, unacked, acked, or resolved since ``resolved_since``),
    of one ``kind`` when given."""
    params = scope_params(
        user, fleet=fleet, status=status, limit=limit, resolved_since=resolved_since, kind=kind
    )
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Incident)) as cur:
        await cur.execute(LISTING, params)
        return await cur.fetchall()


async def for_tablet(
    pool: AsyncConnectionPool, user: User, tablet_id: str, limit: int
) -> list[Incident]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Incident)) as cur:
        await cur.execute(FOR_TABLET, scope_params(user, tablet=tablet_id, limit=limit))
        return await cur.fetchall()


async def get(pool: AsyncConnectionPool, user: User, incident_id: uuid.UUID) -> Incident | None:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Incident)) as cur:
        await cur.execute(ONE, scope_params(user, incident=incident_id))
        return await cur.fetchone()


async def notes(
    pool: AsyncConnectionPool, user: User, incident_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Note]]:
    """The notes of these incidents, oldest first, by incident."""
    found: dict[uuid.UUID, list[Note]] = {i: [] for i in incident_ids}
    if not incident_ids:
        return found
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Note)) as cur:
        await cur.execute(NOTES, scope_params(user, incidents=incident_ids))
        for note in await cur.fetchall():
            found[note.incident_id].append(note)
    return found


async def acknowledge(pool: AsyncConnectionPool, user: User, incident_id: uuid.UUID) -> None:
    """Mark it acknowledged by this user (audited) unless it already is or is outside the scope."""
    params = scope_params(user, incident=incident_id, email=user.email)
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(ACK, params)
        row = await cur.fetchone()
        if row is not None:
            details = dict(zip(("tablet_id", "fleet_id", "kind"), row, strict=True))
            await record(
                conn, user.tenant_id, user.email, "incident.ack", f"incident:{incident_id}", details
            )


async def add_note(
    pool: AsyncConnectionPool, user: User, incident_id: uuid.UUID, text: str
) -> Note | None:
    """Add a note (audited); None when the incident is outside the scope."""
    params = scope_params(user, incident=incident_id, email=user.email, body=text)
    async with (
        pool.connection() as conn,
        conn.transaction(),
        conn.cursor(row_factory=class_row(Note)) as cur,
    ):
        await cur.execute(ADD_NOTE, params)
        note = await cur.fetchone()
        if note is not None:
            await record(
                conn,
                user.tenant_id,
                user.email,
                "incident.note",
                f"incident:{incident_id}",
                {"note_id": note.note_id, "chars": len(text)},
            )
    return note
