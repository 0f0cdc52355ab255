"""The alerts view: open and recently resolved incidents, acknowledgement and notes.

The same for bearer tokens, as JSON: web/alerts/api.py.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, cast, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from psycopg_pool import AsyncConnectionPool

from web.alerts import incidents
from web.alerts.incidents import KIND_WORDS, NoteInvalid, Status
from web.deps import FleetLogin, FormLogin, Login, PoolDep
from web.grid.pages import LooseQuery
from web.grid.tiles import fleets
from web.http.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

FLEET_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


async def fleet_csrf(login: FormLogin) -> Login:
    if not login.user.can_view_fleet:
        raise HTTPException(403, "the fleet views are for admins and fleet owners")
    return login


FleetCsrf = Annotated[Login, Depends(fleet_csrf)]


def incident_id_or_404(text: str) -> uuid.UUID:
    """The incident id of a path, a 404 when it cannot be one (the pages' and the API's)."""
    found = incidents.parse_id(text)
    if found is None:
        raise HTTPException(404, f"no incident {text!r}")
    return found


def _filters(
    fleet: str | None, status: str | None, kind: str | None = None
) -> tuple[str | None, Status | None, str | None]:
    """The list filters carried by a form, dropped when malformed."""
    ok_fleet = fleet if fleet and FLEET_ID.match(fleet) else None
    ok_status = cast(Status, status) if status in get_args(Status) else None
    return ok_fleet, ok_status, kind if kind in KIND_WORDS else None


def parse_kind(kind: str | None, problems: list[str]) -> str | None:
    """The kind filter of a page's query: empty is none; an unknown one is said and dropped."""
    ok_kind = (kind or "").strip() or None
    if ok_kind is not None and ok_kind not in KIND_WORDS:
        problems.append(f"{ok_kind[:32]!r} is not a kind of incident: showing every kind.")
        return None
    return ok_kind


STATUS_WORDS = {
    "open": "open",
    "unacked": "open, not acknowledged",
    "acked": "open, acknowledged",
    "resolved": "resolved (7 days)",
}


def parse_filters(
    fleet: str | None, status: str | None, scoped: list[tuple[str, str]]
) -> tuple[str | None, Status | None, list[str]]:
    """The list filters a page's query asks for: empty is no filter, and a value that cannot
    be used is left out with a message saying why."""
    problems = []
    ok_fleet = (fleet or "").strip() or None
    if ok_fleet is not None and all(fid != ok_fleet for fid, _ in scoped):
        problems.append(f"There is no fleet {ok_fleet[:64]!r} among yours: showing every fleet.")
        ok_fleet = None
    ok_status = (status or "").strip() or None
    if ok_status is not None and ok_status not in get_args(Status):
        problems.append(
            f"{ok_status[:32]!r} is not a status: choose open, not acknowledged, acknowledged "
            "or resolved. Showing open and resolved incidents."
        )
        ok_status = None
    return ok_fleet, cast(Status | None, ok_status), problems


def _back(
    fleet: str | None, status: Status | None, kind: str | None, incident_id: uuid.UUID
) -> str:
    pairs = (("fleet", fleet), ("status", status), ("kind", kind))
    query = urlencode({k: v for k, v in pairs if v})
    return f"/alerts{'?' + query if query else ''}#incident-{incident_id}"


async def _page(
    request: Request,
    pool: AsyncConnectionPool,
    login: Login,
    fleet: str | None,
    status: Status | None,
    status_code: int = 200,
    scoped: list[tuple[str, str]] | None = None,
    kind: str | None = None,
    **extra: Any,
) -> HTMLResponse:
    now = datetime.now(UTC)
    board = await incidents.board(pool, login.user, now, fleet, status, kind=kind)
    return TEMPLATES.TemplateResponse(
        request,
        "alerts.html",
        {
            "login": login,
            "board": board,
            "now": now,
            "fleet": fleet,
            "status": status,
            "fleets": scoped if scoped is not None else await fleets(pool, login.user),
            "statuses": STATUS_WORDS,
            "kind": kind,
            "kinds": KIND_WORDS,
            "error": None,
            "error_incident": None,
            "draft": "",
            "problems": [],
            **extra,
        },
        status_code=status_code,
    )


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    fleet: LooseQuery = None,
    status: LooseQuery = None,
    kind: LooseQuery = None,
) -> HTMLResponse:
    scoped = await fleets(pool, login.user)
    ok_fleet, ok_status, problems = parse_filters(fleet, status, scoped)
    ok_kind = parse_kind(kind, problems)
    code = 422 if problems else 200
    return await _page(
        request,
        pool,
        login,
        ok_fleet,
        ok_status,
        code,
        scoped=scoped,
        kind=ok_kind,
        problems=problems,
    )


@router.get("/alerts/open", response_class=HTMLResponse)
async def open_fragment(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    fleet: LooseQuery = None,
    status: LooseQuery = None,
    kind: LooseQuery = None,
) -> HTMLResponse:
    """The open incidents' table alone, fetched by the page when an alert arrives."""
    now = datetime.now(UTC)
    fleet, status_ok, problems = parse_filters(fleet, status, await fleets(pool, login.user))
    kind = parse_kind(kind, problems)
    board = await incidents.board(
        pool, login.user, now, fleet, status_ok, resolved=False, kind=kind
    )
    return TEMPLATES.TemplateResponse(
        request,
        "_alerts_open.html",
        {
            "login": login,
            "board": board,
            "now": now,
            "fleet": fleet,
            "status": status_ok,
            "kind": kind,
            "kinds": KIND_WORDS,
            "error": None,
            "error_incident": None,
            "draft": "",
        },
    )


@router.post("/alerts/{incident_id}/ack")
async def ack_form(
    incident_id: str,
    pool: PoolDep,
    login: FleetCsrf,
    fleet: Annotated[str | None, Form()] = None,
    status: Annotated[str | None, Form()] = None,
    kind: Annotated[str | None, Form()] = None,
) -> Response:
    found = incident_id_or_404(incident_id)
    if await incidents.acknowledge(pool, login.user, found) is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return RedirectResponse(_back(*_filters(fleet, status, kind), found), status_code=303)


@router.post("/alerts/{incident_id}/notes", response_class=HTMLResponse)
async def note_form(
    incident_id: str,
    request: Request,
    pool: PoolDep,
    login: FleetCsrf,
    body: Annotated[str, Form()] = "",
    fleet: Annotated[str | None, Form()] = None,
    status: Annotated[str | None, Form()] = None,
    kind: Annotated[str | None, Form()] = None,
) -> Response:
    found = incident_id_or_404(incident_id)
    ok_fleet, ok_status, ok_kind = _filters(fleet, status, kind)
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
            kind=ok_kind,
            error=str(exc),
            error_incident=found,
            draft=body,
        )
    if note is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return RedirectResponse(_back(ok_fleet, ok_status, ok_kind, found), status_code=303)
