"""Emergency pushes as the panel makes them: checking, sending, progress and revert.

A push is one ``pushes`` row grouping one emergency assignment per target
(:mod:`store.pushes`), all with the same playlist, validity and so the same manifest
etag. Like :func:`store.playlists.push`, sending writes desired state and wakes the
hub with ``NOTIFY fleethub_playlists``; each of sending and reverting is one
transaction held here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg_pool import AsyncConnectionPool

from contract.manifest import Manifest
from store import assignments, pushes
from store.audit import record
from store.library import manifest_parts, store_playlist
from store.media_state import Readiness, push_readiness
from store.pushes import LibraryPlaylist, Push
from store.users import User
from web.emergency.form import Draft, Errors

AsyncConn = psycopg.AsyncConnection[tuple[Any, ...]]
BUCKETS = ("acknowledged", "published", "offline", "pending", "failed")


@dataclass(frozen=True, slots=True)
class Reach:
    """What a checked draft will reach: tablets now registered, and how many are online."""

    playlist_name: str
    items: int
    tablets: int
    online: int


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
    # Of the targeted tablets, how far they are with the manifest's library files.
    readiness: Readiness


async def library(pool: AsyncConnectionPool, user: User) -> list[LibraryPlaylist]:
    return await pushes.library(pool, user.tenant_id)


async def check(pool: AsyncConnectionPool, user: User, draft: Draft) -> tuple[Reach | None, Errors]:
    async with pool.connection() as conn:
        return await _check(conn, user, draft)


async def _check(conn: AsyncConn, user: User, draft: Draft) -> tuple[Reach | None, Errors]:
    """The store's side of the checks: the playlist and every target are the tenant's."""
    errors: Errors = {}
    name, items = draft.reason, len(draft.items)
    if draft.playlist_id is not None:
        found = await pushes.library_playlist(conn, user.tenant_id, draft.playlist_id)
        if found is None:
            errors["playlist_id"] = f"No playlist {draft.playlist_id!r} in your library."
        elif not found[1]:
            errors["playlist_id"] = f"The playlist {found[0]!r} has no items."
        else:
            name, items = str(found[0]), int(found[1])
    fleets, cars, tablets = list(draft.fleets), list(draft.cars), list(draft.tablets)
    unknown = await pushes.unknown_targets(conn, user.tenant_id, fleets, cars, tablets)
    for key, kind, missing in zip(
        ("fleets", "cars", "tablets"), ("fleet", "car", "tablet"), unknown, strict=True
    ):
        if missing:
            errors[key] = f"No {kind} {', '.join(missing[:5])} in your tenant."
    matched, online = await pushes.reach(
        conn, user.tenant_id, draft.all_tablets, fleets, cars, tablets
    )
    if (
        matched == 0
        and "targets" not in errors
        and not errors.keys() & {"fleets", "cars", "tablets"}
    ):
        errors["targets"] = "No registered tablet matches these targets."
    if errors:
        return None, errors
    return Reach(name, items, matched, online), {}


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
        await pushes.lock(conn, push_id)
        owner = await pushes.tenant_of(conn, push_id)
        if owner is not None and owner == user.tenant_id:
            return push_id, {}
        if owner is not None:  # not this tenant's: never say so, just make a new push
            push_id = uuid.uuid4()
        reach, errors = await _check(conn, user, draft)
        if reach is None:
            return None, errors
        playlist_id = draft.playlist_id or await _store_items(conn, user, draft)
        version, items = await manifest_parts(conn, user.tenant_id, playlist_id)
        now = datetime.now(UTC)
        valid_until = now + timedelta(minutes=draft.expires_min)
        assignment_ids: list[int] = []
        for target in draft.targets:
            assignment_id, valid_until = await pushes.insert_assignment(
                conn,
                user.tenant_id,
                playlist_id,
                target.kind,
                target.id,
                now,
                valid_until,
                draft.reason,
                user.email,
            )
            assignment_ids.append(assignment_id)  # valid_until as the hub reads it back
        manifest = Manifest(playlist_id, version, "emergency", now, valid_until, refresh_s, items)
        targets = [str(t) for t in draft.targets]
        await pushes.insert(
            conn,
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
        await assignments.notify(conn, f"push:{push_id}")
    return push_id, {}


async def _store_items(conn: AsyncConn, user: User, draft: Draft) -> str:
    """The composed items as a content-addressed playlist in the tenant's library."""
    playlist_id, _ = await store_playlist(conn, user.tenant_id, draft.reason, list(draft.items))
    return playlist_id


def push_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def progress(pool: AsyncConnectionPool, user: User, push_id: uuid.UUID) -> Progress | None:
    """The push with its counts and first tablets; ``None`` when it is not the tenant's."""
    rows = await pushes.progress_rows(pool, user.tenant_id, push_id)
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
    async with pool.connection() as conn:
        ready = await push_readiness(conn, user.tenant_id, push_id)
    return Progress(push, counts, tablets, ready)


async def recent(pool: AsyncConnectionPool, user: User, limit: int = 20) -> list[Push]:
    return await pushes.recent(pool, user.tenant_id, limit)


async def revert(
    pool: AsyncConnectionPool, user: User, push_id: uuid.UUID
) -> Literal["reverted", "expired", "already"] | None:
    """Revoke the push's assignments now; ``None`` when the push is not the tenant's."""
    async with pool.connection() as conn, conn.transaction():
        found = await pushes.lock_for_revert(conn, user.tenant_id, push_id)
        if found is None:
            return None
        reverted, expired, assignment_ids = found
        if reverted:
            return "already"
        if expired:
            return "expired"
        await pushes.mark_reverted(conn, push_id, user.email)
        revoked = await pushes.revoke_assignments(conn, user.tenant_id, assignment_ids)
        await record(
            conn,
            user.tenant_id,
            user.email,
            "playlist.revert",
            f"push:{push_id}",
            {"push_id": str(push_id), "assignment_ids": revoked},
        )
        await assignments.notify(conn, f"push:{push_id}")
    return "reverted"
