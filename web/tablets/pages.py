"""One tablet's page (live tile, 24 h timeline, heartbeats, incidents, deliveries) and its API."""

from __future__ import annotations

from datetime import UTC, datetime
from types import GenericAlias
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from psycopg_pool import AsyncConnectionPool

from store.users import User
from web.alerts import incidents
from web.deps import ApiUser, FleetLogin, PoolDep
from web.http.templating import TEMPLATES
from web.tablets.detail import WINDOW, Heartbeat, Transition, detail, heartbeats, info, transitions

pages = APIRouter(include_in_schema=False)
api = APIRouter(
    prefix="/api/v1/tablets",
    tags=["fleet"],
    responses={404: {"description": "no such tablet in scope"}},
)


@pages.get("/tablets/{tablet_id}", response_class=HTMLResponse)
async def tablet_page(
    tablet_id: str, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    now = datetime.now(UTC)
    found = await detail(pool, login.user, tablet_id, now)
    if found is None:
        raise HTTPException(404, f"no tablet {tablet_id!r}")
    return TEMPLATES.TemplateResponse(
        request, "tablet.html", {"login": login, "d": found, "now": now}
    )


async def _in_scope(pool: AsyncConnectionPool, user: User, tablet_id: str) -> None:
    if await info(pool, user, tablet_id) is None:
        raise HTTPException(404, f"no tablet {tablet_id!r}")


# list[Heartbeat], Heartbeat being made at import (web/tablets/detail.py)
@api.get("/{tablet_id}/heartbeats", response_model=GenericAlias(list, Heartbeat))
async def tablet_heartbeats(
    tablet_id: str,
    pool: PoolDep,
    user: ApiUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[Any]:
    """The tablet's newest heartbeats, newest first."""
    await _in_scope(pool, user, tablet_id)
    return await heartbeats(pool, user, tablet_id, limit)


@api.get("/{tablet_id}/transitions")
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


@api.get("/{tablet_id}/incidents")
async def tablet_incidents(
    tablet_id: str,
    pool: PoolDep,
    user: ApiUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[incidents.Incident]:
    """The tablet's incidents, newest first."""
    await _in_scope(pool, user, tablet_id)
    return await incidents.for_tablet(pool, user, tablet_id, limit)


router = APIRouter()
router.include_router(pages)
router.include_router(api)
