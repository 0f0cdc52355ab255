"""The hub processes' counters (received, rejected by reason, dropped), for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from psycopg.rows import dict_row

from web.deps import AdminLogin, PoolDep
from web.http.templating import TEMPLATES

router = APIRouter(include_in_schema=False)


@router.get("/hubs", response_class=HTMLResponse)
async def hubs_page(request: Request, pool: PoolDep, login: AdminLogin) -> HTMLResponse:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT shard, started_at, updated_at, counters FROM hub_metrics ORDER BY shard"
        )
        hubs = await cur.fetchall()
    return TEMPLATES.TemplateResponse(request, "hubs.html", {"login": login, "hubs": hubs})
