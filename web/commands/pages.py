"""Remote commands in the panel: send one to a tablet (its page), a selection or a fleet,
follow each command's progress live, see the screenshots; admins choose what fleet owners
may send.

Issuing, scope and permissions are the store's (store/commands.py); sending is the hub's.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from config.errors import ConfigError
from media.screenshots import screenshot_key
from store import commands, screenshots, tablets
from store.commands import PANEL_COMMANDS
from web.commands.forms import WORDS, read_command
from web.deps import AdminFormLogin, FleetLogin, FormLogin, Login, PoolDep
from web.grid.tiles import fleets
from web.http.templating import TEMPLATES
from web.manage.fields import Fields
from web.media.deps import BlobsDep
from web.media.serve import blob_response

router = APIRouter(include_in_schema=False)
ROLES_SAVED = "Saved: fleet owners may send what is ticked."


async def _found(pool: PoolDep, login: Login, command_id: uuid.UUID) -> commands.CommandRow:
    rows = await commands.listing(pool, login.user, command_id=command_id, limit=1)
    if not rows:
        raise HTTPException(404, f"no command {command_id}")
    return rows[0]


async def _list_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    status: int = 200,
    error: str | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    user = login.user
    async with pool.connection() as conn:
        allowed = await commands.allowed(conn, user)
        owner_may = await commands.owner_commands(conn, user.tenant_id)
    return TEMPLATES.TemplateResponse(
        request,
        "commands.html",
        {
            "login": login,
            "rows": await commands.listing(pool, user, limit=100),
            "allowed": allowed,
            "words": WORDS,
            "fleets": await fleets(pool, user),
            "panel_commands": PANEL_COMMANDS,
            "owner_may": owner_may,
            "values": values or {},
            "error": error,
            "done": ROLES_SAVED if request.query_params.get("done") == "roles" else None,
            "zone": login.timezone,
        },
        status_code=status,
    )


@router.get("/commands", response_class=HTMLResponse)
async def commands_page(request: Request, pool: PoolDep, login: FleetLogin) -> HTMLResponse:
    return await _list_page(request, pool, login)


async def _issue(pool: PoolDep, login: Login, fields: Fields, tablet: str | None) -> uuid.UUID:
    wanted = read_command(fields, tablet=tablet)
    async with pool.connection() as conn:
        issued = await commands.issue(
            conn, login.user, wanted.name, wanted.args, tablets=wanted.tablets,
            fleet=wanted.fleet, expires_s=wanted.expires_s,
        )  # fmt: skip
    return issued.command_id


@router.post("/commands", response_class=HTMLResponse, response_model=None)
async def send(
    request: Request, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> HTMLResponse | RedirectResponse:
    posted = await request.form()
    try:
        command_id = await _issue(pool, login, Fields(posted), None)
    except ConfigError as exc:
        values = {k: v for k, v in posted.items() if isinstance(v, str)}
        return await _list_page(request, pool, login, 422, str(exc), values)
    return RedirectResponse(f"/commands/{command_id}", status_code=303)


@router.post("/tablets/{tablet_id}/commands", response_model=None)
async def send_to_tablet(
    tablet_id: str, request: Request, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> RedirectResponse:
    if await tablets.info(pool, login.user, tablet_id) is None:  # before the form is judged
        raise HTTPException(404, f"no tablet {tablet_id!r}")
    try:
        command_id = await _issue(pool, login, Fields(await request.form()), tablet_id)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse(f"/commands/{command_id}", status_code=303)


async def _detail(request: Request, pool: PoolDep, login: Login, command_id: uuid.UUID) -> Any:
    row = await _found(pool, login, command_id)
    return {
        "login": login,
        "c": row,
        "targets": await commands.targets(pool, login.user, command_id),
        "words": WORDS,
        "zone": login.timezone,
    }


@router.get("/commands/{command_id}", response_class=HTMLResponse)
async def command_page(
    command_id: uuid.UUID, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    context = await _detail(request, pool, login, command_id)
    return TEMPLATES.TemplateResponse(request, "command.html", context)


@router.get("/commands/{command_id}/progress", response_class=HTMLResponse)
async def command_progress(
    command_id: uuid.UUID, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    """The page's progress and targets, re-read by its script until every target is done."""
    context = await _detail(request, pool, login, command_id)
    return TEMPLATES.TemplateResponse(request, "_command_progress.html", context)


@router.get("/commands/{command_id}/screenshots/{tablet_id}")
async def screenshot(
    command_id: uuid.UUID,
    tablet_id: str,
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    blobs: BlobsDep,
) -> Response:
    shot = await screenshots.one(pool, login.user, command_id, tablet_id)
    if shot is None:
        raise HTTPException(404, "no such screenshot")
    return blob_response(
        request, blobs, screenshot_key(shot.sha256), shot.sha256, shot.bytes,
        shot.content_type, cache_control="private, max-age=86400",
    )  # fmt: skip


@router.post("/commands/roles", response_model=None)
async def owner_roles(request: Request, pool: PoolDep, login: AdminFormLogin) -> RedirectResponse:
    posted = await request.form()
    names = [v for v in posted.getlist("allowed") if isinstance(v, str)]
    await commands.set_owner_commands(pool, login.user, names)
    return RedirectResponse("/commands?done=roles", status_code=303)
