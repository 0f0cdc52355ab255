"""The alerts view: open and recently resolved incidents, acknowledgement and notes; and its API."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, cast, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from web.alerts import incidents
from web.alerts.incidents import Incident, Note, NoteInvalid, Status
from web.deps import ApiUser, FleetLogin, FormLogin, Login, PoolDep
from web.grid.pages import FleetQuery
from web.grid.tiles import fleets
from web.http.templating import TEMPLATES

pages = APIRouter(include_in_schema=False)
api = APIRouter(
    prefix="/api/v1/incidents",
    tags=["incidents"],
    responses={404: {"description": "no such incident in scope"}},
)

StatusQuery = Annotated[Status | None, Query()]
StateQuery = Annotated[
    Status,
    Query(
        description=(
            "open: every unresolved one; unacked/acked: unresolved ones by acknowledgement;"
            " resolved: resolved in the last 7 days"
        )
    ),
]
FLEET_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


async def fleet_csrf(login: FormLogin) -> Login:
    if not login.user.can_view_fleet:
        raise HTTPException(403, "the fleet views are for admins and fleet owners")
    return login


FleetCsrf = Annotated[Login, Depends(fleet_csrf)]


def _incident_id(text: str) -> uuid.UUID:
    found = incidents.parse_id(text)
    if found is None:
        raise HTTPException(404, f"no incident {text!r}")
    return found


def _filters(fleet: str | None, status: str | None) -> tuple[str | None, Status | None]:
    """The list filters carried by a form, dropped when malformed."""
    ok_fleet = fleet if fleet and FLEET_ID.match(fleet) else None
    ok_status = cast(Status, status) if status in get_args(Status) else None
    return ok_fleet, ok_status


def _back(fleet: str | None, status: Status | None, incident_id: uuid.UUID) -> str:
    query = urlencode({k: v for k, v in (("fleet", fleet), ("status", status)) if v})
    return f"/alerts{'?' + query if query else ''}#incident-{incident_id}"


async def _page(
    request: Request,
    pool: AsyncConnectionPool,
    login: Login,
    fleet: str | None,
    status: Status | None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    now = datetime.now(UTC)
    board = await incidents.board(pool, login.user, now, fleet, status)
    return TEMPLATES.TemplateResponse(
        request,
        "alerts.html",
        {
            "login": login,
            "board": board,
            "now": now,
            "fleet": fleet,
            "status": status,
            "fleets": await fleets(pool, login.user),
            "error": None,
            "error_incident": None,
            "draft": "",
            **extra,
        },
        status_code=status_code,
    )


@pages.get("/alerts", response_class=HTMLResponse)
async def alerts_page(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    fleet: FleetQuery = None,
    status: StatusQuery = None,
) -> HTMLResponse:
    return await _page(request, pool, login, fleet or None, status)


@pages.get("/alerts/open", response_class=HTMLResponse)
async def open_fragment(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    fleet: FleetQuery = None,
    status: StatusQuery = None,
) -> HTMLResponse:
    """The open incidents' table alone, fetched by the page when an alert arrives."""
    now = datetime.now(UTC)
    board = await incidents.board(pool, login.user, now, fleet or None, status, resolved=False)
    return TEMPLATES.TemplateResponse(
        request,
        "_alerts_open.html",
        {
            "login": login,
            "board": board,
            "now": now,
            "fleet": fleet,
            "status": status,
            "error": None,
            "error_incident": None,
            "draft": "",
        },
    )


@pages.post("/alerts/{incident_id}/ack")
async def ack_form(
    incident_id: str,
    pool: PoolDep,
    login: FleetCsrf,
    fleet: Annotated[str | None, Form()] = None,
    status: Annotated[str | None, Form()] = None,
) -> Response:
    found = _incident_id(incident_id)
    if await incidents.acknowledge(pool, login.user, found) is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return RedirectResponse(_back(*_filters(fleet, status), found), status_code=303)


@pages.post("/alerts/{incident_id}/notes", response_class=HTMLResponse)
async def note_form(
    incident_id: str,
    request: Request,
    pool: PoolDep,
    login: FleetCsrf,
    body: Annotated[str, Form()] = "",
    fleet: Annotated[str | None, Form()] = None,
    status: Annotated[str | None, Form()] = None,
) -> Response:
    found = _incident_id(incident_id)
    ok_fleet, ok_status = _filters(fleet, status)
    if await incidents.get(pool, login.user, found) is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    try:
        note = await incidents.add_note(pool, login.user, found, body)
    except NoteInvalid as exc:
        return await _page(
            request,
            pool,
            login,
            ok_fleet,
            ok_status,
            status_code=422,
            error=str(exc),
            error_incident=found,
            draft=body,
        )
    if note is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return RedirectResponse(_back(ok_fleet, ok_status, found), status_code=303)


class IncidentOut(BaseModel):
    incident: Incident
    notes: list[Note]


class NoteIn(BaseModel):
    body: str = Field(description="1–2000 characters once trimmed")


@api.get("")
async def list_incidents(
    pool: PoolDep,
    user: ApiUser,
    state: StateQuery = "open",
    fleet: FleetQuery = None,
) -> list[Incident]:
    """Incidents in scope, newest first (at most 200)."""
    return await incidents.listing(pool, user, state, datetime.now(UTC), fleet)


@api.get("/{incident_id}")
async def get_incident(incident_id: str, pool: PoolDep, user: ApiUser) -> IncidentOut:
    found = _incident_id(incident_id)
    incident = await incidents.get(pool, user, found)
    if incident is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    notes = await incidents.notes(pool, user, [found])
    return IncidentOut(incident=incident, notes=notes[found])


@api.post("/{incident_id}/ack")
async def ack_incident(incident_id: str, pool: PoolDep, user: ApiUser) -> Incident:
    """Acknowledge it; a second acknowledgement keeps the first one's time and author."""
    incident = await incidents.acknowledge(pool, user, _incident_id(incident_id))
    if incident is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return incident


@api.post(
    "/{incident_id}/notes",
    status_code=201,
    responses={422: {"description": "empty or longer than 2000 characters"}},
)
async def add_note(
    incident_id: str, pool: PoolDep, user: ApiUser, note: NoteIn | None = None
) -> Note:
    found = _incident_id(incident_id)
    if await incidents.get(pool, user, found) is None:  # before the body: 404 whatever is sent
        raise HTTPException(404, f"no incident {incident_id!r}")
    try:
        added = await incidents.add_note(pool, user, found, note.body if note else "")
    except NoteInvalid as exc:
        raise HTTPException(422, str(exc)) from exc
    if added is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return added


router = APIRouter()
router.include_router(pages)
router.include_router(api)
