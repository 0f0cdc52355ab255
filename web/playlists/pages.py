"""Admins' playlist library: create, edit, assign and revoke (HTML).

The same data as JSON for bearer tokens: web/playlists/api.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.deps import AdminLogin, Login, PoolDep, SettingsDep
from web.grid.tiles import fleets
from web.http.admin_form import AdminFormDep
from web.http.templating import TEMPLATES, local_text
from web.media import library as media_library
from web.playlists import library
from web.playlists.forms import (
    FormError,
    ItemRow,
    ItemsForm,
    form_values,
    read_assignment,
    read_items,
)
from web.playlists.library import NoSuchTarget, Playlist

router = APIRouter(include_in_schema=False)

PlaylistId = Annotated[str, Path(min_length=1, max_length=128)]
EMPTY_ROWS = 5
DONE = {
    "created": "Playlist created.",
    "exists": "These items are already in your library: here is that playlist.",
    "saved": "Saved as a new playlist (the items changed, so did its id).",
    "replaced": "Saved as a new playlist and moved its assignments to it.",
    "renamed": "Renamed.",
    "unchanged": "Nothing changed.",
    "assigned": "Assigned: the hub republishes the affected tablets' playlists.",
    "revoked": "Assignment revoked: the hub republishes the affected tablets' playlists.",
}
DoneQuery = Annotated[str | None, Query(max_length=16)]
BACK = re.compile(r"^/playlists(/[A-Za-z0-9_.-]{1,128})?$")


def span(ms: int) -> str:
    seconds = round(ms / 1000)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02}"
    )


def _render(
    request: Request, template: str, login: Login, status: int = 200, **context: Any
) -> HTMLResponse:
    zone = login.timezone

    def when(at: datetime | None) -> str:
        """A time in the user's zone (the page footer says which)."""
        return "" if at is None else local_text(at, zone)

    def local_input(at: datetime | None) -> str:
        """A ``datetime-local`` input's value, in the user's zone."""
        return "" if at is None else local_text(at, zone, "%Y-%m-%dT%H:%M")

    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"login": login, "when": when, "span": span, "local_input": local_input, **context},
        status_code=status,
    )


@router.get("/playlists", response_class=HTMLResponse)
async def playlists_page(
    request: Request, pool: PoolDep, login: AdminLogin, done: DoneQuery = None
) -> HTMLResponse:
    user = login.user
    return _render(
        request,
        "playlists.html",
        login,
        playlists=await library.library(pool, user),
        assignments=await library.assignments(pool, user),
        done=DONE.get(done or ""),
    )


async def _library(pool: PoolDep, login: Login) -> list[dict[str, Any]]:
    """The media library as the editor's picker shows it (web/static/playlist_editor.js)."""
    return [
        {
            "media_id": m.media_id,
            "version": m.version,
            "name": m.name,
            "kind": m.kind,
            "tags": m.tags,
            "campaign_id": m.campaign_id or media_library.UNTAGGED_CAMPAIGN,
            "sha256": m.sha256,
            "duration_ms": m.play_ms,
            "thumbnail": media_library.thumbnail_url(m.sha256),
            "file": media_library.file_url(m.sha256),
        }
        for m in await media_library.listing(pool, login.user)
    ]


@router.get("/playlists/new", response_class=HTMLResponse)
async def new_page(request: Request, pool: PoolDep, login: AdminLogin) -> HTMLResponse:
    return _render(
        request,
        "playlists_new.html",
        login,
        name="",
        rows=[ItemRow()] * EMPTY_ROWS,
        errors=[],
        library=await _library(pool, login),
    )


async def _checked(pool: PoolDep, posted: AdminFormDep, settings: SettingsDep) -> ItemsForm:
    """The posted items, their library media pinned to the files the library holds."""
    form = read_items(posted.form)
    if form.ok:
        items, errors = await media_library.pin_items(
            pool, posted.user, form.items, settings.media_origin()
        )
        form = ItemsForm(form.name, form.rows, items if not errors else [], errors)
    return form


@router.post("/playlists", response_class=HTMLResponse)
async def create_playlist(
    request: Request, pool: PoolDep, posted: AdminFormDep, settings: SettingsDep
) -> Response:
    form = await _checked(pool, posted, settings)
    if not form.ok:
        return _render(
            request,
            "playlists_new.html",
            posted.login,
            422,
            name=form.name,
            rows=_pad(form.rows),
            errors=form.errors,
            library=await _library(pool, posted.login),
        )
    playlist_id, added = await library.create(pool, posted.user, form.name, form.items)
    done = "created" if added else "exists"
    return RedirectResponse(f"/playlists/{playlist_id}?done={done}", status_code=303)


