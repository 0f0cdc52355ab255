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

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
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
from web.alerts import channels_pages as alert_channels
from web.alerts import pages as alerts
from web.audit import api as audit_api
from web.audit import pages as audit
from web.auth import api as auth_api
from web.auth import pages as auth
from web.auth.throttle import Throttles
from web.campaigns import api as campaigns_api
from web.campaigns import pages as campaigns
from web.commands import api as commands_api
from web.commands import device as screenshot_upload
from web.commands import pages as command_pages
from web.deps import PoolDep
from web.device import api as device
from web.device.auth import VerifiedDevices
from web.drivers import pages as driver_pages
from web.drivers import portal as driver_portal
from web.earnings import api as earnings_api
from web.earnings import pages as earnings
from web.earnings import rates_pages as earnings_rates
from web.emergency import api as push_api
from web.emergency import pages as push
from web.fleets import health_pages as fleet_health
from web.fleets import pages as fleet_pages
from web.grid import api
from web.grid import pages as grid
from web.grid.tile_html import TileRenderer, warm
from web.http import errors, metrics
from web.http.headers import SecurityHeaders
from web.http.store_gate import StoreGate, open_gated_pool
from web.http.unstorable import RejectUnstorable
from web.hubs import pages as hubs
from web.lead_billing import agent_pages as lead_billing_agent
from web.lead_billing import api as lead_billing_api
from web.lead_billing import pages as lead_billing
from web.leads import api as leads_api
from web.leads import notices as lead_notices
from web.leads import pages as leads
from web.leads import public_pages as leads_public
from web.leads import reoffer_pages as lead_reoffer
from web.leads.notices import Notices
from web.live.broker_link import for_panel
from web.live.feed import ChangeFeed
from web.live.tasks import Supervisor
from web.map import pages as map_pages
from web.media import api as media_api
from web.media import download as media_download
from web.media import pages as media_pages
from web.media.access import DownloadAccess
from web.pairing import api as pairing_api
from web.pairing import pages as pairing
from web.playlists import api as playlists_api
from web.playlists import pages as playlists
from web.profile import pages as profile
from web.reports import api as reports_api
from web.reports import heatmap_pages as heatmap
from web.reports import pop_pages as pop_reports
from web.reports import uptime_pages as reports
from web.rollouts import pages as rollout_pages
from web.security import secret_key
from web.tablet_admin import pages as tablet_admin
from web.tablets import api as tablets_api
from web.tablets import pages as tablets
from web.users import pages as user_pages
from web.zones import pages as zone_pages

STATIC = Path(__file__).parent / "static"


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
        # Admins' notices of leads nobody answered (web/leads/notices.py).
        app.state.lead_notices = notices = Notices(pool)
        lead_feed.on_offer.append(notices.on_offer)
        async with Supervisor() as tasks:
            app.state.tasks = tasks
            tasks.start("web.store_gate", gate.run)
            tasks.start("web.feed", feed.run)
            tasks.start("web.broker", link.run)
            tasks.start("web.tiles.warm", lambda: warm(pool, app.state.render_tile))
            tasks.start("web.lead_feed", lead_feed.run)
            tasks.start("web.lead_notices", notices.run)
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
    app.add_middleware(SecurityHeaders, map_tiles=settings.map_tile_origin())
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    errors.install(app, settings)  # pages for browsers, JSON for the API (web/http/errors.py)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.ico")

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
        alert_channels,
        command_pages,
        commands_api,
        screenshot_upload,
        rollout_pages,
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
        fleet_pages,
        fleet_health,
        tablet_admin,
        user_pages,
        map_pages,
        lead_reoffer,
        lead_notices,
        earnings_rates,
        earnings,
        earnings_api,
        driver_pages,
        driver_portal,
        lead_billing,
        lead_billing_agent,
        lead_billing_api,
        profile,
        campaigns,
        campaigns_api,
        zone_pages,
    )
    for module in routers:
        app.include_router(module.router)
    # Last, so its middleware is the outermost: every request is counted, whatever answers it.
    metrics.install(app)  # /metrics and HTTP requests by route and status (web/http/metrics.py)
    return app
