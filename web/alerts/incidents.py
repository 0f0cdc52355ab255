"""Incidents as the panel sees them: open and recently resolved, acknowledgement and notes.

The store (:mod:`store.incidents`) limits every query to the user's scope, so an
incident outside it reads as missing; here are the statuses, the note checks and
the alerts page's board.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from psycopg_pool import AsyncConnectionPool

from store import incidents
from store.incidents import KIND_WORDS as KIND_WORDS
from store.incidents import Incident, Note
from store.users import User

Status = Literal["open", "unacked", "acked", "resolved"]
RESOLVED_WINDOW = timedelta(days=7)
LIST_CAP = 200
NOTE_MAX = 2000


class NoteInvalid(ValueError):
    """A note that is empty or too long; the message says which."""


def parse_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def check_note(body: str) -> str:
    """The note's text, trimmed; raises :class:`NoteInvalid` unless it holds 1–2000 characters."""
    text = body.strip()
    if not text:
        raise NoteInvalid("The note is empty: write something before adding it.")
    if len(text) > NOTE_MAX:
        raise NoteInvalid(
            f"The note is too long: {len(text)} characters, at most {NOTE_MAX} are allowed."
        )
    return text


async def listing(
    pool: AsyncConnectionPool,
    user: User,
    status: Status,
    now: datetime,
    fleet: str | None = None,
    limit: int = LIST_CAP,
    kind: str | None = None,
) -> list[Incident]:
    """Open ones newest first; resolved ones of the last 7 days, latest resolved first."""
    since = now - RESOLVED_WINDOW
    return await incidents.listing(pool, user, status, since, fleet, limit, kind)


async def for_tablet(
    pool: AsyncConnectionPool, user: User, tablet_id: str, limit: int = 20
) -> list[Incident]:
    return await incidents.for_tablet(pool, user, tablet_id, limit)


async def get(pool: AsyncConnectionPool, user: User, incident_id: uuid.UUID) -> Incident | None:
    return await incidents.get(pool, user, incident_id)


async def notes(
    pool: AsyncConnectionPool, user: User, incident_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Note]]:
    """The notes of these incidents, oldest first, by incident."""
    return await incidents.notes(pool, user, incident_ids)


async def acknowledge(
    pool: AsyncConnectionPool, user: User, incident_id: uuid.UUID
) -> Incident | None:
    """Mark it acknowledged by this user unless it already is; None when outside the scope."""
    await incidents.acknowledge(pool, user, incident_id)
    return await get(pool, user, incident_id)


async def add_note(
    pool: AsyncConnectionPool, user: User, incident_id: uuid.UUID, body: str
) -> Note | None:
    """Add a checked note (see :func:`check_note`); None when the incident is outside the scope."""
    return await incidents.add_note(pool, user, incident_id, check_note(body))


@dataclass(frozen=True, slots=True)
class Board:
    """The alerts page: open incidents, recently resolved ones, and their notes."""

    open: list[Incident]
    resolved: list[Incident]
    notes: dict[uuid.UUID, list[Note]]


async def board(
    pool: AsyncConnectionPool,
    user: User,
    now: datetime,
    fleet: str | None = None,
    status: Status | None = None,
    resolved: bool = True,
    kind: str | None = None,
) -> Board:
    """``status`` None shows every open incident and, if ``resolved``, the resolved ones;
    ``kind``: only incidents of that kind."""
    open_status: Status | None = None if status == "resolved" else status or "open"
    opened = await listing(pool, user, open_status, now, fleet, kind=kind) if open_status else []
    closed = (
        await listing(pool, user, "resolved", now, fleet, kind=kind)
        if resolved and status in (None, "resolved")
        else []
    )
    found = await notes(pool, user, [i.incident_id for i in opened + closed])
    return Board(opened, closed, found)