def _pad(rows: list[ItemRow]) -> list[ItemRow]:
    return rows + [ItemRow()] * max(1, EMPTY_ROWS - len(rows))


async def _detail(
    request: Request,
    pool: PoolDep,
    login: Login,
    found: Playlist,
    status: int = 200,
    edit: ItemsForm | None = None,
    assign_error: str | None = None,
    assign_values: dict[str, str] | None = None,
    done: str | None = None,
) -> HTMLResponse:
    user = login.user
    rows = edit.rows if edit is not None else [ItemRow.of(i) for i in found.items]
    return _render(
        request,
        "playlists_detail.html",
        login,
        status,
        playlist=found.summary,
        items=found.items,
        assignments=await library.assignments(pool, user, found.summary.playlist_id),
        name=edit.name if edit is not None else found.summary.name,
        rows=_pad(rows),
        edit_errors=edit.errors if edit is not None else [],
        assign_error=assign_error,
        assign=assign_values or {},
        done=done,
        fleets=await _fleet_ids(pool, login),
        library=await _library(pool, login),
        readiness=await library.readiness(pool, user, found.summary.playlist_id),
    )


async def _fleet_ids(pool: PoolDep, login: Login) -> list[str]:
    return [f for f, _ in await fleets(pool, login.user)]


async def _found(pool: PoolDep, login: Login, playlist_id: str) -> Playlist:
    found = await library.playlist(pool, login.user, playlist_id)
    if found is None:
        raise HTTPException(404, f"no playlist {playlist_id!r} in your library")
    return found


@router.get("/playlists/{playlist_id}", response_class=HTMLResponse)
async def playlist_page(
    request: Request,
    pool: PoolDep,
    login: AdminLogin,
    playlist_id: PlaylistId,
    done: DoneQuery = None,
) -> HTMLResponse:
    found = await _found(pool, login, playlist_id)
    return await _detail(request, pool, login, found, done=DONE.get(done or ""))


@router.post("/playlists/{playlist_id}", response_class=HTMLResponse)
async def edit_playlist(
    request: Request,
    pool: PoolDep,
    posted: AdminFormDep,
    settings: SettingsDep,
    playlist_id: PlaylistId,
) -> Response:
    found = await _found(pool, posted.login, playlist_id)
    form = await _checked(pool, posted, settings)
    if not form.ok:
        return await _detail(request, pool, posted.login, found, 422, edit=form)
    replace = posted.form.get("replace") == "yes"
    edited = await library.edit(pool, posted.user, playlist_id, form.name, form.items, replace)
    if edited is None:
        raise HTTPException(404, f"no playlist {playlist_id!r} in your library")
    if edited.playlist_id == playlist_id:
        done = "renamed" if edited.renamed else "unchanged"
    else:
        done = "replaced" if edited.replaced else "saved"
    return RedirectResponse(f"/playlists/{edited.playlist_id}?done={done}", status_code=303)


@router.post("/playlists/{playlist_id}/assign", response_class=HTMLResponse)
async def assign_playlist(
    request: Request, pool: PoolDep, posted: AdminFormDep, playlist_id: PlaylistId
) -> Response:
    found = await _found(pool, posted.login, playlist_id)
    values = form_values(posted.form)
    try:
        wanted = read_assignment(posted.form, datetime.now(UTC), posted.login.timezone)
        assignment_id = await library.assign(pool, posted.user, playlist_id, wanted)
    except FormError as exc:
        error = str(exc)
    except NoSuchTarget as exc:
        error = f"No such target in your tenant: {exc}."
    else:
        if assignment_id is None:
            raise HTTPException(404, f"no playlist {playlist_id!r} in your library")
        return RedirectResponse(f"/playlists/{playlist_id}?done=assigned", status_code=303)
    return await _detail(
        request, pool, posted.login, found, 422, assign_error=error, assign_values=values
    )


@router.post("/playlists/assignments/{assignment_id}/revoke")
async def revoke_assignment(pool: PoolDep, posted: AdminFormDep, assignment_id: int) -> Response:
    revoked = await library.revoke(pool, posted.user, assignment_id)
    if revoked is None:
        raise HTTPException(404, f"no active assignment {assignment_id}")
    back = posted.form.get("back")
    target = back if isinstance(back, str) and BACK.match(back) else "/playlists"
    return RedirectResponse(f"{target}?done=revoked", status_code=303)
