"""The web panel (FastAPI + Jinja): fleet owners' live grid, admins' pushes, reports.

It reads the same store as the hub and never talks to actors: intents go into
the store (desired state + audit) and reach the hub by ``NOTIFY``; live changes
come back through one :class:`~web.live.feed.ChangeFeed` per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from config.settings import Settings
from hub.media_links import MediaLinks
from media.blobs import open_blobs
from media.tokens import media_key
from store.db import ping
from store.rate_limits import RateLimitStore
from web.agents import api as agent_api
from web.agents import pages as agent
from web.agents.inbox_feed import LeadFeed
from web.agents.push_sender import PushSender
from web.agents.web_push import vapid_key
from web.alerts import api as alerts_api
from web.alerts import pages as alerts
from web.audit import api as audit_api
from web.audit import pages as audit
from web.auth import api as auth_api
from web.auth import pages as auth
from web.auth.throttle import Throttles
from web.deps import LoginRequired, PoolDep
from web.device import api as device
from web.device.auth import VerifiedDevices
from web.emergency import api as push_api
from web.emergency import pages as push
from web.grid import api
from web.grid import pages as grid
from web.grid.tile_html import TileRenderer, warm
from web.http import metrics
from web.http.headers import SecurityHeaders
from web.http.store_gate import StoreGate, open_gated_pool
from web.http.templating import TEMPLATES
from web.http.unstorable import RejectUnstorable
from web.hubs import pages as hubs
from web.leads import api as leads_api
from web.leads import pages as leads
from web.leads import public_pages as leads_public
from web.live.broker_link import for_panel
from web.live.feed import ChangeFeed
from web.live.tasks import Supervisor
from web.media import api as media_api
from web.media import download as media_download
from web.media import pages as media_pages
from web.media.access import DownloadAccess
from web.pairing import api as pairing_api
from web.pairing import pages as pairing
from web.playlists import api as playlists_api
from web.playlists import pages as playlists
from web.reports import api as reports_api
from web.reports import heatmap_pages as heatmap
from web.reports import pop_pages as pop_reports
from web.reports import uptime_pages as reports
from web.security import secret_key
from web.tablets import api as tablets_api
from web.tablets import pages as tablets


def create_app(settings: Settings, database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store_gate = gate = StoreGate(database_url)
        pool = open_gated_pool(database_url, gate, settings.web_pool_timeout_s, max_size=8)
        await pool.open(wait=True, timeout=30)
        app.state.pool = pool
        app.state.download_access = DownloadAccess(pool)  # tablets' media downloads
        await asyncio.to_thread(app.state.blobs.sweep_staging)  # uploads a crash cut off
        app.state.rate_limits = RateLimitStore(pool)  # sign-in and lead form budgets
        app.state.feed = feed = ChangeFeed(pool, database_url)
        app.state.broker_link = link = for_panel(settings)
        # Agents' live inbox and Web Push of lead offers (web/agents/inbox_feed.py and
        # web/agents/push_sender.py).
        app.state.lead_feed = lead_feed = LeadFeed(pool, database_url)
        async with Supervisor() as tasks:
            app.state.tasks = tasks
            tasks.start("web.store_gate", gate.run)
            tasks.start("web.feed", feed.run)
            tasks.start("web.broker", link.run)
            tasks.start("web.tiles.warm", lambda: warm(pool, app.state.render_tile))
            tasks.start("web.lead_feed", lead_feed.run)
            if settings.web_push_sender:
                sender = PushSender(pool, app.state.vapid_key, settings.vapid_subject)
                app.state.push_sender = sender  # its outcomes are in /metrics
                lead_feed.on_offer.append(sender.wake)
                tasks.start("web.push_sender", sender.run)
            try:
                yield
            finally:
                await tasks.aclose()
                await pool.close()

    # The OpenAPI pages are off in production unless FLEETHUB_API_DOCS says otherwise.
    docs = bool(settings.api_docs)
    app = FastAPI(
        title="fleethub",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.secret_key = secret_key(settings)
    app.state.throttles = Throttles(settings)
    app.state.render_tile = TileRenderer()
    app.state.vapid_key = vapid_key(settings)
    app.state.verified_devices = VerifiedDevices(settings.device_token_grace_s)
    # The media library's files and the key of tablets' download links (web/media/).
    app.state.blobs = open_blobs(settings)
    app.state.media_key = media_key(settings)
    app.state.media_links = MediaLinks(settings)  # the device plan's download links
    # Outermost last: the forwarded client address is known before anything counts it, and
    # the security headers also reach the refusals of RejectUnstorable.
    app.add_middleware(RejectUnstorable)
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
        title = {
            403: "Not allowed",
            404: "Not found",
            413: "Too large",
            503: "Temporarily unavailable",
        }.get(exc.status_code, "Something went wrong")
        detail = exc.detail if isinstance(exc.detail, str) else title
        return TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {"login": None, "status": exc.status_code, "title": title, "detail": detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(psycopg.OperationalError)
    async def store_away(request: Request, exc: psycopg.OperationalError) -> Response:
        """The store is away (StoreUnavailable at once, or a pool timeout or broken
        connection that made the gate suspect it): 503 + Retry-After, a page for browsers."""
        request.app.state.store_gate.suspect()
        retry_after = settings.web_store_retry_after_s
        headers = {"Retry-After": str(retry_after)}
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith(("/api/", "/v1/")) or not wants_html:
            detail = "the store is unavailable: try again in a few seconds"
            return JSONResponse({"detail": detail}, status_code=503, headers=headers)
        again = request.url.path if request.method == "GET" else "/"
        return TEMPLATES.TemplateResponse(
            request,
            "unavailable.html",
            {"login": None, "retry_after": retry_after, "again": again},
            status_code=503,
            headers=headers,
        )

    @app.exception_handler(psycopg.DataError)
    async def store_refused(request: Request, exc: psycopg.DataError) -> Response:
        """Input the store cannot hold that slipped past web/http/unstorable.py: a 422, no 500."""
        detail = f"the store refused a value: {exc}"
        return await http_error(request, StarletteHTTPException(422, detail))

    @app.get(
        "/healthz",
        tags=["health"],
        responses={503: {"description": "the store is unavailable (with Retry-After)"}},
    )
    async def healthz(pool: PoolDep) -> dict[str, str]:
        async with pool.connection() as conn:  # away: 503 + Retry-After (store_away)
            await ping(conn)
        return {"status": "ok"}

    routers = (
        auth,
        auth_api,
        grid,
        api,
        tablets,
        tablets_api,
        alerts,
        alerts_api,
        heatmap,
        reports,
        pop_reports,
        reports_api,
        push,
        push_api,
        playlists,
        playlists_api,
        media_pages,
        media_api,
        media_download,
        audit,
        audit_api,
        hubs,
        device,
        pairing,
        pairing_api,
        leads_api,
        leads,
        leads_public,
        agent,
        agent_api,
    )
    for module in routers:
        app.include_router(module.router)
    # Last, so its middleware is the outermost: every request is counted, whatever answers it.
    metrics.install(app)  # /metrics and HTTP requests by route and status (web/http/metrics.py)
    return app
