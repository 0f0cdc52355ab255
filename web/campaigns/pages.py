"""Campaign pages: the list, a new campaign, a campaign (its targeting, pacing, audited steps,
the admin's actions, and its form while it is a draft or paused), its delivery (the advertiser
portal, web/campaigns/delivery.py) and the advertiser accounts (admins).

Admins see every campaign of the tenant and act for any advertiser; an advertiser user sees and
drafts its account's campaigns; anything else answers 403, a campaign outside the scope 404.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from config.errors import ConfigError
from store import advertisers, zones
from store import campaigns as store
from store import media as media_store
from store.campaigns import ACTIONS, Action, Campaign, Spec
from web.campaigns.access import FormSeat, Seat, SeatDep, admin_only
from web.campaigns.delivery import map_config, report, sheet
from web.campaigns.forms import DAYPART_HINT, daypart_text, read_spec
from web.deps import AdminFormLogin, AdminLogin, PoolDep
from web.http.sheets import to_csv
from web.http.templating import TEMPLATES
from web.manage.fields import Fields
from web.media.library import thumbnail_url
from web.media.uploads import user_campaigns

router = APIRouter(include_in_schema=False)
ZONES = sorted(available_timezones())
DONE = {
    "created": "Campaign drafted: an admin approves it before it runs.",
    "saved": "Changes saved.",
    "approve": "Approved.",
    "pause": "Paused: its tablets stop playing it.",
    "resume": "Resumed.",
    "finish": "Finished.",
    "advertiser": "Advertiser saved.",
    "linked": "User linked to the advertiser.",
}


def render(
    request: Request, template: str, seat: Seat, status: int = 200, **ctx: Any
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"login": seat.login, "done": DONE.get(request.query_params.get("done", "")), **ctx},
        status_code=status,
    )


async def campaign_or_404(pool: PoolDep, seat: Seat, campaign_id: str) -> Campaign:
    async with pool.connection() as conn:
        found = await store.one(conn, seat.scope, campaign_id)
    if found is None:
        raise HTTPException(404, f"no campaign {campaign_id!r}")
    return found


async def form_choices(pool: PoolDep, seat: Seat) -> dict[str, Any]:
    """What the form offers: advertisers (admins), fleets, zones, the library media the user
    sees (an advertiser: those of its campaigns)."""
    tenant = seat.user.tenant_id
    visible = await user_campaigns(pool, seat.user)
    async with pool.connection() as conn:
        accounts = await advertisers.listing(conn, tenant)
        fleets = await store.fleet_choices(conn, tenant)
        zone_list = await zones.listing(conn, tenant, None, seat.scope.advertiser_id)
        media = await media_store.listing(conn, tenant, campaigns=visible)
        default_zone = await store.default_timezone(conn, tenant)
    if seat.scope.advertiser_id is not None:
        accounts = [a for a in accounts if a.advertiser_id == seat.scope.advertiser_id]
    return {
        "advertisers": accounts,
        "fleets": fleets,
        "zone_list": zone_list,
        "media": media,
        "thumbnail_url": thumbnail_url,
        "timezones": ZONES,
        "default_zone": default_zone,
        "daypart_hint": DAYPART_HINT,
    }


def values_of(c: Campaign) -> dict[str, Any]:
    tz = ZoneInfo(c.timezone)
    return {
        "campaign_id": c.campaign_id,
        "advertiser_id": c.advertiser_id,
        "name": c.name,
        "brand": c.brand,
        "timezone": c.timezone,
        "flight_start": c.flight_start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "flight_end": c.flight_end.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "goal_unit": c.goal_unit,
        "daily_goal": c.daily_goal or "",
        "total_goal": c.total_goal or "",
        "priority": c.priority,
        "share_of_voice": c.share_of_voice or "",
        "fleet": c.fleets,
        "zone": [z for z, _ in c.zones],
        "creative": [m.media_id for m in c.creatives],
        "dayparts": daypart_text(c.dayparts),
    }


def posted_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    for many in ("fleet", "zone", "creative"):
        values[many] = [v for v in form.getlist(many) if isinstance(v, str)]
    return values


async def check_creatives(pool: PoolDep, seat: Seat, spec: Spec) -> None:
    """An advertiser picks only media it sees (those of its campaigns)."""
    if seat.scope.advertiser_id is None or not spec.creatives:
        return
    visible = await user_campaigns(pool, seat.user)
    async with pool.connection() as conn:
        media = await media_store.listing(conn, seat.user.tenant_id, campaigns=visible)
    known = {m.media_id for m in media}
    if missing := [m for m in spec.creatives if m not in known]:
        raise ConfigError(f"no media {', '.join(missing)} in your library")


@router.get("/campaigns", response_class=HTMLResponse)
async def campaigns_page(request: Request, pool: PoolDep, seat: SeatDep) -> HTMLResponse:
    async with pool.connection() as conn:
        found = await store.listing(conn, seat.scope)
    return render(request, "campaigns.html", seat, campaigns=found)


@router.get("/campaigns/new", response_class=HTMLResponse)
async def new_campaign_page(request: Request, pool: PoolDep, seat: SeatDep) -> HTMLResponse:
    choices = await form_choices(pool, seat)
    values = {"timezone": choices["default_zone"], "priority": 1, "goal_unit": "plays"}
    return render(request, "campaign_new.html", seat, values=values, error=None, **choices)


@router.post("/campaigns", response_class=HTMLResponse, response_model=None)
async def create_campaign(
    request: Request, pool: PoolDep, seat: FormSeat
) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    try:
        spec = read_spec(form, seat.scope)
        await check_creatives(pool, seat, spec)
        async with pool.connection() as conn:
            await store.save(conn, seat.scope, spec, seat.user.email, create=True)
    except ConfigError as exc:
        choices = await form_choices(pool, seat)
        values = posted_values(form)
        return render(
            request, "campaign_new.html", seat, 422, values=values, error=str(exc), **choices
        )
    return RedirectResponse(f"/campaigns/{spec.campaign_id}?done=created", status_code=303)


async def campaign_page_response(
    request: Request,
    pool: PoolDep,
    seat: Seat,
    campaign: Campaign,
    status: int = 200,
    values: dict[str, Any] | None = None,
    error: str | None = None,
) -> HTMLResponse:
    choices = await form_choices(pool, seat) if campaign.editable else {}
    async with pool.connection() as conn:
        trail = await store.audit_trail(conn, campaign.tenant_id, campaign.campaign_id)
    actions = [a for a, (sources, _) in ACTIONS.items() if campaign.status in sources]
    return render(
        request,
        "campaign.html",
        seat,
        status,
        campaign=campaign,
        zone=campaign.timezone,
        values=values or values_of(campaign),
        error=error,
        actions=actions if seat.user.is_admin else [],
        trail=trail,
        **{"thumbnail_url": thumbnail_url, **choices},
    )


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(
    request: Request, campaign_id: str, pool: PoolDep, seat: SeatDep
) -> HTMLResponse:
    campaign = await campaign_or_404(pool, seat, campaign_id)
    return await campaign_page_response(request, pool, seat, campaign)


@router.post("/campaigns/{campaign_id}", response_class=HTMLResponse, response_model=None)
async def update_campaign(
    request: Request, campaign_id: str, pool: PoolDep, seat: FormSeat
) -> HTMLResponse | RedirectResponse:
    campaign = await campaign_or_404(pool, seat, campaign_id)
    form = await request.form()
    try:
        spec = read_spec(form, seat.scope, campaign_id)
        await check_creatives(pool, seat, spec)
        async with pool.connection() as conn:
            await store.save(conn, seat.scope, spec, seat.user.email, create=False)
    except ConfigError as exc:
        return await campaign_page_response(
            request, pool, seat, campaign, 422, posted_values(form), str(exc)
        )
    except LookupError:
        raise HTTPException(404, f"no campaign {campaign_id!r}") from None
    return RedirectResponse(f"/campaigns/{campaign_id}?done=saved", status_code=303)


@router.post("/campaigns/{campaign_id}/status", response_class=HTMLResponse, response_model=None)
async def campaign_action(
    request: Request, campaign_id: str, pool: PoolDep, seat: FormSeat
) -> HTMLResponse | RedirectResponse:
    campaign = await campaign_or_404(pool, seat, campaign_id)
    admin_only(seat)
    action = Fields(await request.form()).text("action", "Action", 20)
    try:
        if action not in ACTIONS:
            raise ConfigError(f"unknown action {action!r}")
        async with pool.connection() as conn:
            await store.act(
                conn,
                campaign.tenant_id,
                campaign_id,
                cast(Action, action),
                seat.user.email,
                datetime.now(UTC),
            )
    except ConfigError as exc:
        return await campaign_page_response(request, pool, seat, campaign, 409, error=str(exc))
    return RedirectResponse(f"/campaigns/{campaign_id}?done={action}", status_code=303)


def _day(request: Request) -> date | None:
    text = request.query_params.get("day", "")
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/campaigns/{campaign_id}/delivery", response_class=HTMLResponse)
async def delivery_page(
    request: Request, campaign_id: str, pool: PoolDep, seat: SeatDep
) -> HTMLResponse:
    campaign = await campaign_or_404(pool, seat, campaign_id)
    found = await report(pool, campaign, _day(request))
    async with pool.connection() as conn:
        shapes = [
            (z.name, z.geometry)
            for z in await zones.listing(conn, campaign.tenant_id)
            if z.zone_id in {zid for zid, _ in campaign.zones}
        ]
    settings = request.app.state.settings
    config = {
        "tiles": settings.map_tile_url,
        "attribution": settings.map_tile_attribution,
        "data": f"/campaigns/{campaign_id}/delivery.json",
        **map_config(found, shapes),
    }
    return render(
        request,
        "delivery.html",
        seat,
        campaign=campaign,
        report=found,
        zone=campaign.timezone,
        config=json.dumps(config),
    )


@router.get("/campaigns/{campaign_id}/delivery.json")
async def delivery_map_data(campaign_id: str, pool: PoolDep, seat: SeatDep) -> JSONResponse:
    """The map's cells, read again by the page as plays arrive."""
    campaign = await campaign_or_404(pool, seat, campaign_id)
    found = await report(pool, campaign)
    return JSONResponse({**map_config(found, []), "total": found.total.plays})


