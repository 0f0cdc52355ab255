"""Rate cards and billing settings in the panel: every admin and fleet owner of the tenant
reads them (with the rules of how statements are computed); admins add a card, end one, and
set the tenant's currency, lead invoice zone and dispute window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from billing.money import Currency
from billing.months import label, month_at, title
from billing.rates import BASIS_NAMES
from config.errors import ConfigError
from store import billing_closes, billing_settings, rate_cards
from store.billing_settings import BillingSettings
from web.deps import FleetLogin, Login, PoolDep
from web.earnings.rate_form import parse_card, parse_day
from web.earnings.sheet import RULES
from web.http.admin_form import AdminFormDep
from web.http.templating import TEMPLATES
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
ZONES = sorted(available_timezones())
CAMPAIGN_ROWS = 4
DONE = {
    "added": "Rate card added.",
    "ended": "Rate card ended.",
    "settings": "Billing settings saved.",
}


async def _page(
    request: Request,
    pool: PoolDep,
    login: Login,
    status: int = 200,
    values: dict[str, Any] | None = None,
    error: str | None = None,
) -> HTMLResponse:
    tenant = login.user.tenant_id
    async with pool.connection() as conn:
        cards = await rate_cards.cards(conn, tenant)
        settings = await billing_settings.get(conn, tenant)
        closed = await billing_closes.closed_through(conn, tenant)
    today = month_at(datetime.now(UTC), settings.timezone)
    blank = {
        "valid_from": str(today),
        "valid_to": "",
        "default_basis": "play_second",
        "default_rate": "",
        "online_hour_rate": "",
        "shares": ("", "", ""),
        "campaigns": [],
        "note": "",
    }
    values = values or blank
    rows = list(values["campaigns"]) + [("", "play_second", "")] * CAMPAIGN_ROWS
    return TEMPLATES.TemplateResponse(
        request,
        "rates.html",
        {
            "login": login,
            "cards": list(reversed(cards)),
            "settings": settings,
            "closed_through": closed,
            "values": values,
            "campaign_rows": rows[: max(CAMPAIGN_ROWS, len(values["campaigns"]) + 1)],
            "bases": BASIS_NAMES,
            "zones": ZONES,
            "rules": RULES,
            "label": label,
            "title": title,
            "done": DONE.get(request.query_params.get("done", "")),
            "error": error,
        },
        status_code=status,
    )


@router.get("/earnings/rates", response_class=HTMLResponse)
async def rates_page(request: Request, pool: PoolDep, login: FleetLogin) -> HTMLResponse:
    return await _page(request, pool, login)


@router.post("/earnings/rates", response_class=HTMLResponse, response_model=None)
async def add_card(
    request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    form = posted.form
    campaigns = list(
        zip(
            (str(v) for v in form.getlist("campaign_id")),
            (str(v) for v in form.getlist("campaign_basis")),
            (str(v) for v in form.getlist("campaign_rate")),
            strict=False,
        )
    )[:200]
    fields = Fields(form)
    values: dict[str, Any] = {}
    try:
        values = {
            "valid_from": fields.text("valid_from", "Valid from", 20),
            "valid_to": fields.text("valid_to", "Valid to", 20),
            "default_basis": fields.text("default_basis", "Default basis", 20),
            "default_rate": fields.text("default_rate", "Default rate", 30),
            "online_hour_rate": fields.text("online_hour_rate", "Rate per online hour", 30),
            "shares": (
                fields.text("platform_share", "Platform share", 10),
                fields.text("owner_share", "Fleet owner share", 10),
                fields.text("driver_share", "Driver share", 10),
            ),
            "campaigns": [c for c in campaigns if c[0].strip() or c[2].strip()],
            "note": fields.text("note", "Note", 500),
        }
        card = parse_card(**values)
        async with pool.connection() as conn:
            await rate_cards.add(conn, posted.user.tenant_id, card, posted.user.email)
    except ConfigError as exc:
        return await _page(request, pool, posted.login, 422, values or None, str(exc))
    return RedirectResponse("/earnings/rates?done=added", 303)


def _version(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise HTTPException(404, "no such rate card")
    return int(text)


@router.post("/earnings/rates/{version}/end", response_class=HTMLResponse, response_model=None)
async def end_card(
    version: str, request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    number = _version(version)
    async with pool.connection() as conn:
        if all(c.version != number for c in await rate_cards.cards(conn, posted.user.tenant_id)):
            raise HTTPException(404, "no such rate card")
    try:
        valid_to = parse_day(Fields(posted.form).text("valid_to", "Last day", 20), "the last day")
        async with pool.connection() as conn:
            await rate_cards.end(conn, posted.user.tenant_id, number, valid_to, posted.user.email)
    except LookupError:
        raise HTTPException(404, "no such rate card") from None
    except ConfigError as exc:
        return await _page(request, pool, posted.login, 422, error=str(exc))
    return RedirectResponse("/earnings/rates?done=ended", 303)


@router.post("/earnings/settings", response_class=HTMLResponse, response_model=None)
async def save_settings(
    request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    fields = Fields(posted.form)
    try:
        settings = BillingSettings(
            Currency(
                fields.required("currency", "Currency", 3).upper(),
                fields.integer("minor_units", "Minor units", 0, 4, 2),
            ),
            fields.required("timezone", "Time zone", 64),
            fields.integer("dispute_days", "Dispute window", 0, 366, 7),
        )
        async with pool.connection() as conn:
            await billing_settings.save(conn, posted.user.tenant_id, settings, posted.user.email)
    except ConfigError as exc:
        return await _page(request, pool, posted.login, 422, error=str(exc))
    return RedirectResponse("/earnings/rates?done=settings", 303)
