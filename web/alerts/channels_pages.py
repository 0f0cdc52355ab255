"""Alert channels: a user's subscriptions (e-mail, signed webhooks, Telegram) and the log of
every message sent to them, with its attempts and last reply.

Admins and fleet owners subscribe themselves; each sees and removes only their own, and a
fleet owner may name only their fleets. Sending is the hub's (hub/notify/).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from config.errors import ConfigError
from store import alert_subscriptions
from store.incidents import ALERT_WORDS
from web.alerts.channels import CHANNELS, read_subscription
from web.deps import FleetLogin, FormLogin, Login, PoolDep, SettingsDep
from web.grid.tiles import fleets
from web.http.templating import TEMPLATES
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
DONE = {"added": "Subscribed: new alerts go out through it.", "removed": "Subscription removed."}


async def _page(
    request: Request,
    pool: PoolDep,
    login: Login,
    settings: SettingsDep,
    status: int = 200,
    error: str | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    user = login.user
    return TEMPLATES.TemplateResponse(
        request,
        "alert_channels.html",
        {
            "login": login,
            "subscriptions": await alert_subscriptions.mine(pool, user),
            "log": await alert_subscriptions.delivery_log(pool, user, 50),
            "fleets": await fleets(pool, user),
            "fleet_names": dict(await fleets(pool, user)),
            "channels": CHANNELS,
            "kinds": ALERT_WORDS,
            "values": values or {"channel": "email", "target": user.email},
            "zone": login.timezone,
            "error": error,
            "done": DONE.get(request.query_params.get("done", "")),
            "mailbox": settings.demo_mailbox_url,
        },
        status_code=status,
    )


@router.get("/alerts/channels", response_class=HTMLResponse)
async def channels_page(
    request: Request, pool: PoolDep, login: FleetLogin, settings: SettingsDep
) -> HTMLResponse:
    return await _page(request, pool, login, settings)


@router.post("/alerts/channels", response_class=HTMLResponse, response_model=None)
async def subscribe(
    request: Request, pool: PoolDep, login: FleetLogin, form: FormLogin, settings: SettingsDep
) -> HTMLResponse | RedirectResponse:
    posted = await request.form()
    try:
        spec = read_subscription(Fields(posted))
        await alert_subscriptions.create(pool, login.user, spec)
    except ConfigError as exc:
        values: dict[str, Any] = {k: v for k, v in posted.items() if isinstance(v, str)}
        values["kinds"] = [v for v in posted.getlist("kinds") if isinstance(v, str)]
        values["fleets"] = [v for v in posted.getlist("fleets") if isinstance(v, str)]
        return await _page(request, pool, login, settings, 422, str(exc), values)
    return RedirectResponse("/alerts/channels?done=added", status_code=303)


@router.post("/alerts/channels/{subscription_id}/remove", response_model=None)
async def unsubscribe(
    subscription_id: int, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> RedirectResponse:
    if not await alert_subscriptions.remove(pool, login.user, subscription_id):
        raise HTTPException(404, f"no subscription {subscription_id}")
    return RedirectResponse("/alerts/channels?done=removed", status_code=303)
