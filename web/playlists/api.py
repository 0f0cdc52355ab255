"""Admins' playlist library as JSON for bearer tokens: list, read and assign playlists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel

from contract.payloads import PlaylistItem
from store.assignments import Assignment
from store.library import PlaylistSummary
from web.deps import ApiAdmin, PoolDep
from web.playlists import library
from web.playlists.forms import AssignmentIn, FormError, api_assignment
from web.playlists.library import NoSuchTarget, Playlist
from web.playlists.pages import PlaylistId

router = APIRouter(prefix="/api/v1", tags=["playlists"])


class PlaylistOut(BaseModel):
    playlist: PlaylistSummary
    items: list[PlaylistItem]
    assignments: list[Assignment]


@router.get("/playlists")
async def list_playlists(pool: PoolDep, user: ApiAdmin) -> list[PlaylistSummary]:
    """The tenant's playlist library, newest first, with where each is assigned."""
    return await library.library(pool, user)


@router.get("/playlists/{playlist_id}", responses={404: {"description": "not in your library"}})
async def get_playlist(pool: PoolDep, user: ApiAdmin, playlist_id: PlaylistId) -> PlaylistOut:
    found = await library.playlist(pool, user, playlist_id)
    if found is None:
        raise HTTPException(404, f"no playlist {playlist_id!r} in your library")
    active = await library.assignments(pool, user, playlist_id)
    return PlaylistOut(playlist=found.summary, items=found.items, assignments=active)


async def api_playlist(pool: PoolDep, user: ApiAdmin, playlist_id: PlaylistId) -> Playlist:
    """The playlist named in the path, checked before the body is read (404 first)."""
    found = await library.playlist(pool, user, playlist_id)
    if found is None:
        raise HTTPException(404, f"no playlist {playlist_id!r} in your library")
    return found


@router.post(
    "/playlists/{playlist_id}/assignments",
    status_code=201,
    responses={
        404: {"description": "not in your library, or no such target"},
        422: {"description": "the assignment cannot be used (the message says why)"},
    },
)
async def create_assignment(
    pool: PoolDep,
    user: ApiAdmin,
    found: Annotated[Playlist, Depends(api_playlist)],
    body: AssignmentIn,
) -> Assignment:
    """Assign the playlist; ``daypart_*`` limit a normal assignment to days and local times."""
    playlist_id = found.summary.playlist_id
    try:
        wanted = api_assignment(body, datetime.now(UTC))
        assignment_id = await library.assign(pool, user, playlist_id, wanted)
    except FormError as exc:
        raise HTTPException(422, str(exc)) from None
    except NoSuchTarget as exc:
        raise HTTPException(404, f"no such target in your tenant: {exc}") from None
    if assignment_id is None:
        raise HTTPException(404, f"no playlist {playlist_id!r} in your library")
    created = await library.assignment(pool, user, assignment_id)
    if created is None:  # revoked in between
        raise HTTPException(404, f"no active assignment {assignment_id}")
    return created
