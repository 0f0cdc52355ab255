"""One tablet's heartbeats, presence transitions and incidents as JSON (bearer tokens).

The tablet itself (its tile) is ``GET /api/v1/tablets/{tablet_id}`` in web/grid/api.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import GenericAlias
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from psycopg_pool import AsyncConnectionPool

from store.incidents import Incident
from store.tablets import Heartbeat, Transition
from store.users import User
from web.alerts import incidents
from web.deps import ApiUser, PoolDep
from web.tablets.detail import WINDOW, heartbeats, info, transitions

router = APIRouter(
    prefix="/api/v1/tablets",
    tags=["fleet"],
    responses={404: {"description": "no such tablet in scope"}},
)


async def _in_scope(pool: AsyncConnectionPool, user: User, tablet_id: str) -> None:
    if await info(pool, user, tablet_id) is None:
        raise HTTPException(404, f"no tablet {tablet_id!r}")


# list[Heartbeat], Heartbeat being made at import (web/tablets/detail.py)
@router.get("/{tablet_id}/heartbeats", response_model=GenericAlias(list, Heartbeat))
async def tablet_heartbeats(
    tablet_id: str,
    pool: PoolDep,
    user: ApiUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[Any]:
    """The tablet's newest heartbeats, newest first."""
    await _in_scope(pool, user, tablet_id)
    return await heartbeats(pool, user, tablet_id, limit)


@router.get("/{tablet_id}/transitions")
async def tablet_transitions(
    tablet_id: str,
    pool: PoolDep,
    user: ApiUser,
    since: Annotated[datetime | None, Query(description="default: 24 hours ago")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[Transition]:
    """Presence transitions (to online/offline/unknown, with the reason), oldest first."""
    await _in_scope(pool, user, tablet_id)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return await transitions(pool, user, tablet_id, since or datetime.now(UTC) - WINDOW, limit)


@router.get("/{tablet_id}/incidents")
async def tablet_incidents(
    tablet_id: str,
    pool: PoolDep,
    user: ApiUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[Incident]:
    """The tablet's incidents, newest first."""
    await _in_scope(pool, user, tablet_id)
    return await incidents.for_tablet(pool, user, tablet_id, limit)
