"""A tenant's playlist library and its assignments: what the panel reads and writes.

The store holds the library (:mod:`store.library`: playlists content-addressed within
their tenant, listed by name) and the assignments (:mod:`store.assignments`, the desired
state). Every change here is written with its audit row in one transaction and wakes
the hub with ``NOTIFY fleethub_playlists``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from contract.manifest import items_id, normalise
from contract.payloads import PlaylistItem
from store import assignments as assignment_store
from store import library as library_store
from store.assignments import Assignment
from store.audit import record
from store.library import PlaylistSummary
from store.media_state import Readiness, playlist_readiness
from store.users import User
from web.playlists.forms import AssignRequest

AsyncConn = psycopg.AsyncConnection[tuple[object, ...]]


class NoSuchTarget(Exception):
    """The assignment's target is not a fleet, car or tablet the user sees."""


@dataclass(frozen=True, slots=True)
class Playlist:
    summary: PlaylistSummary
    items: list[PlaylistItem]


async def library(
    pool: AsyncConnectionPool, user: User, playlist_id: str | None = None
) -> list[PlaylistSummary]:
    async with pool.connection() as conn:
        return await library_store.summaries(conn, user, playlist_id)


async def assignments(
    pool: AsyncConnectionPool, user: User, playlist_id: str | None = None
) -> list[Assignment]:
    """Active and scheduled (not revoked, not expired) assignments, emergencies first."""
    async with pool.connection() as conn:
        return await assignment_store.active(conn, user, playlist_id)


async def assignment(
    pool: AsyncConnectionPool, user: User, assignment_id: int
) -> Assignment | None:
    """One active or scheduled assignment of the user's tenant."""
    async with pool.connection() as conn:
        found = await assignment_store.active(conn, user, None, assignment_id)
    return found[0] if found else None


async def playlist(pool: AsyncConnectionPool, user: User, playlist_id: str) -> Playlist | None:
    """One playlist of the user's library with its items; None outside the library."""
    async with pool.connection() as conn:
        found = await library_store.summaries(conn, user, playlist_id)
        if not found:
            return None
        return Playlist(found[0], await library_store.items(conn, user.tenant_id, playlist_id))


async def create(
    pool: AsyncConnectionPool, user: User, name: str, items: list[PlaylistItem]
) -> tuple[str, bool]:
    async with pool.connection() as conn, conn.transaction():
        playlist_id, added = await library_store.store_playlist(conn, user.tenant_id, name, items)
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
        old = await library_store.lock_name(conn, user.tenant_id, old_id)
        if old is None:
            return None
        target = f"playlist:{old_id}"
        if new_id == old_id:
            renamed = old != name
            if renamed:
                await library_store.rename(conn, user.tenant_id, old_id, name)
                await record(
                    conn,
                    user.tenant_id,
                    user.email,
                    "playlist.rename",
                    target,
                    {"from": old, "to": name},
                )
            return Edited(old_id, renamed, [])
        _, added = await library_store.store_playlist(conn, user.tenant_id, name, items)
        if not added:
            await library_store.rename(conn, user.tenant_id, new_id, name)
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
    revoked = await assignment_store.revoke_all(conn, user.tenant_id, old_id)
    pairs: list[tuple[int, int]] = []
    for old_assignment, kind, ident, priority, valid_from, valid_until, reason, *daypart in sorted(
        revoked, key=lambda r: int(str(r[0]))
    ):
        new_assignment = await assignment_store.insert(
            conn,
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
        pairs.append((int(str(old_assignment)), new_assignment))
        await assignment_store.notify(conn, str(old_assignment))
        await assignment_store.notify(conn, str(new_assignment))
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


async def assign(
    pool: AsyncConnectionPool, user: User, playlist_id: str, request: AssignRequest
) -> int | None:
    """Store the assignment, audit it and wake the hub; None when the playlist is not ours.

    Raises :class:`NoSuchTarget` when the target is not in the user's scope.
    """
    async with pool.connection() as conn, conn.transaction():
        if not await library_store.lock_shared(conn, user.tenant_id, playlist_id):
            return None
        if not await assignment_store.target_exists(conn, user, request.target):
            raise NoSuchTarget(str(request.target))
        t = request.target
        d = request.daypart
        assignment_id = await assignment_store.insert(
            conn,
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
        await assignment_store.notify(conn, str(assignment_id))
    return assignment_id


async def revoke(pool: AsyncConnectionPool, user: User, assignment_id: int) -> Assignment | None:
    """Revoke an active assignment of the user's tenant; None when there is no such one."""
    async with pool.connection() as conn, conn.transaction():
        revoked = await assignment_store.revoke(conn, user.tenant_id, assignment_id)
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
        await assignment_store.notify(conn, str(assignment_id))
    return revoked


async def readiness(pool: AsyncConnectionPool, user: User, playlist_id: str) -> Readiness:
    """How far the tablets that should play the playlist are with its library files."""
    async with pool.connection() as conn:
        return await playlist_readiness(conn, user.tenant_id, playlist_id)
