"""The web panel (FastAPI + Jinja): fleet owners' live grid, admins' pushes, reports.

It reads the same store as the hub and never talks to actors: intents go into
the store (desired state + audit) and reach the hub by ``NOTIFY``; live changes
come back through one :class:`~web.feed.ChangeFeed` per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from config.settings import Settings
from hub.db import open_pool
from web import metrics
from web.agent_push import vapid_key
from web.broker_link import for_panel
from web.deps import LoginRequired, PoolDep
from web.feed import ChangeFeed
from web.headers import SecurityHeaders
from web.lead_feed import LeadFeed
from web.login_throttle import Throttles
from web.push_sender import PushSender
from web.routes import (
    agent,
    agent_api,
    alerts,
    api,
    audit,
    auth,
    device,
    grid,
    heatmap,
    hubs,
    leads,
    leads_api,
    leads_public,
    pairing,
    playlists,
    pop_reports,
    push,
    reports,
    tablets,
)
from web.security import LoginThrottle, secret_key
from web.templating import TEMPLATES
from web.tile_html import TileRenderer, warm


def create_app(settings: Settings, database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = open_pool(database_url, max_size=8)
        await pool.open(wait=True, timeout=30)
        app.state.pool = pool
        app.state.feed = feed = ChangeFeed(pool, database_url)
        app.state.broker_link = link = for_panel(settings)
        tasks = [
            asyncio.create_task(feed.run(), name="web.feed"),
            asyncio.create_task(link.run(), name="web.broker"),
            asyncio.create_task(warm(pool, app.state.render_tile), name="web.tiles.warm"),
        ]
        # Agents' live inbox and Web Push of lead offers (web/lead_feed.py, web/push_sender.py).
        app.state.lead_feed = lead_feed = LeadFeed(pool, database_url)
        tasks.append(asyncio.create_task(lead_feed.run(), name="web.lead_feed"))
        if settings.web_push_sender:
            sender = PushSender(pool, app.state.vapid_key, settings.vapid_subject)
            app.state.push_sender = sender  # its outcomes are in /metrics
            lead_feed.on_offer.append(sender.wake)
            tasks.append(asyncio.create_task(sender.run(), name="web.push_sender"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await pool.close()

    # The OpenAPI pages are off in production unless FLEETHUB_API_DOCS says otherwise.
    docs = bool(settings.api_docs)
    app = FastAPI(title="fleethub", lifespan=lifespan, docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None)  # fmt: skip
    app.state.settings = settings
    app.state.secret_key = secret_key(settings)
    app.state.throttles = Throttles(settings)
    app.state.claim_throttle = LoginThrottle(limit=settings.claim_attempts_per_window)
    app.state.render_tile = TileRenderer()
    app.state.vapid_key = vapid_key(settings)
    # Outermost last: the forwarded client address is known before anything counts it.
    app.add_middleware(SecurityHeaders)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Pages get a page; the API (and scripts asking for JSON) get FastAPI's JSON."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith("/api/") or not wants_html:
            return await http_exception_handler(request, exc)
        title = {403: "Not allowed", 404: "Not found", 413: "Too large"}.get(
            exc.status_code, "Something went wrong"
        )
        detail = exc.detail if isinstance(exc.detail, str) else title
        return TEMPLATES.TemplateResponse(
            request, "error.html",
            {"session": None, "status": exc.status_code, "title": title, "detail": detail},
            status_code=exc.status_code, headers=getattr(exc, "headers", None),
        )  # fmt: skip

    @app.get("/healthz", tags=["health"])
    async def healthz(pool: PoolDep) -> dict[str, str]:
        try:
            async with pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        except Exception as exc:
            raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from exc
        return {"status": "ok"}

    routers = (
        auth,
        grid,
        api,
        tablets,
        alerts,
        heatmap,
        reports,
        pop_reports,
        push,
        playlists,
        audit,
        hubs,
        device,
        pairing,
        leads_api,
        leads,
        leads_public,
        agent,
        agent_api,
    )
    for module in routers:
        app.include_router(module.router)
    # Last, so its middleware is the outermost: every request is counted, whatever answers it.
    metrics.install(app)  # /metrics and HTTP requests by route and status (web/metrics.py)
    return app
