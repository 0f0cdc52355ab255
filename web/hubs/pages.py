"""The hub processes' counters (received, rejected by reason, dropped), for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from store import hub_metrics
from web.deps import AdminLogin, PoolDep
from web.http.templating import TEMPLATES

router = APIRouter(include_in_schema=False)


@router.get("/hubs", response_class=HTMLResponse)
async def hubs_page(request: Request, pool: PoolDep, login: AdminLogin) -> HTMLResponse:
    hubs = await hub_metrics.shards(pool)
    return TEMPLATES.TemplateResponse(request, "hubs.html", {"login": login, "hubs": hubs})