@router.get("/campaigns/{campaign_id}/delivery.csv")
async def delivery_csv(
    request: Request, campaign_id: str, pool: PoolDep, seat: SeatDep
) -> Response:
    campaign = await campaign_or_404(pool, seat, campaign_id)
    found = await report(pool, campaign)
    return Response(
        to_csv(sheet(found)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="delivery-{campaign_id}.csv"'},
    )


# --- advertiser accounts (admins) ---------------------------------------------------


@router.get("/advertisers", response_class=HTMLResponse)
async def advertisers_page(request: Request, pool: PoolDep, login: AdminLogin) -> HTMLResponse:
    return await _advertisers(request, pool, login)


async def _advertisers(
    request: Request, pool: PoolDep, login: Any, status: int = 200, error: str | None = None
) -> HTMLResponse:
    async with pool.connection() as conn:
        accounts = await advertisers.listing(conn, login.user.tenant_id)
        users = await advertisers.advertiser_users(conn, login.user.tenant_id)
    return TEMPLATES.TemplateResponse(
        request,
        "advertisers.html",
        {
            "login": login,
            "accounts": accounts,
            "users": users,
            "error": error,
            "done": DONE.get(request.query_params.get("done", "")),
        },
        status_code=status,
    )


@router.post("/advertisers", response_class=HTMLResponse, response_model=None)
async def add_advertiser(
    request: Request, pool: PoolDep, login: AdminFormLogin
) -> HTMLResponse | RedirectResponse:
    fields = Fields(await request.form())
    try:
        advertiser_id = fields.required("advertiser_id", "Advertiser id", 63).lower()
        name = fields.required("name", "Name", 200)
        async with pool.connection() as conn:
            await advertisers.add(conn, login.user.tenant_id, advertiser_id, name, login.user.email)
    except ConfigError as exc:
        return await _advertisers(request, pool, login, 422, str(exc))
    return RedirectResponse("/advertisers?done=advertiser", status_code=303)


@router.post("/advertisers/{advertiser_id}/users", response_class=HTMLResponse, response_model=None)
async def link_advertiser_user(
    request: Request, advertiser_id: str, pool: PoolDep, login: AdminFormLogin
) -> HTMLResponse | RedirectResponse:
    async with pool.connection() as conn:
        if await advertisers.one(conn, login.user.tenant_id, advertiser_id) is None:
            raise HTTPException(404, f"no advertiser {advertiser_id!r}")
    fields = Fields(await request.form())
    try:
        email = fields.required("email", "E-mail", 320)
        async with pool.connection() as conn:
            await advertisers.link_user(
                conn, login.user.tenant_id, advertiser_id, email, login.user.email
            )
    except ConfigError as exc:
        return await _advertisers(request, pool, login, 422, str(exc))
    return RedirectResponse("/advertisers?done=linked", status_code=303)
