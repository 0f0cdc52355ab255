"""The admin's emergency push: form → confirm → send, then live progress and revert.

HTML under ``/push`` (admins only, CSRF on every post); the same for bearer tokens under
``/api/v1/pushes`` is web/emergency/api.py. A push id of another tenant is a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse

from store.users import User
from web.deps import AdminFormLogin, AdminLogin, Login, PoolDep, SettingsDep
from web.emergency.form import EXPIRY_CHOICES, Errors, PushForm, form_of, parse_form
from web.emergency.pushes import (
    Progress,
    check,
    library,
    progress,
    push_uuid,
    recent,
    revert,
    send,
)
from web.grid.tiles import fleets
from web.http.templating import TEMPLATES, ago
from web.live.feed import ChangeFeed

# Without a tile change the progress is re-read this often (expiry, a revert elsewhere).
RECHECK_S = 10.0


router = APIRouter(include_in_schema=False)


def when(at: datetime, now: datetime) -> str:
    """A future time as "in 12 min" (a past one as "3 min ago")."""
    seconds = int((at - now).total_seconds())
    if seconds <= 0:
        return ago(at, now)
    if seconds < 3600:
        return f"in {max(1, seconds // 60)} min"
    if seconds < 86400:
        return f"in {seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"in {seconds // 86400} d {seconds % 86400 // 3600} h"


def push_id_or_404(text: str) -> uuid.UUID:
    """The push id of a path, a 404 when it cannot be one (the pages' and the API's)."""
    push_id = push_uuid(text)
    if push_id is None:
        raise HTTPException(404, "no such push")
    return push_id


async def progress_or_404(pool: PoolDep, user: User, push_id: uuid.UUID) -> Progress:
    """The push's progress, a 404 when the push is not the user's tenant's."""
    found = await progress(pool, user, push_id)
    if found is None:
        raise HTTPException(404, "no such push")
    return found


async def _form_page(
    request: Request, pool: PoolDep, login: Login, form: PushForm, errors: Errors, status: int = 200
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "push.html",
        {
            "login": login,
            "form": form,
            "errors": errors,
            "choices": EXPIRY_CHOICES,
            "library": await library(pool, login.user),
            "fleets": await fleets(pool, login.user),
            "recent": await recent(pool, login.user),
            "now": datetime.now(UTC),
            "when": when,
        },
        status_code=status,
    )


@router.get("/push", response_class=HTMLResponse)
async def push_page(request: Request, pool: PoolDep, login: AdminLogin) -> HTMLResponse:
    # ?tablets=a b c: the tablets ticked on /manage/tablets ("Push to selected")
    tablets = request.query_params.get("tablets", "").strip()[:40_000]
    form = PushForm(scope="selected", tablets=tablets) if tablets else PushForm()
    return await _form_page(request, pool, login, form, {})


@router.post("/push/edit", response_class=HTMLResponse)
async def push_edit(request: Request, pool: PoolDep, login: AdminFormLogin) -> HTMLResponse:
    """Back from the confirm step to the form, with its values."""
    return await _form_page(request, pool, login, PushForm.from_form(await request.form()), {})


@router.post("/push/preview", response_class=HTMLResponse)
async def push_preview(request: Request, pool: PoolDep, login: AdminFormLogin) -> HTMLResponse:
    form = PushForm.from_form(await request.form())
    draft, errors = parse_form(form)
    reach = None
    if draft is not None:
        reach, errors = await check(pool, login.user, draft)
    if draft is None or reach is None:
        return await _form_page(request, pool, login, form, errors, 422)
    return TEMPLATES.TemplateResponse(
        request,
        "push_confirm.html",
        {
            "login": login,
            "form": form_of(draft),
            "draft": draft,
            "reach": reach,
            "choices": dict(EXPIRY_CHOICES),
        },
    )


@router.post("/push/send", response_model=None)
async def push_send(
    request: Request, pool: PoolDep, settings: SettingsDep, login: AdminFormLogin
) -> Response:
    form = PushForm.from_form(await request.form())
    draft, errors = parse_form(form)
    push_id = None
    if draft is not None:
        push_id, errors = await send(
            pool, login.user, draft, settings.playlist_refresh_interval_s, push_uuid(form.push_id)
        )
    if push_id is None:
        return await _form_page(request, pool, login, form, errors, 422)
    return RedirectResponse(f"/push/{push_id}", status_code=303)


def _progress_context(login: Login, found: Progress, message: str | None) -> dict[str, Any]:
    return {
        "login": login,
        "p": found.push,
        "counts": found.counts,
        "tablets": found.tablets,
        "readiness": found.readiness,
        "message": message,
        "now": datetime.now(UTC),
        "when": when,
    }


@router.get("/push/{push_id}", response_class=HTMLResponse)
async def push_progress(
    request: Request, push_id: str, pool: PoolDep, login: AdminLogin
) -> HTMLResponse:
    found = await progress_or_404(pool, login.user, push_id_or_404(push_id))
    return TEMPLATES.TemplateResponse(
        request, "push_progress.html", _progress_context(login, found, None)
    )


@router.post("/push/{push_id}/revert", response_model=None)
async def push_revert(
    request: Request, push_id: str, pool: PoolDep, login: AdminFormLogin
) -> Response:
    pid = push_id_or_404(push_id)
    outcome = await revert(pool, login.user, pid)
    if outcome is None:
        raise HTTPException(404, "no such push")
    if outcome == "reverted":
        return RedirectResponse(f"/push/{pid}", status_code=303)
    message = (
        "This push was already reverted."
        if outcome == "already"
        else "This push has already expired: there is nothing to revert."
    )
    found = await progress_or_404(pool, login.user, pid)
    return TEMPLATES.TemplateResponse(
        request, "push_progress.html", _progress_context(login, found, message), status_code=409
    )


@router.get("/push/{push_id}/stream")
async def push_stream(
    request: Request, push_id: str, pool: PoolDep, login: AdminLogin
) -> EventSourceResponse:
    """The push's progress (rendered), sent again whenever it changes."""
    pid = push_id_or_404(push_id)
    await progress_or_404(pool, login.user, pid)
    feed: ChangeFeed = request.app.state.feed
    live = TEMPLATES.env.get_template("push_live.html")

    async def events() -> AsyncIterator[dict[str, Any]]:
        with feed.subscribe(login.user) as sub:
            yield {"event": "hello", "data": "{}"}
            last: Progress | None = None
            while True:
                current = await progress(pool, login.user, pid)
                if current is None:
                    return
                if current != last:
                    last = current
                    html = live.render(_progress_context(login, current, None))
                    data = {
                        "status": current.push.status,
                        "counts": asdict(current.counts),
                        "html": html,
                    }
                    yield {"event": "progress", "data": json.dumps(data)}
                with contextlib.suppress(TimeoutError):  # not wait_for: 3.11's may eat a cancel
                    async with asyncio.timeout(RECHECK_S):
                        await sub.queue.get()
                while not sub.queue.empty():  # one re-read covers every change queued
                    sub.queue.get_nowait()
                sub.overflowed = False  # the re-read is from the store: nothing is lost

    return EventSourceResponse(events(), ping=15, send_timeout=10)
