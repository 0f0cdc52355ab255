"""The web panel (FastAPI + Jinja). This first cut: ``/healthz`` and a fleet status page.

It reads the same store as the hub and never talks to actors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from psycopg.rows import class_row, dict_row
from psycopg_pool import AsyncConnectionPool

from config.settings import Settings
from hub.db import open_pool
from hub.fleet import STATUS, StatusRow

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def get_pool(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = request.app.state.pool
    return pool


PoolDep = Annotated[AsyncConnectionPool, Depends(get_pool)]
FleetFilter = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


async def status_rows(pool: AsyncConnectionPool, fleet: str | None) -> list[StatusRow]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(StatusRow)) as cur:
        await cur.execute(STATUS, {"fleet": fleet})
        return await cur.fetchall()


def create_app(settings: Settings, database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = open_pool(database_url, max_size=4)
        await pool.open(wait=True, timeout=30)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="fleethub", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz(pool: PoolDep) -> dict[str, str]:
        try:
            async with pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        except Exception as exc:
            raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from exc
        return {"status": "ok"}

    @app.get("/api/v1/status")
    async def api_status(pool: PoolDep, fleet: FleetFilter = None) -> list[StatusRow]:
        return await status_rows(pool, fleet)

    @app.get("/", response_class=HTMLResponse)
    async def fleet_page(
        request: Request, pool: PoolDep, fleet: FleetFilter = None
    ) -> HTMLResponse:
        rows = await status_rows(pool, fleet)
        counts = {s: sum(1 for r in rows if r.state == s) for s in ("online", "offline", "unknown")}
        async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT shard, updated_at, counters FROM hub_metrics ORDER BY shard")
            hubs = await cur.fetchall()
        return TEMPLATES.TemplateResponse(
            request,
            "status.html",
            {"rows": rows, "counts": counts, "fleet": fleet, "now": datetime.now(UTC),
             "hubs": hubs},
        )

    return app
