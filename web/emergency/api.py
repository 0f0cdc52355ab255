"""The emergency push for admins' bearer tokens: send, list, follow and revert pushes.

The same as the panel's ``/push`` pages (web/emergency/pages.py), as JSON under
``/api/v1/pushes``. A push id of another tenant is a 404.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from store.media_state import Readiness
from store.pushes import Push
from web.deps import ApiAdmin, PoolDep, SettingsDep
from web.emergency.form import PushIn
from web.emergency.pages import progress_or_404, push_id_or_404
from web.emergency.pushes import Counts, Progress, TabletProgress, recent, revert, send

router = APIRouter(prefix="/api/v1", tags=["pushes"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such push in your tenant"}}


class ProgressOut(BaseModel):
    """A push, its delivery counts and its first 200 tablets (problems first).

    While the push is active (``phase`` "push") the counts are of its playlist; once it is
    reverted or expired (``phase`` "return") they are of the way back: "acknowledged" means
    back on the tablet's own schedule (its next playlist applied), "offline" that it gets it
    on reconnect."""

    push_id: uuid.UUID
    status: Literal["active", "expired", "reverted"]
    phase: Literal["push", "return"]
    push: Push
    counts: Counts
    tablets: list[TabletProgress]
    content: Readiness  # the targeted tablets' readiness with the manifest's library files

    @classmethod
    def of(cls, found: Progress) -> ProgressOut:
        return cls(
            push_id=found.push.push_id,
            status=found.push.status,
            phase="push" if found.push.status == "active" else "return",
            push=found.push,
            counts=found.counts,
            tablets=list(found.tablets),
            content=found.readiness,
        )


@router.post("/pushes", status_code=201, responses={422: {"description": "invalid push"}})
async def api_send(
    body: PushIn, pool: PoolDep, settings: SettingsDep, user: ApiAdmin
) -> ProgressOut:
    """Send an emergency push (one library playlist or inline items) to the given targets."""
    draft, errors = body.draft()
    push_id = None
    if draft is not None:
        push_id, errors = await send(pool, user, draft, settings.playlist_refresh_interval_s)
    if push_id is None:
        raise HTTPException(422, errors)
    return ProgressOut.of(await progress_or_404(pool, user, push_id))


@router.get("/pushes")
async def api_recent(pool: PoolDep, user: ApiAdmin) -> list[Push]:
    """The tenant's 20 most recent pushes."""
    return await recent(pool, user)


@router.get("/pushes/{push_id}", responses=NOT_FOUND)
async def api_progress(push_id: str, pool: PoolDep, user: ApiAdmin) -> ProgressOut:
    """A push with its delivery counts and its first 200 tablets (problems first)."""
    return ProgressOut.of(await progress_or_404(pool, user, push_id_or_404(push_id)))


@router.post(
    "/pushes/{push_id}/revert",
    responses={**NOT_FOUND, 409: {"description": "already reverted or expired"}},
)
async def api_revert(push_id: str, pool: PoolDep, user: ApiAdmin) -> ProgressOut:
    """Revoke the push now: tablets go back to their scheduled playlist."""
    pid = push_id_or_404(push_id)
    outcome = await revert(pool, user, pid)
    if outcome is None:
        raise HTTPException(404, "no such push")
    if outcome != "reverted":
        state = "already reverted" if outcome == "already" else "expired"
        raise HTTPException(409, f"the push is {state}")
    return ProgressOut.of(await progress_or_404(pool, user, pid))
